"""Where a loss meets a model: the fused output step is decided and taken here, double squashing refused.

    Objective(loss, layers, n_models=None, l2=0.0)

* A loss on probabilities after the activation it ``fuses`` with (Sigmoid +
  bce, Softmax + categorical_cross_entropy) becomes one fused step: the loss
  value comes from the logits z and the gradient (p − y)/n is handed straight
  to the layer below the activation, whose own backward is not taken.
  ``start`` is where the backward pass then begins. Every gradient chainrule
  computes (``fit``, ``Sequential.gradient``, ``gradcheck``, ``explain``)
  goes through ``forward`` and ``value_and_grad`` here, and ``summary()`` and
  explain show the decision.
* A loss on logits after a layer that already gives probabilities (Softmax +
  softmax_cross_entropy, Sigmoid + bce_logits, and any other such pair) would
  squash twice: it is refused, with the fix named.
* ``l2`` = α adds scikit-learn's penalty α/(2·n)·Σ‖W‖² over every layer's
  weights ``W`` (n the batch's rows, or its sample weights' sum), so its
  gradient α·W/n is part of every gradient the model computes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validate import check_positive_float
from ..layers import Layer
from ..layers.activations import Activation
from .losses import Loss, get_loss

if TYPE_CHECKING:
    from .model import Sequential


class Objective:
    """A loss bound to a model's layers; ``fused`` is the last layer when the pair is one step."""

    def __init__(self, loss: str | Loss, layers: Sequence[Layer], n_models: int | None = None, l2: float = 0.0) -> None:
        self.loss = get_loss(loss)
        last = layers[-1]
        squashes = isinstance(last, Activation) and last.probabilities
        if self.loss.output_activation is not None and squashes:
            partner = next((c.name for c in Loss.registry.values() if c.fuses == last.name), None)
            fix = f"use {partner}" if partner else "use a loss on probabilities"
            raise ValueError(
                f"{self.loss.name} applies {self.loss.output_activation} to the outputs itself, but the model "
                f"already ends in {last!r}: the outputs would be squashed twice. "
                f"Drop the final {type(last).__name__}, or {fix}."
            )
        fused = isinstance(last, Activation) and self.loss.fuses is not None and self.loss.fuses == last.name
        self.fused: Activation | None = last if fused else None  # type: ignore[assignment]
        self.start = len(layers) - 1 if fused else len(layers)  # backward runs through layers[:start]
        self.n_models = n_models
        self.l2 = check_positive_float(l2, "l2", allow_zero=True)
        self.penalized = [(layer.params["W"], layer.grads["W"]) for layer in layers if "W" in layer.params and self.l2]

    def forward(self, model: Sequential, X: np.ndarray, training: bool, keep: bool, record: list | None = None
                ) -> tuple[np.ndarray, np.ndarray | None]:  # fmt: skip
        """The model's output, and the logits z under a fused output layer (else None).

        The layers below ``start`` run as ``model.forward`` runs them; the fused layer runs without keeping
        anything, since backward starts below it.
        """
        z = model.forward(X, training, keep, record, stop=self.start)
        if self.fused is None:
            return z, None
        out = self.fused.forward(z, training, keep=False)
        if record is not None:
            record.append(("forward", self.fused, z, out))
        return out, z

    def value_and_grad(
        self, out: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None, logits: np.ndarray | None = None
    ) -> tuple[Any, np.ndarray]:
        """The loss (with the penalty), and the gradient backward starts from: ∂L/∂ŷ, or ∂L/∂z when fused.

        ``logits`` is the fused layer's input z (``forward`` gives both); the fused value is computed from
        it, exact where ŷ rounds to 0 or 1. In an Ensemble the value is one loss per member.
        """
        z = logits if self.fused is not None else None
        value, d = self.loss.value_and_grad(out, Y, sample_weight, z, stacked=self.n_models is not None)
        if self.penalized:
            self._n = len(Y) if sample_weight is None else float(sample_weight.sum())
            value = value + 0.5 * self.l2 / self._n * sum(_square_sums(W, self.n_models) for W, _ in self.penalized)
        return value, d

    def add_penalty_grads(self) -> None:
        """dW += α·W/n for every weight the penalty covers; called once backward has filled the gradients."""
        for W, dW in self.penalized:
            dW += (self.l2 / self._n) * W

    def describe(self) -> str:
        """One line for ``summary()`` and explain."""
        penalty = f"; plus the penalty {self.l2:g}/(2n)·Σ‖W‖²" if self.l2 else ""
        if self.fused is None:
            return f"loss {self.loss.name}: backward starts from ∂L/∂ŷ = {self.loss.grad_formula.format(s='')}{penalty}"
        count = "" if self.loss.reduction == "sum" else "/(n·k)" if self.loss.per_element else "/n"
        return (
            f"loss {self.loss.name} fused with the final {type(self.fused).__name__}: "
            f"backward starts from ∂L/∂z = (p − y){count}, one step for both{penalty}"
        )

    def __repr__(self) -> str:
        fused = f", fused with {self.fused!r}" if self.fused is not None else ""
        l2 = f", l2={self.l2:g}" if self.l2 else ""
        return f"Objective({self.loss!r}{fused}{l2})"


def _square_sums(W: np.ndarray, n_models: int | None) -> Any:
    """Σ W², one number per member in an Ensemble."""
    rows = W.reshape(-1) if n_models is None else W.reshape(n_models, -1)
    return np.einsum("...i,...i->...", rows, rows)
