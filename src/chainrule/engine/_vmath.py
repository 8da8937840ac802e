"""exp and tanh that the compiler can vectorise over lanes: no library call, no branch, float64 throughout.

The library's math.exp and math.tanh are one call per element, which keeps a loop over an Ensemble's members
scalar. These are polynomials and bit operations only, within 1 ulp (exp) and 2 ulp (tanh) of NumPy's over
their whole range, saturation, overflow and subnormal results included (tests/test_engine.py measures them).

    exp(x) = 2ᵏ·eʳ,  k = round(x/ln 2),  r = x − k·ln 2 (in two parts, exact),  |r| ≤ ln 2 / 2
             eʳ by its Taylor series to r¹³ (the first term left out is below 5e-18);
             2ᵏ as two powers of two built from their exponent bits, so that subnormal results round once.
    tanh(x) = x·P(x²) for |x| < 0.55 (its Taylor series to x⁴³: the terms shrink by (2x/π)² ≤ 0.123 each),
              else sign(x)·(1 − 2/(e^2|x| + 1)), whose result is above 0.5 there, so nothing cancels.
    log1p(u) for u in [0, 1]: 2·atanh(t) = 2t + 2t·(t²/3 + t⁴/5 + …), t = u/(2 + u) ≤ 1/3 (to t³⁷: the
              terms shrink by t² ≤ 1/9 each); 1 + u is never formed, so nothing is lost to its rounding.
"""

from __future__ import annotations

from numba import njit, types
from numba.extending import intrinsic

_LOG2E = 1.4426950408889634
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10  # k·_LN2_HI is exact for |k| < 2¹¹
_SHIFT = 6755399441055744.0  # 1.5·2⁵²: x + _SHIFT rounds x to an integer, held in the low bits of the mantissa
_SHIFT_BITS = 4843621399236968448  # the bits of _SHIFT as an int64


@intrinsic
def _bits(typingctx, x):
    """The bits of a float64 as an int64."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return types.int64(types.float64), codegen


@intrinsic
def _from_bits(typingctx, bits):
    """The float64 whose bits an int64 holds."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return types.float64(types.int64), codegen


@njit(cache=True, inline="always", error_model="numpy")
def exp(x):
    """eˣ of a float64 (see the module docstring)."""
    xc = min(max(x, -746.0), 710.0)  # beyond these the result is 0 or inf, and k stays in range
    shifted = xc * _LOG2E + _SHIFT
    k_bits = _bits(shifted) - _SHIFT_BITS
    k = shifted - _SHIFT
    r = (xc - k * _LN2_HI) - k * _LN2_LO
    p = 1.6059043836821613e-10
    p = p * r + 2.08767569878681e-09
    p = p * r + 2.505210838544172e-08
    p = p * r + 2.755731922398589e-07
    p = p * r + 2.7557319223985893e-06
    p = p * r + 2.48015873015873e-05
    p = p * r + 0.0001984126984126984
    p = p * r + 0.001388888888888889
    p = p * r + 0.008333333333333333
    p = p * r + 0.041666666666666664
    p = p * r + 0.16666666666666666
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    half = k_bits >> 1
    p = p * _from_bits((half + 1023) << 52) * _from_bits((k_bits - half + 1023) << 52)
    return p if x == x else x


@njit(cache=True, inline="always", error_model="numpy")
def tanh(x):
    """tanh of a float64 (see the module docstring)."""
    a = abs(x)
    s = a * a
    p = -4.6962953982309016e-09
    p = p * s + 1.1587644432798853e-08
    p = p * s + -2.859136662305254e-08
    p = p * s + 7.054636946400968e-08
    p = p * s + -1.7406618963571648e-07
    p = p * s + 4.294911078273806e-07
    p = p * s + -1.0597268320104654e-06
    p = p * s + 2.6147711512907546e-06
    p = p * s + -6.451689215655431e-06
    p = p * s + 1.5918905069328964e-05
    p = p * s + -3.927832388331683e-05
    p = p * s + 9.691537956929451e-05
    p = p * s + -0.00023912911424355248
    p = p * s + 0.000590027440945586
    p = p * s + -0.0014558343870513183
    p = p * s + 0.003592128036572481
    p = p * s + -0.008863235529902197
    p = p * s + 0.021869488536155203
    p = p * s + -0.05396825396825397
    p = p * s + 0.13333333333333333
    p = p * s + -0.3333333333333333
    p = p * s + 1.0
    near_zero = a * p
    far = 1.0 - 2.0 / (exp(2.0 * min(a, 20.0)) + 1.0)  # 1 − 2/(e⁴⁰ + 1) is 1 to the last bit
    t = near_zero if a < 0.55 else far
    t = t if x == x else x
    return t if x >= 0 else -t


@njit(cache=True, inline="always", error_model="numpy")
def log1p_unit(u):
    """log(1 + u) of a float64 u in [0, 1] (see the module docstring)."""
    t = u / (2.0 + u)
    s = t * t
    q = 0.02702702702702703
    q = q * s + 0.02857142857142857
    q = q * s + 0.030303030303030304
    q = q * s + 0.03225806451612903
    q = q * s + 0.034482758620689655
    q = q * s + 0.037037037037037035
    q = q * s + 0.04
    q = q * s + 0.043478260869565216
    q = q * s + 0.047619047619047616
    q = q * s + 0.05263157894736842
    q = q * s + 0.058823529411764705
    q = q * s + 0.06666666666666667
    q = q * s + 0.07692307692307693
    q = q * s + 0.09090909090909091
    q = q * s + 0.1111111111111111
    q = q * s + 0.14285714285714285
    q = q * s + 0.2
    q = q * s + 0.3333333333333333
    t2 = 2.0 * t
    return t2 + t2 * s * q
