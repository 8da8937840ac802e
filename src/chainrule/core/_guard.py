"""Divergence guarding for fit: a NaN or infinite loss, or weights that run away, stop training cleanly.

A bad loss is caught at its batch, and an epoch's mean loss that is not
finite (sample weights whose sum overflows, a penalty too large to add up)
at the end of the epoch, as are weights that became NaN or infinite, or grew
past ``max_weight``. Either way the weights go back to those at the start of
the epoch (the last good ones) and the optimiser's moments start afresh, then
``DivergenceError`` says where and what made the loss so.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


class DivergenceError(FloatingPointError, ValueError):
    """Training produced a NaN or infinite loss, or weights beyond ``max_weight``.

    ``epoch`` and ``batch`` (counted from 1) say where; ``peak`` is the largest
    weight magnitude found (NaN or inf when weights were not finite; None when
    only the loss was).
    """

    def __init__(self, message: str, epoch: int = 0, batch: int = 0, peak: float | None = None) -> None:
        super().__init__(message)
        self.epoch, self.batch, self.peak = epoch, batch, peak

    def __reduce__(self):  # keep the fields through pickling (worker processes send exceptions back)
        return type(self), (str(self), self.epoch, self.batch, self.peak)


class Guard:
    """Watches one fit: ``start_epoch`` keeps the weights; ``check_loss`` and ``check_weights`` raise on divergence.

    ``MemberGuard`` is one for an Ensemble, freezing members instead of raising.
    """

    def __init__(self, flat: np.ndarray, optimizer: Any, max_weight: float | None) -> None:
        self.flat, self.optimizer = flat, optimizer
        self.max_weight = float(np.finfo(flat.dtype).max) if max_weight is None else max_weight
        # Σw² ≤ bound² proves every |w| ≤ bound in one BLAS call (see check_weights)
        self.max_square_sum = min(self.max_weight * self.max_weight, float(np.finfo(flat.dtype).max))
        self.snapshot = np.empty_like(flat)
        self.l2, self.sample_weight = 0.0, None

    def watch(self, l2: float, sample_weight: np.ndarray | None) -> None:
        """What goes into the loss besides the data, to name the cause when it is not finite."""
        self.l2, self.sample_weight = l2, sample_weight

    def cause(self) -> str:
        """What made the loss NaN or infinite, as far as can be told: the sample weights, the penalty, or else
        the data or the weights."""
        w = self.sample_weight
        if w is not None and not math.isfinite(float(np.sum(w))):
            return (
                f"the sample weights sum to {float(np.sum(w)):g} (the largest is {float(w.max()):.3g}), beyond the "
                "float range: divide them all by their largest"
            )
        every = self.flat.reshape(-1)
        if self.l2 and not 0.5 * self.l2 * float(np.dot(every, every)) < 1e300:  # an upper bound of the penalty
            return f"the L2 penalty l2={self.l2:g} makes the loss overflow: lower l2"
        return "the data or the weights made it overflow: scale the inputs and targets, or lower the learning rate"

    def start_epoch(self) -> None:
        self.snapshot[...] = self.flat

    def finish(self, history: Any) -> None:
        """Called when the fit ends, with its history."""

    def check_loss(self, value: float, epoch: int, batch: int) -> None:
        if not math.isfinite(value):
            self._stop(epoch, batch)

    def epoch_loss(self, loss: float, epoch: int = 0, batch: int = 0) -> float:
        """The epoch's mean loss as it goes into the logs; one that is not finite is divergence."""
        if not math.isfinite(loss):
            self._stop(epoch, batch, f"the epoch's mean loss is {loss}")
        return loss

    def check_weights(self, epoch: int, batch: int) -> None:
        # NaN and inf fail the sum test, and so may huge finite weights whose squares overflow:
        # only then are the weights looked at one by one
        every = self.flat.reshape(-1)
        if not float(np.dot(every, every)) <= self.max_square_sum:
            self._weights_failed_sum(epoch, batch)

    def _weights_failed_sum(self, epoch: int, batch: int) -> None:
        if not self.peak() <= self.max_weight:
            self._stop(epoch, batch)

    def peak(self) -> float:
        """The largest weight magnitude (NaN if any weight is NaN), without a |w| temporary."""
        return float(max(np.maximum.reduce(self.flat), -np.minimum.reduce(self.flat)))

    def _stop(self, epoch: int, batch: int, loss: str | None = None) -> None:
        peak: float | None = self.peak()
        what = "The loss or the weights became NaN or infinite"
        if peak <= self.max_weight:
            peak = None  # the weights are fine: only the loss went bad
        else:
            self.flat[...] = self.snapshot
            self.optimizer.reset()  # its moments may hold NaN or huge values too
            if math.isfinite(peak):
                what = f"A weight reached {peak:.3g}, beyond max_weight={self.max_weight:g},"
        if peak is None:
            what = f"The loss became NaN or infinite ({loss or 'at its batch'}: {self.cause()})"
        raise DivergenceError(
            f"{what} at epoch {epoch + 1}, batch {batch + 1}; training stopped and the weights are "
            "the last good ones. Lower the learning rate, scale the inputs and targets, or clip gradients "
            "(e.g. SGD(clip_norm=1.0)); pass max_weight=None to allow any finite weight.",
            epoch + 1,
            batch + 1,
            peak,
        )


