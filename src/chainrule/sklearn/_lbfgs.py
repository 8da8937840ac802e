"""``solver="lbfgs"``: scipy's L-BFGS-B over the model's flat parameter vector, full batch.

The objective and its gradient come from the one backward path, ``model.gradient``, with the estimator's
objective (its L2 term included): f(w) = data loss + α/(2·n)·Σ‖W‖², ∇f = ``model.flat_grads``. scipy
works in float64; a float32 model computes in float32.

A sparse X is taken in chunks of rows (``_rows.chunks``), each densified in turn: the data loss is a
(weighted) mean over the rows, so f is the chunks' values weighted by their share of the rows (of the
sample weights), with the penalty counted once, in the first chunk's objective: with S the weights' sum,
Σ_c (S_c/S)·(D_c/S_c) + (S_1/S)·α/(2·S_1)·Σ‖W‖² = D/S + α/(2·S)·Σ‖W‖². A dense X is one chunk.

scipy stops after ``max_iter`` iterations or ``max_fun`` evaluations of f, or once every component of the
projected gradient is at most ``tol`` (``gtol``), or when f stops decreasing (its own ``ftol``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.model import Sequential
from ..core.objective import Objective
from ._rows import chunks


def minimize(
    model: Sequential,
    X: Any,
    Y: np.ndarray,
    objective: Objective,
    sample_weight: np.ndarray | None,
    *,
    max_iter: int,
    max_fun: int,
    tol: float,
) -> Any:
    """Run L-BFGS-B from the model's weights; leave the best weights in the model; return scipy's result."""
    try:
        from scipy.optimize import minimize as scipy_minimize
    except ImportError:
        raise ImportError('solver="lbfgs" needs scipy: pip install "chainrule[sklearn]"') from None
    flat, grads = model.flat_params, model.flat_grads
    Y = objective.loss.prepare_targets(Y, model.n_out, model.dtype)
    data_only = model.objective(objective.loss)  # the chunks after the first: the penalty is counted once
    total = X.shape[0] if sample_weight is None else float(sample_weight.sum())

    def f(w: np.ndarray) -> tuple[float, np.ndarray]:
        flat[...] = w  # (n_params,), cast to the model's dtype
        value, gradient, chunk_objective = 0.0, np.zeros(len(flat)), objective
        for rows, Xc in chunks(X):
            wc = None if sample_weight is None else sample_weight[rows]
            share = (rows.stop - rows.start if wc is None else float(wc.sum())) / total
            if share == 0.0:
                continue  # rows of weight 0 add nothing (and their weighted mean would be 0/0)
            v, _, _ = model.gradient(Xc, Y[rows], chunk_objective, wc)
            value += share * float(v)
            gradient += share * grads
            chunk_objective = data_only
        return value, gradient

    result = scipy_minimize(
        f,
        flat.astype(np.float64),
        method="L-BFGS-B",
        jac=True,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol},
    )
    flat[...] = result.x
    return result
