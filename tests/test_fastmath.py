"""compsim.fastmath against the C library: exp and log within one ulp, special values, sigmoid, exprel,
flush_subnormal; fma against exact rational arithmetic."""
import math
from fractions import Fraction

import numpy as np
from numba import njit

from compsim.fastmath import exp, exprel, flush_subnormal, fma, log, sigmoid


@njit
def _exp_all(x, out):
    for i in range(x.shape[0]):
        out[i] = exp(x[i])


@njit
def _log_all(x, out):
    for i in range(x.shape[0]):
        out[i] = log(x[i])


@njit
def _fma_all(a, b, c, out):
    for i in range(a.shape[0]):
        out[i] = fma(a[i], b[i], c[i])


def test_fma_rounds_once():
    """a * b + c rounded once, as the exact rational result rounded to the nearest float64 (the first case
    is 0 when the product is rounded first), also in the vectorised loop."""
    rng = np.random.default_rng(3)
    a = np.concatenate([[0.1, 1.0 + 2.0**-30, 3.0], rng.normal(size=2000)])
    b = np.concatenate([[3.0, 1.0 - 2.0**-30, 1.0 / 3.0], rng.normal(size=2000)])
    c = np.concatenate([[-0.30000000000000004, -1.0, -1.0], rng.normal(size=2000)])
    got = np.empty_like(a)
    _fma_all(a, b, c, got)
    want = [float(Fraction(x) * Fraction(y) + Fraction(z)) for x, y, z in zip(a, b, c)]
    assert got[0] != 0.0 and 0.1 * 3.0 - 0.30000000000000004 == 0.0
    np.testing.assert_array_equal(got, want)
    assert fma(0.1, 3.0, -0.30000000000000004) == got[0]  # also called from Python (the CUDA simulator does)


@njit
def _sigmoid_all(x, out):
    for i in range(x.shape[0]):
        out[i] = sigmoid(x[i])


def test_exp_within_one_ulp_of_the_c_library():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-700.0, 700.0, 200_000), rng.uniform(-5.0, 5.0, 200_000),
                        rng.uniform(-1e-8, 1e-8, 1000), [0.0, 1.0, -1.0, 0.5 * math.log(2.0)]])
    got = np.empty_like(x)
    _exp_all(x, got)
    want = np.array([math.exp(v) for v in x])
    assert np.all(np.abs(got - want) <= np.spacing(want))  # at most one unit in the last place


def test_exp_special_values():
    x = np.array([np.nan, np.inf, -np.inf, 709.7, 710.0, -708.0, -720.0, 1e300, -1e300])
    got = np.empty_like(x)
    _exp_all(x, got)
    assert np.isnan(got[0])
    want = np.array([np.inf, 0.0, math.exp(709.7), np.inf, math.exp(-708.0), 0.0, np.inf, 0.0])
    exact = ~np.isfinite(want) | (want == 0.0)
    np.testing.assert_array_equal(got[1:][exact], want[exact])
    assert np.all(np.abs(got[1:][~exact] - want[~exact]) <= np.spacing(want[~exact]))  # 709.7: 2**1024 range


def test_log_within_one_ulp_of_the_c_library():
    rng = np.random.default_rng(2)
    x = np.concatenate([1.0 - rng.random(200_000),  # the uniforms of the exponential draws, in (0, 1]
                        np.exp(rng.uniform(-700.0, 700.0, 200_000)), rng.uniform(0.99, 1.01, 100_000),
                        2.0 ** rng.integers(-1074, -1022, 1000) * (1.0 + rng.random(1000)),  # subnormals
                        [1.0, 2.0, 0.5, math.sqrt(2.0), 5e-324, np.finfo(float).tiny, np.finfo(float).max]])
    got = np.empty_like(x)
    _log_all(x, got)
    want = np.array([math.log(v) for v in x])
    assert np.all(np.abs(got - want) <= np.spacing(np.abs(want)))


def test_log_special_values():
    got = np.empty(5)
    _log_all(np.array([0.0, -0.0, np.inf, -1.0, np.nan]), got)
    assert got[0] == got[1] == -np.inf and got[2] == np.inf
    assert np.isnan(got[3]) and np.isnan(got[4])


def test_sigmoid_matches_its_definition():
    x = np.linspace(-40.0, 40.0, 10001)
    got = np.empty_like(x)
    _sigmoid_all(x, got)
    exact = 1.0 / (1.0 + np.exp(-x.astype(np.longdouble)))  # 64-bit mantissa on x86: 2048 times finer than float64
    # exp within one ulp, then 1 + e and the division each round by half an ulp: two ulps at most
    np.testing.assert_allclose(got, exact, rtol=2 * np.finfo(float).eps, atol=0)


@njit
def _exprel_all(x, out):
    for i in range(x.shape[0]):
        out[i] = exprel(x[i])


def test_exprel_against_expm1():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-50.0, 50.0, 100_000), rng.uniform(-0.02, 0.02, 100_000),
                        [0.0, 0.01, -0.01, 1e-300, -1e-12]])
    got = np.empty_like(x)
    _exprel_all(x, got)
    safe = np.where(x == 0.0, 1.0, x)
    want = np.where(x == 0.0, 1.0, np.expm1(x) / safe)
    np.testing.assert_allclose(got, want, rtol=2e-13, atol=0)


def test_flush_subnormal_zeroes_only_subnormals():
    tiny = np.finfo(float).tiny
    x = np.array([tiny, -tiny, tiny / 2, -5e-324, 0.0, 1.0, -3.5, np.inf])
    got = np.array([flush_subnormal(v) for v in x])
    np.testing.assert_array_equal(got, [tiny, -tiny, 0.0, 0.0, 0.0, 1.0, -3.5, np.inf])
