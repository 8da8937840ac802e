"""scikit-learn's objective on chainrule: the data loss plus α/(2·n)·Σ‖W‖² over the Dense weights.

``_PenalizedLoss`` adds the penalty's value to the data loss; ``_PenalizedOptimizer`` adds its
gradient α·W/n to each weight's gradient after backward, then steps the wrapped optimiser.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..layers import Dense
from ..losses import Loss
from ..optimizers import Optimizer


class _PenalizedLoss(Loss):
    """A chainrule loss times ``scale``, plus α/(2·n)·Σ‖W‖² over the Dense weights.

    n is the number of rows in the batch, or the sum of their sample weights (as in scikit-learn).
    """

    def __init__(self, inner: Loss, layers: Sequence[Dense], alpha: float, scale: float = 1.0) -> None:
        super().__init__(inner.reduction)
        self.inner, self.layers, self.alpha, self.scale = inner, list(layers), alpha, scale
        self.name, self.per_element = inner.name, inner.per_element
        self.output_activation, self.classification = inner.output_activation, inner.classification
        self.fuses = inner.fuses
        self.batch_size = 1

    def prepare_targets(self, y, n_outputs, dtype):
        return self.inner.prepare_targets(y, n_outputs, dtype)

    def decide(self, out):
        return self.inner.decide(out)

    def value_and_grad(self, P, Y, w=None, logits=None):
        value, G = self.inner.value_and_grad(P, Y, w, logits)
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
    n_values = property(lambda self: self.inner.n_values)

    def reset(self) -> None:
        self.inner.reset()

    def start_epoch(self, epoch: int) -> float:
        return self.inner.start_epoch(epoch)

    def step(self, params, grads) -> None:
        self.loss.add_penalty_grad()
        self.inner.step(params, grads)

    def get_config(self) -> dict[str, Any]:
        return self.inner.get_config()

    def __repr__(self) -> str:
        return repr(self.inner)
