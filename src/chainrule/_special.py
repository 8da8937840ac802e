"""Special functions for the smooth activations: the logistic pair, erf and erfc, the normal cdf and pdf.

NumPy has no erf, so it is computed here from W. J. Cody's rational approximations, good to about one
unit in the last place of a float64; every function keeps the dtype of its input and cannot overflow.
"""

from __future__ import annotations

import numpy as np


def logistic(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """σ(x) and σ(x)·σ(−x) = σ(x)·(1 − σ(x)), both from t = e^−|x|, which cannot overflow.

    σ(x) = 1/(1 + t) for x ≥ 0 and t/(1 + t) below, so it reaches exactly 0 far below zero (z·σ(z)
    is then 0, not z times a capped tiny number), and σ(x)·σ(−x) = t/(1 + t)² never takes 1 − σ(x),
    which would cancel where σ(x) is near 1.
    """
    t = np.exp(-np.abs(X))
    u = t + 1
    s = np.where(X >= 0, 1.0, t)
    s /= u
    t /= u
    t /= u
    return s, t


# W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23 (1969) 631-637,
# with the coefficients of his CALERF (netlib specfun): erf(x) = x·P(x²)/Q(x²) for |x| ≤ 0.5, and beyond
# that erfc(x) = e^−x²·P(x)/Q(x) up to 4, e^−x²/x·(1/√π + R(1/x²)/x²) above. Each is good to about one
# unit in the last place of a float64.
_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02, 3.20937758913846947e03)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03)
_ERF_C = (
    5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02,
    8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
)  # fmt: skip
_ERF_D = (
    1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03,
    3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03,
)  # fmt: skip
_ERF_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
          6.58749161529837803e-4)  # fmt: skip
_ERF_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1, 6.05183413124413191e-2,
          2.33520497626869185e-3)  # fmt: skip
_ERF_A4, _ERF_C8, _ERF_P5 = 1.85777706184603153e-1, 2.15311535474403846e-8, 1.63153871373020978e-2


def _ratio(x: np.ndarray, top: float, num: tuple[float, ...], den: tuple[float, ...]) -> np.ndarray:
    """Cody's rational function in x, evaluated by Horner's rule: numerator from ``top``, denominator monic."""
    p, q = top * x, x.copy()
    for a, b in zip(num[:-1], den[:-1]):
        p += a
        p *= x
        q += b
        q *= x
    p += num[-1]
    q += den[-1]
    p /= q
    return p


def _gauss(x: np.ndarray, c: float) -> np.ndarray:
    """e^(−c·x²) for c = 1 or 1/2, as e^(−c·s²)·e^(−c·(x − s)(x + s)) with s = x cut to 1/16.

    c·s² is exact, so the rounding of x² is not multiplied by x² (Cody's device): the result keeps its
    relative accuracy where it is 1e-300. |x| is capped at 40, where the result is 0 anyway.
    """
    x = np.minimum(np.abs(x), 40.0)
    s = np.trunc(x * 16)
    s *= 1 / 16
    g = np.exp(s * s * -c)
    d = x - s
    d *= (x + s) * -c
    g *= np.exp(d, out=d)
    return g


def _erfc_scaled(y: np.ndarray) -> np.ndarray:
    """e^(y²)·erfc(y) for y > 0.5: Cody's rational functions, without the Gaussian factor."""
    y = np.minimum(y, 40.0)  # erfc is 0 beyond; the cap keeps y² finite
    r = np.empty_like(y)
    mid = y <= 4
    r[mid] = _ratio(y[mid], _ERF_C8, _ERF_C, _ERF_D)
    far = y[~mid]
    inv = 1 / (far * far)
    r[~mid] = (0.5641895835477563 - inv * _ratio(inv, _ERF_P5, _ERF_P, _ERF_Q)) / far  # 1/√π − …
    return r


def _erf_small(x: np.ndarray) -> np.ndarray:
    """erf(x) for |x| ≤ 0.5."""
    return x * _ratio(x * x, _ERF_A4, _ERF_A, _ERF_B)


def erf(X: np.ndarray) -> np.ndarray:
    """The error function, elementwise (NumPy has none), for any finite X."""
    out = np.empty_like(X)
    small = np.abs(X) <= 0.5
    out[small] = _erf_small(X[small])
    x = X[~small]
    y = np.abs(x)
    out[~small] = np.copysign(1 - _erfc_scaled(y) * _gauss(y, 1.0), x)
    return out


def erfc(X: np.ndarray) -> np.ndarray:
    """erfc(x) = 1 − erf(x), elementwise, for any finite X; never 1 − erf(x) where that would cancel."""
    out = np.empty_like(X)
    small = np.abs(X) <= 0.5
    out[small] = 1 - _erf_small(X[small])
    x = X[~small]
    tail = _erfc_scaled(np.abs(x))
    tail *= _gauss(x, 1.0)
    out[~small] = np.where(x > 0, tail, 2 - tail)
    return out


def normal_cdf(Z: np.ndarray) -> np.ndarray:
    """Φ(z) = erfc(−z/√2)/2: through erfc, since (1 + erf(z/√2))/2 cancels below z ≈ −3.

    In the tails the Gaussian factor e^(−z²/2) is taken from z itself, not from the rounded z/√2,
    whose rounding e^(−y²) would multiply by z² (a thousand units in the last place at z = −30).
    """
    Y = Z * 0.7071067811865476  # z/√2
    out = np.empty_like(Z)
    small = np.abs(Y) <= 0.5
    out[small] = 1 + _erf_small(Y[small])
    z = Z[~small]
    tail = _erfc_scaled(np.abs(Y[~small]))
    tail *= _gauss(z, 0.5)
    out[~small] = np.where(z < 0, tail, 2 - tail)
    out *= 0.5
    return out


def normal_pdf(Z: np.ndarray) -> np.ndarray:
    """φ(z) = e^(−z²/2)/√(2π)."""
    pdf = _gauss(Z, 0.5)
    pdf *= 0.3989422804014327
    return pdf
