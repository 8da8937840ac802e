"""Text and Markdown of a step through a network of any explainable layers, layer by layer.

Each layer shows the terms of ``LayerStep`` (its ``forward_terms`` and ``backward_terms``),
printed by their labels, so a BatchNorm shows μ, σ², x̂, γ, β and its three backward
paths, a Dropout its mask and scale, a Residual its two paths summed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..layers.terms import Role, Term
from .conv import sums_markdown, sums_text
from .markdown import MAX_MATRIX_COLUMNS, card_tex, display, matrix, per_output_tex, tex_num
from .text import (
    MAX_SHOWN_ENTRIES,
    WIDTH,
    as_rows,
    field,
    gradcheck_line,
    gradcheck_measure,
    loss_card,
    num,
    per_output_lines,
    rows,
    summary,
    wrap,
)

if TYPE_CHECKING:
    from .explanation import Explanation
    from .layers import LayerStep

FORWARD_HEAD = "FORWARD, layer by layer: each layer's own numbers, from its input to its output"
BACKWARD_HEAD = "BACKWARD, from the output down: each layer's ∂L/∂output in, its terms, ∂L/∂input out"


def fused_label(ex: Explanation) -> str:
    """The fused output step, as the backward of the layer the loss took over."""
    return f"fused with the loss: δ = ∂L/∂z = {ex.loss.batch_text}(ŷ − y)"


def stored_grads(step: LayerStep) -> list[tuple[str, np.ndarray]]:
    """∂L/∂θ as backward stored it, for each parameter whose gradient none of the layer's terms shows."""
    shown = {t.param for t in step.backward_terms or () if t.role in (Role.WEIGHT_GRADIENT, Role.BIAS_GRADIENT)}
    return [(f"∂L/∂{param_label(name)} (stored by backward)", g) for name, g in step.grads.items() if name not in shown]


def labelled(terms: list[Term]) -> list[tuple[str, np.ndarray]]:
    """The terms as (label, array), in order: what the text, Markdown and page print."""
    return [(t.label, t.array) for t in terms]


def backward_rows(step: LayerStep) -> list[tuple[str, np.ndarray]]:
    """A layer's backward as printed: its terms, then the gradients it stored that no term shows."""
    return [*labelled(step.backward_terms or []), *stored_grads(step)]


def param_label(name: str) -> str:
    """ "gamma" -> "γ"; an inner layer's "0.W" -> "W of inner layer 0"."""
    inner, _, param = name.rpartition(".")
    param = {"gamma": "γ", "beta": "β"}.get(param, param)
    return f"{param} of inner layer {inner}" if inner else param


def terms_text(rows: list[tuple[str, np.ndarray]], precision: int) -> list[str]:
    out = []
    for label, a in rows:
        out += field_of(label, np.asarray(a), precision)
    return out


def field_of(label: str, a: np.ndarray, precision: int) -> list[str]:
    """``field`` of the rows the text prints; an array too large to list keeps its own shape, (O, C, K)."""
    shown = as_rows(a)
    if a.ndim <= 2 or rows(shown, precision) is not None:
        return field(label, shown, precision)
    line = f"  {label}: {summary(a)}"
    return [line] if len(line) <= WIDTH else [f"  {label}:", *wrap(summary(a), "      ")]


def matrix_of(a: np.ndarray, precision: int) -> str:
    """``matrix`` of the rows; an array too large to typeset keeps its own shape."""
    shown = as_rows(a)
    if a.ndim <= 2 or (shown.size <= MAX_SHOWN_ENTRIES and shown.shape[1] <= MAX_MATRIX_COLUMNS):
        return matrix(shown, precision)
    shape = r" \times ".join(map(str, a.shape))
    return rf"\left[\text{{shape }} {shape},\ \lVert\cdot\rVert = {tex_num(float(np.linalg.norm(a)), precision)}\right]"


