"""Elementwise work along one row of lanes (the members of an Ensemble): activations, their chain rule, losses.

Each function chooses its formula once, outside the loop over lanes, so the loop body is the formula alone, and
tanh and exp are ``_vmath``'s, which vectorise; NumPy's division by zero (error_model="numpy") keeps the
divisions free of Python's check, which would not.
Every formula mirrors the NumPy class it stands for (``chainrule.layers.activations``, ``chainrule.core.
losses``), operation by operation, in the dtype of its arrays: constants are cast to it, as NumPy casts a
Python number. Activation codes are ``spec.ACTIVATIONS``; loss codes ``spec.LOSSES``.
"""

from __future__ import annotations

import math

from numba import njit

from ._vmath import exp as lane_exp
from ._vmath import log1p_unit as lane_log1p
from ._vmath import tanh as lane_tanh

_SQRT_2_OVER_PI = 0.7978845608028654


@njit(cache=True, error_model="numpy")
def _logistic(x):
    """σ(x) and σ(x)·(1 − σ(x)) from t = e^−|x|, as ``chainrule._special.logistic``."""
    T = type(x)
    t = math.exp(-abs(x))
    u = t + T(1)
    s = (T(1) if x >= 0 else t) / u
    return s, t / u / u


@njit(cache=True, error_model="numpy")
def _gelu_u(z):
    T = type(z)
    zc = min(max(z, T(-1000)), T(1000))
    return (zc * zc * T(0.044715) + T(1)) * zc * T(_SQRT_2_OVER_PI)


@njit(cache=True, error_model="numpy")
def _logaddexp0(z):
    """log(e⁰ + eᶻ) = max(z, 0) + log1p(e^−|z|), as NumPy's logaddexp(0, z) computes it."""
    x = float(z)
    return type(z)(max(x, 0.0) + lane_log1p(lane_exp(-abs(x))) if x == x else x)


@njit(cache=True, error_model="numpy")
def activate(code, alpha, z, a, exp_limit):
    """a = f(z) along a row of lanes, for activation ``code``."""
    T = z.dtype.type
    al, lim = T(alpha), T(exp_limit)
    M = len(z)
    if code == 1:
        for m in range(M):
            a[m] = lane_tanh(float(z[m]))
    elif code == 2:
        for m in range(M):
            a[m] = T(1) / (T(lane_exp(float(min(-z[m], lim)))) + T(1))
    elif code == 3:
        for m in range(M):
            a[m] = z[m] if z[m] > 0 or z[m] != z[m] else T(0)
    elif code == 4:
        for m in range(M):
            a[m] = z[m] if z[m] > 0 else al * z[m]
    elif code == 5:
        for m in range(M):
            a[m] = z[m] if z[m] > 0 else math.expm1(min(z[m], T(0))) * al
    elif code == 6:
        for m in range(M):
            a[m] = z[m] if z[m] > 20 else math.log1p(math.exp(min(z[m], T(20))))
    elif code == 7:
        for m in range(M):
            a[m] = z[m] * _logistic(z[m])[0]
    elif code == 8:
        for m in range(M):
            a[m] = z[m] * (T(0.5) * math.erfc(-z[m] * T(0.7071067811865476)))
    elif code == 9:
        for m in range(M):
            a[m] = z[m] * _logistic(T(2) * _gelu_u(z[m]))[0]
    else:
        a[:] = z


@njit(cache=True, error_model="numpy")
def chain(code, alpha, dA, z, a, dZ):
    """dZ = dA ∘ f'(z) along a row of lanes (dZ may be dA itself), as activation ``code``'s ``chain``."""
    T = z.dtype.type
    al = T(alpha)
    M = len(z)
    if code == 1:
        for m in range(M):
            dZ[m] = (T(1) - a[m] * a[m]) * dA[m]
    elif code == 2:
        for m in range(M):
            dZ[m] = (T(1) - a[m]) * a[m] * dA[m]
    elif code == 3:
        for m in range(M):
            dZ[m] = dA[m] * (T(1) if z[m] > 0 else T(0))
    elif code == 4:
        for m in range(M):
            dZ[m] = dA[m] * (T(1) if z[m] > 0 else al)
    elif code == 5:
        for m in range(M):
            dZ[m] = (T(1) if z[m] > 0 else math.exp(min(z[m], T(0))) * al) * dA[m]
    elif code == 6:
        for m in range(M):
            dZ[m] = dA[m] if z[m] > 20 else dA[m] * _logistic(z[m])[0]
    elif code == 7:
        for m in range(M):
            s, ss = _logistic(z[m])
            dZ[m] = (z[m] * ss + s) * dA[m]
    elif code == 8:
        for m in range(M):
            x = z[m]
            pdf = math.exp(-(x * x) * T(0.5)) * T(0.3989422804014327)
            dZ[m] = (x * pdf + T(0.5) * math.erfc(-x * T(0.7071067811865476))) * dA[m]
    elif code == 9:
        for m in range(M):
            s, ss = _logistic(T(2) * _gelu_u(z[m]))
            zc = min(max(z[m], T(-1000)), T(1000))
            du = zc * zc * T(0.134145 * _SQRT_2_OVER_PI) + T(_SQRT_2_OVER_PI)
            dZ[m] = (du * ss * (T(2) * z[m]) + s) * dA[m]
    else:
        dZ[:] = dA


@njit(cache=True, error_model="numpy")
def loss_row(code, out, t, eps, exp_limit, d, value):
    """One output's loss per lane, added to ``value``, and its gradient into d (losses 0–3: sse, mse, bce on
    probabilities, bce from logits through σ), for target t."""
    T = out.dtype.type
    M = len(out)
    if code == 0:
        for m in range(M):
            diff = out[m] - t
            value[m] += T(0.5) * (diff * diff)
            d[m] = diff
    elif code == 1:
        for m in range(M):
            diff = out[m] - t
            value[m] += diff * diff
            d[m] = T(2) * diff
    elif code == 2:
        lo, hi = T(eps), T(1 - eps)
        for m in range(M):
            pc = min(max(out[m], lo), hi)
            value[m] += -(t * math.log(pc) + (T(1) - t) * math.log1p(-pc))
            d[m] = (pc - t) / (pc * (T(1) - pc))
    else:
        lim = T(exp_limit)
        for m in range(M):
            o = out[m]
            value[m] += _logaddexp0(o) - t * o
            d[m] = T(1) / (T(lane_exp(float(min(-o, lim)))) + T(1)) - t


@njit(cache=True, error_model="numpy")
def softmax_loss_row(out, y, d, value, top, total):
    """Cross-entropy from logits ``out`` (k, M) of one sample, rows y (k,): value += −Σⱼ yⱼ·log softmax(z)ⱼ per
    lane, and d (k, M) = softmax(z)·Σⱼyⱼ − y, as ``chainrule.core.losses._cross_entropy_from_logits``."""
    T = out.dtype.type
    k, M = out.shape
    top[:] = out[0]
    for j in range(1, k):
        for m in range(M):
            top[m] = max(top[m], out[j, m])
    total[:] = 0
    for j in range(k):
        for m in range(M):
            total[m] += math.exp(out[j, m] - top[m])
    y_sum = T(0)
    for j in range(k):
        y_sum += y[j]
    for m in range(M):
        log_total = math.log(total[m])
        e = T(0)
        for j in range(k):
            e += y[j] * ((out[j, m] - top[m]) - log_total)
        value[m] += -e
    for j in range(k):
        for m in range(M):
            d[j, m] = math.exp(out[j, m] - top[m]) / total[m] * y_sum - y[j]
