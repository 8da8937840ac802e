"""Pooling over (n, C, L) signals: MaxPool1D, AvgPool1D and GlobalAvgPool1D, each channel on its own."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._windows import check_signal, output_length
from .base import Layer
from .spec import OPTIONAL_SIZE, SIZE, Arg
from .terms import Role, Term


class _Pool1D(Layer):
    """What the windowed poolings share: kernel_size and stride (default kernel_size), shapes and config."""

    args = (Arg("kernel_size", SIZE), Arg("stride", OPTIONAL_SIZE, None))

    def __init__(self, kernel_size: int, stride: int | None = None) -> None:
        super().__init__(kernel_size=kernel_size, stride=stride)
        self.stride: int = self.kernel_size if self.stride is None else self.stride

    @classmethod
    def example(cls) -> tuple[Layer, tuple[int, ...]]:
        return cls(3, stride=2), (3, 8)

    @property
    def input_shape(self) -> None:
        return None

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(in_shape) != 2:
            raise ValueError(f"{self!r} expects (channels, length) per sample; received {tuple(in_shape)}.")
        return in_shape[0], output_length(self, in_shape[1], self.kernel_size, self.stride)

    def _windows(self, X: np.ndarray) -> np.ndarray:
        """The windows as a view (…, C, L_out, K), after checking X."""
        check_signal(self, X, None, self.n_models)
        L_out = output_length(self, X.shape[-1], self.kernel_size, self.stride)
        return sliding_window_view(X, self.kernel_size, axis=-1)[..., : self.stride * (L_out - 1) + 1 : self.stride, :]

    def _taps(self, L_out: int) -> list[slice]:
        """For each tap j of the window, the input positions it reads: j, j + stride, …"""
        return [slice(j, j + self.stride * (L_out - 1) + 1, self.stride) for j in range(self.kernel_size)]

    def __repr__(self) -> str:
        stride = "" if self.stride == self.kernel_size else f", stride={self.stride}"
        return f"{type(self).__name__}({self.kernel_size}{stride})"

    # ---------------------------------------------------------------- ONNX (see Layer.to_onnx, Layer.from_onnx)
    onnx_op = ""  # MaxPool or AveragePool

    def to_onnx(self, g: Any, x: str, name: str) -> str:
        return g.node(self.onnx_op, [x], name, kernel_shape=[self.kernel_size], strides=[self.stride], pads=[0, 0])

    @classmethod
    def onnx_ops(cls) -> frozenset[str]:
        return frozenset({cls.onnx_op})

    @classmethod
    def from_onnx(cls, node: Any, graph: Any) -> Any:
        """A 1-D pooling without padding, ceil_mode or dilation (auto_pad VALID or NOTSET)."""
        x = node.computed_input(graph)
        k, s = node.one_int("kernel_shape"), node.one_int("strides", [1])
        node.require(node.attrs.get("auto_pad", "NOTSET") in ("NOTSET", "VALID"), "auto_pad (padding)")
        node.require(list(node.attrs.get("pads", [0, 0])) == [0, 0], "padding")
        node.require(node.attrs.get("ceil_mode", 0) == 0, "ceil_mode=1")
        node.require(list(node.attrs.get("dilations", [1])) == [1], "dilations")
        node.require(node.attrs.get("storage_order", 0) == 0, "storage_order")
        return node.read(cls(k, s), x)


class MaxPool1D(_Pool1D):
    """The largest value of each window of ``kernel_size`` samples, stepping by ``stride``.

    Shapes:  X (n, C, L) -> Z (n, C, L_out),  L_out = ⌊(L − K) / stride⌋ + 1
    (in an Ensemble both gain a leading model axis)

        Z[n, c, t] = max_j x[n, c, t·stride + j],  j* = the first j reaching the maximum (as PyTorch)

    Backward, given dZ = ∂L/∂Z:

        dX[n, c, t·stride + j*] += dZ[n, c, t]      (only the winner of each window gets gradient;
                                                     overlapping windows may add to the same sample)
    """

    def forward(self, X: np.ndarray, training: bool = True, keep: bool = True) -> np.ndarray:
        windows = self._windows(X)
        winner = windows.argmax(axis=-1)  # (…, C, L_out): argmax keeps the first of tied maxima
        Z = np.take_along_axis(windows, winner[..., None], axis=-1)[..., 0]
        if keep:
            self._cache, self._out_shape = (winner, X), Z.shape
        return Z

    def backward(self, dZ: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        winner, X = self._cached(dZ)
        if not need_input_grad:
            return None
        dX = np.zeros(X.shape, dtype=dZ.dtype)
        for j, positions in enumerate(self._taps(dZ.shape[-1])):
            dX[..., positions] += np.where(winner == j, dZ, 0)
        return dX

    def forward_terms(self) -> list[Term]:
        """The last kept forward: X, where each window's maximum won (j*, within the window), and Z."""
        winner, X = self.kept()
        return [
            Term("X", "", X, Role.INPUT),
            Term("j*", "", winner, Role.WINNER, "which element of each window won, the first of tied maxima"),
            Term("Z", "the winner's value", self.forward(X, keep=False), Role.OUTPUT),
        ]

    def backward_terms(self, dZ: np.ndarray) -> list[Term]:
        """dZ and dX, where each window's gradient goes to its winner alone."""
        return [
            Term("dZ", "", dZ, Role.OUTPUT_GRADIENT),
            Term("dX", "", self.backward(dZ), Role.INPUT_GRADIENT, "each window's dZ goes to its winner alone"),
        ]

    # ---------------------------------------------------------------- ONNX (see _Pool1D.to_onnx)
    onnx_op = "MaxPool"


