"""The update of the optimiser the model trains with, written out quantity by quantity.

The new values come from the optimiser's own ``step``, run on a copy of it (its moments and step count
carry on from where the model's training left them), over one array per parameter. The quantities shown
on the way (the clipped and decayed g, momentum's v, Adam's m, v, m̂ and v̂, the step itself) follow the
rule in the optimiser's docstring; the moments are the optimiser's own state after its step.
"""

from __future__ import annotations

import copy
import inspect
import math
from typing import TYPE_CHECKING

import numpy as np

from ..core.optimizers import SGD, Adam, Optimizer, RMSProp
from .markdown import display, matrix
from .text import as_rows, field, wrap

if TYPE_CHECKING:
    from .explanation import Explanation
    from .trace import UpdateStep

Row = tuple[str, np.ndarray]


def rule_lines(optimizer: Optimizer) -> list[str]:
    """The update rule as the optimiser's docstring writes it, then where decay and clipping act."""
    lines = [line for line in inspect.cleandoc(type(optimizer).__doc__ or "").splitlines() if line.strip()]
    if optimizer.clip_norm is not None:
        lines.append(f"clipping, first: g ← g·min(1, c/‖g‖), c = {optimizer.clip_norm:g}, ‖g‖ over every array")
    if optimizer.clip_value is not None:
        lines.append(f"clipping, first: g ← clip(g, −c, c), c = {optimizer.clip_value:g}")
    if np.any(optimizer.weight_decay):
        lines.append(f"weight decay, after clipping: g ← g + λ·θ, λ = {optimizer.weight_decay:g}")
    return lines


def optimizer_updates(
    optimizer: Optimizer, updates: list[UpdateStep], offsets: list[int], penalized: bool = False
) -> Optimizer:
    """Fill each update's ``new`` and ``rows`` from one step of a copy of ``optimizer``; return that copy.

    ``updates`` hold each parameter array's old value and gradient (``frozen`` ones are left as they
    are: their gradient is zeroed for the step, as ``fit`` does); ``offsets`` place each array in the
    model's flat buffer, where the optimiser's state (if it has stepped before) lives. ``penalized``:
    each gradient holds an L1/L2 penalty's term besides the data term (its label says so).
    """
    opt = copy.deepcopy(optimizer)
    if opt.state:  # the flat buffer's moments, cut into one piece per array
        opt.state = [
            {k: a[off : off + up.old.size].copy() for k, a in opt.state[0].items()} for up, off in zip(updates, offsets)
        ]
    before = [{k: a.copy() for k, a in slot.items()} for slot in opt.state]
    params = [up.old.ravel().copy() for up in updates]  # flat, as fit hands its buffer over
    grads = [np.zeros(up.grad.size, up.grad.dtype) if up.frozen else up.grad.ravel().copy() for up in updates]
    opt.step(params, grads)
    params = [p.reshape(up.old.shape) for p, up in zip(params, updates)]
    grads = [g.reshape(up.old.shape) for g, up in zip(grads, updates)]
    opt.state = [{k: a.reshape(up.old.shape) for k, a in slot.items()} for slot, up in zip(opt.state, updates)]
    before = [{k: a.reshape(up.old.shape) for k, a in slot.items()} for slot, up in zip(before, updates)]
    shown = _effective_gradients(opt, updates, grads)
    for k, (up, new, g) in enumerate(zip(updates, params, shown)):
        up.new = up.old.copy() if up.frozen else new
        up.rows = [] if up.frozen else _rows(opt, up, g, opt.state[k], before[k] if before else {}, penalized)
    return opt