class MemberGuard(Guard):
    """Divergence guarding for an Ensemble: a member whose loss or weights go bad is frozen, the rest go on.

    A frozen member's weights go back to those at the start of the epoch, its
    optimiser moments to zero, and from then on its gradient and learning rate
    are zero, so it takes no more steps. ``diverged`` (the Ensemble's own list,
    kept across fits) gains (member, epoch), both counted from 0, in the order
    they happened; members already in it are frozen from the start. ``halt``
    freezes members for other reasons (EarlyStopping) for the rest of this fit.
    """

    def __init__(
        self, flat: np.ndarray, flat_grad: np.ndarray, optimizer: Any, max_weight: float | None, diverged: list
    ) -> None:
        super().__init__(flat, optimizer, max_weight)
        self.flat_grad = flat_grad
        self.diverged: list[tuple[int, int]] = diverged
        self.first_new = len(diverged)
        self.active = np.ones((len(flat), 1), dtype=flat.dtype)  # 1 for a member still training, 0 once frozen
        self.active[[member for member, _ in self.diverged]] = 0
        self.halted = bool(self.diverged)

    def start_epoch(self) -> None:
        super().start_epoch()
        if self.halted:  # a schedule may have set a fresh rate: frozen members keep a rate of zero
            self.optimizer.current_lr = self.optimizer.current_lr * self.active

    def check_loss(self, values: np.ndarray, epoch: int, batch: int) -> None:
        """Freeze every active member whose loss is NaN or infinite; zero the gradients of every frozen one."""
        if not np.isfinite(values).all():
            self._diverge(~np.isfinite(values), epoch)
        if self.halted:
            self.flat_grad *= self.active

    def epoch_loss(self, losses: np.ndarray, epoch: int = 0, batch: int = 0) -> np.ndarray:
        """The members' mean losses of the epoch, NaN for the diverged ones; a member whose mean is not finite
        is frozen."""
        if not np.isfinite(losses).all():
            self._diverge(~np.isfinite(losses), epoch)
        if self.diverged:
            losses[[member for member, _ in self.diverged]] = np.nan
        return losses

    def finish(self, history: Any) -> None:
        history.diverged = self.diverged[self.first_new :]

    def _weights_failed_sum(self, epoch: int, batch: int) -> None:
        """Freeze every active member with a weight that is not finite or beyond ``max_weight``.

        Only reached when the sum over all members fails (see ``Guard.check_weights``); called under the
        fit's ``np.errstate``.
        """
        peak = np.maximum(np.maximum.reduce(self.flat, axis=1), -np.minimum.reduce(self.flat, axis=1))
        self._diverge(~(peak <= self.max_weight), epoch)

    def _diverge(self, bad: np.ndarray, epoch: int) -> None:
        bad = bad & (self.active[:, 0] > 0)
        if bad.any():
            self.halt(bad, self.snapshot[bad])
            self.diverged += [(int(i), epoch) for i in np.flatnonzero(bad)]

    def halt(self, members: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Stop training ``members`` (a boolean mask) for the rest of the fit, their weights set to ``weights``."""
        if weights is not None:
            self.flat[members] = weights
        for slot in self.optimizer.state:
            for moments in slot.values():
                moments[members] = 0
        self.active[members] = 0
        self.optimizer.current_lr = self.optimizer.current_lr * self.active
        self.halted = True
