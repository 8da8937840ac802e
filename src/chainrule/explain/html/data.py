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

from ...layers.activations import Activation
from ..by_layer import backward_rows, fused_label, labelled
from ..conv import ConvSums, PoolWindows, input_symbols, input_values, products, weight_symbols, weight_values
from ..text import (
    MAX_SHOWN_ENTRIES,
    as_rows,
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

MAX_POOL_DRAWN = 256
"""Most values per sample (channels × length) that the page draws a pooling's windows over."""

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


def as_numbers(a: Any) -> np.ndarray:
    """An array of floats, or of integers where it holds indices (``num`` writes those as integers)."""
    a = np.asarray(a)
    return a if a.dtype.kind in "iu" else a.astype(float)


def strings(a: Any, precision: int) -> list:
    """An array as nested lists of ``num`` strings (1-D stays 1-D; integers stay integers)."""
    a = as_numbers(a)
    if a.ndim == 0:
        return [num(a, precision)]
    if a.ndim == 1:
        return [num(v, precision) for v in a]
    return [strings(row, precision) for row in a]


def listed(a: Any, precision: int, drawn: bool) -> list | str:
    """Every entry (drawn networks, or arrays small enough for the text), else the text's one-line summary."""
    a = as_numbers(a)
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
    fused = next((bk.activation for bk in ex.backward if bk.fused), loss.squash if loss.fused else None)
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
        "fusedNote": None if fused is None else fused_note(fused, loss.name),
        "residualLabel": residual_label(loss),
        "countText": loss.count_text,
        "batchText": loss.batch_text,
    }


def step_data(ex: Explanation, precision: int, drawn: bool) -> dict[str, Any]:
    """One step's numbers: per-layer arrays (drawn networks) or per-layer norms (summarised ones)."""
    if not ex.dense:
        return layered_step_data(ex, precision)
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


LAYER_EQUATIONS = [
    "forward:  each layer maps its input x to its output y; its own numbers are listed below (forward_terms)",
    "backward:  each layer takes dy = ∂L/∂y and gives dx = ∂L/∂x and its ∂L/∂θ (backward_terms, term by term)",
    "update (plain SGD):  θ_new = θ − α·∂L/∂θ",
]
"""The equations of a network of any explainable layers (the text's section headings)."""


def terms_data(rows: list[tuple[str, np.ndarray]], precision: int) -> list:
    """Labelled arrays as [label, entries (or the text's summary)], one row per sample as the text prints them."""
    return [[label, listed(as_rows(a), precision, False)] for label, a in rows]


def layered_step_data(ex: Explanation, precision: int) -> dict[str, Any]:
    """One step through a network of any explainable layers: each layer's terms and its norms table."""
    p, loss = precision, ex.loss
    ups = {(u.layer, u.param): u for u in ex.updates}
    blocks = []
    for step in ex.layers:
        forward = labelled(step.forward_terms)
        rows = [*forward, *labelled(step.backward_terms or [])]
        rows += [(f"{name} new", ups[step.index, name].new) for name in step.params if (step.index, name) in ups]
        backward = [(fused_label(ex), loss.delta_out)] if step.backward_terms is None else backward_rows(step)
        blocks.append(
            {
                "table": [[label, "×".join(map(str, np.shape(a))), *norms(a)] for label, a in rows],
                "forward": terms_data(forward, p),
                "backward": terms_data(backward, p),
                "conv": None if step.sums is None else conv_data(step.sums, p),
                "pool": None if step.windows is None else pool_data(step.windows, step.input, p),
            }
        )
    return {
        "loss": loss_data(ex, p, False),
        "blocks": blocks,
        "gradcheck": gradcheck_data(ex),
        "notes": list(ex.notes),
        "lr": None if ex.lr is None else f"{ex.lr:g}",
        "applied": bool(ex.applied),
        "x": listed(as_rows(ex.layers[0].input), p, False),
        "yhat": listed(loss.y_hat, p, False),
        "y": listed(loss.y, p, False),
        "dLdyhat": listed(loss.dL_dyhat, p, False),
        "residual": None if loss.residual is None else listed(loss.residual, p, False),
    }


def conv_data(sums: ConvSums, precision: int) -> dict[str, Any]:
    """A small Conv1D for the sliding-kernel view: its input, kernel and δ, and each gradient's sum.

    ``weights[j]`` is one kernel weight's sum: ``at`` its (o, c, k) and ``terms`` its (n, t, i), one per
    sample and output position, i the input position the weight met there (outside 0 ≤ i < L: the padding).
    ``inputs`` is the same for each input's gradient, its terms (o, k, t).
    """
    p = precision

    def written(head: str, symbols: list[str], pairs: list[tuple[str, str]], total: str) -> list[str]:
        return [head, "= " + (" + ".join(symbols) or "0"), "= " + products(pairs), "= " + total]

    return {
        "stride": sums.stride,
        "padding": sums.padding,
        "dilation": sums.dilation,
        "x": strings(sums.x, p),
        "W": strings(sums.W, p),
        "delta": strings(sums.delta, p),
        "dW": strings(sums.dW, p),
        "dX": strings(sums.dX, p),
        "weights": [
            {"at": list(key), "terms": [list(t[:3]) for t in terms],
             "sum": written(*weight_symbols(sums, key), weight_values(sums, key, p), num(sums.dW[key], p))}
            for key, terms in sums.weights.items()
        ],
        "inputs": [
            {"at": list(key), "terms": [list(t[:3]) for t in terms],
             "sum": written(*input_symbols(sums, key), input_values(sums, key, p), num(sums.dX[key], p))}
            for key, terms in sums.inputs.items()
        ],
    }  # fmt: skip


def pool_data(windows: PoolWindows, x: np.ndarray | None, precision: int) -> dict[str, Any] | None:
    """A pooling's windows over its input (n, C, L); ``winners`` the input position that won each window."""
    if x is None or x.ndim != 3 or x[0].size > MAX_POOL_DRAWN:
        return None
    return {
        "kernel": windows.kernel_size,
        "stride": windows.stride,
        "x": strings(x, precision),
        "winners": None if windows.winners is None else windows.winners.tolist(),
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
    if not ex.dense:
        acts = {st.activation: Activation.registry[st.activation] for st in ex.layers if st.activation}
        return {
            "model": ex.model_repr,
            "n": int(len(ex.loss.y_hat)),
            "nParams": int(ex.n_params),
            "precision": int(precision),
            "sizes": [],
            "activations": [],
            "layerNames": [st.name for st in ex.layers],
            "drawn": False,
            "inputNames": None,
            "outputNames": None,
            "formulas": [{"name": c.name, "f": c.formula, "df": c.derivative} for c in acts.values()],
            "equations": LAYER_EQUATIONS,
            "one": num(1.0, precision),
        }
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
