"""scikit-learn's per-epoch bookkeeping and stopping rule, as a chainrule callback."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..core.callbacks import Callback
from ._rows import forward

if TYPE_CHECKING:
    from ._base import _BaseMLP
    from ._rate import Rate


class _Monitor(Callback):
    """scikit-learn's bookkeeping and stopping rule, run after every epoch."""

    def __init__(self, est: _BaseMLP, n_samples: int, val: tuple | None, incremental: bool, rate: Rate | None) -> None:
        self.est, self.n_samples, self.val, self.incremental = est, n_samples, val, incremental
        self.rate = rate  # SGD's learning rate, which "invscaling" and "adaptive" change after each epoch
        self.best_flat: np.ndarray | None = None
        self.converged = False

    def on_epoch_end(self, model, epoch, logs):
        est = self.est
        est.n_iter_ += 1
        est.t_ += self.n_samples
        est.loss_ = float(logs["loss"])
        est.loss_curve_.append(est.loss_)
        if self.val is not None:
            Xv, yv, swv = self.val
            score = est._score_outputs(forward(model, Xv), yv, swv)
            est.validation_scores_.append(score)
            worse = score < est.best_validation_score_ + est.tol
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                self.best_flat = model.flat_params.copy()
        else:
            worse = est.loss_ > est.best_loss_ - est.tol
            est.best_loss_ = min(est.best_loss_, est.loss_)
        est._no_improvement_count = est._no_improvement_count + 1 if worse else 0
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}")
        if self.rate is not None:
            self.rate.epoch_end(est.t_)
        if not self.incremental and est._no_improvement_count > est.n_iter_no_change:
            if self.rate is not None and not self.rate.no_improvement():
                est._no_improvement_count = 0
                if est.verbose:
                    print(f"Setting learning rate to {self.rate.value:f}")
                return
            self.converged = True
            model.stop_training = True
            if est.verbose:
                what = "Validation score" if self.val is not None else "Training loss"
                print(f"{what} did not improve more than tol={est.tol} for {est.n_iter_no_change} consecutive epochs.")

    def on_train_end(self, model):
        if self.best_flat is not None:
            model.flat_params[...] = self.best_flat
