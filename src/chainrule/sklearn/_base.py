"""scikit-learn estimators on chainrule: ``MLPClassifier`` and ``MLPRegressor``.

They take scikit-learn's MLP parameters with the same meanings and defaults,
so they drop into Pipelines, ``cross_val_score`` and ``GridSearchCV``; under
them is a chainrule ``Sequential`` (``model_``), ready for ``cr.gradcheck``.

The objective is scikit-learn's: the data loss plus α/(2·n)·Σ‖W‖² over the
weight matrices (not the biases), n being the size of the minibatch, so the
gradient of each W gains α·W/n. Training stops as scikit-learn's does: when the
training loss (or, with ``early_stopping``, the validation score) has not
improved by ``tol`` for ``n_iter_no_change`` epochs in a row.

Extras: ``dtype`` (float32 trains in float32 end to end), ``callbacks``
(chainrule callbacks, called after each epoch), ``solver="rmsprop"``, any
chainrule activation, and ``loss`` for the regressor.

This module needs scikit-learn (``pip install chainrule[sklearn]``);
``import chainrule`` alone never imports it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import _check_partial_fit_first_call, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d, validate_data

from .._math import log_sigmoid, log_softmax, sigmoid, softmax
from ..activations import get_activation
from ..callbacks import Callback
from ..layers import Dense
from ..losses import SSE, Loss, get_loss
from ..model import Sequential
from ..optimizers import SGD, Adam, Optimizer, RMSProp

_ACTIVATION_ALIASES = {"logistic": "sigmoid"}
_SOLVERS = ("sgd", "adam", "rmsprop")


class _PenalizedLoss(Loss):
    """A chainrule loss times ``scale``, plus α/(2·n)·Σ‖W‖² over the Dense weights.

    n is the number of rows in the batch, or the sum of their sample weights (as in scikit-learn).
    """

    def __init__(self, inner: Loss, layers: Sequence[Dense], alpha: float, scale: float = 1.0) -> None:
        super().__init__(inner.reduction)
        self.inner, self.layers, self.alpha, self.scale = inner, list(layers), alpha, scale
        self.name, self.per_element = inner.name, inner.per_element
        self.output_activation, self.classification = inner.output_activation, inner.classification
        self.batch_size = 1

    def prepare_targets(self, y, n_outputs, dtype):
        return self.inner.prepare_targets(y, n_outputs, dtype)

    def decide(self, out):
        return self.inner.decide(out)

    def value_and_grad(self, P, Y, w=None):
        value, G = self.inner.value_and_grad(P, Y, w)
        if self.scale != 1.0:
            value, G = value * self.scale, G * self.scale
        self.batch_size = len(P) if w is None else float(w.sum())
        if self.alpha:
            sq = sum(float(np.dot(layer.params["W"].ravel(), layer.params["W"].ravel())) for layer in self.layers)
            value += 0.5 * self.alpha * sq / self.batch_size
        return value, G

    def add_penalty_grad(self) -> None:
        """dW += α·W/n for every Dense layer; called after backward has filled the gradients."""
        if self.alpha:
            for layer in self.layers:
                layer.grads["W"] += (self.alpha / self.batch_size) * layer.params["W"]


class _PenalizedOptimizer(Optimizer):
    """Adds the L2 gradient of ``loss`` to the weights' gradients, then steps ``inner``."""

    def __init__(self, inner: Optimizer, loss: _PenalizedLoss) -> None:
        self.inner, self.loss = inner, loss

    state = property(lambda self: self.inner.state, lambda self, v: setattr(self.inner, "state", v))
    t = property(lambda self: self.inner.t, lambda self, v: setattr(self.inner, "t", v))
    current_lr = property(lambda self: self.inner.current_lr)

    def start_epoch(self, epoch: int) -> float:
        return self.inner.start_epoch(epoch)

    def step(self, params, grads) -> None:
        self.loss.add_penalty_grad()
        self.inner.step(params, grads)

    def get_config(self) -> dict[str, Any]:
        return self.inner.get_config()

    def __repr__(self) -> str:
        return repr(self.inner)