def _effective_gradients(opt: Optimizer, updates: list[UpdateStep], grads: list[np.ndarray]) -> list[Row]:
    """Each array's g as the rule receives it: clipped, then with λ·θ added (docstring order)."""
    norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
    scale = 1.0 if opt.clip_norm is None else min(1.0, opt.clip_norm / max(norm, np.finfo(float).tiny))
    out = []
    for up, g in zip(updates, grads):
        rows = []
        if opt.clip_norm is not None:
            g = g * scale
            rows.append((f"g·min(1, c/‖g‖) = g·{scale:.6g}  (‖g‖ = {norm:.6g})", g))
        if opt.clip_value is not None:
            g = np.clip(g, -opt.clip_value, opt.clip_value)
            rows.append(("clip(g, −c, c)", g))
        if np.any(opt.weight_decay):
            g = g + opt.weight_decay * up.old
            rows.append(("g + λ·θ", g))
        out.append((rows, g))
    return out


def _rows(
    opt: Optimizer, up: UpdateStep, shown: tuple[list[Row], np.ndarray], slot: dict, before: dict, penalized: bool
) -> list[Row]:
    """The rule's quantities for one array, in the order the rule computes them."""
    rows, g = shown
    rows = [("g = ∂L/∂θ, data term + penalty" if penalized else "g = ∂L/∂θ", up.grad), *rows]
    t, lr = opt.t, float(opt.current_lr)
    again = opt.t > 1  # the moments held values before this step: show them
    if isinstance(opt, SGD) and opt.slots:
        mu = opt.momentum
        rows += [("v before", before["velocity"])] if again else []
        rows.append((f"v ← μ·v + g  (μ = {mu:g})", slot["velocity"]))
        step_label = "α·(g + μ·v)" if opt.nesterov else "α·v"
    elif isinstance(opt, Adam):
        b1, b2 = opt.beta_1, opt.beta_2
        rows += [("m before", before["m"]), ("v before", before["v"])] if again else []
        rows.append((f"m ← β₁·m + (1 − β₁)·g  (β₁ = {b1:g})", slot["m"]))
        rows.append((f"v ← β₂·v + (1 − β₂)·g²  (β₂ = {b2:g})", slot["v"]))
        rows.append((f"m̂ = m/(1 − β₁ᵗ)  (t = {t}: 1 − β₁ᵗ = {1 - b1**t:.6g})", slot["m"] / (1 - b1**t)))
        rows.append((f"v̂ = v/(1 − β₂ᵗ)  (1 − β₂ᵗ = {1 - b2**t:.6g})", slot["v"] / (1 - b2**t)))
        step_label = f"α·m̂/(√v̂ + ε)  (ε = {opt.eps:g})"
    elif isinstance(opt, RMSProp):
        rows += [("s before", before["s"])] if again else []
        rows.append((f"s ← ρ·s + (1 − ρ)·g²  (ρ = {opt.rho:g})", slot["s"]))
        step_label = f"α·g/(√s + ε)  (ε = {opt.eps:g})"
    else:
        step_label = "α·g"
    rows.append((f"step = {step_label},  α = {lr:g}", up.old - up.new))
    rows.append(("θ_new = θ − step", up.new))
    return rows


def optimizer_text(ex: Explanation, precision: int) -> list[str]:
    """The UPDATE section of the text for an optimiser's real step."""
    out = ["", f"UPDATE, step t = {ex.optimizer_step} of the optimiser", *wrap(ex.optimizer)]
    out += ["  applied to the model"] if ex.applied else []
    out += [f"  {line}" for line in ex.rule]
    for up in ex.updates:
        out.append(f"{up.param}({up.layer})" + (": frozen, left as it is" if up.frozen else ""))
        for label, value in up.rows:
            out += field(label, value, precision)
    return out


def optimizer_markdown(ex: Explanation, precision: int) -> list[str]:
    """The update section of the Markdown for an optimiser's real step."""
    out = [f"#### Update ({ex.optimizer}, step {ex.optimizer_step})", "```text\n" + "\n".join(ex.rule) + "\n```"]
    for up in ex.updates:
        name = rf"${up.param}^{{({up.layer})}}$"
        if up.frozen:
            out.append(f"{name}: frozen, left as it is")
            continue
        out.append(f"{name}:")
        out += [f"{label}: {display(matrix(as_rows(value), precision))}" for label, value in up.rows]
    return out
