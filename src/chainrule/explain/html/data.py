"""The numbers an HTML page shows for one training step, as JSON-ready lists of strings.

Every number is formatted here, in Python, by the text rendering's own ``num``, so the page
shows exactly what ``Explanation.to_text(precision)`` prints. The page's script only joins
these strings (a chain-rule product is the factors the trace records, joined by " · ").

A network is drawn when every layer has at most ``MAX_DRAWN_UNITS`` units and it has at most
``MAX_DRAWN_EDGES`` weights; a larger one gets a table of layers with shapes and norms.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ...activations import Activation
from ..text import (
    MAX_SHOWN_ENTRIES,
    fused_note,
    grad_text,
    gradcheck_line,
    loss_card,
    num,
    path_parts,
    residual_label,
    summary,
)

if TYPE_CHECKING:
    from ..explanation import Explanation

MAX_DRAWN_UNITS = 40
"""Largest layer (units, inputs included) that the pages draw neuron by neuron."""

MAX_DRAWN_EDGES = 2000
"""Most weights the pages draw edge by edge; a larger network gets the summary table."""


EQUATIONS = [
    "forward:  z(l) = a(l-1)·W(l) + b(l),   a(l) = f(z(l)),   a(0) = X",
    "backward:  δ(l) = ∂L/∂a(l) ∘ f'(z(l)),   ∂L/∂a(l-1) = δ(l)·W(l)ᵀ",
    "gradients:  ∂L/∂W(l) = a(l-1)ᵀ·δ(l),   ∂L/∂b(l) = Σₛ δ(l)",
    "one weight:  ∂L/∂w = ∂L/∂a · f'(z) · a_in  (fused and softmax blocks: δ · a_in, δ = ∂L/∂z)",
    "update (plain SGD):  θ_new = θ − α·∂L/∂θ",
]
"""The block equations the text rendering prints as its section headings."""


def drawable(sizes: Sequence[int]) -> bool:
    """Whether a network with these layer sizes (input to output) is drawn rather than summarised."""
    edges = sum(a * b for a, b in zip(sizes, sizes[1:]))
    return max(sizes) <= MAX_DRAWN_UNITS and edges <= MAX_DRAWN_EDGES


def strings(a: Any, precision: int) -> list:
    """An array as nested lists of ``num`` strings (1-D stays 1-D)."""
    a = np.asarray(a, dtype=float)
    if a.ndim == 0:
        return [num(a, precision)]
    if a.ndim == 1:
        return [num(v, precision) for v in a]
    return [strings(row, precision) for row in a]


def listed(a: Any, precision: int, drawn: bool) -> list | str:
    """Every entry (drawn networks, or arrays small enough for the text), else the text's one-line summary."""
    a = np.asarray(a, dtype=float)
    if drawn or a.size <= MAX_SHOWN_ENTRIES:
        return strings(a, precision)
    return summary(a)


def norms(a: np.ndarray) -> list[str]:
    """‖·‖, min and max as the text's summary writes them (4 significant digits)."""
    a = np.asarray(a, dtype=float)
    return [f"{np.linalg.norm(a):.4g}", f"{a.min():.4g}", f"{a.max():.4g}"]


def names(given: Sequence[str] | None, count: int) -> list[str] | None:
    """User-given names (feature or class names) as plain strings, when there is one per unit."""
    if given is None:
        return None
    out = [str(s) for s in given]
    return out if len(out) == count else None


def output_names(class_names: Sequence[str] | None, n_out: int) -> list[str] | None:
    """One name per output unit: the classes, or "P(c)" for a single sigmoid unit of two classes."""
    if class_names is None:
        return None
    given = [str(s) for s in class_names]
    if len(given) == n_out:
        return given
    if n_out == 1 and len(given) == 2:
        return [f"P({given[1]})"]
    return None


def formulas(ex: Explanation) -> list[dict[str, str]]:
    """Each activation the network uses, once, with f(z) and f'(z) from its class."""
    seen: dict[str, dict[str, str]] = {}
    for f in ex.forward:
        cls = Activation.registry[f.activation]
        seen.setdefault(f.activation, {"name": f.activation, "f": cls.formula, "df": cls.derivative})
    return list(seen.values())


