"""PReLU: a ReLU whose slope below zero is learned, one slope per channel (or one shared)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Layer
from .checks import check_input
from .spec import SIZE, Arg, Param
from .terms import Role, Term


class PReLU(Layer):
    """y = x where x > 0, else a·x, with ``a`` learned: one slope shared by every value, or one per channel.

    Shapes:  X (n, C) or (n, C, L) -> Y of the same shape; a (n_channels,), n_channels 1 or C
    (the channel axis is the first after the batch, as in PyTorch's nn.PReLU; an Ensemble adds its model axis)

    Backward, given dY = ∂L/∂Y:

        dX = dY ∘ (1 where x > 0, else a)                 the derivative at 0 is a, as in PyTorch
        da_c = Σ over the batch (and length) of dY ∘ (0 where x > 0, else x), in channel c
               (one shared slope: the sum over every value)

    Every slope starts at 0.25, PyTorch's default; ``a`` gives other starting values.
    """

    args = (Arg("n_channels", SIZE, 1),)
    param_specs = (Param("a", lambda s: (s.n_channels,), 0.25),)
    keeps_shape = True

    def __init__(self, n_channels: int = 1, *, a: Any = None) -> None:
        super().__init__(n_channels=n_channels, a=a)

    @classmethod
    def example(cls) -> tuple[Layer, tuple[int, ...]]:
        return cls(3), (3, 5)

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        if self.n_channels != 1 and (len(in_shape) < 1 or in_shape[0] != self.n_channels):
            got = f"{in_shape[0]} channels" if len(in_shape) else "no channel axis"
            raise ValueError(
                f"{self!r} has {self.n_channels} slopes, one per channel, but its input has {got} (per-sample "
                f"shape {tuple(in_shape)}); make it PReLU({in_shape[0] if len(in_shape) else 1}), or PReLU() "
                "for one shared slope."
            )
        return tuple(in_shape)

    def _slopes(self, X: np.ndarray) -> np.ndarray:
        """a shaped to broadcast against X: (C, 1, …) behind the batch (and model) axes."""
        a = self.params["a"]
        sample_axes = X.ndim - self.batch_axis - 1
        return a.reshape(*a.shape[:-1], 1, a.shape[-1], *([1] * (sample_axes - 1)))

    def forward(self, X: np.ndarray, training: bool = True, keep: bool = True) -> np.ndarray:
        check_input(self, X)
        if self.n_channels != 1:
            self.output_shape(X.shape[self.batch_axis + 1 :])
        a = self._slopes(X)
        negative = X <= 0
        Y = np.where(negative, a * X, X)
        if keep:
            self._cache, self._out_shape = (X, a, negative), Y.shape
        return Y

    def backward(self, dY: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        X, a, negative = self._cached(dY)
        per_value = np.where(negative, dY * X, 0)
        over = tuple(ax for ax in range(self.batch_axis, X.ndim) if ax != self.batch_axis + 1 or self.n_channels == 1)
        da = per_value.sum(axis=over)
        self.grads["a"][...] = da.reshape(self.grads["a"].shape)
        return np.where(negative, dY * a, dY) if need_input_grad else None

    def forward_terms(self) -> list[Term]:
        """The last kept forward: x, the slopes a and y."""
        X, _, _ = self.kept()
        return [
            Term("x", "", X, Role.INPUT),
            Term("a", "", self.params["a"], Role.WEIGHT, "one slope per channel, or one shared", param="a"),
            Term("y", "x where x > 0, else a·x", self.forward(X, keep=False), Role.OUTPUT),
        ]

    def backward_terms(self, dY: np.ndarray) -> list[Term]:
        """dy, f'(x), ∂L/∂a and dx for the last kept forward (filling the gradients as ``backward`` does)."""
        X, a, negative = self._cached(dY)
        dX = self.backward(dY)
        return [
            Term("dy", "", dY, Role.OUTPUT_GRADIENT),
            Term("f'(x)", "1 where x > 0, else a", np.where(negative, a, 1).astype(X.dtype), Role.LOCAL_DERIVATIVE),
            Term("∂L/∂a", "Σ dy ∘ x where x ≤ 0, per channel", self.grads["a"], Role.WEIGHT_GRADIENT, param="a"),
            Term("dx", "dy ∘ f'(x)", dX, Role.INPUT_GRADIENT),
        ]

    # ------------------------------------------------------------------ ONNX
    def to_onnx(self, g: Any, x: str, name: str) -> str:
        """PRelu(x, slope): one slope, or (C, 1, …) so that ONNX's broadcasting meets the channel axis."""
        a = self.params["a"]
        trailing = (1,) * (len(self.in_shape or (1,)) - 1) if self.n_channels > 1 else ()
        return g.node("PRelu", [x, g.const(f"{name}.a", a.reshape(*a.shape, *trailing))], name)

    @classmethod
    def onnx_ops(cls) -> frozenset[str]:
        return frozenset({"PRelu"})

    @classmethod
    def from_onnx(cls, node: Any, graph: Any) -> Any:
        """PRelu with a constant slope: one shared, or one per channel, shaped (C,) or (C, 1, …)."""
        slope = graph.constants.get(node.inputs[1]) if len(node.inputs) > 1 else None
        if slope is None or slope.size < 1:
            raise node.refuse("needs a constant slope.")
        if slope.size > 1 and slope.reshape(slope.shape[0], -1).shape[1] != 1:
            raise node.refuse(f"has a slope of shape {slope.shape}; a PReLU has one slope per channel, or one.")
        a = slope.reshape(-1)
        return node.read(cls(a.size, a=a), node.computed_input(graph))