class _Monitor(Callback):
    """scikit-learn's bookkeeping and stopping rule, run after every epoch."""

    def __init__(self, est: _BaseMLP, n_samples: int, val: tuple | None, incremental: bool) -> None:
        self.est, self.n_samples, self.val, self.incremental = est, n_samples, val, incremental
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
            score = est._score_outputs(model.forward(Xv, train=False), yv, swv)
            est.validation_scores_.append(score)
            worse = score < est.best_validation_score_ + est.tol
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                self.best_flat = model._flat.copy()
        else:
            worse = est.loss_ > est.best_loss_ - est.tol
            est.best_loss_ = min(est.best_loss_, est.loss_)
        est._no_improvement_count = est._no_improvement_count + 1 if worse else 0
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}")
        if not self.incremental and est._no_improvement_count > est.n_iter_no_change:
            self.converged = True
            model.stop_training = True
            if est.verbose:
                what = "Validation score" if self.val is not None else "Training loss"
                print(f"{what} did not improve more than tol={est.tol} for {est.n_iter_no_change} consecutive epochs.")

    def on_train_end(self, model):
        if self.best_flat is not None:
            model._flat[...] = self.best_flat


def _check_params(est: _BaseMLP) -> tuple[int, ...]:
    """Validate the constructor parameters; return the hidden layer sizes as a tuple."""
    sizes = est.hidden_layer_sizes
    sizes = (sizes,) if isinstance(sizes, (int, np.integer)) else tuple(sizes)
    if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
        raise ValueError(f"hidden_layer_sizes must hold positive integers; received {est.hidden_layer_sizes!r}.")
    if est.solver not in _SOLVERS:
        raise ValueError(f"solver must be one of {_SOLVERS}; received solver={est.solver!r}.")
    get_activation(_ACTIVATION_ALIASES.get(est.activation, est.activation))
    for name in ("max_iter", "n_iter_no_change"):
        value = getattr(est, name)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer; received {name}={value!r}.")
    for name in ("alpha", "tol"):
        if not np.isfinite(getattr(est, name)) or getattr(est, name) < 0:
            raise ValueError(f"{name} must be a non-negative number; received {name}={getattr(est, name)!r}.")
    if not 0.0 < est.validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1); received {est.validation_fraction!r}.")
    bs = est.batch_size
    if bs != "auto" and (isinstance(bs, bool) or not isinstance(bs, (int, np.integer)) or bs < 1):
        raise ValueError(f"batch_size must be 'auto' or a positive integer; received batch_size={bs!r}.")
    return sizes


