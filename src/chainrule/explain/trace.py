"""One training step, recorded: every number comes from the library's own forward and backward code.

The network is read as blocks l = 1..L, each a Dense layer and the activation
after it (none means the identity):

    z^(l) = a^(l−1)·W^(l) + b^(l)        a^(l) = f(z^(l))        a^(0) = X
    δ^(l) = ∂L/∂z^(l) = ∂L/∂a^(l) ∘ f'(z^(l))
    ∂L/∂W^(l) = a^(l−1)ᵀ·δ^(l)    ∂L/∂b^(l) = Σₛ δ^(l)    ∂L/∂a^(l−1) = δ^(l)·W^(l)ᵀ
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..activations import Activation, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from ..layers import Dense, Layer
from ..losses import (
    MSE,
    SSE,
    BCEWithLogits,
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    Loss,
    SoftmaxCrossEntropy,
)

SUPPORTED_ACTIVATIONS = (Sigmoid, Tanh, ReLU, LeakyReLU, Identity, Softmax)

# (value, ∂L/∂output) in plain text and LaTeX; {s} is the batch factor ("1/n·", "1/(n·k)·" or "" for a sum)
LOSS_FORMULAS: dict[type[Loss], tuple[str, str, str, str]] = {
    SSE: ("L = {s}Σ ½(ŷ − y)²", r"L = {s}\sum \tfrac{{1}}{{2}}(\hat y - y)^2", "{s}(ŷ − y)", r"{s}(\hat y - y)"),
    MSE: ("L = {s}Σ (ŷ − y)²", r"L = {s}\sum (\hat y - y)^2", "{s}2(ŷ − y)", r"{s}2(\hat y - y)"),
    BinaryCrossEntropy: (
        "L = −{s}Σ [y·log ŷ + (1 − y)·log(1 − ŷ)]",
        r"L = -{s}\sum \left[y \log \hat y + (1 - y)\log(1 - \hat y)\right]",
        "{s}(ŷ − y) / (ŷ(1 − ŷ))",
        r"{s}\frac{{\hat y - y}}{{\hat y(1 - \hat y)}}",
    ),
    BCEWithLogits: (
        "L = {s}Σ [log(1 + eᶻ) − y·z]  (z: logits)",
        r"L = {s}\sum \left[\log(1 + e^{{z}}) - y z\right]",
        "{s}(σ(z) − y)",
        r"{s}(\sigma(z) - y)",
    ),
    SoftmaxCrossEntropy: (
        "L = −{s}Σ y·log softmax(z)  (z: logits)",
        r"L = -{s}\sum y \log \operatorname{{softmax}}(z)",
        "{s}(p − y),  p = softmax(z)",
        r"{s}(p - y)",
    ),
    CategoricalCrossEntropy: (
        "L = −{s}Σ y·log ŷ",
        r"L = -{s}\sum y \log \hat y",
        "−{s}y / ŷ",
        r"-{s}\frac{{y}}{{\hat y}}",
    ),
}


@dataclass
class ForwardStep:
    """Block l of the forward pass: a_prev = a^(l−1), z = a_prev·W + b, a = f(z)."""

    layer: int
    activation: str
    a_prev: np.ndarray
    W: np.ndarray
    b: np.ndarray
    z: np.ndarray
    a: np.ndarray


@dataclass
class LossStep:
    """The loss: its formula, value and gradient ∂L/∂ŷ (ŷ = the network's output)."""

    name: str
    formula: str
    latex: str
    grad_formula: str
    grad_latex: str
    value: float
    y_hat: np.ndarray
    y: np.ndarray
    dL_dyhat: np.ndarray
    batch_factor: float | None  # 1/n for a mean over samples, None for reduction="sum"
    simplification: str | None = None


@dataclass
class BackwardStep:
    """Block l of the backward pass (delta already carries the loss's 1/n batch factor)."""

    layer: int
    activation: str
    upstream: np.ndarray  # ∂L/∂a^(l)
    fprime: np.ndarray | None  # f'(z^(l)); None for softmax (a Jacobian, not elementwise)
    delta: np.ndarray  # δ^(l) = ∂L/∂z^(l)
    dW: np.ndarray
    db: np.ndarray
    da_prev: np.ndarray  # ∂L/∂a^(l−1) = δ·Wᵀ, passed down
    batch_size: int
    batch_factor: float | None  # 1/n for a mean over samples, None for reduction="sum"


@dataclass
class ChainTerm:
    """∂L/∂θ for one weight or bias, as a sum over samples of products of factors."""

    layer: int
    param: str  # "W" or "b"
    index: tuple[int, ...]  # 0-based
    factors: list[list[tuple[str, float]]]  # per sample: (symbol, value) pairs
    value: float  # the entry of the gradient computed by backward


@dataclass
class UpdateStep:
    """Plain SGD: new = old − lr·grad for one parameter array."""

    layer: int
    param: str
    old: np.ndarray
    grad: np.ndarray
    new: np.ndarray
    lr: float


@dataclass
class Trace:
    forward: list[ForwardStep]
    loss: LossStep
    backward: list[BackwardStep]
    chain: list[ChainTerm] = field(default_factory=list)
    updates: list[UpdateStep] = field(default_factory=list)


def blocks(model) -> list[tuple[Dense, Activation | None]]:
    """Pair each Dense layer with the activation after it; TypeError for anything else."""
    out: list[tuple[Dense, Activation | None]] = []
    for i, layer in enumerate(model.layers):
        if type(layer) is Dense:
            out.append((layer, None))
        elif type(layer) in SUPPORTED_ACTIVATIONS and out and out[-1][1] is None:
            out[-1] = (out[-1][0], layer)
        else:
            raise TypeError(_unsupported(i, layer, bool(out)))
    return out


def _unsupported(i: int, layer: Layer, after_dense: bool) -> str:
    names = ", ".join(c.__name__ for c in SUPPORTED_ACTIVATIONS)
    if type(layer) in SUPPORTED_ACTIVATIONS:
        where = "a second activation in a row" if after_dense else "an activation before the first Dense"
        return f"explain needs each activation right after a Dense layer; layer {i} ({layer!r}) is {where}."
    return (
        f"explain supports Dense layers and the built-in activations ({names}); "
        f"layer {i} is {layer!r} ({type(layer).__name__})."
    )


def activation_name(act: Activation | None) -> str:
    return "identity" if act is None else act.name


def loss_step(loss: Loss, out: np.ndarray, Y: np.ndarray, last: Activation | None) -> tuple[LossStep, np.ndarray]:
    """The loss's value and ∂L/∂ŷ from the loss's own code, with its formula."""
    value, dout = loss.value_and_grad(out, Y.copy())
    n, k = out.shape
    if loss.reduction == "sum":
        s_text, s_tex, count, factor = "", "", "", None
    elif loss.per_element and k > 1:
        s_text, s_tex, count, factor = "1/(n·k)·", r"\frac{1}{nk}", f"n·k = {n * k}", 1.0 / n
    else:
        s_text, s_tex, count, factor = "1/n·", r"\frac{1}{n}", f"n = {n}", 1.0 / n
    default = (loss.name, loss.name, "∂L/∂ŷ", r"\partial L / \partial \hat y")
    text, tex, gtext, gtex = LOSS_FORMULAS.get(type(loss), default)
    step = LossStep(
        name=loss.name,
        formula=text.format(s=s_text) + (f",  {count}" if count else ""),
        latex=tex.format(s=s_tex),
        grad_formula=gtext.format(s=s_text),
        grad_latex=gtex.format(s=s_tex),
        value=value,
        y_hat=out.copy(),
        y=np.array(Y, copy=True),
        dL_dyhat=dout.copy(),
        batch_factor=factor,
        simplification=simplification(loss, last),
    )
    return step, dout


def simplification(loss: Loss, last: Activation | None) -> str | None:
    """The cancellation the pair (output activation, loss) allows, if any."""
    if isinstance(loss, BinaryCrossEntropy) and isinstance(last, Sigmoid):
        return "sigmoid + BCE: σ'(z) = ŷ(1 − ŷ) cancels the denominator, so δ = ŷ − y and ∂L/∂w = (ŷ − y)·x"
    if isinstance(loss, BCEWithLogits) and last is None:
        return "BCE on logits: δ = ∂L/∂z = p − y with p = σ(z), so ∂L/∂w = (p − y)·x"
    if isinstance(loss, SoftmaxCrossEntropy) and last is None:
        return "softmax + cross-entropy on logits: δ = ∂L/∂z = p − y with p = softmax(z)"
    if isinstance(loss, CategoricalCrossEntropy) and isinstance(last, Softmax):
        return "softmax + cross-entropy: its Jacobian times −y/p leaves δ = p − y"
    return None


def run_step(model, X: np.ndarray, Y: np.ndarray, loss: Loss, detail: bool) -> Trace:
    """Forward, loss and backward through ``model`` itself, recording every block."""
    pairs = blocks(model)
    forward: list[ForwardStep] = []
    a = X
    for k, (dense, act) in enumerate(pairs, start=1):
        z = dense.forward(a, train=True)
        out = act.forward(z, train=True) if act is not None else z
        W, b = (p.copy() for p in dense.params.values())
        forward.append(ForwardStep(k, activation_name(act), a.copy(), W, b, z.copy(), out.copy()))
        a = out
    lstep, d = loss_step(loss, a, Y, pairs[-1][1])
    backward: list[BackwardStep] = []
    n = len(X)
    for k in range(len(pairs), 0, -1):
        dense, act = pairs[k - 1]
        f = forward[k - 1]
        upstream = d.copy()
        delta = act.backward(d, True) if act is not None else d
        fprime = None if isinstance(act, Softmax) else act.derivative(f.z, f.a) if act else np.ones_like(f.z)
        d = dense.backward(delta, True)
        dW, db = (g.copy() for g in dense.grads.values())
        backward.append(
            BackwardStep(k, f.activation, upstream, fprime, delta.copy(), dW, db, d.copy(), n, lstep.batch_factor)
        )
    backward.reverse()
    trace = Trace(forward, lstep, backward)
    if detail:
        trace.chain = chain_terms(forward, backward)
    return trace


def chain_terms(forward: list[ForwardStep], backward: list[BackwardStep]) -> list[ChainTerm]:
    """Every weight's and bias's gradient as ∂L/∂a_j · f'(z_j) · a_i, sample by sample."""
    terms = []
    for f, bk in zip(reversed(forward), reversed(backward)):  # from the output down, as backprop runs
        n_in, n_out = f.W.shape
        for j in range(n_out):
            per_sample = []
            for s in range(bk.batch_size):
                if bk.fprime is None:  # softmax: δ_j itself is the first factor
                    per_sample.append([(f"δ{j + 1}", float(bk.delta[s, j]))])
                else:
                    per_sample.append([("∂L/∂a", float(bk.upstream[s, j])), ("f'(z)", float(bk.fprime[s, j]))])
            for i in range(n_in):
                factors = [[*p, ("a_in", float(f.a_prev[s, i]))] for s, p in enumerate(per_sample)]
                terms.append(ChainTerm(f.layer, "W", (i, j), factors, float(bk.dW[i, j])))
            terms.append(ChainTerm(f.layer, "b", (j,), [[*p, ("1", 1.0)] for p in per_sample], float(bk.db[j])))
    return terms


def sgd_updates(backward: list[BackwardStep], forward: list[ForwardStep], lr: float) -> list[UpdateStep]:
    """What plain SGD, w − lr·∂L/∂w, would make of every parameter array."""
    ups = []
    for f, bk in zip(forward, backward):
        for name, old, grad in (("W", f.W, bk.dW), ("b", f.b, bk.db)):
            ups.append(UpdateStep(f.layer, name, old, grad, old - lr * grad, lr))
    return ups
