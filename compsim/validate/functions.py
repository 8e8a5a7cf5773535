"""Brian2 functions that reproduce compsim's random-number helpers, for models' ``brian2_model()``.

``poisson_count()``: a Brian2 ``Function`` ``poisson_count(lam, u)``, the
Poisson(lam) count obtained by inverting the CDF with the uniform ``u``,
operation for operation as :func:`compsim.rng.poisson_count`, so that a
frozen-noise replay draws the same counts (compsim's branch-free variant for
small rates, :func:`compsim.rng.poisson_count_small`, differs from it with a
probability of about 1e-16 per draw). Implemented for Brian2's numpy
and cython targets.
"""
import numpy as np

_CYTHON = """
cdef double poisson_count(double lam, double u):
    cdef double p = exp(-lam)
    cdef double cdf = p
    cdef int k = 0
    while u >= cdf and k < 1000:
        k += 1
        p *= lam * (1.0 / k)
        cdf += p
    return k
"""


def _numpy_poisson_count(lam, u):
    u = np.asarray(u, dtype=np.float64)
    lam = np.broadcast_to(np.asarray(lam, dtype=np.float64), u.shape).copy()
    p = np.exp(-lam)
    cdf = p.copy()
    k = np.zeros(u.shape, dtype=np.int64)
    active = u >= cdf
    while active.any():
        k[active] += 1
        p[active] *= lam[active] * (1.0 / k[active])
        cdf[active] += p[active]
        active &= (u >= cdf) & (k < 1000)
    return k.astype(np.float64)


def poisson_count():
    """The Brian2 ``Function`` ``poisson_count(lam, u)`` (dimensionless arguments, count as float)."""
    from brian2 import Function

    fn = Function(_numpy_poisson_count, arg_units=[1, 1], return_unit=1, arg_types=["float", "float"],
                  return_type="float", stateless=True)
    fn.implementations.add_implementation("cython", _CYTHON, name="poisson_count")
    return fn
