"""Gradient checking: backprop's gradients against central finite differences.

For every parameter θ (and every input entry) the numerical derivative is

    ∂L/∂θ ≈ (L(θ + ε) − L(θ − ε)) / 2ε          (error O(ε²))

and each array is scored by the relative error ‖g_backprop − g_numeric‖ /
(‖g_backprop‖ + ‖g_numeric‖), which is 0 for a perfect match and 1 for
gradients that have nothing in common. The denominator is at least 1 % of
the norm of every gradient together, so an array whose gradient is exactly
zero (a bias right before BatchNorm) is not judged on rounding alone. Below about 1e-7 in float64 the two
agree to the limit of finite differences.

Near a minimum the gradients shrink towards the rounding error of the
difference quotient (about u·|terms of L|/ε, u the unit roundoff), and a
correct gradient can miss the tolerance at ε. An array that does is measured
again at a step ``RETRY`` times larger, where rounding weighs that much less,
and passes if it agrees there; a wrong gradient is wrong at every step. The
report names the step of an array that passed that way.

Every evaluation runs in training mode, as the gradient does, with
randomness frozen: the model's generator is put back to one state before
each forward, so a Dropout layer draws the same mask every time, and
BatchNorm normalises with the batch's own statistics (its three-term
backward is what is checked). The running statistics and the generator are
restored afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .core.losses import Loss
from .core.objective import Objective

if TYPE_CHECKING:
    from .core.model import Sequential

RETRY = 100  # an array that misses the tolerance at eps is measured again at RETRY·eps
FLOOR = 1e-2  # relative errors are taken against at least this share of the whole gradient's norm


@dataclass
class GradcheckResult:
    """Relative error per array (``errors``), the tolerance, and whether all pass."""

    errors: dict[str, float]
    tol: float
    eps: float
    checked: dict[str, int] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)  # the step each error was measured at, where not eps

    @property
    def passed(self) -> bool:
        return all(e <= self.tol for e in self.errors.values())

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        width = max((len(k) for k in self.errors), default=5)
        lines = [f"{'array':<{width}}  {'rel. error':>10}  {'entries':>7}  result"]
        for name, err in self.errors.items():
            verdict = "ok" if err <= self.tol else "FAIL"
            if name in self.steps:
                verdict += f" (ε = {self.steps[name]:.0e})"
            lines.append(f"{name:<{width}}  {err:>10.2e}  {self.checked.get(name, 0):>7}  {verdict}")
        lines.append(f"tolerance {self.tol:.0e}, eps {self.eps:.0e}: {'PASSED' if self.passed else 'FAILED'}")
        return "\n".join(lines)


def relative_error(a: np.ndarray, b: np.ndarray, floor: float = 0.0) -> float:
    """‖a − b‖ / max(‖a‖ + ‖b‖, floor), or 0 when both are zero."""
    denom = max(np.linalg.norm(a) + np.linalg.norm(b), floor)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def gradcheck(
    model: Sequential,
    X: Any,
    y: Any,
    loss: str | Loss | Objective,
    eps: float = 1e-6,
    tol: float = 1e-6,
    check_input: bool = True,
    max_entries: int | None = None,
    seed: int = 0,
) -> GradcheckResult:
    """Check every gradient of ``model`` on the batch (X, y) by central differences.

    A float32 model is checked through a float64 copy of itself (same layers,
    same weights, same backward code), since float32 finite differences are
    too coarse to tell a bug from rounding. ``max_entries`` checks at most that
    many randomly chosen entries per array (all by default). The model itself
    is left exactly as it was. ``loss`` may be an Objective (``model.objective(loss, l2=…)``): its penalty
    is then checked too. A model whose first layer takes integer indices (an Embedding) has its parameters
    checked; indices are never perturbed, and they have no gradient to check.
    """
    if model.stacked:
        raise TypeError("gradcheck checks one network; pass ens.member(i), a Sequential, to check member i.")
    work = model if model.dtype == np.float64 else model.copy(dtype="float64")
    objective = work.objective(*((loss.loss, loss.l2, loss.l1) if isinstance(loss, Objective) else (loss,)))
    Xa = work.check_input(X)
    Y = objective.loss.prepare_targets(y, work.n_out, work.dtype)
    if len(Y) != len(Xa):
        raise ValueError(f"X has {len(Xa)} samples but y has {len(Y)}.")

    generator, state = work.rng.bit_generator.state, work.flat_state.copy()

    def value() -> float:
        work.rng.bit_generator.state = generator
        top = work.forward(Xa, training=True, keep=False, stop=objective.start)
        return objective.evaluate(top, Y)[0]

    indices = work.layers[0].input_kind == "index"  # integer indices have no gradient: the parameters are checked
    try:
        work.rng.bit_generator.state = generator
        _, _, dX = work.gradient(Xa, Y, objective, input_grad=not indices)  # the path fit trains with
        return _compare(work, Xa, dX, check_input and not indices, max_entries, eps, tol, seed, value)
    finally:
        work.rng.bit_generator.state, work.flat_state[...] = generator, state


def _compare(work, Xa, dX, check_input, max_entries, eps, tol, seed, value) -> GradcheckResult:
    """Each parameter array's (and the input's) backprop gradient against its central differences."""

    rng = np.random.default_rng(seed)
    arrays = [
        (f"layers[{i}].{name}", p, layer.grads[name])
        for i, layer in enumerate(work.layers)
        for name, p in layer.params.items()
    ]
    if check_input:
        arrays.append(("input", Xa, dX))
    # An array whose true gradient is exactly zero (a bias just before BatchNorm, whose batch mean removes it)
    # has only rounding on both sides; each array is judged against at least FLOOR of the whole gradient's norm.
    floor = FLOOR * float(np.sqrt(sum(np.vdot(g, g) for _, _, g in arrays)))
    errors, checked, steps = {}, {}, {}
    for name, p, g in arrays:
        flat, analytic = p.reshape(-1), np.array(g).reshape(-1)
        idx = np.arange(flat.size)
        if max_entries is not None and flat.size > max_entries:
            idx = np.sort(rng.choice(flat.size, max_entries, replace=False))
        errors[name] = relative_error(analytic[idx], _differences(flat, idx, eps, value), floor)
        if errors[name] > tol:  # maybe rounding at a tiny gradient (see the module doc): a larger step tells
            retried = relative_error(analytic[idx], _differences(flat, idx, RETRY * eps, value), floor)
            if retried <= tol:
                errors[name], steps[name] = retried, RETRY * eps
        checked[name] = len(idx)
    return GradcheckResult(errors=errors, tol=tol, eps=eps, checked=checked, steps=steps)


def _differences(flat: np.ndarray, idx: np.ndarray, eps: float, value: Any) -> np.ndarray:
    """(L(θ + ε) − L(θ − ε)) / 2ε for the entries ``idx`` of ``flat``, each put back bit for bit."""
    numeric = np.empty(len(idx))
    for k, j in enumerate(idx):
        original = flat[j]
        flat[j] = original + eps
        up = value()
        flat[j] = original - eps
        down = value()
        flat[j] = original
        numeric[k] = (up - down) / (2 * eps)
    return numeric
