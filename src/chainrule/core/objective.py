"""Where a loss meets a model: the fused output step is decided and taken here, double squashing refused.

    Objective(loss, layers, n_models=None, l2=0.0, l1=0.0)

* A loss on probabilities after the activation it ``fuses`` with (Sigmoid +
  bce, Softmax + categorical_cross_entropy) becomes one fused step: the loss
  value comes from the logits z and the gradient (p − y)/n is handed straight
  to the layer below the activation, whose own backward is not taken.
  ``start`` is where the backward pass then begins. Every gradient chainrule
  computes (``fit``, ``Sequential.gradient``, ``gradcheck``, ``explain``)
  goes through ``evaluate`` here, and ``summary()`` and
  explain show the decision.
* A loss on logits after a layer that already gives probabilities (Softmax +
  softmax_cross_entropy, Sigmoid + bce_logits, and any other such pair) would
  squash twice: it is refused, with the fix named.
* Penalty terms belong here too, so that every gradient the model computes includes them: ``l2`` = α adds
  scikit-learn's α/(2·n)·Σ‖W‖² (gradient α·W/n) and ``l1`` = β adds β/n·Σ|W| (gradient β·sign(W)/n), over
  every layer's weights (``Layer.penalized``: Dense's and Conv1D's ``W``; n the batch's rows, or its
  sample weights' sum). Biases are not penalised.

The path is straight: the model runs its layers below ``start`` and hands their output to ``evaluate``,
which returns the loss, the gradient backward starts from, and the model's output; the model runs
backward from ``start`` and ``add_penalty_grads`` adds the penalties' gradients. The objective never calls
back into the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validate import check_positive_float
from ..layers import Layer
from ..layers.activations import Activation
from .losses import Loss, get_loss


class Objective:
    """A loss bound to a model's layers; ``fused`` is the last layer when the pair is one step."""

    def __init__(
        self, loss: str | Loss, layers: Sequence[Layer], n_models: int | None = None, l2: float = 0.0, l1: float = 0.0
    ) -> None:
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
        self.l1 = check_positive_float(l1, "l1", allow_zero=True)
        weights = [(layer.params[k], layer.grads[k]) for layer in layers for k in layer.penalized()]
        self.penalized = weights if self.l1 or self.l2 else []
        self._n = 1.0

    def evaluate(self, top: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None,
                 training: bool = True, record: list | None = None) -> tuple[Any, np.ndarray, np.ndarray]:  # fmt: skip
        """The loss (penalties included), the gradient backward starts from, and the model's output.

        ``top`` is the output of the layers below ``start``: the logits z under a fused output layer, else ŷ.
        The fused layer runs here, keeping nothing (backward starts below it), and its value is computed from
        z, exact where ŷ rounds to 0 or 1. The gradient is ∂L/∂z when fused, else ∂L/∂ŷ. In an Ensemble the
        value is one loss per member. ``record`` receives ("forward", fused layer, z, ŷ) and ("loss", self, d).
        """
        out, z = top, None
        if self.fused is not None:
            out, z = self.fused.forward(top, training, keep=False), top
            if record is not None:
                record.append(("forward", self.fused, z, out))
        value, d = self.loss.value_and_grad(out, Y, sample_weight, z, stacked=self.n_models is not None)
        if self.penalized:
            self._n = len(Y) if sample_weight is None else float(sample_weight.sum())
            value = value + self.penalty_value()
        if record is not None:
            record.append(("loss", self, d))
        return value, d, out

    def penalty_value(self) -> Any:
        """α/(2n)·Σ‖W‖² + β/n·Σ|W| for the last evaluated batch (one value per member in an Ensemble)."""
        total = 0.0
        for W, _ in self.penalized:
            rows = W.reshape(-1) if self.n_models is None else W.reshape(self.n_models, -1)
            if self.l2:
                total = total + 0.5 * self.l2 / self._n * np.einsum("...i,...i->...", rows, rows)
            if self.l1:
                total = total + self.l1 / self._n * np.abs(rows).sum(axis=-1)
        return total

    def add_penalty_grads(self) -> None:
        """dW += α·W/n + β·sign(W)/n for every penalised weight; called once backward has filled the gradients."""
        for W, dW in self.penalized:
            if self.l2:
                dW += (self.l2 / self._n) * W
            if self.l1:
                dW += (self.l1 / self._n) * np.sign(W)

    def penalty_terms(self) -> list[tuple[str, str]]:
        """Each penalty as (its value, its gradient) in plain text: ("0.5/(2n)·Σ‖W‖²", "0.5·W/n")."""
        l2 = [(f"{self.l2:g}/(2n)·Σ‖W‖²", f"{self.l2:g}·W/n")] if self.l2 else []
        return l2 + ([(f"{self.l1:g}/n·Σ|W|", f"{self.l1:g}·sign(W)/n")] if self.l1 else [])

    def describe(self) -> str:
        """One line for ``summary()`` and explain."""
        terms = self.penalty_terms()
        penalty = f"; plus the penalty {' + '.join(value for value, _ in terms)}" if terms else ""
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
        l1 = f", l1={self.l1:g}" if self.l1 else ""
        return f"Objective({self.loss!r}{fused}{l2}{l1})"
