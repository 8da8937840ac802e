"""The optional compiled engine (``pip install "chainrule[fast]"``, numba): a whole fit in one compiled call.

    model.fit(X, y, ..., engine="auto")      # "auto", "numpy" or "compiled"

It covers Sequential and Ensemble models of Dense layers, each followed by at most one elementwise
activation (a fused Sigmoid or Softmax output included), with every loss, SGD (momentum, Nesterov), Adam
and RMSProp, weight decay, clipping, L2 and schedules, full batch or mini-batches, float32 and float64, and
per-member hyperparameters. The members of an Ensemble are the innermost axis, so they run as SIMD lanes.

The NumPy layers stay the reference: explain and gradcheck use them, and the engine's weights after a fit
equal theirs to rounding (tests/test_engine.py). Under "auto" anything else, or a fit without numba, runs
on NumPy, and ``verbose`` says why in one line; "compiled" refuses it, naming the layer or option.
"""

from __future__ import annotations

from typing import Any

from .spec import AUTO_MAX_WEIGHTS, Spec, describe

ENGINES = ("auto", "numpy", "compiled")

__all__ = ["ENGINES", "Spec", "describe", "select"]


def _numba_missing() -> str | None:
    try:
        import numba  # noqa: F401
    except ImportError:
        return 'numba is not installed (pip install "chainrule[fast]").'
    return None


def select(model: Any, plan: Any, engine: str, verbose: int = 0) -> Any:
    """The compiled run of this fit (``run(guard, epoch)`` gives each epoch's logs), or None for NumPy.

    Raises before anything changes when ``engine="compiled"`` cannot run the fit.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(map(repr, ENGINES))}; received engine={engine!r}.")
    if engine == "numpy":
        return None
    spec = describe(model, plan)
    reason = spec if isinstance(spec, str) else None
    if reason is None and engine == "auto" and spec.largest_size > AUTO_MAX_WEIGHTS:
        reason = f"{spec.largest} is large: NumPy's matrix products are faster there than the engine's loops."
    missing = None if reason is not None else _numba_missing()
    if engine == "compiled" and (reason or missing):
        error = ImportError if missing else ValueError
        raise error(f"engine='compiled' cannot run this fit: {reason or missing}")
    if reason or missing:
        if verbose:
            print(f"engine: NumPy, because {reason or missing}")
        return None
    from .run import CompiledRun

    return CompiledRun(model, plan, spec)
