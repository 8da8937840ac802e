"""Sliding windows along the last axis: the shape arithmetic and checks Conv1D and the pooling layers share."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_size(value: Any, layer: str, name: str, minimum: int = 1) -> int:
    """``value`` as an int ≥ ``minimum``; ValueError naming the layer, the argument and what it received."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        need = "a positive integer" if minimum == 1 else f"an integer ≥ {minimum}"
        raise ValueError(f"{layer} {name} must be {need}; received {name}={value!r}.")
    return int(value)


def output_length(layer: Any, length: int, span: int, stride: int, padding: int = 0) -> int:
    """Positions a window ``span`` long visits stepping by ``stride`` over ``length`` (+ ``padding`` in all).

        L_out = ⌊(L + padding − span) / stride⌋ + 1

    ValueError naming ``layer`` and the length when the window does not fit even once.
    """
    padded = length + padding
    if length < 1 or padded < span:
        where = f"length {length}" + (f" (padded to {padded})" if padding else "")
        raise ValueError(
            f"{layer!r} gets signals of {where} but its window spans {span} samples, so its output length "
            f"would be below 1; use a shorter kernel, more padding, or fewer downsampling layers before it."
        )
    return (padded - span) // stride + 1


def check_signal(layer: Any, X: Any, channels: int | None, n_models: int | None) -> None:
    """Raise unless ``X`` is a float array (n, C, L), or (M or 1, n, C, L) in an Ensemble, with ``channels`` C."""
    lead = "(n_samples, " if n_models is None else "(n_models or 1, n_samples, "
    expected = f"{lead}{'channels' if channels is None else channels}, length)"
    if not isinstance(X, np.ndarray):
        raise TypeError(f"{layer!r}.forward needs a NumPy array of shape {expected}; received {type(X).__name__}.")
    if X.dtype.kind != "f":
        raise TypeError(f"{layer!r} got input of dtype {X.dtype}; it needs floats, e.g. X.astype(np.float64).")
    ndim = 3 if n_models is None else 4
    if X.ndim == ndim - 1 and channels == 1:
        raise ValueError(
            f"{layer!r} got input of shape {X.shape}; it expects {expected}. A batch of single-channel signals "
            f"needs a channel axis: reshape it with X.reshape({', '.join(map(str, X.shape[:-1]))}, 1, {X.shape[-1]})."
        )
    if X.ndim != ndim or (channels is not None and X.shape[-2] != channels):
        raise ValueError(f"{layer!r} got input of shape {X.shape}; it expects {expected}.")
