"""scikit-learn's data loss where it differs from chainrule's by a constant factor.

scikit-learn's log-loss for binary and multilabel targets sums over the outputs and averages over the
rows; chainrule's ``bce_logits`` averages over both, so the estimators train on k times it. The L2
penalty α/(2·n)·Σ‖W‖² is not here: it is a term of the objective (``model.objective(loss, l2=α)``),
so ``cr.gradcheck`` and ``cr.explain`` see it too.
"""

from __future__ import annotations

from ..core.losses import Loss


class _ScaledLoss(Loss):
    """A chainrule loss times ``scale``: its value and its gradient."""

    def __init__(self, inner: Loss, scale: float) -> None:
        super().__init__(inner.reduction)
        self.inner, self.scale = inner, scale
        self.name, self.per_element = inner.name, inner.per_element
        self.output_activation, self.classification = inner.output_activation, inner.classification
        self.fuses = inner.fuses

    def prepare_targets(self, y, n_outputs, dtype):
        return self.inner.prepare_targets(y, n_outputs, dtype)

    def decide(self, out):
        return self.inner.decide(out)

    def value_and_grad(self, P, Y, w=None, logits=None, stacked=False):
        value, G = self.inner.value_and_grad(P, Y, w, logits, stacked)
        return value * self.scale, G * self.scale

    def get_config(self):
        return self.inner.get_config()

    def __repr__(self) -> str:
        return f"{self.scale:g}·{self.inner!r}"
