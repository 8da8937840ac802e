"""Weight initialisers: functions ``init(shape, rng, dtype, fan_in, fan_out) -> ndarray``.

The layer gives fan_in and fan_out (Dense: n_in and n_out), never the shape: an Ensemble's weights lead
with a model axis, which is no fan. Left out, they are read from a (fan_in, fan_out) shape.

==============  ======================================  ==========================
name            distribution                            suits
==============  ======================================  ==========================
glorot_uniform  U(−√(6/(fan_in+fan_out)), +…)           sigmoid, tanh, softmax
glorot_normal   N(0, 2/(fan_in+fan_out))                sigmoid, tanh, softmax
he_uniform      U(−√(6/fan_in), +…)                     ReLU, LeakyReLU
he_normal       N(0, 2/fan_in)                          ReLU, LeakyReLU
lecun_uniform   U(−√(3/fan_in), +…)                     SELU-like, linear
lecun_normal    N(0, 1/fan_in)                          SELU-like, linear
zeros           0                                       biases
uniform         U(0, 1)                                 nothing: the seed project's
                                                        all-positive start, kept to
                                                        show why it fails
==============  ======================================  ==========================

Every draw comes from the ``numpy.random.Generator`` passed in; nothing
touches NumPy's global random state.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Initializer = Callable[..., np.ndarray]  # (shape, rng, dtype, fan_in, fan_out) -> array of that shape


def _fans(shape: tuple[int, ...], fan_in: int | None, fan_out: int | None) -> tuple[int, int]:
    if fan_in is None or fan_out is None:
        fan_in = shape[0] if len(shape) >= 1 else 1
        fan_out = shape[1] if len(shape) >= 2 else shape[0]
    return fan_in, fan_out


def _uniform(limit: float, shape, rng, dtype) -> np.ndarray:
    return rng.uniform(-limit, limit, size=shape).astype(dtype, copy=False)


def _normal(std: float, shape, rng, dtype) -> np.ndarray:
    return (rng.standard_normal(size=shape) * std).astype(dtype, copy=False)


def glorot_uniform(shape, rng, dtype=np.float64, fan_in=None, fan_out=None) -> np.ndarray:
    fan_in, fan_out = _fans(shape, fan_in, fan_out)
    return _uniform(np.sqrt(6.0 / (fan_in + fan_out)), shape, rng, dtype)


def glorot_normal(shape, rng, dtype=np.float64, fan_in=None, fan_out=None) -> np.ndarray:
    fan_in, fan_out = _fans(shape, fan_in, fan_out)
    return _normal(np.sqrt(2.0 / (fan_in + fan_out)), shape, rng, dtype)


def he_uniform(shape, rng, dtype=np.float64, fan_in=None, fan_out=None) -> np.ndarray:
    return _uniform(np.sqrt(6.0 / _fans(shape, fan_in, fan_out)[0]), shape, rng, dtype)


def he_normal(shape, rng, dtype=np.float64, fan_in=None, fan_out=None) -> np.ndarray:
    return _normal(np.sqrt(2.0 / _fans(shape, fan_in, fan_out)[0]), shape, rng, dtype)


def lecun_uniform(shape, rng, dtype=np.float64, fan_in=None, fan_out=None) -> np.ndarray:
    return _uniform(np.sqrt(3.0 / _fans(shape, fan_in, fan_out)[0]), shape, rng, dtype)


def lecun_normal(shape, rng, dtype=np.float64, fan_in=None, fan_out=None) -> np.ndarray:
    return _normal(np.sqrt(1.0 / _fans(shape, fan_in, fan_out)[0]), shape, rng, dtype)


def zeros(shape, rng=None, dtype=np.float64, fan_in=None, fan_out=None) -> np.ndarray:
    return np.zeros(shape, dtype=dtype)


def normal(shape, rng, dtype=np.float64, fan_in=None, fan_out=None) -> np.ndarray:
    """N(0, 1), whatever the fans: an embedding table's start, as in PyTorch's nn.Embedding."""
    return rng.standard_normal(size=shape).astype(dtype, copy=False)


def uniform(shape, rng, dtype=np.float64, fan_in=None, fan_out=None) -> np.ndarray:
    """U(0, 1): every weight positive, so hidden units start alike and saturate together."""
    return rng.uniform(0.0, 1.0, size=shape).astype(dtype, copy=False)


INITIALIZERS: dict[str, Initializer] = {
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "xavier_uniform": glorot_uniform,
    "xavier_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "kaiming_uniform": he_uniform,
    "kaiming_normal": he_normal,
    "lecun_uniform": lecun_uniform,
    "lecun_normal": lecun_normal,
    "zeros": zeros,
    "normal": normal,
    "uniform": uniform,
}

# The initialiser of a Dense layer that no activation follows; one that is followed gets the
# activation's own ``init`` (He for the ReLU family, Glorot otherwise).
DEFAULT_INIT = "glorot_uniform"


def get_initializer(name: str | Initializer) -> Initializer:
    """The initialiser called ``name`` (a callable passes through)."""
    from .._validate import lookup

    return name if callable(name) else lookup("initializer", name, INITIALIZERS)
