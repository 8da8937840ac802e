"""Convolutions and poolings in explain: each small kernel's gradient as its sum, term by term.

Weight sharing makes one kernel weight's gradient a sum over every position the kernel visited:

    ∂L/∂w[o, c, k] = Σₙ Σₜ δ[n, o, t] · x[n, c, t·stride + k·dilation − padding]

and the input gradient the transposed convolution, a sum over the kernel positions that touched input i:

    ∂L/∂x[n, c, i] = Σ_o Σ_(k, t : t·stride + k·dilation − padding = i) w[o, c, k] · δ[n, o, t]

The terms come from the layer's own ``weight_gradient_terms`` and ``input_gradient_terms``. A layer of more
than ``MAX_SUM_WEIGHTS`` weights keeps the summary the other layers get: its arrays by shape and norm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..layers import AvgPool1D, Conv1D, MaxPool1D
from ..layers.terms import Role, Term, with_role
from .markdown import tex_num
from .text import bracket, num, wrap

MAX_SUM_WEIGHTS = 64
"""A Conv1D with at most this many kernel weights has each weight's gradient written as its sum."""


@dataclass
class ConvSums:
    """One Conv1D's backward as sums: ``weights[(o, c, k)]`` holds (n, t, i, δ, x) per term and
    ``inputs[(n, c, i)]`` holds (o, k, t, w, δ) per term; ``x`` (n, C, L) is the layer's input."""

    stride: int
    padding: int  # zeros before the signal
    dilation: int
    x: np.ndarray
    W: np.ndarray
    delta: np.ndarray
    dW: np.ndarray
    dX: np.ndarray
    weights: dict[tuple[int, int, int], list[tuple[int, int, int, float, float]]]
    inputs: dict[tuple[int, int, int], list[tuple[int, int, int, float, float]]]

    def position(self, k: int) -> str:
        """Where tap k reads, as a formula in t: "t", "2t − 1", "t + 2"."""
        offset = k * self.dilation - self.padding
        where = "t" if self.stride == 1 else f"{self.stride}t"
        return where + (f" + {offset}" if offset > 0 else f" − {-offset}" if offset < 0 else "")


@dataclass
class PoolWindows:
    """One pooling's windows: ``winners`` (n, C, L_out) the input position that won each window (max-pool)."""

    kernel_size: int
    stride: int
    winners: np.ndarray | None


def conv_sums(layer: Conv1D, x: np.ndarray, dZ: np.ndarray, dX: np.ndarray | None) -> ConvSums | None:
    """The sums of a small Conv1D's backward, for the step that just ran; None for a larger layer."""
    W = layer.params["W"]
    if W.size > MAX_SUM_WEIGHTS or layer.n_models is not None:
        return None
    weights = {(o, c, k): layer.weight_gradient_terms(dZ, o, c, k) for o, c, k in np.ndindex(*W.shape)}
    inputs = {(n, c, i): layer.input_gradient_terms(dZ, n, c, i) for n, c, i in np.ndindex(*x.shape)}
    dXa = np.zeros_like(x) if dX is None else dX  # the first layer: no one asks for dX, its sums still hold
    if dX is None:
        for key, terms in inputs.items():
            dXa[key] = sum(w * d for *_, w, d in terms)
    pad = layer.pads()[0]
    return ConvSums(layer.stride, pad, layer.dilation, x.copy(), W.copy(), dZ.copy(),
                    layer.grads["W"].copy(), dXa.copy(), weights, inputs)  # fmt: skip


def pool_windows(layer, forward: list[Term]) -> PoolWindows | None:
    """A pooling's windows; for a max-pool, the input position of each window's winner (its ``WINNER`` term)."""
    if type(layer) not in (MaxPool1D, AvgPool1D) or layer.n_models is not None:
        return None
    winners = None
    won = with_role(forward, Role.WINNER)  # each window's winner, counted within its window
    if won:
        j = won[0].array
        winners = np.arange(j.shape[-1]) * layer.stride + j
    return PoolWindows(layer.kernel_size, layer.stride, winners)


def weight_factors(s: ConvSums, key: tuple[int, int, int]) -> list[list[tuple[str, tuple[int, ...]]]]:
    """Each term of ∂L/∂w[o, c, k] as its factors, (name, index): [("δ", (n, o, t)), ("x", (n, c, i))]."""
    o, c, _ = key
    return [[("δ", (n, o, t)), ("x", (n, c, i))] for n, t, i, _, _ in s.weights[key]]


def input_factors(s: ConvSums, key: tuple[int, int, int]) -> list[list[tuple[str, tuple[int, ...]]]]:
    """Each term of ∂L/∂x[n, c, i] as its factors: [("w", (o, c, k)), ("δ", (n, o, t))]."""
    n, c, _ = key
    return [[("w", (o, c, k)), ("δ", (n, o, t))] for o, k, t, _, _ in s.inputs[key]]


