"""scikit-learn's ``learning_rate`` for ``solver="sgd"``: the rate of each epoch, as its documentation states.

* "constant": η = ``learning_rate_init`` throughout.
* "invscaling": after each epoch, η = ``learning_rate_init`` / (t + 1)^``power_t``, t the number of samples
  seen so far (``t_``): η₀ for the first epoch, η₀/(n + 1)^p for the second, η₀/(2n + 1)^p for the third.
* "adaptive": η stays while the training loss (the validation score, with early stopping) improves. Where
  fitting would stop (``n_iter_no_change`` epochs in a row without an improvement of ``tol``), η is divided
  by 5 instead and the count starts again; once η is at most 1e-6, fitting stops.

The optimiser reads the rate as a schedule of the epoch (a callable); the estimator's monitor calls
``epoch_end`` and ``no_improvement`` after each epoch.
"""

from __future__ import annotations

SCHEDULES = ("constant", "invscaling", "adaptive")
SMALLEST = 1e-6  # "adaptive" stops rather than divide a rate this small


class Rate:
    """The current learning rate η of one estimator's SGD optimiser."""

    def __init__(self, init: float, schedule: str, power_t: float) -> None:
        self.init, self.schedule, self.power_t = float(init), schedule, float(power_t)
        self.value = self.init

    def __call__(self, epoch: int) -> float:
        return self.value

    def epoch_end(self, samples_seen: int) -> None:
        """After an epoch: "invscaling" sets η = η₀ / (t + 1)^power_t."""
        if self.schedule == "invscaling":
            self.value = self.init / (samples_seen + 1) ** self.power_t

    def no_improvement(self) -> bool:
        """Where fitting would stop: True to stop, or False after "adaptive" divided η by 5."""
        if self.schedule != "adaptive" or self.value <= SMALLEST:
            return True
        self.value /= 5.0
        return False
