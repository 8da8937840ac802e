"""What MLPClassifier and MLPRegressor share: the parameters, their checks, the training loop, the fitted views."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ..builders import mlp
from ..core._guard import DivergenceError
from ..core.callbacks import Callback
from ..core.losses import Loss
from ..core.model import Sequential
from ..core.objective import Objective
from ..core.optimizers import SGD, Adam, Optimizer, RMSProp
from ..layers.activations import get_activation
from ._lbfgs import minimize
from ._monitor import _Monitor
from ._rate import SCHEDULES, Rate
from ._rows import as_rows, forward, is_sparse
from ._weights import HeldWeights

_SOLVERS = ("sgd", "adam", "rmsprop", "lbfgs")
NON_FINITE = (
    "Solver produced non-finite parameter weights. The input data may contain large values and need to be "
    "preprocessed."
)  # scikit-learn's words, so that code matching them keeps working


def _check_params(est: _BaseMLP) -> tuple[int, ...]:
    """Validate the constructor parameters; return the hidden layer sizes as a tuple."""
    sizes = est.hidden_layer_sizes
    sizes = (sizes,) if isinstance(sizes, (int, np.integer)) else tuple(sizes)
    if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
        raise ValueError(f"hidden_layer_sizes must hold positive integers; received {est.hidden_layer_sizes!r}.")
    if est.solver not in _SOLVERS:
        raise ValueError(f"solver must be one of {_SOLVERS}; received solver={est.solver!r}.")
    get_activation(est.activation)
    if est.learning_rate not in SCHEDULES:
        raise ValueError(f"learning_rate must be one of {SCHEDULES}; received learning_rate={est.learning_rate!r}.")
    for name in ("max_iter", "n_iter_no_change", "max_fun"):
        value = getattr(est, name)
        if name == "n_iter_no_change" and value == np.inf:
            continue  # never stop early
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            more = " or np.inf (never stop early)" if name == "n_iter_no_change" else ""
            raise ValueError(f"{name} must be a positive integer{more}; received {name}={value!r}.")
    for name in ("alpha", "tol", "power_t"):
        if not np.isfinite(getattr(est, name)) or getattr(est, name) < 0:
            raise ValueError(f"{name} must be a non-negative number; received {name}={getattr(est, name)!r}.")
    if not 0.0 < est.validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1); received {est.validation_fraction!r}.")
    bs = est.batch_size
    if bs != "auto" and (isinstance(bs, bool) or not isinstance(bs, (int, np.integer)) or bs < 1):
        raise ValueError(f"batch_size must be 'auto' or a positive integer; received batch_size={bs!r}.")
    return sizes


def stochastic(est: _BaseMLP) -> bool:
    """Whether ``partial_fit`` exists: for the stochastic solvers only (an AttributeError, as for a missing method)."""
    if est.solver == "lbfgs":
        raise AttributeError("partial_fit is only available for stochastic optimizers. lbfgs is not stochastic.")
    return True


class _BaseMLP(HeldWeights, BaseEstimator):
    """What MLPClassifier and MLPRegressor share: parameters, the training loop, the fitted attributes."""

    def __init__(
        self,
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
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
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
        self.max_fun = max_fun
        self.dtype = dtype
        self.callbacks = callbacks

    # ---------------------------------------------------------------- training
    def _make_optimizer(self) -> Optimizer:
        lr = self.learning_rate_init
        self._rate = None
        if self.solver == "sgd":
            self._rate = Rate(lr, self.learning_rate, self.power_t)
            nesterov = bool(self.nesterovs_momentum and self.momentum > 0)
            return SGD(self._rate, momentum=self.momentum, nesterov=nesterov)
        if self.solver == "adam":
            return Adam(lr, beta_1=self.beta_1, beta_2=self.beta_2, eps=self.epsilon)
        return RMSProp(lr, eps=self.epsilon)

    def _build(self, sizes: tuple[int, ...], n_in: int, n_out: int, dtype: np.dtype, seed: int) -> Sequential:
        return mlp([n_in, *sizes, n_out], self.activation, None, seed=seed, dtype=dtype)

    def _fit(self, X: Any, y: Any, sample_weight: Any, incremental: bool, classes: Any = None) -> _BaseMLP:
        sizes = _check_params(self)
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        held = "model_" in self.__dict__ or "_held_W" in self.__dict__
        first = not held or (not self.warm_start and not incremental)
        X, y = validate_data(
            self, X, y, reset=first or "model_" not in self.__dict__, accept_sparse=("csr", "csc"),
            dtype=(np.float64, np.float32), multi_output=True, y_numeric=self._y_numeric,
        )  # fmt: skip
        if first:
            dtype = np.dtype(self.dtype) if self.dtype is not None else X.dtype
        else:
            dtype = self._held_dtype()
        X = as_rows(X, dtype)
        Y, y, n_out, loss = self._prepare_targets(y, first, incremental, dtype, classes)
        sw = None
        if sample_weight is not None:
            sw = _check_sample_weight(sample_weight, X, dtype=dtype)
            if np.all(sw == sw[0]) and sw[0] > 0:
                sw = None  # equal weights change nothing; skip the weighted path
        early = bool(self.early_stopping) and self.solver != "lbfgs"
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max)) if first else 0  # drawn first: the split draws next
        X, Y, sw, val = self._split(X, Y, y, sw, rng) if early else (X, Y, sw, None)
        model = self._network(first, sizes, X.shape[1], n_out, dtype, seed)
        for name, value in (("t_", 0), ("loss_curve_", []), ("_no_improvement_count", 0), ("best_loss_", np.inf),
                            ("validation_scores_", None), ("best_validation_score_", None)):  # fmt: skip
            if first or name not in self.__dict__:
                setattr(self, name, value if not isinstance(value, list) else [])
        if incremental and model.loss_ is not None:
            opt = model.optimizer_
        else:
            opt = self._make_optimizer()
        objective = model.objective(loss, l2=float(self.alpha))  # the penalty is part of every gradient
        self.out_activation_ = self._out_activation(loss)
        if self.solver == "lbfgs":
            return self._fit_lbfgs(X, Y, objective, sw)
        self.n_iter_ = 0  # counted per call, as scikit-learn does
        if early:
            self.validation_scores_ = self.validation_scores_ or []
            if self.best_validation_score_ is None:
                self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        elif self.best_loss_ is None:
            self.best_loss_ = np.inf
        n = X.shape[0]
        bs = min(200, n) if self.batch_size == "auto" else self.batch_size
        if bs > n:
            warnings.warn(f"batch_size={bs} is larger than the {n} training samples; using {n}.", stacklevel=3)
            bs = n
        scored = None if val is None else (val[0], val[2], val[3])  # (Xv, yv, swv)
        monitor = _Monitor(self, n, scored, incremental, self._rate if self.solver == "sgd" else None)
        epochs = 1 if incremental else self.max_iter
        try:
            history = model.fit(
                X, Y, loss=objective, optimizer=opt, epochs=epochs, batch_size=bs, shuffle=bool(self.shuffle),
                validation_data=None if val is None or is_sparse(val[0]) else val[:2],
                callbacks=[monitor, *self.callbacks], seed=int(rng.randint(np.iinfo(np.int32).max)),
                sample_weight=sw, max_weight=None,
            )  # fmt: skip
        except DivergenceError as exc:
            if not early:
                where = f"The loss or the weights became NaN or infinite at epoch {exc.epoch}, batch {exc.batch}"
                fix = "training stopped with the last good weights; lower learning_rate_init, or scale X and y."
                raise DivergenceError(f"{NON_FINITE} {where}; {fix}", exc.epoch, exc.batch, exc.peak) from exc
            self._diverged_with_early_stopping(monitor, exc)
            history = None
        if history is not None and not incremental:
            self.history_ = history.to_dict()
        self._finish()
        if not incremental and not monitor.converged and self.n_iter_ == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the optimization "
                "hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _split(self, X: Any, Y: np.ndarray, y: np.ndarray, sw: Any, rng: Any) -> tuple:
        """Early stopping's hold-out: (X, Y, sample weights) to train on and (Xv, Yv, yv, swv) to score."""
        parts = train_test_split(
            X, Y, y, *([] if sw is None else [sw]),
            random_state=rng, test_size=self.validation_fraction, stratify=self._stratify_by(Y),
        )  # fmt: skip
        X, Xv, Y, Yv, _, yv = parts[:6]
        if Xv.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size of your dataset "
                f"(early_stopping holds out {Xv.shape[0]} of the {X.shape[0] + Xv.shape[0]} samples; it needs 2)."
            )
        sw, swv = (parts[6], parts[7]) if sw is not None else (None, None)
        return X, Y, sw, (Xv, Yv, yv, swv)

    def _network(self, first: bool, sizes: tuple[int, ...], n_in: int, n_out: int, dtype: np.dtype, seed: int
                 ) -> Sequential:  # fmt: skip
        """``model_``: a new network on a first fit, else the fitted one (or the one ``coefs_`` were set to)."""
        if first:
            self.__dict__.pop("_held_W", None), self.__dict__.pop("_held_b", None)
            self.model_ = self._build(sizes, n_in, n_out, dtype, seed)
        elif "model_" not in self.__dict__:
            self.model_ = self._network_from_held_weights(dtype)
        self._take_held_weights()
        if n_out != self.model_.n_out:
            raise ValueError(f"y gives {n_out} outputs but the fitted model has {self.model_.n_out}.")
        self.n_outputs_, self.n_layers_ = n_out, len(self._dense_layers()) + 1
        return self.model_

    def _diverged_with_early_stopping(self, monitor: _Monitor, exc: DivergenceError) -> None:
        """As scikit-learn does with early stopping: the diverged epoch scores NaN and the best weights are kept."""
        self.n_iter_ += 1
        self.loss_ = float("nan")
        self.loss_curve_.append(self.loss_)
        self.validation_scores_.append(float("nan"))
        monitor.on_train_end(self.model_)
        warnings.warn(
            f"Training diverged at epoch {exc.epoch} (the loss or the weights became NaN or infinite); early_stopping "
            "kept the weights of the best validation score. Lower learning_rate_init or scale X and y.",
            ConvergenceWarning,
            stacklevel=4,
        )

    def _fit_lbfgs(self, X: Any, Y: np.ndarray, objective: Objective, sw: Any) -> _BaseMLP:
        """Full-batch L-BFGS-B (``_lbfgs``); ``n_iter_`` and ``loss_`` are scipy's iterations and final value."""
        self.model_.loss_, self.model_.objective_ = objective.loss, objective
        result = minimize(self.model_, X, Y, objective, sw, max_iter=self.max_iter, max_fun=self.max_fun, tol=self.tol)
        self.n_iter_, self.loss_, self.t_ = int(result.nit), float(result.fun), X.shape[0]
        self.loss_curve_, self.best_loss_ = [self.loss_], self.loss_
        self._finish()
        if result.status != 0:
            message = result.message if isinstance(result.message, str) else str(result.message)
            warnings.warn(
                f"lbfgs stopped after {self.n_iter_} iterations without converging ({message}); "
                "raise max_iter or max_fun, or scale the data.",
                ConvergenceWarning,
                stacklevel=4,
            )
        return self

    def _finish(self) -> None:
        for layer in self.model_.layers:
            layer.forget()  # the last batch is not worth keeping (nor pickling)

    def _out_activation(self, loss: Loss) -> str:
        """scikit-learn's name for what turns the network's output into a prediction."""
        return {"sigmoid": "logistic", "softmax": "softmax"}.get(loss.output_activation, "identity")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # CSR and CSC, densified one batch at a time (``_rows``)
        return tags

    # ------------------------------------------------------------------ export
    def to_onnx(self, path: Any, *, opset: int | None = None, dtype: Any = None) -> None:
        """Write the fitted network as an ONNX file: input "X" (N, n_features), output "Y".

        A classifier's Y is ``predict_proba``'s output, (N, n_classes), with ``classes_`` in the file's
        metadata (key "classes", JSON); a regressor's Y is ``predict``'s, as (N, n_outputs). ``dtype``
        ("float32" or "float64"; default: the network's) is the graph's: a network fitted on float64 data
        can be written as float32. The layout and the metadata are described in ``chainrule.onnx``; it needs
        ``pip install "chainrule[onnx]"``.
        """
        from ..onnx import export

        check_is_fitted(self, "model_")
        model, classes = self.onnx_network(dtype)
        export(model, path, opset=opset, classes=classes)

    def onnx_network(self, dtype: Any = None) -> tuple[Sequential, list[Any] | None]:
        """The network ``to_onnx`` writes, in ``dtype`` (default: the fitted network's), and its class labels."""
        check_is_fitted(self, "model_")
        if dtype is not None and np.dtype(dtype) not in (np.float32, np.float64):
            raise ValueError(f"dtype must be 'float32' or 'float64'; received dtype={dtype!r}.")
        model, classes = self._onnx_network()
        return (model if dtype is None else model.copy(dtype)), classes

    def _onnx_network(self) -> tuple[Sequential, list[Any] | None]:
        """The network ``to_onnx`` writes, and the class labels for its metadata (None for a regressor)."""
        return self.model_, None

    def _forward(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        self._take_held_weights()
        X = validate_data(self, X, reset=False, accept_sparse=("csr", "csc"), dtype=(np.float64, np.float32))
        return forward(self.model_, as_rows(X, self.model_.dtype))

    def _score_outputs(self, Z: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None) -> float:
        """Early stopping's validation score of the outputs Z: ``_score_metric`` (accuracy or R²) of the decoded Z."""
        return float(self._score_metric(y, self._decode(Z), sample_weight=sample_weight))

    # ---------------------------------------------------- what each estimator defines
    _y_numeric: bool  # whether validate_data needs numeric y (False for class labels)
    _score_metric: Callable[..., float]  # scikit-learn metric(y_true, y_pred, sample_weight=...), higher is better

    def _stratify_by(self, Y: np.ndarray) -> np.ndarray | None:
        """What the early-stopping split is stratified by (None: not stratified)."""
        return None

    def _prepare_targets(
        self, y: np.ndarray, first: bool, incremental: bool, dtype: np.dtype, classes: Any
    ) -> tuple[np.ndarray, np.ndarray, int, Loss]:
        """Return (Y for the loss, y for scoring, number of outputs, the data loss)."""
        raise NotImplementedError

    def _decode(self, Z: np.ndarray) -> np.ndarray:
        """Turn the network's outputs Z (n_samples, n_outputs) into predictions."""
        raise NotImplementedError
