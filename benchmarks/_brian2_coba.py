"""Brian2 worker for the COBA benchmark (one measurement per process).

Run as a subprocess by ``benchmarks/coba.py``; it can also be run by hand::

    python benchmarks/_brian2_coba.py --n 4000 --mode cpp_standalone
    python benchmarks/_brian2_coba.py --n 4000 --mode runtime [--cold]

It builds the COBA network of ``/work/shared/benchmarks.md`` (Vogels & Abbott
2005 / Brette et al. 2007 benchmark 1; forward Euler, dt = 0.1 ms) and prints
exactly one line ``RESULT {json}`` on stdout at the end.  The command line,
the phases timed, the cache directories (standalone project:
``~/.cache/compsim-bench/brian2_standalone_<N>``) and the memory figures are
those of ``benchmarks/_brian2_common.py``.
"""

import time

_T_START = time.perf_counter()  # first statement: total_s starts here
_CPU_START = time.process_time()

import sys  # noqa: E402

import _brian2_common  # noqa: E402


def build(b2, n):
    """The COBA network: ``(objects, spike monitor, synapses)``."""
    from brian2 import ms, mV

    NE = int(0.8 * n)
    p_conn = 0.02 * 4000.0 / n
    namespace = dict(
        taum=20 * ms, El=-60 * mV, Ee=0 * mV, Ei=-80 * mV,
        taue=5 * ms, taui=10 * ms, Vt=-50 * mV, Vr=-60 * mV,
        we=0.6, wi=6.7,  # in units of the leak conductance (6 nS, 67 nS / 10 nS)
    )
    eqs = """
    dv/dt = (-(v - El) + ge*(Ee - v) + gi*(Ei - v)) / taum : volt (unless refractory)
    dge/dt = -ge / taue : 1
    dgi/dt = -gi / taui : 1
    """
    P = b2.NeuronGroup(n, eqs, threshold="v > Vt", reset="v = Vr",
                       refractory=5 * ms, method="euler", namespace=namespace,
                       name="P")
    P.v = "El + (5*randn() - 5)*mV"
    P.ge = "1.5*randn() + 4"
    P.gi = "12*randn() + 20"
    return _brian2_common.exc_inh_network(b2, P, NE, p_conn, namespace)


if __name__ == "__main__":
    sys.exit(_brian2_common.main("COBA", build, t_start=_T_START, cpu_start=_CPU_START,
                                 project_prefix="brian2_standalone",
                                 description=__doc__.split("\n")[0]))
