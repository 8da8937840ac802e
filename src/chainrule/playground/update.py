"""The optimiser's real update, written out: what the tab's next step would do to every weight and bias.

On the explain batch, the gradient comes from ``model.gradient`` under the tab's objective (the penalty
included), and the update from a copy of the tab's optimiser, its state as training left it, stepped once on
a copy of the model. Nothing of the tab changes. Each entry carries the numbers of its optimiser's formula:

    SGD        v ← μ·v + g,   w ← w − α·v            (μ = 0: w ← w − α·g)
    Adam       m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²,   m̂ = m/(1 − β₁ᵗ),   v̂ = v/(1 − β₂ᵗ),
               w ← w − α·m̂/(√v̂ + ε)
    RMSProp    s ← ρ·s + (1 − ρ)·g²,   w ← w − α·g/(√s + ε)

and g = ∂L/∂w + the penalty's term (λ·W for L2, λ·sign(W) for L1, on weights only).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ..explain.text import num

FORMULAS = {
    "sgd": "w ← w − α·g",
    "momentum": "v ← μ·v + g;  w ← w − α·v",
    "adam": "m ← β₁·m + (1 − β₁)·g;  v ← β₂·v + (1 − β₂)·g²;  m̂ = m/(1 − β₁ᵗ);  v̂ = v/(1 − β₂ᵗ);  w ← w − α·m̂/(√v̂ + ε)",
    "rmsprop": "s ← ρ·s + (1 − ρ)·g²;  w ← w − α·g/(√s + ε)",
}


HYPER = {"momentum": "μ", "beta_1": "β₁", "beta_2": "β₂", "rho": "ρ", "eps": "ε"}


def real_update(model: Any, optimizer: Any, objective: Any, X: np.ndarray, Y: np.ndarray, penalty: str,
                precision: int = 5) -> dict[str, Any]:  # fmt: skip
    """Every parameter's w, ∂L/∂w, the penalty's term, g, the optimiser's slots after the step, and the new w.

    ``objective`` is the tab's objective for a batch of len(X) rows; ``penalty`` says it in words."""
    work, opt = model.copy(), copy.deepcopy(optimizer)
    work_denses = [layer for layer in work.layers if "W" in layer.params]
    work.gradient(X, Y, work.objective(objective.loss))
    data_grad = work.flat_grads.copy()
    with np.errstate(all="ignore"):
        work.gradient(X, Y, work.objective(objective.loss, l2=objective.l2, l1=objective.l1))
    grad, before = work.flat_grads.copy(), work.flat_params.copy()
    opt.step([work.flat_params], [work.flat_grads])
    after = work.flat_params.copy()
    slots = {name: opt.state[0][name] for name in opt.slots}
    # where each parameter entry sits in the flat buffer: write the positions in, read them back
    work.flat_params[...] = np.arange(work.flat_params.size)
    t = opt.t
    rows = []
    for layer, dense in enumerate(work_denses, start=1):
        for param in ("W", "b"):
            where = dense.params[param].astype(np.int64)
            for pos in np.ndindex(where.shape):
                q = int(where[pos])
                name = f"{param}({layer})[{','.join(str(v + 1) for v in pos)}]"
                entry = {"name": name, "w": num(before[q], precision),
                         "dL": num(data_grad[q], precision), "penalty": num(grad[q] - data_grad[q], precision),
                         "g": num(grad[q], precision), "new": num(after[q], precision)}  # fmt: skip
                entry |= {name: num(a[q], precision) for name, a in slots.items()}
                if "m" in slots:
                    entry["mhat"] = num(slots["m"][q] / (1 - opt.beta_1**t), precision)
                    entry["vhat"] = num(slots["v"][q] / (1 - opt.beta_2**t), precision)
                rows.append(entry)
    config = opt.get_config()
    kind = config["type"].lower() if config["type"] != "SGD" or not opt.slots else "momentum"
    hyper = {"α": float(opt.current_lr)} | {sym: float(config[key]) for key, sym in HYPER.items() if key in config}
    extra = ["mhat", "vhat"] if "m" in slots else []
    return {"optimizer": repr(optimizer), "t": t, "formula": FORMULAS[kind], "hyper": hyper, "penalty": penalty,
            "columns": ["name", "w", "dL", "penalty", "g", *opt.slots, *extra, "new"], "rows": rows}  # fmt: skip
