"""MLPRegressor: single- and multi-output regression with scikit-learn's interface."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.metaestimators import available_if

from ..core.callbacks import Callback
from ..core.losses import SSE, Loss, get_loss
from ..core.model import Sequential
from ..core.summed_losses import PoissonDeviance
from ._base import _BaseMLP, stochastic


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor with scikit-learn's interface, trained by chainrule.

    Takes the parameters of :class:`MLPClassifier` (early stopping scores R²)
    and one more, first, as in scikit-learn 1.7 and later:

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, a chainrule loss name or a Loss, default="squared_error"
        "squared_error" is scikit-learn's ½·Σⱼ(ŷⱼ − yⱼ)² per sample, averaged over
        samples (chainrule's ``SSE``). "poisson" is half the Poisson deviance with
        the log link (chainrule's ``PoissonDeviance``): the network's output z is a
        log-rate, ``predict`` gives exp(z) and ``out_activation_`` is "exp"; y must
        be counts (non-negative). Any other chainrule loss name or instance works.

    Attributes
    ----------
    model_ : chainrule.Sequential
        The network; its last layer is linear.
    coefs_, intercepts_, n_iter_, loss_, loss_curve_, best_loss_, validation_scores_,
    best_validation_score_, history_, n_features_in_, feature_names_in_, n_outputs_
        As for :class:`MLPClassifier`.
    """

    _y_numeric = True
    _score_metric = staticmethod(r2_score)

    def __init__(
        self,
        loss: str | Loss = "squared_error",
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: int | np.random.RandomState | None = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        dtype: Any = None,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        super().__init__(
            hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
            max_iter=max_iter, shuffle=shuffle, random_state=random_state,
            tol=tol, verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
            n_iter_no_change=n_iter_no_change, max_fun=max_fun, dtype=dtype, callbacks=callbacks,
        )  # fmt: skip
        self.loss = loss

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """Train on X (n_samples, n_features) and targets y (n_samples,) or (n_samples, n_outputs)."""
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(stochastic)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over (X, y), starting from the current weights (stochastic solvers only)."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _data_loss(self) -> Loss:
        if isinstance(self.loss, str) and self.loss == "squared_error":
            return SSE()
        return get_loss(self.loss)

    def _prepare_targets(self, y, first, incremental, dtype, classes):
        Y = np.ascontiguousarray(y, dtype=dtype)
        Y = Y.reshape(-1, 1) if Y.ndim == 1 else Y
        loss = self._data_loss()
        loss.prepare_targets(Y, Y.shape[1], dtype)  # its checks (counts for "poisson") before anything trains
        return Y, y, Y.shape[1], loss

    def _out_activation(self, loss: Loss) -> str:
        return "exp" if isinstance(loss, PoissonDeviance) else super()._out_activation(loss)

    def _decode(self, Z: np.ndarray) -> np.ndarray:
        if self.out_activation_ == "exp":
            Z = np.exp(Z)  # the log link: the network gives log-rates
        return Z[:, 0].copy() if Z.shape[1] == 1 else Z

    def _onnx_network(self) -> tuple[Sequential, None]:
        if self.out_activation_ == "exp":
            raise ValueError(
                "to_onnx cannot write a loss='poisson' regressor: its predictions are exp of the network's output, "
                "and chainrule's ONNX writer has no Exp step. Export model_ (log-rates) and apply exp yourself."
            )
        return super()._onnx_network()

    def predict(self, X: Any) -> np.ndarray:
        """Predictions, shape (n_samples,) for one output, (n_samples, n_outputs) otherwise."""
        return self._decode(self._forward(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