def loss_data(ex: Explanation, precision: int, drawn: bool) -> dict[str, Any]:
    loss = ex.loss
    fused = next((bk for bk in ex.backward if bk.fused), None)
    return {
        "name": loss.name,
        "formula": loss.formula,
        "gradFormula": grad_text(loss),
        "gradRule": loss.grad_formula,
        "card": [
            [label, value, True] if isinstance(value, str) else [label, listed(value, precision, drawn), False]
            for _, label, value in loss_card(loss)
        ],
        "value": num(loss.value, precision),
        "simplification": loss.simplification,
        "fused": loss.fused,
        "fusedNote": None if fused is None else fused_note(fused.activation, loss.name),
        "residualLabel": residual_label(loss),
        "countText": loss.count_text,
        "batchText": loss.batch_text,
    }


def step_data(ex: Explanation, precision: int, drawn: bool) -> dict[str, Any]:
    """One step's numbers: per-layer arrays (drawn networks) or per-layer norms (summarised ones)."""
    p = precision
    ups = {(u.layer, u.param): u for u in ex.updates}
    blocks = []
    for f, bk in zip(ex.forward, ex.backward):
        block: dict[str, Any] = {"fused": bool(bk.fused), "softmax": bk.fprime is None}
        if drawn:
            block.update(
                W=strings(f.W, p), b=strings(f.b, p), z=strings(f.z, p), a=strings(f.a, p),
                dW=strings(bk.dW, p), db=strings(bk.db, p), delta=strings(bk.delta, p),
                upstream=strings(bk.upstream, p), fprime=None if bk.fprime is None else strings(bk.fprime, p),
            )  # fmt: skip
            if (f.layer, "W") in ups:
                block.update(newW=strings(ups[f.layer, "W"].new, p), newb=strings(ups[f.layer, "b"].new, p))
        else:
            rows = [("W", f.W), ("∂L/∂W", bk.dW), ("b", f.b), ("∂L/∂b", bk.db), ("z", f.z), ("a", f.a)]
            rows.append(("δ", bk.delta))
            if (f.layer, "W") in ups:
                rows.append(("W new", ups[f.layer, "W"].new))
            block["table"] = [[name, "×".join(map(str, np.shape(a))), *norms(a)] for name, a in rows]
        sums = [ps for ps in ex.paths if ps.layer == f.layer]
        if drawn and sums:  # per unit, per sample: the name, then each side of the sum (as the text writes it)
            block["sums"] = [[path_parts(ps, q, p) for q in range(len(ps.terms))] for ps in sums]
        blocks.append(block)
    loss = ex.loss
    return {
        "loss": loss_data(ex, p, drawn),
        "blocks": blocks,
        "gradcheck": gradcheck_data(ex),
        "notes": list(ex.notes),
        "lr": None if ex.lr is None else f"{ex.lr:g}",
        "applied": bool(ex.applied),
        "x": listed(ex.forward[0].a_prev, p, drawn),
        "yhat": listed(loss.y_hat, p, drawn),
        "y": listed(loss.y, p, drawn),
        "dLdyhat": listed(loss.dL_dyhat, p, drawn),
        "residual": None if loss.residual is None else listed(loss.residual, p, drawn),
    }


def gradcheck_data(ex: Explanation) -> dict[str, Any]:
    return {"text": gradcheck_line(ex), "passed": bool(ex.gradcheck_passed)}


def sizes_of(ex: Explanation) -> list[int]:
    return [int(ex.forward[0].W.shape[0]), *(int(f.W.shape[1]) for f in ex.forward)]


def network_data(
    ex: Explanation,
    precision: int = 5,
    feature_names: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """What stays the same from step to step: the layer sizes, names, activations and formulas."""
    sizes = sizes_of(ex)
    return {
        "model": ex.model_repr,
        "n": int(len(ex.loss.y_hat)),
        "nParams": int(ex.n_params),
        "precision": int(precision),
        "sizes": sizes,
        "activations": [f.activation for f in ex.forward],
        "drawn": drawable(sizes),
        "inputNames": names(feature_names, sizes[0]),
        "outputNames": output_names(class_names, sizes[-1]),
        "formulas": formulas(ex),
        "equations": EQUATIONS,
        "one": num(1.0, precision),
    }


def explanation_data(
    ex: Explanation,
    precision: int = 5,
    feature_names: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Everything the explain page shows, as JSON-ready values (numbers already formatted)."""
    net = network_data(ex, precision, feature_names, class_names)
    return {
        "kind": "explain",
        "title": f"One training step of {ex.model_repr}",
        "net": net,
        "step": step_data(ex, precision, net["drawn"]),
    }
