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

``solver="lbfgs"`` runs scipy's L-BFGS-B on the whole data (``_lbfgs``), and ``learning_rate``
("constant", "invscaling", "adaptive") with ``power_t`` set the step size of ``solver="sgd"`` (``_rate``).

When skl2onnx is installed, importing this package registers both estimators with it (``_skl2onnx``), so
pipelines that hold them convert with ``skl2onnx.to_onnx``; ``to_onnx(path, dtype=)`` writes one alone.

This package needs scikit-learn (``pip install chainrule[sklearn]``, which brings scipy for lbfgs);
``import chainrule`` alone never imports it.
"""

from ._skl2onnx import register_with_skl2onnx
from .classifier import MLPClassifier
from .regressor import MLPRegressor

register_with_skl2onnx()

__all__ = ["MLPClassifier", "MLPRegressor"]