class AvgPool1D(_Pool1D):
    """The mean of each window of ``kernel_size`` samples, stepping by ``stride``.

    Shapes:  X (n, C, L) -> Z (n, C, L_out),  L_out = ⌊(L − K) / stride⌋ + 1

        Z[n, c, t] = (1/K) Σ_j x[n, c, t·stride + j]

    Backward, given dZ = ∂L/∂Z:   dX[n, c, t·stride + j] += dZ[n, c, t] / K   for every j: a 1/K share each
    """

    def forward(self, X: np.ndarray, training: bool = True, keep: bool = True) -> np.ndarray:
        Z = self._windows(X).mean(axis=-1)
        if keep:
            self._cache, self._out_shape = X, Z.shape
        return Z

    def backward(self, dZ: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        X = self._cached(dZ)
        if not need_input_grad:
            return None
        dX = np.zeros(X.shape, dtype=dZ.dtype)
        share = dZ / dZ.dtype.type(self.kernel_size)
        for positions in self._taps(dZ.shape[-1]):
            dX[..., positions] += share
        return dX

    def forward_terms(self) -> list[Term]:
        """The last kept forward: X and Z, each window's mean."""
        X = self.kept()
        K = self.kernel_size
        return [
            Term("X", "", X, Role.INPUT),
            Term("Z", f"(1/{K})·Σ over each window", self.forward(X, keep=False), Role.OUTPUT),
        ]

    def backward_terms(self, dZ: np.ndarray) -> list[Term]:
        """dZ, the 1/K share each input of a window gets, and dX, the sum of an input's shares."""
        share = dZ / dZ.dtype.type(self.kernel_size)
        return [
            Term("dZ", "", dZ, Role.OUTPUT_GRADIENT),
            Term(
                f"dZ/{self.kernel_size}", "", share, Role.INTERMEDIATE_GRADIENT, "the share each input of a window gets"
            ),
            Term(
                "dX",
                "",
                self.backward(dZ),
                Role.INPUT_GRADIENT,
                "the sum of the shares of every window that read each input",
            ),
        ]

    # ---------------------------------------------------------------- ONNX (see _Pool1D.to_onnx)
    onnx_op = "AveragePool"


class GlobalAvgPool1D(Layer):
    """The mean of each channel over the whole length.

    Shapes:  X (n, C, L) -> Z (n, C)        Z[n, c] = (1/L) Σᵢ x[n, c, i]

    Backward, given dZ = ∂L/∂Z:   dX[n, c, i] = dZ[n, c] / L   for every i
    """

    @classmethod
    def example(cls) -> tuple[Layer, tuple[int, ...]]:
        return cls(), (3, 8)

    @property
    def input_shape(self) -> None:
        return None

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(in_shape) != 2 or in_shape[1] < 1:
            raise ValueError(f"{self!r} expects (channels, length) per sample; received {tuple(in_shape)}.")
        return (in_shape[0],)

    def forward(self, X: np.ndarray, training: bool = True, keep: bool = True) -> np.ndarray:
        check_signal(self, X, None, self.n_models)
        Z = X.mean(axis=-1)
        if keep:
            self._cache, self._out_shape = X, Z.shape
        return Z

    def backward(self, dZ: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        in_shape = self._cached(dZ).shape
        if not need_input_grad:
            return None
        return np.broadcast_to((dZ / dZ.dtype.type(in_shape[-1]))[..., None], in_shape).copy()

    def forward_terms(self) -> list[Term]:
        """x and z, each channel's mean over the length."""
        X = self.kept()
        L = X.shape[-1]
        return [
            Term("x", "", X, Role.INPUT),
            Term("z", f"(1/{L})·Σᵢ x", X.mean(axis=-1), Role.OUTPUT, "each channel's mean"),
        ]

    def backward_terms(self, dZ: np.ndarray) -> list[Term]:
        """∂L/∂z, and ∂L/∂x: each position's 1/L share of its channel's ∂L/∂z."""
        L = self.kept().shape[-1]
        return [
            Term("∂L/∂z", "", dZ, Role.OUTPUT_GRADIENT),
            Term("∂L/∂x", f"∂L/∂z / {L}", self.backward(dZ), Role.INPUT_GRADIENT, "at every position"),
        ]

    # ---------------------------------------------------------------- ONNX (see Layer.to_onnx, Layer.from_onnx)
    def to_onnx(self, g: Any, x: str, name: str) -> str:
        """GlobalAveragePool, whose (N, C, 1) a Flatten makes (N, C)."""
        return g.node("Flatten", [g.node("GlobalAveragePool", [x], f"{name}/GlobalAveragePool")], name, axis=1)

    @classmethod
    def onnx_ops(cls) -> frozenset[str]:
        from ..onnx.signals import GLOBAL_MEAN_OPS

        return GLOBAL_MEAN_OPS

    @classmethod
    def from_onnx(cls, node: Any, graph: Any) -> Any:
        """A mean over the length: GlobalAveragePool, a ReduceMean over the last axis, or PyTorch's
        Unsqueeze → ReduceMean → Squeeze, each with the Flatten, Reshape or Squeeze that drops the 1."""
        from ..onnx.signals import global_mean

        found = global_mean(node, graph)
        return None if found is None else node.read(cls(), *found)
