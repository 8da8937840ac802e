"""What a model's outputs mean: probabilities and class labels, from a final Sigmoid/Softmax or the fitted loss.

These are methods of ``Sequential`` (and so of ``Ensemble``), kept here as ``fit`` is kept in ``training``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..layers.activations import Activation

if TYPE_CHECKING:
    from .model import Sequential


def squash(model: Sequential) -> str | None:
    """The activation that makes outputs probabilities: a final Sigmoid/Softmax, or the fitted loss's."""
    last = model.layers[-1]
    if isinstance(last, Activation) and last.probabilities:
        return last.name
    return None if model.loss_ is None else model.loss_.output_activation


def predict_proba(model: Sequential, X: Any) -> np.ndarray:
    """Probabilities: the output of a final Sigmoid/Softmax, or the fitted logits loss's activation of it."""
    out, name = model.predict(X), squash(model)
    if name is None:
        raise TypeError(
            "predict_proba needs a model that ends in Sigmoid or Softmax, or one fitted with "
            "loss='bce_logits' or 'softmax_cross_entropy'."
        )
    return out if name == getattr(model.layers[-1], "name", None) else Activation.registry[name]().f(out)


def predict_classes(model: Sequential, X: Any) -> np.ndarray:
    """Class labels, (n_samples,) (multilabel: (n_samples, n_outputs); an Ensemble's gain a member axis):
    argmax over several outputs, probability ≥ 0.5 for a binary or multilabel model."""
    P = model.predict_proba(X)
    if squash(model) == "softmax":
        return np.argmax(P, axis=-1)
    labels = (P >= 0.5).astype(np.int64)
    return labels[..., 0] if labels.shape[-1] == 1 else labels