class _BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: parameters, the training loop, the fitted attributes."""

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate_init: float = 0.001,
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
        dtype: Any = None,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dtype = dtype
        self.callbacks = callbacks

    # ------------------------------------------------------------ fitted views
    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrices, ``coefs_[i]`` of shape (n_units[i], n_units[i + 1]); views into ``model_``."""
        return [layer.params["W"] for layer in self._dense_layers()]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Bias vectors, ``intercepts_[i]`` of shape (n_units[i + 1],); views into ``model_``."""
        return [layer.params["b"] for layer in self._dense_layers()]

    def _dense_layers(self) -> list[Dense]:
        model = self.__dict__.get("model_")
        if model is None:
            raise AttributeError(f"This {type(self).__name__} is not fitted yet; call fit first.")
        return [layer for layer in model.layers if isinstance(layer, Dense)]

    # ---------------------------------------------------------------- training
    def _make_optimizer(self) -> Optimizer:
        lr = self.learning_rate_init
        if self.solver == "sgd":
            return SGD(lr, momentum=self.momentum, nesterov=bool(self.nesterovs_momentum and self.momentum > 0))
        if self.solver == "adam":
            return Adam(lr, beta_1=self.beta_1, beta_2=self.beta_2, eps=self.epsilon)
        return RMSProp(lr, eps=self.epsilon)

    def _build(self, sizes: tuple[int, ...], n_in: int, n_out: int, dtype: np.dtype, seed: int) -> Sequential:
        activation = _ACTIVATION_ALIASES.get(self.activation, self.activation)
        units = [n_in, *sizes]
        layers: list[Any] = []
        for a, b in zip(units[:-1], units[1:]):
            layers += [Dense(a, b), get_activation(activation)]
        layers.append(Dense(units[-1], n_out))
        return Sequential(*layers, seed=seed, dtype=dtype)

    def _fit(self, X: Any, y: Any, sample_weight: Any, incremental: bool) -> _BaseMLP:
        sizes = _check_params(self)
        first = not hasattr(self, "model_") or (not self.warm_start and not incremental)
        X, y = validate_data(
            self, X, y, reset=first, dtype=(np.float64, np.float32), multi_output=True, y_numeric=self._y_numeric
        )
        if first:
            dtype = np.dtype(self.dtype) if self.dtype is not None else X.dtype
        else:
            dtype = self.model_.dtype
        X = np.ascontiguousarray(X, dtype=dtype)
        Y, y, n_out, inner_loss, scale = self._prepare_targets(y, first, incremental, dtype)
        sw = None
        if sample_weight is not None:
            sw = _check_sample_weight(sample_weight, X, dtype=dtype)
            if np.all(sw == sw[0]) and sw[0] > 0:
                sw = None  # equal weights change nothing; skip the weighted path
        rng = check_random_state(self.random_state)
        if first:
            self.model_ = self._build(sizes, X.shape[1], n_out, dtype, int(rng.randint(np.iinfo(np.int32).max)))
            self.n_outputs_ = n_out
            self.n_layers_ = len(sizes) + 2
            self.n_iter_, self.t_ = 0, 0
            self.loss_curve_: list[float] = []
            self._no_improvement_count = 0
            self.best_loss_: float | None = np.inf
            self.validation_scores_: list[float] | None = None
            self.best_validation_score_: float | None = None
        elif n_out != self.model_.n_out:
            raise ValueError(f"y gives {n_out} outputs but the fitted model has {self.model_.n_out}.")
        model = self.model_
        if incremental and isinstance(model.loss_, _PenalizedLoss):
            loss, opt = model.loss_, model.optimizer_
            loss.alpha = float(self.alpha)
        else:
            loss = _PenalizedLoss(inner_loss, self._dense_layers(), float(self.alpha), scale)
            opt = _PenalizedOptimizer(self._make_optimizer(), loss)
        early = bool(self.early_stopping) and not incremental
        val = None
        if early:
            stratify = y if self._stratify_split() else None
            parts = train_test_split(
                X, Y, y, *([] if sw is None else [sw]),
                random_state=rng, test_size=self.validation_fraction, stratify=stratify,
            )  # fmt: skip
            X, Xv, Y, Yv, _, yv = parts[:6]
            sw, swv = (parts[6], parts[7]) if sw is not None else (None, None)
            val = (Xv, yv, swv)
            self.validation_scores_ = self.validation_scores_ or []
            self.best_validation_score_ = (
                -np.inf if self.best_validation_score_ is None else self.best_validation_score_
            )
            self.best_loss_ = None
        elif self.best_loss_ is None:
            self.best_loss_ = np.inf
        n = len(X)
        bs = min(200, n) if self.batch_size == "auto" else self.batch_size
        if bs > n:
            warnings.warn(f"batch_size={bs} is larger than the {n} training samples; using {n}.", stacklevel=3)
            bs = n
        monitor = _Monitor(self, n, val, incremental)
        epochs = 1 if incremental else self.max_iter
        history = model.fit(
            X, Y, loss=loss, optimizer=opt, epochs=epochs, batch_size=bs, shuffle=bool(self.shuffle),
            validation_data=(Xv, Yv) if early else None, callbacks=[monitor, *self.callbacks],
            seed=int(rng.randint(np.iinfo(np.int32).max)), sample_weight=sw,
        )  # fmt: skip
        self.history_ = history.to_dict() if not incremental else getattr(self, "history_", {})
        for layer in model.layers:
            layer._cache = None  # the last batch is not worth keeping (nor pickling)
        self.out_activation_ = {"sigmoid": "logistic", "softmax": "softmax"}.get(
            inner_loss.output_activation, "identity"
        )
        if not incremental and not monitor.converged and len(history) == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the optimization "
                "hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _forward(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self.model_.forward(np.ascontiguousarray(X, dtype=self.model_.dtype), train=False)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier with scikit-learn's interface, trained by chainrule.

    Binary targets train one logit with ``bce_logits``; multiclass targets train
    one logit per class with ``softmax_cross_entropy``; a multilabel indicator
    matrix trains one logit per label with ``bce_logits`` (summed over labels,
    averaged over samples, as scikit-learn does).

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Units in each hidden layer.
    activation : {"relu", "logistic", "tanh", "identity"} or a chainrule activation name, default="relu"
        Activation after each hidden layer.
    solver : {"adam", "sgd", "rmsprop"}, default="adam"
        The optimiser.
    alpha : float, default=1e-4
        Strength of the L2 penalty α/(2·n)·Σ‖W‖² on the weights (not the biases).
    batch_size : int or "auto", default="auto"
        Minibatch size; "auto" is min(200, n_samples).
    learning_rate_init : float, default=1e-3
        Constant learning rate.
    max_iter : int, default=200
        Most epochs per ``fit``.
    shuffle : bool, default=True
        Shuffle the samples every epoch.
    random_state : int, RandomState or None, default=None
        Seeds the weights, the shuffling and the early-stopping split.
    tol : float, default=1e-4
        Improvement below which an epoch counts as no improvement.
    verbose : bool, default=False
        Print the loss after every epoch.
    warm_start : bool, default=False
        Continue from the previous ``fit`` instead of starting afresh.
    momentum : float, default=0.9
        Momentum of ``solver="sgd"``.
    nesterovs_momentum : bool, default=True
        Nesterov momentum for ``solver="sgd"``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified) and stop when
        its accuracy stops improving; the best weights are kept.
    validation_fraction : float, default=0.1
        Share of the data held out for early stopping.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's moment decay rates and ε (ε is also RMSProp's).
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    dtype : {None, "float32", "float64"}, default=None
        Dtype of the network; None means float32 for float32 X and float64 otherwise.
    callbacks : sequence of chainrule Callback, default=()
        Called after each epoch of ``model_.fit``, e.g. ``cr.EarlyStopping(monitor="val_loss")``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (0..n_labels−1 for multilabel targets).
    model_ : chainrule.Sequential
        The network; its last layer outputs logits.
    coefs_, intercepts_ : list of ndarray
        Weights (n_units[i], n_units[i + 1]) and biases, views into ``model_``.
    n_iter_, loss_, loss_curve_, best_loss_ : int, float, list of float, float or None
        Epochs run, final and per-epoch training loss (penalty included), best loss.
    validation_scores_, best_validation_score_ : list of float or None, float or None
        Per-epoch and best validation accuracy, with ``early_stopping``.
    history_ : dict
        chainrule's per-epoch logs of the last ``fit`` (``val_loss`` too with early stopping).
    n_features_in_, feature_names_in_, n_outputs_, n_layers_, out_activation_, t_
        As in scikit-learn.
    """

    _y_numeric = False

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPClassifier:
        """Train on X (n_samples, n_features) and labels y (n_samples,) or a multilabel (n_samples, n_labels)."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None) -> MLPClassifier:
        """One epoch over (X, y); the first call needs ``classes``, every label that will ever appear."""
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if np.ndim(y) == 2 and np.shape(y)[1] > 1:
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(self.classes_)
        return self._fit(X, y, sample_weight, incremental=True)

    def _stratify_split(self) -> bool:
        return self._label_binarizer.y_type_ in ("binary", "multiclass")

    def _prepare_targets(self, y, first, incremental, dtype):
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if first and not incremental:
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
            if len(self.classes_) < 2:
                raise ValueError(f"MLPClassifier needs at least 2 classes in y; received 1 class: {self.classes_}.")
        elif not first:
            classes = unique_labels(y)
            if not incremental and set(classes) != set(self.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the previous call to fit. "
                    f"Previously got {self.classes_}, `y` has {classes}."
                )
            if not set(classes) <= set(self.classes_):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}.")
        lb = self._label_binarizer
        Y = lb.transform(y)
        if lb.y_type_ == "multiclass":
            return np.argmax(Y, axis=1), y, len(self.classes_), get_loss("softmax_cross_entropy"), 1.0
        Y = Y.astype(dtype)
        return Y, y, Y.shape[1], get_loss("bce_logits"), float(Y.shape[1])

    def _decode(self, Z: np.ndarray) -> np.ndarray:
        lb = self._label_binarizer
        if lb.y_type_ == "multiclass":
            return self.classes_[np.argmax(Z, axis=1)]
        if lb.y_type_ == "binary":
            return self.classes_[(Z[:, 0] > 0).astype(np.intp)]
        return lb.inverse_transform((Z > 0).astype(np.int64))

    def _score_outputs(self, Z: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None) -> float:
        return float(accuracy_score(y, self._decode(Z), sample_weight=sample_weight))

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits: shape (n_samples,) for binary targets, (n_samples, n_classes) otherwise."""
        Z = self._forward(X)
        return Z[:, 0].copy() if self._label_binarizer.y_type_ == "binary" else Z

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels, shape (n_samples,) (or (n_samples, n_labels) for multilabel targets)."""
        return self._decode(self._forward(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes); independent per label for multilabel targets."""
        Z = self._forward(X)
        kind = self._label_binarizer.y_type_
        if kind == "multiclass":
            return softmax(Z, axis=1)
        P = sigmoid(Z)
        return np.hstack([1 - P, P]) if kind == "binary" else P

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of ``predict_proba``, computed stably from the logits."""
        Z = self._forward(X)
        kind = self._label_binarizer.y_type_
        if kind == "multiclass":
            return log_softmax(Z, axis=1)
        return np.hstack([log_sigmoid(-Z), log_sigmoid(Z)]) if kind == "binary" else log_sigmoid(Z)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor with scikit-learn's interface, trained by chainrule.

    Takes the parameters of :class:`MLPClassifier` (early stopping scores R²)
    and one more:

    Parameters
    ----------
    loss : str or chainrule Loss, default="squared_error"
        "squared_error" is scikit-learn's ½·Σⱼ(ŷⱼ − yⱼ)² per sample, averaged over
        samples (chainrule's ``SSE``); any chainrule loss name or instance works.

    Attributes
    ----------
    model_ : chainrule.Sequential
        The network; its last layer is linear.
    coefs_, intercepts_, n_iter_, loss_, loss_curve_, best_loss_, validation_scores_,
    best_validation_score_, history_, n_features_in_, feature_names_in_, n_outputs_
        As for :class:`MLPClassifier`.
    """

    _y_numeric = True

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: str = "relu",
        *,
        loss: str | Loss = "squared_error",
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate_init: float = 0.001,
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
        dtype: Any = None,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        super().__init__(
            hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate_init=learning_rate_init, max_iter=max_iter, shuffle=shuffle, random_state=random_state,
            tol=tol, verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
            n_iter_no_change=n_iter_no_change, dtype=dtype, callbacks=callbacks,
        )  # fmt: skip
        self.loss = loss

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """Train on X (n_samples, n_features) and targets y (n_samples,) or (n_samples, n_outputs)."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over (X, y), starting from the current weights."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _stratify_split(self) -> bool:
        return False

    def _prepare_targets(self, y, first, incremental, dtype):
        Y = np.ascontiguousarray(y, dtype=dtype)
        Y = Y.reshape(-1, 1) if Y.ndim == 1 else Y
        inner = SSE() if isinstance(self.loss, str) and self.loss == "squared_error" else get_loss(self.loss)
        return Y, y, Y.shape[1], inner, 1.0

    def _decode(self, Z: np.ndarray) -> np.ndarray:
        return Z[:, 0].copy() if Z.shape[1] == 1 else Z

    def _score_outputs(self, Z: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None) -> float:
        return float(r2_score(y, self._decode(Z), sample_weight=sample_weight))

    def predict(self, X: Any) -> np.ndarray:
        """Predictions, shape (n_samples,) for one output, (n_samples, n_outputs) otherwise."""
        return self._decode(self._forward(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


__all__ = ["MLPClassifier", "MLPRegressor"]
