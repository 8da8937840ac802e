"""Dropout: inverted dropout, active in training mode only."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Layer, check_input


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

    def __init__(self, rate: float = 0.5) -> None:
        super().__init__()
        ok = isinstance(rate, (int, float, np.floating)) and not isinstance(rate, bool) and 0.0 <= rate < 1.0
        if not ok:
            raise ValueError(f"Dropout rate must be in [0, 1); received rate={rate!r}.")
        self.rate = float(rate)

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

    def forward_terms(self) -> dict[str, np.ndarray]:
        """The last kept forward's numbers, labelled: its input, mask, scale 1/(1 − p) and output."""
        X, scale = self.kept()
        if scale is None:
            return {"X": X, "Y = X (inference: identity)": X}
        return {
            "X": X,
            "m (1 kept, 0 dropped)": (scale != 0).astype(X.dtype),
            "1/(1 − p)": np.asarray(1.0 / (1.0 - self.rate), dtype=X.dtype),
            "Y = X ∘ m/(1 − p)": X * scale,
        }

    def backward_terms(self, dY: np.ndarray) -> dict[str, np.ndarray]:
        """dY and dX = dY ∘ m/(1 − p) for the last kept forward, labelled."""
        _, scale = self._cached(dY)
        if scale is None:
            return {"dY": dY, "dX = dY": dY}
        return {"dY": dY, "dX = dY ∘ m/(1 − p)": dY * scale}

    def get_config(self) -> dict[str, Any]:
        return {"type": "Dropout", "rate": self.rate}

    @classmethod
    def _config_args(cls, config: dict[str, Any]) -> dict[str, Any]:
        rate = config.get("rate")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
            raise ValueError(f"a Dropout layer has rate {rate!r}; rates are numbers in [0, 1).")
        return {"rate": float(rate)}

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
