"""Embedding: a learned vector for each token, looked up by integer index."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Layer
from .checks import check_indices
from .spec import INIT, SIZE, Arg, Param
from .terms import Role, Term


class Embedding(Layer):
    """A table of ``n_tokens`` learned vectors of length ``dim``; each integer index picks its row.

    Shapes:  X (n,) or (n, T) integer indices in [0, n_tokens),  W (n_tokens, dim)
             -> Z (n, dim) or (n, T, dim),   Z[i, t] = W[X[i, t]]
    (in an Ensemble: W (M, n_tokens, dim), Z (M, n, T, dim); the indices are shared)

    Backward, given dZ = ∂L/∂Z: a looked-up row is a copy, so its gradient is dZ at that position, and a
    token seen several times collects the sum:

        dW[k] = Σ_(i, t : X[i, t] = k) dZ[i, t]        (rows of tokens not in the batch get zero)

    Indices have no gradient: the layer takes integers (``input_kind`` "index"), which a model never
    casts and gradcheck never perturbs. ``init`` names the table's initialiser (default N(0, 1), as
    PyTorch's nn.Embedding); ``W`` gives starting values.
    """

    args = (Arg("n_tokens", SIZE), Arg("dim", SIZE), Arg("init", INIT, "normal", shown=False))
    param_specs = (Param("W", lambda a: (a.n_tokens, a.dim), "weights", fans=lambda a: (a.n_tokens, a.dim)),)
    input_kind = "index"

    def __init__(self, n_tokens: int, dim: int, init: str | Any = "normal", *, W: Any = None) -> None:
        super().__init__(n_tokens=n_tokens, dim=dim, init=init, W=W)

    @classmethod
    def example(cls) -> tuple[Layer, tuple[int, ...]]:
        return cls(6, 3), (4,)

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(in_shape) > 1:
            raise ValueError(f"{self!r} takes one index per sample, or a sequence (T,); received {tuple(in_shape)}.")
        return (*in_shape, self.dim)

    def forward(self, X: np.ndarray, training: bool = True, keep: bool = True) -> np.ndarray:
        X = self.check_indices(X)
        W = self.params["W"]
        Z = W[X] if self.n_models is None else W[:, X[0]]  # (n, T, dim); (M, n, T, dim) in an Ensemble
        if keep:
            self._cache, self._out_shape = X, Z.shape
        return Z

    def backward(self, dZ: np.ndarray, need_input_grad: bool = True) -> None:
        X = self._cached(dZ)
        dW = self.grads["W"]
        dW[...] = 0
        rows = X.reshape(-1) if self.n_models is None else X[0].reshape(-1)
        flat = dZ.reshape(-1, self.dim) if self.n_models is None else dZ.reshape(self.n_models, -1, self.dim)
        np.add.at(dW, rows if self.n_models is None else (slice(None), rows), flat)  # repeated rows add up
        return None

    def forward_terms(self) -> list[Term]:
        """The last kept forward: the indices x, the table W and z = W[x], each index's row."""
        X = self.kept()
        return [
            Term("x", "", X, Role.INPUT, "token indices"),
            Term("W", "", self.params["W"], Role.WEIGHT, param="W"),
            Term("z", "W[x]", self.forward(X, keep=False), Role.OUTPUT, "each index's row"),
        ]

    def backward_terms(self, dZ: np.ndarray) -> list[Term]:
        """dz, the rows the batch looked up with their gradients (every other row's is zero), and ∂L/∂W.

        Fills the gradients as ``backward`` does.
        """
        self.backward(dZ)
        dW, rows = self.grads["W"], self.rows_used()
        return [
            Term("dz", "", dZ, Role.OUTPUT_GRADIENT),
            Term("k", "", rows, Role.INDEX, "the rows the batch looked up"),
            Term("∂L/∂W[k]", "Σ dz over the positions whose index is k", dW[..., rows, :], Role.WEIGHT_GRADIENT_ENTRY,
                 param="W"),
            Term("∂L/∂W", "", dW, Role.WEIGHT_GRADIENT, "zero in every row not looked up", param="W"),
        ]  # fmt: skip

    def check_indices(self, X: Any) -> np.ndarray:
        """X as integer indices in [0, n_tokens); TypeError for floats, ValueError naming the first bad index."""
        X = check_indices(self, X)
        bad = (X < 0) | (X >= self.n_tokens)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{self!r} got index {X[where]} at position {where}; indices run from 0 to {self.n_tokens - 1}. "
                f"Make the table larger (Embedding({int(X.max()) + 1}, {self.dim})) or map unknown tokens to "
                "an index of their own."
            )
        return X

    def rows_used(self) -> np.ndarray:
        """The table rows the last kept forward looked up (the only rows whose gradient can be non-zero)."""
        X = self.kept()
        return np.unique(X)

    # ------------------------------------------------------------------ ONNX
    def to_onnx(self, g: Any, x: str, name: str) -> str:
        """Gather(W, x) along the table's rows (the model's input is then int64 indices)."""
        return g.node("Gather", [g.const(f"{name}.W", self.params["W"]), x], name, axis=0)

    @classmethod
    def onnx_ops(cls) -> frozenset[str]:
        return frozenset({"Gather"})

    @classmethod
    def from_onnx(cls, node: Any, graph: Any) -> Any:
        """Gather(table, indices) with a constant 2-D table, along axis 0: what torch.onnx writes for nn.Embedding."""
        table = graph.constants.get(node.inputs[0]) if node.inputs else None
        if table is None or table.ndim != 2 or node.attrs.get("axis", 0) != 0:
            raise node.refuse("must gather rows (axis 0) of a constant 2-D table, as an embedding does.")
        return node.read(cls(*table.shape, W=table), node.computed_input(graph, 1))
