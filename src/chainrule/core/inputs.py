"""What a model checks of its input (building itself from the first batch if need be), and its summary table.

Both are ``Sequential`` methods, kept here so that ``model.py`` holds the data path alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .._validate import check_array, table
from ..io import sample_values
from ..layers.checks import check_indices

if TYPE_CHECKING:
    from .model import Sequential

CHUNK_VALUES = 1 << 22  # the values a chunk of rows may take at any layer while predicting: 32 MiB of float64


def check_input(self: Sequential, X: Any, name: str = "X") -> np.ndarray:
    """X as an array holding samples of the model's input shape (building the model from it if need be).

    Values are cast to the model's dtype; integer indices, for a first layer that takes them, are kept.
    """
    first = self.layers[0]
    if first.input_kind == "index":
        X = check_indices(first, X, name)
    else:
        X = check_array(X, name, dtype=self.dtype, ndim=None if self.in_shape is None or
                        len(self.in_shape) != 1 else 2)  # fmt: skip
    if self.in_shape is None:
        if X.ndim < 2 - (first.input_kind == "index"):  # one index per sample: (n,)
            raise ValueError(f"{name} has shape {X.shape}; a batch is (n_samples, *per-sample shape).")
        self.build(X.shape[1:], f" (samples of shape {X.shape[1:]} in {name})")
    shape = self.in_shape
    if X.shape[1:] == shape:
        return X
    if len(shape) == 1 and X.ndim == 2:
        raise ValueError(f"{name} has {X.shape[1]} features (shape {X.shape}) but the model's first layer "
                         f"{first!r} expects {shape[0]}.")  # fmt: skip
    fix = f" Reshape it to (n, 1, {X.shape[1]}): {name}[:, None, :]." if X.ndim == 2 and shape[0] == 1 else ""
    raise ValueError(f"{name} has shape {X.shape} but the model's first layer {first!r} expects "
                     f"(n_samples, {', '.join(map(str, shape))}).{fix}")  # fmt: skip


def summary(self: Sequential, X: Any = None) -> str:
    """A table of layers, output shapes and parameter counts, and how the loss meets the output.

    ``X``, a batch, builds a model whose first layer fixes no input shape (otherwise its shapes read "?").
    """
    if X is not None and self.in_shape is None:
        self.check_input(X)
    counts = [sum(p.size for p in layer.params.values()) // (self.n_models or 1) for layer in self.layers]
    shapes = [", ".join(map(str, layer.out_shape)) if layer.out_shape is not None else "?" for layer in self.layers]
    lines = table([("layer", "output shape", "params")] + [
        (f"{i}: {layer!r}", f"(None, {shape})", f"{count:,}")
        for i, (layer, shape, count) in enumerate(zip(self.layers, shapes, counts))])  # fmt: skip
    lines.append(f"total parameters: {sum(counts):,} ({self.dtype})")
    if self.in_shape is None:
        lines.append("input shape: from the first batch (fit, predict, evaluate, explain or summary(X))")
    if self.loss_ is not None:
        lines.append(self.objective(self.loss_).describe())
    return "\n".join(lines)


def infer(self: Sequential, X: np.ndarray) -> np.ndarray:
    """The inference-mode forward of checked X, over chunks of rows small enough that no layer holds more than
    ``CHUNK_VALUES`` values at once (one row at least), joined: long signals or many rows keep a bounded
    working memory. Inference treats each row alone (running statistics, no dropout), so chunks change nothing
    but rounding (BLAS may take another kernel for another number of rows).
    """
    rows = max(1, CHUNK_VALUES // (sample_values(self) * (self.n_models or 1)))
    if len(X) <= rows:
        return self.forward(X, training=False, keep=False)
    parts = [self.forward(X[i : i + rows], training=False, keep=False) for i in range(0, len(X), rows)]
    return np.concatenate(parts, axis=0 if self.n_models is None else 1)
