"""Normalisation layers: BatchNorm (statistics over the batch) and LayerNorm (over each sample's features)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import Layer
from .checks import check_input
from .spec import POSITIVE, SIZE, UNIT, Arg, Param, State
from .terms import Role, Term


class _Normalization(Layer):
    """What BatchNorm and LayerNorm share: x̂ = (x − μ)/√(σ² + ε), y = γ ∘ x̂ + β, and its backward.

    Backward of the normalisation itself, over the m values a statistic was taken over
    (each mean below is over those m values), given dx̂ = ∂L/∂x̂:

        dx = (1/√(σ² + ε)) · ( dx̂  −  mean(dx̂)  −  x̂ ∘ mean(dx̂ ∘ x̂) )
                               ───     ────────     ─────────────────
                               direct  through μ    through σ²

    Each term is one path from x to the loss: straight through x̂, through
    the mean every x̂ subtracts, and through the variance every x̂ divides by.
    """

    abstract = True

    param_specs = (Param("gamma", lambda a: (a.n_features,), 1.0), Param("beta", lambda a: (a.n_features,), 0.0))

    def _gamma_beta(self) -> tuple[np.ndarray, np.ndarray]:
        return self.params["gamma"], self.params["beta"]

    def scale_shift(self, Xhat: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
        return gamma * Xhat + beta

    def forward_terms(self) -> list[Term]:
        """The last kept forward: μ, σ², x̂, γ, β and y."""
        Xhat, inv_std, mu, var, gamma, beta, _ = self.kept()
        return [
            Term("μ", "", mu, Role.STATISTIC),
            Term("σ²", "", var, Role.STATISTIC),
            Term("x̂", "(x − μ)/√(σ² + ε)", Xhat, Role.INTERMEDIATE),
            Term("γ", "", gamma, Role.WEIGHT, param="gamma"),
            Term("β", "", beta, Role.BIAS, param="beta"),
            Term("y", "γ ∘ x̂ + β", self.scale_shift(Xhat, gamma, beta), Role.OUTPUT),
        ]

    def backward(self, dY: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        dgamma, dbeta, _, paths = self._backward_paths(dY)
        self.grads["gamma"][...] = dgamma
        self.grads["beta"][...] = dbeta
        return sum(paths[1:], paths[0]) if need_input_grad else None

    def _backward_paths(self, dY: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
        """dγ, dβ, dx̂ and the paths from x̂ back to x (direct, then through μ and σ² when they were this batch's)."""
        Xhat, inv_std, _, _, gamma, _, over_stats = self._cached(dY)
        dXhat = dY * gamma
        paths = [dXhat * inv_std]
        if over_stats is not None:  # statistics of this batch: x reaches the loss through them too
            paths.append(-_mean(dXhat, over_stats) * inv_std)
            paths.append(-Xhat * _mean(dXhat * Xhat, over_stats) * inv_std)
        return self._param_sum(dY * Xhat), self._param_sum(dY), dXhat, paths

    def backward_terms(self, dY: np.ndarray) -> list[Term]:
        """dγ, dβ, dx̂ and dx path by path for the last kept forward (``backward`` sums the paths)."""
        dgamma, dbeta, dXhat, paths = self._backward_paths(dY)
        written = [("dx̂/√(σ² + ε)", "direct"), ("−mean(dx̂)/√(σ² + ε)", "through μ"),
                   ("−x̂ ∘ mean(dx̂ ∘ x̂)/√(σ² + ε)", "through σ²")]  # fmt: skip
        return [
            Term("dy", "", dY, Role.OUTPUT_GRADIENT),
            Term("dγ", "Σ dy ∘ x̂", dgamma, Role.WEIGHT_GRADIENT, param="gamma"),
            Term("dβ", "Σ dy", dbeta, Role.BIAS_GRADIENT, param="beta"),
            Term("dx̂", "dy ∘ γ", dXhat, Role.INTERMEDIATE_GRADIENT),
            *(Term(symbol, "", path, Role.PATH, note) for (symbol, note), path in zip(written, paths)),
        ]

    def _param_sum(self, values: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class BatchNorm(_Normalization):
    """Batch normalisation per feature (per channel), as PyTorch's BatchNorm1d.

    Shapes:  X (n, C) or (n, C, L) -> Y of the same shape; γ, β, running_mean, running_var (C,)
    (an Ensemble adds its model axis in front of every array)

    Forward, statistics per channel c over the m = n·L values of the batch:

        training:   μ = mean(x),  σ² = mean((x − μ)²)           the biased variance normalises
                    running_mean ← (1 − momentum)·running_mean + momentum·μ
                    running_var  ← (1 − momentum)·running_var  + momentum·σ²·m/(m − 1)   (unbiased)
        inference:  μ = running_mean,  σ² = running_var
        both:       x̂ = (x − μ)/√(σ² + ε),   y = γ ∘ x̂ + β

    Backward, given dy = ∂L/∂y (sums and means over the batch, and L):

        dγ = Σ dy ∘ x̂        dβ = Σ dy        dx̂ = dy ∘ γ
        training:   dx = (1/√(σ² + ε)) · (dx̂ − mean(dx̂) − x̂ ∘ mean(dx̂ ∘ x̂))   (three paths: x̂, μ, σ²)
        inference:  dx = dx̂/√(σ² + ε)                                        (μ, σ² are constants)

    Training needs more than one value per channel (m ≥ 2), as in PyTorch.
    """

    args = (Arg("n_features", SIZE), Arg("momentum", UNIT, 0.1), Arg("eps", POSITIVE, 1e-5))
    state_specs = (State("running_mean", lambda a: (a.n_features,), 0.0),
                   State("running_var", lambda a: (a.n_features,), 1.0))  # fmt: skip

    def __init__(self, n_features: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__(n_features=n_features, momentum=momentum, eps=eps)

    modes_differ = True

    @classmethod
    def example(cls) -> tuple[Layer, tuple[int, ...]]:
        return cls(3), (3,)

    def check_state(self) -> None:
        """Refuse running statistics no BatchNorm could have: a variance that is negative or not finite."""
        var, mean = self.state["running_var"], self.state["running_mean"]
        if not (var >= 0).all() or not np.isfinite(var).all():  # NaN fails the first test
            bad = ~(var >= 0) | ~np.isfinite(var)
            raise ValueError(f"{self!r} has running_var {_first(var, bad)}; a running variance is finite and ≥ 0.")
        if not np.isfinite(mean).all():
            raise ValueError(f"{self!r} has running_mean {_first(mean, ~np.isfinite(mean))}; a mean is finite.")

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(in_shape) not in (1, 2) or in_shape[0] != self.n_features:
            raise ValueError(
                f"{self!r} normalises per-sample inputs of shape ({self.n_features},) or ({self.n_features}, L); "
                f"received shape {tuple(in_shape)}."
            )
        return tuple(in_shape)

    def forward(self, X: np.ndarray, training: bool = True, keep: bool = True) -> np.ndarray:
        check_input(self, X)
        over = self._over(X)
        per_channel = self._per_channel_view(X)
        if training:
            m = math.prod(X.shape[a] for a in over)
            if m < 2:
                raise ValueError(
                    f"{self!r} in training mode needs more than one value per channel for its batch statistics; "
                    f"received input of shape {X.shape}. Use batches of 2 samples or more, or inference mode."
                )
            mu = _mean(X, over)
            Xc = X - mu
            var = _mean(Xc * Xc, over)
            self._update_running(mu, var, over, m)
        else:
            mu, var = per_channel(self.state["running_mean"]), per_channel(self.state["running_var"])
            Xc = X - mu
        inv_std = 1 / np.sqrt(var + self.eps)
        Xhat = Xc * inv_std
        gamma, beta = (per_channel(p) for p in self._gamma_beta())
        Y = self.scale_shift(Xhat, gamma, beta)
        if keep:
            self._cache = (Xhat, inv_std, mu, var, gamma, beta, over if training else None)
            self._out_shape = Y.shape
        return Y

    def _update_running(self, mu: np.ndarray, var: np.ndarray, over: tuple[int, ...], m: int) -> None:
        k = self.momentum
        running_mean, running_var = self.state["running_mean"], self.state["running_var"]
        running_mean[...] = (1 - k) * running_mean + k * np.squeeze(mu, axis=over)
        running_var[...] = (1 - k) * running_var + k * np.squeeze(var, axis=over) * (m / (m - 1))

    def _per_channel_view(self, X: np.ndarray) -> Any:
        """How a per-channel array, (C,) or (M, C), broadcasts against X: (…, 1, C) or (…, 1, C, 1)."""
        length_axes = (1,) * (len(self._over(X)) - 1)
        return lambda a: a.reshape(*a.shape[:-1], 1, self.n_features, *length_axes)

    def _over(self, X: np.ndarray) -> tuple[int, ...]:
        """The axes a statistic is taken over: the batch, and the length of a (C, L) signal.

        Read from the declared per-sample shape (the one ``build`` fixed; for a layer used on its own, the
        shape behind the declared batch axis).
        """
        b = self.batch_axis
        sample = self.in_shape if self.in_shape is not None else X.shape[b + 1 :]
        return (b,) if len(sample) == 1 else (b, b + 2)

    def _param_sum(self, values: np.ndarray) -> np.ndarray:
        over = self._over(values)
        return _sums(values, over).squeeze(axis=over)

    # ---------------------------------------------------------------- ONNX (see Layer.to_onnx, Layer.from_onnx)
    def to_onnx(self, g: Any, x: str, name: str) -> str:
        """BatchNormalization(x, γ, β, running_mean, running_var, epsilon): the inference-mode layer."""
        arrays = [g.const(f"{name}.{k}", v) for k, v in (*self.params.items(), *self.state.items())]
        return g.node("BatchNormalization", [x, *arrays], name, epsilon=self.eps)

    @classmethod
    def onnx_ops(cls) -> frozenset[str]:
        return frozenset({"BatchNormalization"})

    @classmethod
    def from_onnx(cls, node: Any, graph: Any) -> Any:
        """An inference-mode BatchNormalization with constant scale, bias, mean and variance."""
        from ..onnx.graph import constant_vectors, epsilon

        x = node.computed_input(graph)
        if node.attrs.get("training_mode", 0) != 0:
            raise node.refuse("must be in inference mode; chainrule reads inference graphs.")
        gamma, beta, mean, var = constant_vectors(node, graph.constants, 4)
        if (var < 0).any():
            raise node.refuse("has a negative or non-finite variance or statistic.")
        layer = cls(gamma.size, eps=epsilon(node))
        layer.params["gamma"][...], layer.params["beta"][...] = gamma, beta
        layer.state["running_mean"][...], layer.state["running_var"][...] = mean, var  # kept when a model binds it
        return node.read(layer, x)


class LayerNorm(_Normalization):
    """Layer normalisation over the last axis of each sample, as PyTorch's LayerNorm(n_features).

    Shapes:  X (n, …, D) -> Y of the same shape; γ, β (D,), D = n_features (an Ensemble adds its model axis)

    Forward, statistics per sample (per position) over its D last-axis values, in both modes:

        μ = mean(x),  σ² = mean((x − μ)²),  x̂ = (x − μ)/√(σ² + ε),  y = γ ∘ x̂ + β

    Backward, given dy = ∂L/∂y (means over the D values, sums over the batch):

        dγ = Σ dy ∘ x̂        dβ = Σ dy        dx̂ = dy ∘ γ
        dx = (1/√(σ² + ε)) · (dx̂ − mean(dx̂) − x̂ ∘ mean(dx̂ ∘ x̂))
    """

    args = (Arg("n_features", SIZE), Arg("eps", POSITIVE, 1e-5))

    def __init__(self, n_features: int, eps: float = 1e-5) -> None:
        super().__init__(n_features=n_features, eps=eps)

    @classmethod
    def example(cls) -> tuple[Layer, tuple[int, ...]]:
        return cls(4), (4,)

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(in_shape) < 1 or in_shape[-1] != self.n_features:
            raise ValueError(
                f"{self!r} normalises the last axis, of length {self.n_features}; received per-sample shape "
                f"{tuple(in_shape)}."
            )
        return tuple(in_shape)

    def forward(self, X: np.ndarray, training: bool = True, keep: bool = True) -> np.ndarray:
        check_input(self, X)
        mu = X.mean(axis=-1, keepdims=True)
        Xc = X - mu
        var = (Xc * Xc).mean(axis=-1, keepdims=True)
        inv_std = 1 / np.sqrt(var + self.eps)
        Xhat = Xc * inv_std
        middle = (1,) * (X.ndim - self.batch_axis - 1)  # γ (D,) or (M, D) against (…, n, …, D)
        gamma, beta = (p.reshape(*p.shape[:-1], *middle, self.n_features) for p in self._gamma_beta())
        Y = self.scale_shift(Xhat, gamma, beta)
        if keep:
            self._cache, self._out_shape = (Xhat, inv_std, mu, var, gamma, beta, (-1,)), Y.shape
        return Y

    def _param_sum(self, values: np.ndarray) -> np.ndarray:
        return values.sum(axis=tuple(range(self.batch_axis, values.ndim - 1)))

    # ---------------------------------------------------------------- ONNX (see Layer.to_onnx, Layer.from_onnx)
    LAYER_NORMALIZATION_OPSET = 17

    def to_onnx(self, g: Any, x: str, name: str) -> str:
        """LayerNormalization(x, γ, β, axis=−1, epsilon), from opset 17 (a float64 model's statistics in float64)."""
        if g.opset < self.LAYER_NORMALIZATION_OPSET:
            raise ValueError(f"LayerNormalization needs opset {self.LAYER_NORMALIZATION_OPSET} or newer.")
        gamma, beta = (g.const(f"{name}.{k}", v) for k, v in self.params.items())
        stash = {} if g.dtype == np.float32 else {"stash_type": 11}  # statistics in float64, not float32
        return g.node("LayerNormalization", [x, gamma, beta], name, axis=-1, epsilon=self.eps, **stash)

    @classmethod
    def onnx_ops(cls) -> frozenset[str]:
        return frozenset({"LayerNormalization"})

    @classmethod
    def from_onnx(cls, node: Any, graph: Any) -> Any:
        """LayerNormalization over the last axis with a constant scale and bias."""
        from ..onnx.graph import constant_vectors, epsilon

        x = node.computed_input(graph)
        if node.attrs.get("axis", -1) not in (-1, len(graph.sample or (0,))):
            raise node.refuse("must normalise the last axis (axis −1) with a scale and a bias.")
        gamma, beta = constant_vectors(node, graph.constants, 2)
        layer = cls(gamma.size, eps=epsilon(node))
        layer.params["gamma"][...], layer.params["beta"][...] = gamma, beta
        return node.read(layer, x)


def _first(values: np.ndarray, bad: np.ndarray) -> str:
    """The first value where ``bad`` holds, and where: "-1.5 at index (3,)"."""
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"{values[where]} at index {where}"


def _sums(X: np.ndarray, over: tuple[int, ...]) -> np.ndarray:
    """Σ over the axes ``over`` (kept with size 1), each as a product with a vector of ones.

    1ᵀ·X is one BLAS pass over X in memory order, where NumPy's reduce over the batch and length axes at once
    walks X with strides: ten to thirty times slower at BatchNorm's shapes (benchmarks/NOTES.md).
    """
    X = np.ascontiguousarray(X)
    for axis in sorted((a % X.ndim for a in over), reverse=True):
        pre, size, post = math.prod(X.shape[:axis]), X.shape[axis], math.prod(X.shape[axis + 1 :])
        ones = np.ones(size, X.dtype)
        flat = X.reshape(pre, size) @ ones if post == 1 else ones @ X.reshape(pre, size, post)
        X = flat.reshape(*X.shape[:axis], 1, *X.shape[axis + 1 :])
    return X


def _mean(X: np.ndarray, over: tuple[int, ...]) -> np.ndarray:
    """The mean over the axes ``over``, kept with size 1 (see ``_sums``)."""
    return _sums(X, over) / math.prod(X.shape[a] for a in over)
