"""Dropout: inverted dropout, active in training mode only."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Layer
from .checks import check_input
from .spec import RATE, Arg
from .terms import Role, Term


class Dropout(Layer):
    """Inverted dropout: each value is kept with probability 1 − p and scaled by 1/(1 − p).

    Shapes:  X (n, *shape) -> Y (n, *shape)   (any per-sample shape; an Ensemble adds its model axis,
    and every member draws its own mask)

    Forward, p = ``rate``, m a mask of independent draws, mᵢ = 1 with probability 1 − p, else 0:

        training:   Y = X ∘ m / (1 − p)        the expected value of Y is X
        inference:  Y = X                      nothing to rescale: that is what "inverted" buys

    Backward, given dY = ∂L/∂Y:

        training:   dX = dY ∘ m / (1 − p)      the same mask: a dropped value passes no gradient
        inference:  dX = dY

    The mask is drawn from ``self.generator()`` (the model's generator), so a
    seeded fit draws the same masks again, and gradcheck can freeze them.
    """

    args = (Arg("rate", RATE, 0.5),)
    keeps_shape = True
    modes_differ = True

    def __init__(self, rate: float = 0.5) -> None:
        super().__init__(rate=rate)

    @classmethod
    def example(cls) -> tuple[Layer, tuple[int, ...]]:
        return cls(0.3), (4,)

    def forward(self, X: np.ndarray, training: bool = True, keep: bool = True) -> np.ndarray:
        check_input(self, X)
        scale = self.draw_scale(X) if training and self.rate > 0 else None
        Y = X if scale is None else X * scale
        if keep:
            self._cache, self._out_shape = (X, scale), Y.shape
        return Y

    def backward(self, dY: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        _, scale = self._cached(dY)
        if not need_input_grad:
            return None
        return dY if scale is None else dY * scale

    def draw_scale(self, X: np.ndarray) -> np.ndarray:
        """m / (1 − p) for one forward pass: a fresh mask, one per member in an Ensemble, in X's dtype."""
        shape = X.shape if self.n_models is None else (self.n_models, *X.shape[1:])
        kept = self.generator().random(shape) >= self.rate  # P(kept) = 1 − p
        return kept.astype(X.dtype) / X.dtype.type(1.0 - self.rate)

    def forward_terms(self) -> list[Term]:
        """The last kept forward: its input, mask, scale 1/(1 − p) and output."""
        X, scale = self.kept()
        if scale is None:
            return [Term("X", "", X, Role.INPUT), Term("Y", "X", X, Role.OUTPUT, "inference: identity")]
        return [
            Term("X", "", X, Role.INPUT),
            Term("m", "", (scale != 0).astype(X.dtype), Role.MASK, "1 kept, 0 dropped"),
            Term("1/(1 − p)", "", np.asarray(1.0 / (1.0 - self.rate), dtype=X.dtype), Role.CONSTANT),
            Term("Y", "X ∘ m/(1 − p)", X * scale, Role.OUTPUT),
        ]

    def backward_terms(self, dY: np.ndarray) -> list[Term]:
        """dY and dX = dY ∘ m/(1 − p) for the last kept forward."""
        _, scale = self._cached(dY)
        if scale is None:
            return [Term("dY", "", dY, Role.OUTPUT_GRADIENT), Term("dX", "dY", dY, Role.INPUT_GRADIENT)]
        return [Term("dY", "", dY, Role.OUTPUT_GRADIENT), Term("dX", "dY ∘ m/(1 − p)", dY * scale, Role.INPUT_GRADIENT)]

    def __repr__(self) -> str:
        return f"Dropout({self.rate:g})"

    # ---------------------------------------------------------------- ONNX (see Layer.to_onnx, Layer.from_onnx)
    def to_onnx(self, g: Any, x: str, name: str) -> str:
        """Nothing: inference is the identity."""
        return x

    @classmethod
    def onnx_ops(cls) -> frozenset[str]:
        return frozenset({"Dropout"})

    @classmethod
    def from_onnx(cls, node: Any, graph: Any) -> Any:
        """An inference-mode Dropout node, as a Dropout of its ratio."""
        from ..onnx.graph import dropout_ratio

        return node.read(cls(dropout_ratio(node, graph.constants)), node.computed_input(graph))
