"""Losses summed over the outputs and averaged over the samples, as scikit-learn's MLPs define theirs.

=====================  ===============  =========================================================
loss                   input            per sample, summed over the outputs j
=====================  ===============  =========================================================
MultilabelBCE          logits z         Σⱼ softplus(zⱼ) − yⱼ·zⱼ  (one sigmoid per label)
PoissonDeviance        log-rates z      Σⱼ exp(zⱼ) − yⱼ·zⱼ + yⱼ·log yⱼ − yⱼ  (half the deviance)
=====================  ===============  =========================================================

"mean" divides by the samples only (or, with sample weights w, takes Σᵢ wᵢ·lᵢ / Σᵢ wᵢ), so each output's
gradient is (p − y)/n, p = σ(z) or exp(z): not divided by the number of outputs, as ``bce_logits`` (which
averages over every element) would have it. Both are their canonical link's loss on the raw output z, so
the gradient has no activation's derivative in it and cannot vanish where p rounds to 0 or 1.

The Poisson rate a model predicts is exp(z): the network's last layer gives log-rates (the log link).
"""

from __future__ import annotations

import numpy as np

from .losses import BCEWithLogits, Loss


class MultilabelBCE(BCEWithLogits):
    """Sigmoid cross-entropy on logits, summed over the labels and averaged over the samples.

    L = (1/n)·Σᵢ Σⱼ softplus(zᵢⱼ) − yᵢⱼ·zᵢⱼ        ∂L/∂zᵢⱼ = (σ(zᵢⱼ) − yᵢⱼ)/n
    """

    name, aliases = "multilabel_bce_logits", ()
    per_element = False


class PoissonDeviance(Loss):
    """Half the Poisson deviance of counts y ≥ 0 against rates exp(z), on log-rates z.

    L = (1/n)·Σᵢ Σⱼ exp(zᵢⱼ) − yᵢⱼ·zᵢⱼ + yᵢⱼ·log yᵢⱼ − yᵢⱼ     (y·log y = 0 at y = 0; L = 0 where exp(z) = y)
    ∂L/∂zᵢⱼ = (exp(zᵢⱼ) − yᵢⱼ)/n
    """

    name, aliases = "poisson", ("poisson_deviance",)
    formula = "L = {s}Σ [exp(z) − y·z + y·log y − y]  (z: log-rates)"
    formula_latex = r"L = {s}\sum \left[e^{{z}} - y z + y \log y - y\right]"
    grad_formula, grad_latex = "{s}(exp(z) − y)", r"{s}(e^{{z}} - y)"

    def _elementwise(self, Z, Y):
        rate = np.exp(Z)
        y_log_y = Y * np.log(np.where(Y > 0, Y, 1))
        return rate - Y * Z + y_log_y - Y, rate - Y

    def _check_targets(self, Y):
        if Y.min() < 0:
            raise ValueError(f"{self.name} needs counts y ≥ 0; received a minimum of {Y.min():g}.")
