"""MLPClassifier: binary, multiclass and multilabel classification with scikit-learn's interface."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import column_or_1d

from .._math import sigmoid, softmax
from ..core.losses import get_loss
from ..core.model import Sequential
from ..core.summed_losses import MultilabelBCE
from ..layers import Dense, Layer
from ..layers.activations import Sigmoid, Softmax
from ._base import _BaseMLP, stochastic


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier with scikit-learn's interface, trained by chainrule.

    Binary targets train one logit with ``bce_logits``; multiclass targets train
    one logit per class with ``softmax_cross_entropy``; a multilabel indicator
    matrix trains one logit per label with ``multilabel_bce_logits`` (summed over
    the labels, averaged over the samples, as scikit-learn does). A y with one
    class trains and predicts that class, as scikit-learn's does.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Units in each hidden layer.
    activation : {"relu", "logistic", "tanh", "identity"} or a chainrule activation name, default="relu"
        Activation after each hidden layer.
    solver : {"adam", "sgd", "rmsprop", "lbfgs"}, default="adam"
        The optimiser. "lbfgs" is scipy's L-BFGS-B on the whole data at once (no minibatches, no early
        stopping, no ``partial_fit``); it suits small data sets and needs scipy.
    alpha : float, default=1e-4
        Strength of the L2 penalty α/(2·n)·Σ‖W‖² on the weights (not the biases).
    batch_size : int or "auto", default="auto"
        Minibatch size; "auto" is min(200, n_samples).
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        The step size of ``solver="sgd"`` over the epochs: constant; η₀/(t + 1)^power_t after each epoch, t the
        samples seen; or divided by 5 each time fitting would otherwise stop, until it is 1e-6 or less.
    learning_rate_init : float, default=1e-3
        The initial learning rate η₀ (the only one for the solvers other than "sgd").
    power_t : float, default=0.5
        The exponent of "invscaling".
    max_iter : int, default=200
        Most epochs per ``fit`` (with "lbfgs": most iterations).
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
    max_fun : int, default=15000
        Most evaluations of the loss and its gradient with "lbfgs".
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
    _score_metric = staticmethod(accuracy_score)

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPClassifier:
        """Train on X (n_samples, n_features) and labels y (n_samples,) or a multilabel (n_samples, n_labels)."""
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(stochastic)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None) -> MLPClassifier:
        """One epoch over (X, y); the first call needs ``classes``, every label that will ever appear.

        Labels in y that are not among the classes are refused (with scikit-learn's messages) before anything
        trains. Only the stochastic solvers have it: ``hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")``
        is False.
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=self._partial_fit_classes(y, classes))

    def _partial_fit_classes(self, y: Any, classes: Any) -> np.ndarray:
        """The classes partial_fit trains with, checked against ``classes`` and y; nothing changes here."""
        known = getattr(self, "classes_", None)
        if known is None and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is not None:
            given = unique_labels(classes)
            if known is not None and not np.array_equal(known, given):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on last call to partial_fit, was: {known!r}"
                )
            known = given
        seen = unique_labels(y)
        if len(np.setdiff1d(seen, known, assume_unique=True)):
            raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {known}. 'y' has {seen}.")
        return known

    def _stratify_by(self, Y):
        return Y.astype(bool) if Y.ndim == 2 and Y.shape[1] == 1 else None  # one output only, as scikit-learn

    def _prepare_targets(self, y, first, incremental, dtype, classes):
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if incremental and getattr(self, "classes_", None) is None:  # the first partial_fit sets the classes
            self._label_binarizer = LabelBinarizer().fit(y if y.ndim == 2 else classes)
            self.classes_ = self._label_binarizer.classes_
        elif first or getattr(self, "classes_", None) is None:
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        elif not incremental:
            seen = unique_labels(y)
            if set(seen) != set(self.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the previous call to fit. "
                    f"Previously got {self.classes_}, `y` has {seen}"
                )
        lb = self._label_binarizer
        Y = lb.transform(y)
        if lb.y_type_ == "multiclass":
            return np.argmax(Y, axis=1), y, len(self.classes_), get_loss("softmax_cross_entropy")
        loss = MultilabelBCE() if Y.shape[1] > 1 else get_loss("bce_logits")  # summed over the labels
        return Y.astype(dtype), y, Y.shape[1], loss

    def _decode(self, Z: np.ndarray) -> np.ndarray:
        lb = self._label_binarizer
        if lb.y_type_ == "multiclass":
            return self.classes_[np.argmax(Z, axis=1)]
        if lb.y_type_ == "binary":
            return self.classes_[(Z[:, 0] > 0).astype(np.intp) if len(self.classes_) > 1 else np.zeros(len(Z), int)]
        return lb.inverse_transform((Z > 0).astype(np.int64))

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
        if len(self.classes_) == 1:
            return np.ones_like(Z)  # the one class seen in training
        P = sigmoid(Z)
        return np.hstack([1 - P, P]) if kind == "binary" else P

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """log(``predict_proba``), as scikit-learn defines it: where a probability rounds to 1 its log is 0, so
        the two agree on every argmax (``log_sigmoid``/``log_softmax`` of ``decision_function`` keep the digits)."""
        P = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(P, out=P)

    def _onnx_network(self) -> tuple[Sequential, list[Any]]:
        """The network followed by what ``predict_proba`` applies: Softmax, or Sigmoid per label.

        A binary target's one logit z becomes the pair (−z/2, z/2), whose softmax is (1 − σ(z), σ(z)):
        the last Dense layer's weights times [−½, ½], so the graph stays a chain of Dense layers and activations.
        """
        if len(self.classes_) == 1:
            raise ValueError(
                f"to_onnx needs 2 classes or more; this classifier was fitted on one ({self.classes_[0]!r}), "
                "and always predicts it."
            )
        model = self.model_
        layers: list[Layer] = [
            Dense(la.n_in, la.n_out, W=la.params["W"], b=la.params["b"])
            if isinstance(la, Dense)
            else type(la).from_config(la.get_config())
            for la in model.layers
        ]
        kind = self._label_binarizer.y_type_
        if kind == "binary":
            pair, last = np.array([[-0.5, 0.5]]), layers[-1]
            layers[-1] = Dense(last.n_in, 2, W=last.params["W"] @ pair, b=last.params["b"] @ pair)
        layers.append(Softmax() if kind in ("binary", "multiclass") else Sigmoid())
        return Sequential(*layers, dtype=model.dtype), self.classes_.tolist()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
