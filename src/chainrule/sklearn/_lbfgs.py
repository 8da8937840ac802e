"""``solver="lbfgs"``: scipy's L-BFGS-B over the model's flat parameter vector, full batch.

The objective and its gradient come from the one backward path, ``model.gradient``, with the estimator's
objective (its L2 term included): f(w) = data loss + α/(2·n)·Σ‖W‖², ∇f = ``model.flat_grads``. scipy
works in float64; a float32 model computes in float32.

scipy stops after ``max_iter`` iterations or ``max_fun`` evaluations of f, or once every component of the
projected gradient is at most ``tol`` (``gtol``), or when f stops decreasing (its own ``ftol``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.model import Sequential
from ..core.objective import Objective


def minimize(
    model: Sequential,
    X: np.ndarray,
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
    flat = model.flat_params
    Y = objective.loss.prepare_targets(Y, model.n_out, model.dtype)

    def f(w: np.ndarray) -> tuple[float, np.ndarray]:
        flat[...] = w  # (n_params,), cast to the model's dtype
        value, _, _ = model.gradient(X, Y, objective, sample_weight)
        return float(value), model.flat_grads.astype(np.float64)

    result = scipy_minimize(
        f,
        flat.astype(np.float64),
        method="L-BFGS-B",
        jac=True,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol},
    )
    flat[...] = result.x
    return result
