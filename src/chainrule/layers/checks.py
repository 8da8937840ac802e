"""The checks a layer makes of what it is given: its input, integer indices, and starting parameter values."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_input(layer: Any, X: Any) -> None:
    """Raise a clear error unless X is a float array holding samples of the layer's input shape.

    The shape is the one ``build`` fixed (or the layer's own ``input_shape`` before that; with neither, any
    float array of at least two axes passes), behind the batch axis and, in an Ensemble, the model axis.
    """
    sample = layer.in_shape
    if sample is None:
        sample = layer.input_shape
    if X.__class__ is not np.ndarray and not isinstance(X, np.ndarray) or X.dtype.kind != "f":
        raise bad_input(layer, X)
    if sample is None:
        if X.ndim < 2:
            raise bad_input(layer, X)
    elif X.shape[-len(sample) :] != sample or X.ndim != len(sample) + (1 if layer.n_models is None else 2):
        raise bad_input(layer, X)


def check_indices(layer: Any, X: Any, name: str = "X") -> np.ndarray:
    """X as an integer array of indices for a layer whose ``input_kind`` is "index"; TypeError naming the layer.

    Floats are refused even where they hold whole numbers: an index computed in floating point may have
    rounded, and silently truncating it would look up the wrong row.
    """
    A = np.asarray(X)
    if A.dtype.kind not in "iu":
        what = f"{A.dtype} values" if A.dtype.kind != "O" else "objects"
        raise TypeError(
            f"{layer!r} takes integer indices; {name} holds {what}. "
            f"Pass an integer array, e.g. {name}.astype(np.int64) if its values are whole numbers."
        )
    return A


def bad_input(layer: Any, X: Any) -> Exception:
    """The error for an input that is not a float array of the layer's input shape."""
    if not isinstance(X, np.ndarray):
        return TypeError(
            f"{layer!r}.forward needs a NumPy array; received {type(X).__name__}. "
            "Convert it first, e.g. np.asarray(X, dtype=np.float64)."
        )
    if X.dtype.kind != "f":
        return TypeError(f"{layer!r} got input of dtype {X.dtype}; it needs floats, e.g. X.astype(np.float64).")
    sample = layer.in_shape or layer.input_shape
    inner = ", ".join(map(str, sample)) if sample is not None else "n_features"
    lead = "n_models, " if layer.n_models is not None else ""
    return ValueError(f"{layer!r} got input of shape {X.shape}; it expects ({lead}n_samples, {inner}).")


def check_given(layer: str, name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A parameter value a user gave, checked: real numbers, the expected shape, finite."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{layer} got {name} of dtype {arr.dtype}; it needs real numbers of shape {shape}.")
    if arr.shape != shape:
        raise ValueError(f"{layer} got {name} of shape {arr.shape}; expected {shape}.")
    if not np.isfinite(arr).all():
        raise ValueError(f"{layer} got {name} containing NaN or infinity; it needs finite numbers of shape {shape}.")
    return arr.astype(np.float64)