def render_layers_text(ex: Explanation, precision: int = 5) -> str:
    p, loss = precision, ex.loss
    out = [
        f"One training step of {ex.model_repr}"[:80],
        f"batch of n = {len(loss.y_hat)} sample(s), loss {loss.name}, {ex.n_params} parameters (training mode)",
        f"Gradient check against finite differences: {gradcheck_measure(ex)}",
        "",
        FORWARD_HEAD,
    ]
    for step in ex.layers:
        out.append(f"Layer {step.index}: {step.name}")
        out += terms_text(labelled(step.forward_terms), p)
    out += ["", f"LOSS   {loss.formula}"]
    for _, label, value in loss_card(loss):
        out += wrap(f"{label} = {value}") if isinstance(value, str) else field(label, value, p)
    out += [f"  L = {num(loss.value, p)}", *per_output_lines(loss, p), "", BACKWARD_HEAD]
    for step in reversed(ex.layers):
        out.append(f"Layer {step.index}: {step.name}")
        if step.backward_terms is None:
            out += field(fused_label(ex), loss.delta_out, p)
            continue
        out += terms_text(backward_rows(step), p)
        out += [] if step.sums is None else sums_text(step.sums, p)
    if ex.optimizer:
        out += ex.update_lines(p)
    elif ex.updates:
        out += ["", f"UPDATE (plain SGD)   θ_new = θ − α·∂L/∂θ,   α = {ex.lr:g}"]
        out += ["  applied to the model"] if ex.applied else []
        for note in ex.notes:
            out += wrap(f"Note: {note}")
        for up in ex.updates:
            frozen = " (frozen, left as it is)" if up.frozen else ""
            out += field(f"layer {up.layer} {param_label(up.param)} new{frozen}", as_rows(up.new), p)
    out += ["", gradcheck_line(ex)]
    return "\n".join(out) + "\n"


def terms_markdown(rows: list[tuple[str, np.ndarray]], precision: int) -> list[str]:
    return [f"{label}: {display(matrix_of(np.asarray(a), precision))}" for label, a in rows]


def render_layers_markdown(ex: Explanation, precision: int = 5) -> str:
    p, loss = precision, ex.loss
    verdict = "passed" if ex.gradcheck_passed else "FAILED"
    out = [
        f"### One training step of `{ex.model_repr}`",
        f"Batch of $n = {len(loss.y_hat)}$ sample(s), loss `{loss.name}`, {ex.n_params} parameters, training mode. "
        f"Gradient check: max relative error ${tex_num(ex.gradcheck_error, 2)}$ against central finite "
        f"differences (tolerance ${tex_num(ex.gradcheck_tol, 1)}$): {verdict}.",
        "#### Forward pass, layer by layer",
    ]
    for step in ex.layers:
        out += [f"**Layer {step.index}**: `{step.name}`", *terms_markdown(labelled(step.forward_terms), p)]
    out += ["#### Loss", display(loss.latex, tex_num(loss.value, p)), *per_output_tex(loss, p), *card_tex(loss, p)]
    out.append("#### Backward pass, from the output down")
    for step in reversed(ex.layers):
        out.append(f"**Layer {step.index}**: `{step.name}`")
        if step.backward_terms is None:
            out.append(f"{fused_label(ex)}: {display(matrix(loss.delta_out, p))}")
        else:
            out += terms_markdown(backward_rows(step), p)
            out += [] if step.sums is None else sums_markdown(step.sums, p)
    if ex.optimizer:
        out += ex.update_lines(p, markdown=True)
    elif ex.updates:
        out.append(rf"#### Update (plain SGD, $\alpha = {ex.lr:g}$)")
        out += [f"> {note}" for note in ex.notes]
        out += [
            f"layer {up.layer} {param_label(up.param)} new{' (frozen)' if up.frozen else ''}: "
            f"{display(matrix(as_rows(up.new), p))}"
            for up in ex.updates
        ]
    return "\n\n".join(out) + "\n"
