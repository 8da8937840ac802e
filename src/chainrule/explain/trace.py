"""One training step, recorded: every number comes from the library's own forward and backward code.

The network is read as blocks l = 1..L, each a Dense layer and the activation
after it (none means the identity):

    z^(l) = a^(l−1)·W^(l) + b^(l)        a^(l) = f(z^(l))        a^(0) = X
    δ^(l) = ∂L/∂z^(l) = ∂L/∂a^(l) ∘ f'(z^(l))
    ∂L/∂W^(l) = a^(l−1)ᵀ·δ^(l)    ∂L/∂b^(l) = Σₛ δ^(l)    ∂L/∂a^(l−1) = δ^(l)·W^(l)ᵀ

Every network, Dense or not, is also recorded layer by layer (``layers.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.losses import Loss
from ..core.objective import Objective
from ..layers import Dense, Layer
from ..layers.activations import Activation
from ..layers.terms import Role, the, with_role
from .layers import LayerStep, is_dense_network, layer_steps


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
    batch_factor: float | None  # 1/N of the mean (N = n, or n·k for a per-element mean), None for reduction="sum"
    batch_count: int | None = None  # that N
    batch_text: str = ""  # the factor as the formulas write it: "1/n·", "1/(n·k)·" or ""
    batch_latex: str = ""
    count_text: str = ""  # what the factor divides by: "n = 2", "n·k = 6", or "" for reduction="sum"
    simplification: str | None = None
    fused: str | None = None  # the fused output step, when the loss takes the last activation's backward over
    delta_out: np.ndarray | None = None  # where fused: ∂L/∂z of the output layer, where backward starts
    residual: np.ndarray | None = None  # fused or on logits: p − y (y one-hot where given as labels), before the factor
    probabilities: np.ndarray | None = None  # p: ŷ itself where fused, the loss's own squashing of ŷ on logits
    squash: str | None = None  # the activation that makes p: the fused one, or the one applied inside the loss
    per_output: list[float] | None = None  # each output's term of L, where L is their sum (see per_output_terms)

    @property
    def on_logits(self) -> bool:
        """ŷ is logits z and the loss squashes them itself (p = softmax(z) or σ(z))."""
        return self.squash is not None and self.fused is None

    @property
    def labels(self) -> bool:
        """y was given as class labels (n,): the fused step shows it one-hot."""
        return self.y.ndim == 1

    @property
    def factor_text(self) -> str:
        """The batch factor with its number, "1/2·" ("" for reduction="sum")."""
        return "" if self.batch_count is None else f"1/{self.batch_count}·"

    @property
    def factor_latex(self) -> str:
        return "" if self.batch_count is None else rf"\frac{{1}}{{{self.batch_count}}}"


@dataclass
class BackwardStep:
    """Block l of the backward pass (delta already carries the loss's 1/n batch factor)."""

    layer: int
    activation: str
    upstream: np.ndarray  # ∂L/∂a^(l)
    fprime: np.ndarray | None  # f'(z^(l)), from the activation's own backward; None for softmax (a Jacobian)
    delta: np.ndarray  # δ^(l) = ∂L/∂z^(l)
    dW: np.ndarray
    db: np.ndarray
    da_prev: np.ndarray  # ∂L/∂a^(l−1) = δ·Wᵀ, passed down
    batch_size: int
    batch_factor: float | None  # 1/N of the mean (N = n, or n·k per element), None for reduction="sum"
    fused: bool = False  # δ came straight from the loss, fused with this block's activation


@dataclass
class ChainTerm:
    """∂L/∂θ for one weight or bias, as a sum over samples of products of factors."""

    layer: int
    param: str  # "W" or "b"
    index: tuple[int, ...]  # 0-based
    factors: list[list[tuple[str, float]]]  # per sample: (symbol, value) pairs
    value: float  # the entry of the gradient computed by backward


@dataclass
class PathSum:
    """∂L/∂a of hidden unit i of layer l as the sum over the units j it feeds: Σⱼ δⱼ^(l+1) · W^(l+1)[i, j].

    This is ∂L/∂a^(l) = δ^(l+1)·W^(l+1)ᵀ written out for one unit: each unit j of the next layer passes
    back its δⱼ, weighted by the weight that joins i to j.
    """

    layer: int  # l, the hidden layer
    unit: int  # i, 0-based
    terms: list[list[tuple[float, float]]]  # per sample: (δⱼ^(l+1), W^(l+1)[i, j]) for each j
    value: list[float]  # per sample: ∂L/∂aᵢ^(l), as backward computed it

    def products(self, s: int) -> list[float]:
        """The terms δⱼ·W[i, j] of sample ``s``, whose sum is ``value[s]``."""
        return [d * w for d, w in self.terms[s]]


@dataclass
class UpdateStep:
    """One parameter array's update: plain SGD, new = old − lr·grad, or an optimiser's step (``rows``)."""

    layer: int
    param: str
    old: np.ndarray
    grad: np.ndarray
    new: np.ndarray
    lr: float
    frozen: bool = False  # held fixed (``frozen=``): new is old
    rows: list[tuple[str, np.ndarray]] = field(default_factory=list)  # an optimiser's quantities, in rule order


@dataclass
class Trace:
    forward: list[ForwardStep]
    loss: LossStep
    backward: list[BackwardStep]
    chain: list[ChainTerm] = field(default_factory=list)
    paths: list[PathSum] = field(default_factory=list)
    updates: list[UpdateStep] = field(default_factory=list)
    layers: list[LayerStep] = field(default_factory=list)  # every layer's labelled numbers (layers.py)


def blocks(model) -> list[tuple[Dense, Activation | None]]:
    """Pair each Dense layer with the activation after it; TypeError for anything else."""
    out: list[tuple[Dense, Activation | None]] = []
    for i, layer in enumerate(model.layers):
        if type(layer) is Dense:
            out.append((layer, None))
        elif isinstance(layer, Activation) and out and out[-1][1] is None:
            out[-1] = (out[-1][0], layer)
        else:
            raise TypeError(_unsupported(i, layer, bool(out)))
    return out


def _unsupported(i: int, layer: Layer, after_dense: bool) -> str:
    if isinstance(layer, Activation):
        where = "a second activation in a row" if after_dense else "an activation before the first Dense"
        return f"explain needs each activation right after a Dense layer; layer {i} ({layer!r}) is {where}."
    return f"explain supports Dense layers and activations; layer {i} is {layer!r} ({type(layer).__name__})."


def activation_name(act: Activation | None) -> str:
    return "identity" if act is None else act.name


def loss_step(objective: Objective, out: np.ndarray, Y: np.ndarray, d: np.ndarray, value: float) -> LossStep:
    """The loss's value and formulas; ``d`` is where the backward path started (∂L/∂ŷ, or ∂L/∂z if fused).

    Where the output is fused, ∂L/∂ŷ is still shown, from the loss's own code,
    as the factor the fused step replaces.
    """
    loss = objective.loss
    n, k = out.shape
    if loss.reduction == "sum":
        s_text, s_tex, count, N = "", "", "", None
    elif loss.per_element and k > 1:
        s_text, s_tex, count, N = "1/(n·k)·", r"\frac{1}{nk}", f"n·k = {n * k}", n * k
    else:
        s_text, s_tex, count, N = "1/n·", r"\frac{1}{n}", f"n = {n}", n
    fused = objective.fused is not None
    dL_dyhat = loss.value_and_grad(out, Y)[1] if fused else d
    squash = objective.fused.name if fused else loss.output_activation
    if fused:
        p = out.copy()
    elif squash is not None:
        p = Activation.registry[squash]().f(out)  # the probabilities the loss computes from the logits
    else:
        p = None
    return LossStep(
        name=loss.name,
        formula=loss.formula.format(s=s_text) + (f",  {count}" if count else ""),
        latex=loss.formula_latex.format(s=s_tex),
        grad_formula=loss.grad_formula.format(s=s_text),
        grad_latex=loss.grad_latex.format(s=s_tex),
        value=value,
        y_hat=out.copy(),
        y=np.array(Y, copy=True),
        dL_dyhat=dL_dyhat.copy(),
        batch_factor=None if N is None else 1.0 / N,
        batch_count=N,
        batch_text=s_text,
        batch_latex=s_tex,
        count_text=count,
        simplification=simplification(objective),
        fused=f"{objective.fused.name} + {loss.name}: δ = ∂L/∂z = {s_text}(ŷ − y)" if fused else None,
        delta_out=d.copy() if fused else None,
        residual=None if p is None else p - dense_targets(Y, k, out.dtype),
        probabilities=p,
        squash=squash,
        per_output=per_output_terms(loss, out, Y, value),
    )


def per_output_terms(loss: Loss, out: np.ndarray, Y: np.ndarray, value: float) -> list[float] | None:
    """Lₖ, output k's term of the loss (Mazur's E_o1, E_o2), for a loss that is a sum over outputs.

    Each is the loss of column k alone, with the batch mean's factor of the whole (1/(n·k) for a
    per-element mean): Σₖ Lₖ = L. None for one output, for class labels, for a loss that does not
    split by output (softmax cross-entropy couples the outputs) and for an L with an L1/L2 penalty:
    both told by the sum not matching L.
    """
    n_out = out.shape[1]
    if n_out < 2 or Y.ndim != 2:
        return None
    share = 1.0 / n_out if loss.per_element and loss.reduction == "mean" else 1.0
    terms = [float(loss.value_and_grad(out[:, k : k + 1], Y[:, k : k + 1])[0]) * share for k in range(n_out)]
    return terms if np.isclose(sum(terms), value, rtol=1e-9, atol=1e-12) else None


def dense_targets(Y: np.ndarray, k: int, dtype: np.dtype) -> np.ndarray:
    """Targets as rows of k numbers: integer labels (n,) become one-hot rows."""
    return np.eye(k, dtype=dtype)[Y] if Y.ndim == 1 else Y


def simplification(objective: Objective) -> str | None:
    """The cancellation the pair (output activation, loss) allows, if any."""
    loss, fused = objective.loss, objective.fused
    if fused is not None:
        return (
            f"{fused.name} + {loss.name} is one fused step: {fused.name}'s derivative cancels the loss's "
            "denominator, so δ = ∂L/∂z = ŷ − y = p − y (with the batch factor) and ∂L/∂w = (ŷ − y)·x, "
            "exact even where ŷ rounds to 0 or 1"
        )
    if loss.output_activation is not None:
        return (
            f"{loss.name} on logits: δ = ∂L/∂z = p − y with p = {loss.output_activation}(z), "
            "so ∂L/∂w = (p − y)·x"
        )
    return None


def run_step(model, X: np.ndarray, Y: np.ndarray, objective: Objective, detail: bool) -> Trace:
    """One step of ``model.gradient``, the path fit trains with, with every layer's numbers recorded.

    Every layer's labelled numbers go to ``Trace.layers``; a Dense network (Dense layers, each with at most
    one activation after it) is also written out block by block (``forward``, ``backward``) and, with
    ``detail``, weight by weight. Layers that draw (Dropout) are read after the step: their numbers are
    the mask that step drew.
    """
    record: list = []
    value, out, _ = model.gradient(X, Y, objective, input_grad=True, record=record)
    d_start = next(entry[2] for entry in record if entry[0] == "loss")
    lstep = loss_step(objective, out, Y, d_start, value)
    layers = layer_steps(model, record)
    if not is_dense_network(model):
        return Trace([], lstep, [], layers=layers)
    steps = {id(layer): step for layer, step in zip(model.layers, layers)}
    forward: list[ForwardStep] = []
    backward: list[BackwardStep] = []
    for k, (dense, act) in enumerate(blocks(model), start=1):
        act_step = None if act is None else steps[id(act)]
        fw = steps[id(dense)].forward_terms
        x, W, b, z = (the(fw, role).array.copy() for role in (Role.INPUT, Role.WEIGHT, Role.BIAS, Role.OUTPUT))
        a = (z if act_step is None else the(act_step.forward_terms, Role.OUTPUT).array).copy()
        forward.append(ForwardStep(k, activation_name(act), x, W, b, z, a))
        backward.append(block_backward(forward[-1], steps[id(dense)], act_step, act, objective, lstep))
    trace = Trace(forward, lstep, backward, layers=layers)
    if detail:
        trace.chain = chain_terms(forward, backward)
        trace.paths = path_sums(forward, backward)
    return trace


def block_backward(f: ForwardStep, dense: LayerStep, act_step: LayerStep | None, act: Activation | None,
                   objective: Objective, lstep: LossStep) -> BackwardStep:  # fmt: skip
    """Block f's backward, read by role from its Dense layer's and its activation's terms.

    δ reaches the Dense layer as its output gradient and ∂L/∂a(l−1) leaves it as its input gradient; an
    activation fused with the loss has no backward terms (the loss's step is its), so its ∂L/∂ŷ is shown
    and its f'(z) is the activation's own.
    """
    bw = dense.backward_terms
    delta = the(bw, Role.OUTPUT_GRADIENT).array
    fused = act is not None and act is objective.fused
    if act is None:
        upstream, fprime = delta, np.ones_like(f.z)
    elif fused:
        upstream = lstep.dL_dyhat  # shown, though the fused step never multiplies by it
        fprime = act.local_derivative(f.z, f.a) if act.elementwise else None
    else:
        upstream = the(act_step.backward_terms, Role.OUTPUT_GRADIENT).array
        derivative = with_role(act_step.backward_terms, Role.LOCAL_DERIVATIVE)  # none for softmax: a Jacobian
        fprime = derivative[0].array.copy() if derivative else None
    return BackwardStep(
        f.layer, f.activation, upstream.copy(), fprime, delta.copy(), the(bw, Role.WEIGHT_GRADIENT).array.copy(),
        the(bw, Role.BIAS_GRADIENT).array.copy(), the(bw, Role.INPUT_GRADIENT).array.copy(), len(f.a_prev),
        lstep.batch_factor, fused,
    )  # fmt: skip


def chain_terms(forward: list[ForwardStep], backward: list[BackwardStep]) -> list[ChainTerm]:
    """Every weight's and bias's gradient as ∂L/∂a_j · f'(z_j) · a_i (or δ_j · a_i), sample by sample."""
    terms = []
    for f, bk in zip(reversed(forward), reversed(backward)):  # from the output down, as backprop runs
        n_in, n_out = f.W.shape
        for j in range(n_out):
            per_sample = []
            for s in range(bk.batch_size):
                if bk.fprime is None or bk.fused:  # softmax or a fused output: δ_j itself is the first factor
                    per_sample.append([(f"δ{j + 1}", float(bk.delta[s, j]))])
                else:
                    per_sample.append([("∂L/∂a", float(bk.upstream[s, j])), ("f'(z)", float(bk.fprime[s, j]))])
            for i in range(n_in):
                factors = [[*p, ("a_in", float(f.a_prev[s, i]))] for s, p in enumerate(per_sample)]
                terms.append(ChainTerm(f.layer, "W", (i, j), factors, float(bk.dW[i, j])))
            terms.append(ChainTerm(f.layer, "b", (j,), [[*p, ("1", 1.0)] for p in per_sample], float(bk.db[j])))
    return terms


def path_sums(forward: list[ForwardStep], backward: list[BackwardStep]) -> list[PathSum]:
    """Every hidden unit's ∂L/∂a as the sum over the units it feeds, from the output down."""
    sums = []
    for f_next, bk_next in zip(reversed(forward[1:]), reversed(backward[1:])):
        layer = f_next.layer - 1
        for i in range(f_next.W.shape[0]):
            terms = [
                [(float(bk_next.delta[s, j]), float(f_next.W[i, j])) for j in range(f_next.W.shape[1])]
                for s in range(bk_next.batch_size)
            ]
            sums.append(PathSum(layer, i, terms, [float(v) for v in bk_next.da_prev[:, i]]))
    return sums


def sgd_updates(backward: list[BackwardStep], forward: list[ForwardStep], lr: float) -> list[UpdateStep]:
    """What plain SGD, w − lr·∂L/∂w, would make of every parameter array."""
    ups = []
    for f, bk in zip(forward, backward):
        for name, old, grad in (("W", f.W, bk.dW), ("b", f.b, bk.db)):
            ups.append(UpdateStep(f.layer, name, old, grad, old - lr * grad, lr))
    return ups
