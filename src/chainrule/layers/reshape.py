"""Flatten: each sample's (C, L) signal as one feature vector, for the Dense layers after convolutions."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import Layer
from .terms import Role, Term


class Flatten(Layer):
    """Each sample's array laid out as one row, in row-major (C order, as PyTorch's ``flatten``).

    Shapes:  X (n, C, L) -> Z (n, C·L),   Z[n, c·L + i] = X[n, c, i]
    (in an Ensemble both gain a leading model axis; any per-sample shape flattens the same way)

    Backward, given dZ = ∂L/∂Z:   dX = dZ reshaped to X's shape (no arithmetic: only the layout changes)
    """

    @classmethod
    def example(cls) -> tuple[Layer, tuple[int, ...]]:
        return cls(), (3, 8)

    @property
    def input_shape(self) -> None:
        return None

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(in_shape) < 1 or min(in_shape) < 1:
            raise ValueError(f"{self!r} needs samples with at least one value; received {tuple(in_shape)}.")
        return (math.prod(in_shape),)

    def forward(self, X: np.ndarray, training: bool = True, keep: bool = True) -> np.ndarray:
        if not isinstance(X, np.ndarray) or X.dtype.kind != "f":
            got = f"dtype {X.dtype}" if isinstance(X, np.ndarray) else type(X).__name__
            raise TypeError(f"{self!r}.forward needs a float NumPy array; received {got}.")
        batch_axes = 1 if self.n_models is None else 2
        if X.ndim <= batch_axes:
            raise ValueError(f"{self!r} got input of shape {X.shape}; it needs per-sample axes after the batch axis.")
        Z = X.reshape(*X.shape[:batch_axes], -1)
        if keep:
            self._cache, self._out_shape = X, Z.shape
        return Z

    def backward(self, dZ: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        X = self._cached(dZ)
        return dZ.reshape(X.shape) if need_input_grad else None

    def forward_terms(self) -> list[Term]:
        """x and z, each sample's values laid out as one row."""
        X = self.kept()
        return [
            Term("x", "", X, Role.INPUT),
            Term("z", "x", self.forward(X, keep=False), Role.OUTPUT, "each sample laid out as one row"),
        ]

    def backward_terms(self, dZ: np.ndarray) -> list[Term]:
        """∂L/∂z, and ∂L/∂x: the same numbers in x's shape."""
        return [
            Term("∂L/∂z", "", dZ, Role.OUTPUT_GRADIENT),
            Term("∂L/∂x", "∂L/∂z", self.backward(dZ), Role.INPUT_GRADIENT, "laid back out in x's shape"),
        ]

    # ---------------------------------------------------------------- ONNX (see Layer.to_onnx, Layer.from_onnx)
    def to_onnx(self, g: Any, x: str, name: str) -> str:
        return g.node("Flatten", [x], name, axis=1)

    @classmethod
    def onnx_ops(cls) -> frozenset[str]:
        return frozenset({"Flatten", "Reshape"})

    @classmethod
    def from_onnx(cls, node: Any, graph: Any) -> Any:
        """Flatten(axis=1), or a Reshape to (N, −1), (0, −1) or (−1, C·L), on signals (on a table both do nothing)."""
        from ..onnx.signals import flattens

        if not graph.signals:
            return None
        return node.read(cls(), flattens(node, graph.constants, graph.batch))

    def onnx_redundant_after(self, previous: Layer | None) -> bool:
        return isinstance(previous, Flatten)
