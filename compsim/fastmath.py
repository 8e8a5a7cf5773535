"""Vectorisable elementary functions for model kernels: ``exp``, ``log``, ``sigmoid``, ``exprel`` and
``flush_subnormal``.

Numba calls the C library's ``exp`` for ``math.exp``, one element at a time:
a loop over neurons that contains it cannot be vectorised. :func:`exp` here is
plain arithmetic that LLVM vectorises (4 or 8 neurons per instruction), with
the accuracy of the C library's to within one unit in the last place:

* range reduction ``x = k ln2 + r``, ``|r| <= ln2 / 2``, with ``k`` rounded to the
  nearest integer by the 1.5 * 2**52 shift and ``ln2`` split in a high and a
  low part (Cody & Waite);
* ``e^r`` by its Taylor polynomial of degree 13 (truncation error below
  ``0.35**14 / 14! < 5e-18``), evaluated by Horner's rule with fused
  multiply-adds (:func:`fma`: one rounding per step, half the instructions);
* ``2^k`` built from its IEEE-754 bits (in two factors near the top of the range).

Results: ``exp(NaN) = NaN``, ``exp(x) = inf`` for ``x > 709.78``, ``exp(x) = 0``
for ``x < -708.39`` (where the exact value is subnormal, below 2.2e-308).
The maximum relative deviation from the C library over [-700, 700] is
2.2e-16 (one ulp; ``tests/test_fastmath.py``). Being plain arithmetic, it also
gives the same bits on every backend that rounds IEEE-754 operations the same way
(the fused multiply-add is one of them: exactly rounded on every CPU with FMA and on GPUs).
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_SHIFTER = 6755399441055744.0  # 1.5 * 2**52: adding and subtracting it rounds to the nearest integer
_X_MAX = 709.78  # exp overflows above
_X_MIN = -708.39  # exp is subnormal below
_C = tuple(1.0 / math.factorial(k) for k in range(14))
_SQRT2 = 1.4142135623730951
_TWO54 = 18014398509481984.0  # 2**54: scales a subnormal into the normal range
_MIN_NORMAL = 2.2250738585072014e-308
# the series of log: 2 / (2k + 1); log m = 2 atanh(z), z = (m - 1) / (m + 1), |z| <= 0.1716
_L = tuple(2.0 / (2 * k + 1) for k in range(12))


@intrinsic
def _float_as_bits(typingctx, x):
    """The int64 holding the IEEE-754 bit pattern of the float64 ``x``."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _llvm_fma(typingctx, a, b, c):
    """LLVM's ``llvm.fma.f64``."""

    def codegen(context, builder, signature, args):
        double = ir.DoubleType()
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(double, [double] * 3), "llvm.fma.f64")
        return builder.call(fn, args)

    return types.float64(types.float64, types.float64, types.float64), codegen


@njit(cache=True, inline="always")
def fma(a, b, c):
    """``a * b + c`` for float64s with one rounding (IEEE-754 fusedMultiplyAdd); vectorisable. Numba does not
    contract ``a * b + c`` itself (results would then depend on the compiler); generated code calls this."""
    return _llvm_fma(a, b, c)


@intrinsic
def _bits_as_float(typingctx, bits):
    """The float64 whose IEEE-754 bit pattern is the int64 ``bits``."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@njit(cache=True, inline="always")
def exp(x):
    """e**x for a float64 ``x``; vectorisable, within one ulp of ``math.exp``."""
    xc = min(max(x, _X_MIN), _X_MAX)
    k = (xc * _LOG2E + _SHIFTER) - _SHIFTER
    r = (xc - k * _LN2_HI) - k * _LN2_LO
    p = _C[13]
    for j in range(12, -1, -1):  # Horner's rule; a constant trip count, unrolled by the compiler
        p = fma(r, p, _C[j])
    top = k > 1000.0  # 2**1024 has no float64: scale by 2**(k - 1), then by 2 (both exact)
    k_scale = k - 1.0 if top else k
    y = p * _bits_as_float((np.int64(k_scale) + 1023) << 52)
    if top:
        y = y * 2.0
    if x < _X_MIN:
        y = 0.0
    if x > _X_MAX:
        y = math.inf
    if x != x:
        y = x
    return y


@njit(cache=True, inline="always")
def log(x):
    """Natural logarithm of a float64 ``x``; vectorisable, within one ulp of ``math.log``.

    ``x = 2^e m`` with ``m`` in [sqrt(1/2), sqrt(2)) read from the IEEE-754 bits (subnormals scaled by
    2^54 first); ``log m = 2 atanh(z) = f - z (f - r)`` with ``f = m - 1`` (exact), ``z = f / (2 + f)`` and
    ``r = sum_k 2 z^(2k) / (2k + 1)``, k = 1 .. 11 (truncation error below 1e-19 relative; Horner's rule in
    :func:`fma`), as in fdlibm; ``e ln 2`` with ``ln 2`` in a high and a low part.
    ``log(0) = -inf``, ``log(inf) = inf``, NaN for negative ``x`` and NaN.
    """
    sub = x < _MIN_NORMAL
    bits = _float_as_bits(x * _TWO54 if sub else x)
    e = ((bits >> 52) & 0x7FF) - (1023 + 54 if sub else 1023)
    m = _bits_as_float((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)  # in [1, 2)
    if m > _SQRT2:
        m *= 0.5
        e += 1
    f = m - 1.0
    z = f / (2.0 + f)
    z2 = z * z
    r = _L[11]
    for j in range(10, 0, -1):  # Horner's rule in z^2 with fused multiply-adds, unrolled by the compiler
        r = fma(z2, r, _L[j])
    r *= z2  # log m = 2z + z r = f - z (f - r), f exact
    k = float(e)
    y = k * _LN2_HI - ((z * (f - r) - k * _LN2_LO) - f)
    if x == 0.0:
        y = -math.inf
    if x == math.inf:
        y = x
    if not x >= 0.0:  # negative or NaN
        y = math.nan
    return y


@njit(cache=True, inline="always")
def flush_subnormal(x, smallest_normal=_MIN_NORMAL):
    """``x``, or 0 where ``|x|`` is below ``smallest_normal`` (default that of float64, 2.2e-308; float32's is
    1.2e-38); vectorisable. Decaying traces pass through it: a trace silent for thousands of steps would
    otherwise become a subnormal number, whose arithmetic is about a hundred times slower."""
    return x if abs(x) >= smallest_normal else 0.0


@njit(cache=True, inline="always")
def sigmoid(x):
    """The logistic function ``1 / (1 + e^-x)``; vectorisable."""
    return 1.0 / (1.0 + exp(-x))


@njit(cache=True, inline="always")
def exprel(x):
    """``(e^x - 1) / x``, 1 at x = 0 (the Hodgkin-Huxley rate functions' form); vectorisable.

    Below |x| = 0.01 the Taylor series to x^5 (truncation error below 3e-16 relative), above it the
    quotient (cancellation error below 1e-13 relative).
    """
    series = 1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0 + x / 720.0))))
    quotient = (exp(x) - 1.0) / (x if x != 0.0 else 1.0)
    return series if abs(x) < 0.01 else quotient
