"""Where a loss meets a model: the fused output step is decided here, once, and double squashing refused.

    Objective(loss, last_layer)

* A loss on probabilities after the activation it ``fuses`` with (Sigmoid +
  bce, Softmax + categorical_cross_entropy) becomes one fused step: the
  gradient (p − y)/n is handed straight to the layer below the activation,
  whose own backward is not taken. Every gradient chainrule computes (``fit``,
  ``Sequential.gradient``, ``gradcheck``, ``explain``) goes through this one
  decision, and ``summary()`` and explain show it.
* A loss on logits after a layer that already gives probabilities (Softmax +
  softmax_cross_entropy, Sigmoid + bce_logits, and any other such pair) would
  squash twice: it is refused, with the fix named.
"""

from __future__ import annotations

import numpy as np

from .activations import Activation
from .layers import Layer
from .losses import Loss, get_loss


class Objective:
    """A loss bound to a model's last layer; ``fused`` is that layer when the pair is one step."""

    def __init__(self, loss: str | Loss, last: Layer) -> None:
        self.loss = get_loss(loss)
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

    def value_and_grad(
        self, out: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None, logits: np.ndarray | None = None
    ) -> tuple[float, np.ndarray]:
        """The loss, and the gradient the backward path starts from: ∂L/∂ŷ, or ∂L/∂z of a fused output.

        ``logits`` is the fused output layer's input z (``Sequential.head`` gives both); the fused
        value is computed from it, exact where ŷ rounds to 0 or 1.
        """
        return self.loss.value_and_grad(out, Y, sample_weight, logits if self.fused is not None else None)

    def describe(self) -> str:
        """One line for ``summary()`` and explain."""
        if self.fused is None:
            return f"loss {self.loss.name}: backward starts from ∂L/∂ŷ = {self.loss.grad_formula.format(s='')}"
        count = "" if self.loss.reduction == "sum" else "/(n·k)" if self.loss.per_element else "/n"
        return (
            f"loss {self.loss.name} fused with the final {type(self.fused).__name__}: "
            f"backward starts from ∂L/∂z = (p − y){count}, one step for both"
        )

    def __repr__(self) -> str:
        fused = f", fused with {self.fused!r}" if self.fused is not None else ""
        return f"Objective({self.loss!r}{fused})"
