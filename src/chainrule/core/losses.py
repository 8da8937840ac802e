"""Losses: ``forward(y_pred, y_true) -> float`` and ``backward() -> ∂L/∂y_pred``.

Reductions follow PyTorch, so values can be compared one to one:

==========================  ===============  =====================================
loss                        input            "mean" divides the summed loss by
==========================  ===============  =====================================
SSE   ½Σ(y − ŷ)²            any output       samples (the seeds' −η/k·Σ batch rule)
MSE   (y − ŷ)²              any output       all elements
BinaryCrossEntropy          probabilities    all elements
BCEWithLogits               logits           all elements
SoftmaxCrossEntropy         logits           samples
CategoricalCrossEntropy     probabilities    samples
==========================  ===============  =====================================

``reduction="sum"`` gives the plain sum instead. With ``sample_weight`` w,
"mean" becomes the weighted mean Σᵢ wᵢ·lᵢ / Σᵢ wᵢ (per element where the
table says so).

The two losses on logits apply their activation themselves (``output_activation``):
sigmoid + BCE and softmax + cross-entropy have the gradient (p − y) per
element, which is exact and cannot overflow. A model whose last layer is
already a Sigmoid or Softmax would squash twice, and ``chainrule.core.objective``
refuses that pair.

The two losses on probabilities name the activation that cancels their denominator (``fuses``). When a
model ends in it, the pair is one fused step of the backward path: ``value_and_grad(P, Y, logits=Z)`` gives
∂L/∂z = (p − y)/n and the value computed from z. The product ∂L/∂p · ∂p/∂z taken step by step equals it up
to rounding but vanishes where p rounds to 0 or 1 (the clipped log has no slope there), while p − y does
not; the value from z keeps growing there, where one from the clipped p would stop at −log ε.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validate import check_array, lookup


class Loss:
    """Base class. Subclasses give ``_elementwise`` and may override ``_check_targets``.

    Each loss class carries its facts: its name and aliases (for
    ``get_loss``, the command line and model files), its task, the formula
    of its value and of its gradient in plain text and LaTeX (``{s}`` stands
    for the batch factor, e.g. "1/n·"), the activation it applies itself
    (``output_activation``: the losses on logits) and the output activation
    it fuses with (``fuses``: the losses on probabilities).
    """

    name = ""
    aliases: tuple[str, ...] = ()
    per_element = False  # "mean" divides by every element, not just by samples
    output_activation: str | None = None  # applied inside the loss (and by predict_proba): the input is logits
    fuses: str | None = None  # the output activation whose backward this loss takes over, as one fused step
    classification = False
    formula = formula_latex = grad_formula = grad_latex = ""

    registry: dict[str, type[Loss]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            for key in (cls.name, *cls.aliases):
                Loss.registry[key] = cls

    @property
    def task(self) -> str:
        return "classification" if self.classification else "regression"

    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum'; received {reduction!r}.")
        self.reduction = reduction
        self._grad: np.ndarray | None = None

    def forward(self, y_pred: Any, y_true: Any, sample_weight: Any = None) -> float:
        """The loss of predictions ``y_pred`` (n, k) against ``y_true``; keeps the gradient."""
        P = check_array(y_pred, "y_pred")
        Y = self.prepare_targets(y_true, P.shape[1], P.dtype)
        if len(Y) != len(P):
            raise ValueError(f"y_pred has {len(P)} samples but y_true has {len(Y)}.")
        w = None if sample_weight is None else check_sample_weight(sample_weight, len(P), P.dtype)
        value, self._grad = self.value_and_grad(P, Y, w)
        return value

    def backward(self) -> np.ndarray:
        """∂L/∂y_pred for the last ``forward``, shape (n, k)."""
        if self._grad is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward.")
        return self._grad

    def value_and_grad(
        self,
        P: np.ndarray,
        Y: np.ndarray,
        w: np.ndarray | None = None,
        logits: np.ndarray | None = None,
        stacked: bool = False,
    ) -> tuple[Any, np.ndarray]:
        """Loss and ∂L/∂P for targets already passed through ``prepare_targets``.

        With ``logits`` z, where P is the ``fuses`` activation of z, the pair is
        one fused step: the gradient is ∂L/∂z and the value comes from z (see
        the module docstring). ``stacked``: P carries a leading model axis,
        (n_models, n, k) against targets for (n, k), and the value is one loss
        per model, an array, each reduced as for one model.
        """
        E, G = self._elementwise(P, Y) if logits is None else self._elementwise_through(logits, P, Y)
        n = P.shape[-2]
        if w is None:
            if stacked:  # each model's sum as one matrix-vector product: a reduce over short rows is slower
                rows = E.reshape(len(E), -1)
                total = rows @ np.ones(rows.shape[1], dtype=rows.dtype)
            else:
                total = float(np.add.reduce(E, axis=None))
            if self.reduction == "sum":
                return total, G
            count = E.size // (len(E) if stacked else 1) if self.per_element else n
            G /= count
            return total / count, G
        per_row = E.shape[-1] if self.per_element else 1
        row_w = w if self.reduction == "sum" else w / (w.sum() * per_row)
        value = (E.sum(axis=-1) if E.ndim == P.ndim else E) @ row_w
        G *= row_w[:, None]
        return (value if stacked else float(value)), G

    def _elementwise(self, P: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """E: (n, k) or (n,) losses, and G = ∂ΣE/∂P."""
        raise NotImplementedError

    def _elementwise_through(self, Z: np.ndarray, P: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """E computed from the logits Z, and G = ∂ΣE/∂Z, where P is the ``fuses`` activation of Z."""
        raise TypeError(f"{self.name} has no output activation to take the gradient through.")

    def prepare_targets(self, y: Any, n_outputs: int, dtype: np.dtype) -> np.ndarray:
        """Check ``y`` and bring it to the form this loss computes with."""
        Y = check_array(y, "y", dtype=dtype, ndim=None)
        if Y.ndim == 1 and n_outputs == 1:
            Y = Y.reshape(-1, 1)
        if Y.ndim != 2 or Y.shape[1] != n_outputs:
            raise ValueError(
                f"y has shape {Y.shape} but the model gives {n_outputs} output(s) per sample; "
                f"{self.name} needs y of shape (n_samples, {n_outputs})"
                + (" or (n_samples,)." if n_outputs == 1 else ".")
            )
        self._check_targets(Y)
        return Y

    def _check_targets(self, Y: np.ndarray) -> None:
        pass

    def decide(self, out: np.ndarray) -> np.ndarray:
        """Class labels from raw model outputs (classification losses only)."""
        raise TypeError(f"{self.name} is a regression loss; it has no class decisions.")

    def get_config(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        """The loss ``get_config`` described; ValueError for a config it cannot come from."""
        return cls(reduction=config.get("reduction", "mean"))

    def __repr__(self) -> str:
        extra = "" if self.reduction == "mean" else "reduction='sum'"
        return f"{type(self).__name__}({extra})"


def check_sample_weight(sample_weight: Any, n: int, dtype: np.dtype) -> np.ndarray:
    w = check_array(sample_weight, "sample_weight", dtype=dtype, ndim=1)
    if len(w) != n:
        raise ValueError(f"sample_weight has {len(w)} entries for {n} samples.")
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError("sample_weight must be non-negative with a positive sum.")
    return w


class SSE(Loss):
    """Sum of squared errors ½·Σⱼ(ŷⱼ − yⱼ)² per sample;  ∂/∂ŷ = ŷ − y."""

    name = "sse"
    formula, formula_latex = "L = {s}Σ ½(ŷ − y)²", r"L = {s}\sum \tfrac{{1}}{{2}}(\hat y - y)^2"
    grad_formula, grad_latex = "{s}(ŷ − y)", r"{s}(\hat y - y)"

    def _elementwise(self, P, Y):
        D = P - Y
        return 0.5 * (D * D), D


class MSE(Loss):
    """Mean squared error (ŷ − y)² over all elements;  ∂/∂ŷ = 2(ŷ − y)/(n·k)."""

    name = "mse"
    formula, formula_latex = "L = {s}Σ (ŷ − y)²", r"L = {s}\sum (\hat y - y)^2"
    grad_formula, grad_latex = "{s}2(ŷ − y)", r"{s}2(\hat y - y)"
    per_element = True

    def _elementwise(self, P, Y):
        D = P - Y
        return D * D, 2 * D


def _check_unit_interval(Y: np.ndarray, name: str) -> None:
    lo, hi = Y.min(), Y.max()
    if lo < 0 or hi > 1:
        raise ValueError(
            f"{name} needs targets in [0, 1]; received values from {lo:g} to {hi:g}. Binary labels must be 0 and 1."
        )


_EPS = {np.dtype(t): float(np.finfo(t).eps) for t in (np.float16, np.float32, np.float64)}


def _clip_probabilities(P: np.ndarray) -> np.ndarray:
    eps = _EPS.get(P.dtype) or float(np.finfo(P.dtype).eps)
    Pc = np.maximum(P, eps)
    return np.minimum(Pc, 1 - eps, out=Pc)


def _bce_from_logits(Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """−[y·log σ(z) + (1 − y)·log(1 − σ(z))] = max(z, 0) − y·z + log(1 + e^−|z|) elementwise, stable for any z.

    Written so, a confident right answer (y = 1, z ≫ 0) gives z − z = 0 exactly plus the small term: softplus(z)
    − y·z would round the loss to the spacing of z (about 1e-15 at z = 20, where the loss is 2e-9)."""
    return np.maximum(Z, 0) - Y * Z + np.log1p(np.exp(-np.abs(Z)))


def _cross_entropy_from_logits(Z: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """−Σⱼ yⱼ·log softmax(z)ⱼ per row (labels or probability rows Y), and softmax(z), from one exp.

    The row maximum is subtracted first, so nothing overflows (see ``_math.log_softmax``).
    """
    shifted = Z - np.maximum.reduce(Z, axis=-1, keepdims=True)
    P = np.exp(shifted)
    total = np.add.reduce(P, axis=-1, keepdims=True)
    P /= total
    log_total = np.log(total)
    if Y.ndim == 1:
        rows = np.arange(len(Y))
        return log_total[..., 0] - shifted[..., rows, Y], P
    return -np.add.reduce(Y * (shifted - log_total), axis=-1), P


def _p_minus_y(G: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """∂L/∂z = p·Σⱼyⱼ − y of softmax and cross-entropy, in place in G = p (Σⱼyⱼ = 1 for labels)."""
    if Y.ndim == 1:
        G[..., np.arange(len(Y)), Y] -= 1
    else:
        G *= np.add.reduce(Y, axis=-1, keepdims=True)
        G -= Y
    return G


def _bce(Pc: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """−[y·log p + (1 − y)·log(1 − p)] elementwise, for clipped probabilities."""
    return -(Y * np.log(Pc) + (1 - Y) * np.log1p(-Pc))


class _Binary(Loss):
    per_element = True
    classification = True

    def _check_targets(self, Y):
        _check_unit_interval(Y, self.name)


class BinaryCrossEntropy(_Binary):
    """−[y·log p + (1 − y)·log(1 − p)] on probabilities p, clipped to [ε, 1 − ε].

    ∂/∂p = (p − y) / (p(1 − p)). After a sigmoid this factor cancels σ'(z) =
    p(1 − p), leaving ∂L/∂z = p − y: use ``bce_logits`` to get that directly.
    """

    name, aliases = "bce", ("binary_cross_entropy",)
    fuses = "sigmoid"
    formula = "L = −{s}Σ [y·log ŷ + (1 − y)·log(1 − ŷ)]"
    formula_latex = r"L = -{s}\sum \left[y \log \hat y + (1 - y)\log(1 - \hat y)\right]"
    grad_formula, grad_latex = "{s}(ŷ − y) / (ŷ(1 − ŷ))", r"{s}\frac{{\hat y - y}}{{\hat y(1 - \hat y)}}"

    def _elementwise(self, P, Y):
        Pc = _clip_probabilities(P)
        return _bce(Pc, Y), (Pc - Y) / (Pc * (1 - Pc))

    def _elementwise_through(self, Z, P, Y):
        return _bce_from_logits(Z, Y), P - Y  # ∂L/∂z = σ(z) − y

    def decide(self, out):
        return (out >= 0.5).astype(np.int64)


class BCEWithLogits(_Binary):
    """Sigmoid and binary cross-entropy fused, on logits z.

    L = softplus(z) − y·z = max(z, 0) − y·z + log(1 + e^−|z|)   (stable for any z)
    ∂L/∂z = σ(z) − y
    """

    name, aliases = "bce_logits", ("bce_with_logits",)
    output_activation = "sigmoid"
    formula = "L = {s}Σ [log(1 + eᶻ) − y·z]  (z: logits)"
    formula_latex = r"L = {s}\sum \left[\log(1 + e^{{z}}) - y z\right]"
    grad_formula, grad_latex = "{s}(σ(z) − y)", r"{s}(\sigma(z) - y)"

    def _elementwise(self, Z, Y):
        # σ(z) − y with e = e^−|z|: ((1 − y) − y·e)/(1 + e) for z ≥ 0, ((1 − y)·e − y)/(1 + e) below; for
        # y ∈ {0, 1} a right answer's tiny gradient (−e/(1 + e) at y = 1) is exact instead of 1 − 1 rounded
        e = np.exp(-np.abs(Z))
        G = np.where(Z >= 0, (1 - Y) - Y * e, (1 - Y) * e - Y)
        G /= 1 + e
        return np.maximum(Z, 0) - Y * Z + np.log1p(e), G  # _bce_from_logits, sharing e

    def decide(self, out):
        return (out >= 0).astype(np.int64)


class _Categorical(Loss):
    """Targets are integer labels (n,) or class probabilities (n, k)."""

    classification = True

    def prepare_targets(self, y, n_outputs, dtype):
        Y = check_array(y, "y", ndim=None)
        if n_outputs < 2:
            raise ValueError(f"{self.name} needs at least 2 outputs; the model gives {n_outputs}.")
        if Y.ndim == 1:
            if not np.array_equal(Y, np.round(Y)) or Y.min() < 0 or Y.max() >= n_outputs:
                raise ValueError(
                    f"{self.name} needs integer class labels in 0..{n_outputs - 1}; received "
                    f"values from {Y.min():g} to {Y.max():g}. Map labels with "
                    "np.unique(y, return_inverse=True)."
                )
            return Y.astype(np.intp)
        if Y.shape[1:] != (n_outputs,):
            raise ValueError(
                f"y has shape {Y.shape}; {self.name} needs labels (n_samples,) "
                f"or one-hot/probability rows (n_samples, {n_outputs})."
            )
        if Y.min() < 0:
            raise ValueError(f"{self.name} needs non-negative target probabilities.")
        return Y.astype(dtype, copy=False)

    def decide(self, out):
        return np.argmax(out, axis=-1)


class SoftmaxCrossEntropy(_Categorical):
    """Softmax and cross-entropy fused, on logits z.

    L = −Σⱼ yⱼ·log softmax(z)ⱼ = logsumexp(z) − z_y  (for a label y)
    ∂L/∂z = p·Σⱼyⱼ − y = p − y   (p = softmax(z); Σⱼyⱼ = 1 for one-hot y)
    """

    name, aliases = "softmax_cross_entropy", ("cross_entropy",)
    output_activation = "softmax"
    formula = "L = −{s}Σ y·log softmax(z)  (z: logits)"
    formula_latex = r"L = -{s}\sum y \log \operatorname{{softmax}}(z)"
    grad_formula, grad_latex = "{s}(p − y),  p = softmax(z)", r"{s}(p - y)"

    def _elementwise(self, Z, Y):
        E, P = _cross_entropy_from_logits(Z, Y)
        return E, _p_minus_y(P, Y)


class CategoricalCrossEntropy(_Categorical):
    """−Σⱼ yⱼ·log pⱼ on probabilities p (clipped to [ε, 1]);  ∂/∂pⱼ = −yⱼ/pⱼ."""

    name = "categorical_cross_entropy"
    fuses = "softmax"
    formula, formula_latex = "L = −{s}Σ y·log ŷ", r"L = -{s}\sum y \log \hat y"
    grad_formula, grad_latex = "−{s}y / ŷ", r"-{s}\frac{{y}}{{\hat y}}"

    def _elementwise_through(self, Z, P, Y):
        return _cross_entropy_from_logits(Z, Y)[0], _p_minus_y(P.copy(), Y)

    def _elementwise(self, P, Y):
        Pc = np.clip(P, np.finfo(P.dtype).eps, None)
        if Y.ndim == 1:
            rows = np.arange(len(Y))
            G = np.zeros_like(P)
            G[..., rows, Y] = -1 / Pc[..., rows, Y]
        else:
            G = -Y / Pc
        return self._values(Pc, Y), G

    @staticmethod
    def _values(Pc, Y):
        """−Σⱼ yⱼ·log pⱼ per row, for clipped probabilities (integer labels pick one pⱼ)."""
        if Y.ndim == 1:
            return -np.log(Pc[..., np.arange(len(Y)), Y])
        return -np.sum(Y * np.log(Pc), axis=-1)


def get_loss(name: str | Loss) -> Loss:
    """A new loss called ``name`` (a Loss instance passes through)."""
    if isinstance(name, Loss):
        return name
    return lookup("loss", name, Loss.registry)()
