"""Dense: the fully connected layer, z = x·W + b."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validate import check_positive_int
from . import initializers
from .base import UNOWNED_DRAWS, Layer, check_given, check_input, initialize_weights


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

    def __init__(self, n_in: int, n_out: int, init: str | Any = None, *, W: Any = None, b: Any = None) -> None:
        super().__init__()
        self.n_in = check_positive_int(n_in, "Dense n_in")
        self.n_out = check_positive_int(n_out, "Dense n_out")
        if init is not None and not callable(init):
            initializers.get_initializer(init)  # fail now on a typo, not at build time
        self.init = init
        given = {
            name: check_given(repr(self), name, value, shape)
            for name, value, shape in (("W", W, (self.n_in, self.n_out)), ("b", b, (self.n_out,)))
            if value is not None
        }
        self.params = {"W": np.zeros((self.n_in, self.n_out)), "b": np.zeros(self.n_out)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._ones = np.ones(0)  # a column of ones as long as the batch, for db (kept between calls)
        self.initialize(UNOWNED_DRAWS)  # usable on its own; a model redraws these from its seed
        self._drawn = {name: p.copy() for name, p in self.params.items()}
        for name, value in given.items():
            self.params[name][...] = value
            del self._drawn[name]

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

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.n_in,)

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        if in_shape != (self.n_in,):
            got = f"gets {in_shape[0]}" if len(in_shape) == 1 else f"gets samples of shape {in_shape}"
            fix = f"make it Dense({in_shape[0]}, {self.n_out})" if len(in_shape) == 1 else "put a Flatten() before it"
            raise ValueError(f"{self!r} expects {self.n_in} inputs per sample but {got}; {fix}.")
        return (self.n_out,)

    def fans(self) -> tuple[int, int]:
        return self.n_in, self.n_out

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"W": (self.n_in, self.n_out), "b": (self.n_out,)}

    def initialize(self, rng: np.random.Generator, default_init: str | None = None, names: Any = None) -> None:
        initialize_weights(self, rng, default_init, names)

    def get_config(self) -> dict[str, Any]:
        init = self.init if isinstance(self.init, str) or self.init is None else "custom"
        return {"type": "Dense", "n_in": self.n_in, "n_out": self.n_out, "init": init}

    @classmethod
    def config_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        args = cls._config_args(config)
        return {"W": (args["n_in"], args["n_out"]), "b": (args["n_out"],)}

    @classmethod
    def _config_args(cls, config: dict[str, Any]) -> dict[str, Any]:
        n_in, n_out = config.get("n_in"), config.get("n_out")
        for v in (n_in, n_out):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"a Dense layer has size {v!r}; sizes are positive integers.")
        init = config.get("init")
        return {"n_in": n_in, "n_out": n_out, "init": init if init in initializers.INITIALIZERS else None}

    def __repr__(self) -> str:
        return f"Dense({self.n_in}, {self.n_out})"

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
