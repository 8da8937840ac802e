"""Numerically stable primitives shared by activations and losses.

None of these functions mutates its input, none overflows for any finite
input, and each keeps the dtype of its argument.
"""

from __future__ import annotations

import functools

import numpy as np


@functools.cache
def _exp_limit(dtype: np.dtype) -> float:
    """The largest t with exp(t) finite in ``dtype``."""
    return float(np.floor(np.log(np.finfo(dtype).max)))


def as_float(z) -> np.ndarray:
    """``z`` as a floating array (integers and bools become float64; floats keep their dtype)."""
    z = np.asarray(z)
    return z if z.dtype.kind == "f" else z.astype(np.float64)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e⁻ᶻ), exact to rounding and overflow-free for any finite z.

    e⁻ᶻ is capped below the dtype's overflow point; there 1/(1 + e⁻ᶻ) is already
    below the smallest normal number, so the cap changes nothing visible.
    """
    z = as_float(z)
    t = np.negative(z)
    np.minimum(t, _exp_limit(z.dtype), out=t)
    np.exp(t, out=t)
    t += 1.0
    return np.reciprocal(t, out=t)


def log_sigmoid(z: np.ndarray) -> np.ndarray:
    """log σ(z) = −softplus(−z) = min(z, 0) − log1p(e^−|z|)."""
    return np.minimum(z, 0) - np.log1p(np.exp(-np.abs(z)))


def softplus(z: np.ndarray) -> np.ndarray:
    """softplus(z) = log(1 + eᶻ) = log(e⁰ + eᶻ): NumPy's logaddexp, which factors out the larger term."""
    return np.logaddexp(0, z)


def logsumexp(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """log Σⱼ exp(zⱼ) along ``axis`` (kept as a size-1 axis), shifted by the row max."""
    m = np.max(z, axis=axis, keepdims=True)
    return m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """log softmax(z) = (z − max z) − log Σⱼ exp(zⱼ − max z).

    Subtracting the max first keeps the result exact for large |z|: z − logsumexp(z)
    would round the sum m + log(…) to the spacing of m (1e-3 at 1e4 in float32).
    """
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """softmax(z)ⱼ = exp(zⱼ − max z) / Σₖ exp(zₖ − max z)."""
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    e /= np.sum(e, axis=axis, keepdims=True)
    return e
