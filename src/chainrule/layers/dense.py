"""Dense: the fully connected layer, z = x·W + b."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Layer
from .checks import check_input
from .spec import INIT, SIZE, Arg, Param
from .terms import Role, Term


class Dense(Layer):
    """Fully connected layer: Z = X·W + b.

    Shapes:  X (n, n_in) · W (n_in, n_out) + b (n_out,) -> Z (n, n_out)
    (in an Ensemble every array gains a leading model axis: W (M, n_in, n_out), Z (M, n, n_out))

    Backward, given dZ = ∂L/∂Z (n, n_out):

        dW = Xᵀ·dZ          (n_in, n_out)   each weight collects input × δ over the batch
        db = Σₙ dZ          (n_out,)
        dX = dZ·Wᵀ          (n, n_in)       what the layer below receives

    The batch average is the loss's business: dZ already carries its 1/n.

    ``W`` and ``b`` give the starting values (kept by any model the layer
    joins). Otherwise ``init`` names the weight initialiser (see
    ``chainrule.layers.initializers``) or is a callable ``init(shape, rng, dtype, fan_in, fan_out)``;
    left as None, a Sequential picks the one the next activation suits (He
    for the ReLU family, Glorot otherwise). Biases start at zero.
    """

    args = (Arg("n_in", SIZE), Arg("n_out", SIZE), Arg("init", INIT, None, shown=False))
    param_specs = (
        Param("W", lambda a: (a.n_in, a.n_out), "weights", fans=lambda a: (a.n_in, a.n_out), penalized=True),
        Param("b", lambda a: (a.n_out,), 0.0),
    )

    def __init__(self, n_in: int, n_out: int, init: str | Any = None, *, W: Any = None, b: Any = None) -> None:
        super().__init__(n_in=n_in, n_out=n_out, init=init, W=W, b=b)
        self._ones = np.ones(0)  # a column of ones as long as the batch, for db (kept between calls)

    @classmethod
    def example(cls) -> tuple[Layer, tuple[int, ...]]:
        return cls(4, 3), (4,)

    def forward(self, X: np.ndarray, training: bool = True, keep: bool = True) -> np.ndarray:
        check_input(self, X)
        Z = X @ self.params["W"]  # (n, n_out); (n_models, n, n_out) in an Ensemble
        b = self.params["b"]
        Z += b if self.n_models is None else b[:, None, :]
        if keep:
            self._cache, self._out_shape = X, Z.shape  # what backward needs, and the gradient shape it must get
        return Z

    def backward(self, dZ: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        X = self._cached(dZ)
        np.matmul(X.mT, dZ, out=self.grads["W"])
        np.matmul(self._ones_like_rows(dZ), dZ, out=self.grads["b"])  # Σ over rows as 1ᵀ·dZ: one BLAS call
        return dZ @ self.params["W"].mT if need_input_grad else None

    def _ones_like_rows(self, dZ: np.ndarray) -> np.ndarray:
        ones = self._ones
        if len(ones) != dZ.shape[-2] or ones.dtype != dZ.dtype:
            ones = self._ones = np.ones(dZ.shape[-2], dtype=dZ.dtype)
        return ones

    def forward_terms(self) -> list[Term]:
        """The last kept forward: x, W, b and z = x·W + b."""
        X = self.kept()
        return [
            Term("x", "", X, Role.INPUT),
            Term("W", "", self.params["W"], Role.WEIGHT, param="W"),
            Term("b", "", self.params["b"], Role.BIAS, param="b"),
            Term("z", "x·W + b", self.forward(X, keep=False), Role.OUTPUT),
        ]

    def backward_terms(self, dZ: np.ndarray) -> list[Term]:
        """dz, ∂L/∂W = xᵀ·dz, ∂L/∂b = Σₛ dz and dx = dz·Wᵀ (filling the gradients as ``backward`` does)."""
        dX = self.backward(dZ)
        return [
            Term("dz", "", dZ, Role.OUTPUT_GRADIENT),
            Term("∂L/∂W", "xᵀ·dz", self.grads["W"], Role.WEIGHT_GRADIENT, param="W"),
            Term("∂L/∂b", "Σₛ dz", self.grads["b"], Role.BIAS_GRADIENT, param="b"),
            Term("dx", "dz·Wᵀ", dX, Role.INPUT_GRADIENT),
        ]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.n_in,)

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        if in_shape != (self.n_in,):
            got = f"gets {in_shape[0]}" if len(in_shape) == 1 else f"gets samples of shape {in_shape}"
            fix = f"make it Dense({in_shape[0]}, {self.n_out})" if len(in_shape) == 1 else "put a Flatten() before it"
            raise ValueError(f"{self!r} expects {self.n_in} inputs per sample but {got}; {fix}.")
        return (self.n_out,)

    # ---------------------------------------------------------------- ONNX (see Layer.to_onnx, Layer.from_onnx)
    def to_onnx(self, g: Any, x: str, name: str) -> str:
        """MatMul by W (initializer ``<name>.W``), then Add b (``<name>.b``)."""
        x = g.node("MatMul", [x, g.const(f"{name}.W", self.params["W"])], f"{name}/MatMul")
        return g.node("Add", [x, g.const(f"{name}.b", self.params["b"])], name)

    @classmethod
    def onnx_ops(cls) -> frozenset[str]:
        return frozenset({"MatMul", "Gemm"})

    @classmethod
    def from_onnx(cls, node: Any, graph: Any) -> Any:
        """MatMul(x, W), or Gemm(x, B, C) with alpha, beta and transB folded into W and b."""
        from ..onnx.graph import linear_weights

        W, b, x = linear_weights(node, graph.constants)
        return node.read(cls(*W.shape, W=W, b=b), x)

    def onnx_fold_output(self, scale: np.ndarray, shift: np.ndarray) -> Dense | None:
        """Z·S + t as one Dense: W·S, b·S + t (S a matrix, or a per-column scale)."""
        W, b = self.params["W"], self.params["b"]
        if scale.ndim == 2 and scale.shape[0] == self.n_out and shift.size in (1, scale.shape[1]):
            return Dense(self.n_in, scale.shape[1], W=W @ scale, b=b @ scale + shift)
        if scale.ndim == 1 and scale.size in (1, self.n_out) and shift.size in (1, self.n_out):
            return Dense(self.n_in, self.n_out, W=W * scale, b=b * scale + shift)
        return None

    def onnx_fold_input(self, scale: np.ndarray, shift: np.ndarray) -> Dense | None:
        """(x·s + t)·W + b as one Dense: diag(s)·W, t·W + b."""
        if scale.size not in (1, self.n_in) or shift.size not in (1, self.n_in):
            return None
        s, t = np.broadcast_to(scale, (self.n_in,)), np.broadcast_to(shift, (self.n_in,))
        W, b = self.params["W"], self.params["b"]
        return Dense(self.n_in, self.n_out, W=s[:, None] * W, b=t @ W + b)