def written(factors: list[list[tuple[str, tuple[int, ...]]]]) -> list[str]:
    """The terms as symbols, "δ[0, 0, 1]·x[0, 0, 2]"."""
    return ["·".join(f"{name}[{', '.join(map(str, index))}]" for name, index in term) for term in factors]


def weight_symbols(s: ConvSums, key: tuple[int, int, int]) -> tuple[str, list[str]]:
    """The sum's heading and its terms as symbols, "δ[0, 0, 1]·x[0, 0, 2]"."""
    o, c, k = key
    head = f"∂L/∂w[{o}, {c}, {k}] = Σₙ Σₜ δ[n, {o}, t]·x[n, {c}, {s.position(k)}]"
    return head, written(weight_factors(s, key))


def input_symbols(s: ConvSums, key: tuple[int, int, int]) -> tuple[str, list[str]]:
    n, c, i = key
    head = f"∂L/∂x[{n}, {c}, {i}] = Σ w[o, {c}, k]·δ[{n}, o, t] over t·{s.stride} + k·{s.dilation} − {s.padding} = {i}"
    return head, written(input_factors(s, key))


def padded(s: ConvSums, i: int) -> bool:
    return not 0 <= i < s.x.shape[-1]


def weight_values(s: ConvSums, key: tuple[int, int, int], precision: int, fmt=num) -> list[tuple[str, str]]:
    """Each term's δ and x as text (x in the padding written 0)."""
    return [(fmt(d, precision), fmt(x, precision)) for _, _, _, d, x in s.weights[key]]


def input_values(s: ConvSums, key: tuple[int, int, int], precision: int, fmt=num) -> list[tuple[str, str]]:
    return [(fmt(w, precision), fmt(d, precision)) for _, _, _, w, d in s.inputs[key]]


def products(pairs: list[tuple[str, str]]) -> str:
    """ "a·b + (−c)·d": negative factors after the first in brackets."""
    return " + ".join(f"{bracket(a) if j else a}·{bracket(b)}" for j, (a, b) in enumerate(pairs)) if pairs else "0"


def sum_text(head: str, symbols: list[str], pairs: list[tuple[str, str]], total: str) -> list[str]:
    out = [f"  {head}"]
    if not symbols:
        return [*out, "      = 0 (no window read it)"]
    out += wrap("= " + " + ".join(symbols), "      ")
    out += wrap("= " + products(pairs), "      ")
    return [*out, f"      = {total}"]


def sums_text(s: ConvSums, precision: int) -> list[str]:
    """Every kernel weight's gradient, then every input's, as its sum with each term's numbers."""
    p = precision
    out = ["  Each kernel weight's gradient, summed over every position the kernel visited"]
    if s.padding:
        out.append(f"  (x at a position below 0 or from {s.x.shape[-1]} on is the padding, 0):")
    for key in s.weights:
        out += sum_text(*weight_symbols(s, key), weight_values(s, key, p), num(s.dW[key], p))
    out.append("  Each input's gradient (the transposed convolution), summed over the windows that read it:")
    for key in s.inputs:
        out += sum_text(*input_symbols(s, key), input_values(s, key, p), num(s.dX[key], p))
    return out


TEX_NAMES = {"δ": r"\delta", "x": "x", "w": "w"}


def tex_terms(factors: list[list[tuple[str, tuple[int, ...]]]]) -> str:
    """The terms in LaTeX: [("δ", (0, 0, 1)), ("x", (0, 0, 2))] -> "\\delta_{0,0,1}\\,x_{0,0,2}"."""
    return " + ".join(
        r"\,".join(f"{TEX_NAMES[name]}_{{{','.join(map(str, index))}}}" for name, index in term) for term in factors
    )


def sum_markdown(head: str, factors: list, pairs: list[tuple[str, str]], total: str) -> str:
    if not factors:
        return f"`{head}` $= 0$ (no window read it)"
    values = " + ".join(rf"{bracket(a) if j else a} \cdot {bracket(b)}" for j, (a, b) in enumerate(pairs))
    return f"`{head}`: $$= {tex_terms(factors)} = {values} = {total}$$"


def sums_markdown(s: ConvSums, precision: int) -> list[str]:
    p = precision
    out = ["Each kernel weight's gradient, summed over every position the kernel visited"
           + (" (x outside the signal is the padding, 0):" if s.padding else ":")]  # fmt: skip
    for key in s.weights:
        head, factors = weight_symbols(s, key)[0], weight_factors(s, key)
        out.append(sum_markdown(head, factors, weight_values(s, key, p, tex_num), tex_num(s.dW[key], p)))
    out.append("Each input's gradient (the transposed convolution), summed over the windows that read it:")
    for key in s.inputs:
        head, factors = input_symbols(s, key)[0], input_factors(s, key)
        out.append(sum_markdown(head, factors, input_values(s, key, p, tex_num), tex_num(s.dX[key], p)))
    return out
