"""Brian2 worker for the COBAHH benchmark (one measurement per process).

Run as a subprocess by ``benchmarks/cobahh.py``; it can also be run by hand::

    python benchmarks/_brian2_cobahh.py --n 4000 --mode cpp_standalone
    python benchmarks/_brian2_cobahh.py --n 4000 --mode runtime [--cold]

It builds the COBAHH network of ``/work/shared/benchmarks.md`` (Brian2's
``examples/COBAHH.py``, Brette et al. 2007 benchmark 3: Hodgkin-Huxley neurons
of 20000 um^2 with Traub-Miles sodium and potassium channels, exponential
Euler, dt = 0.1 ms; threshold v > -20 mV, refractory 3 ms, no reset; synapses
with p = 0.02 * 4000 / N, we = 6 nS, wi = 67 nS, zero delay) and prints exactly
one line ``RESULT {json}`` on stdout at the end.  The command line, the phases
timed, the cache directories (standalone project:
``~/.cache/compsim-bench/brian2_standalone_cobahh_<N>``) and the memory figures
are those of ``benchmarks/_brian2_common.py``.
"""

import time

_T_START = time.perf_counter()  # first statement: total_s starts here
_CPU_START = time.process_time()

import sys  # noqa: E402

import _brian2_common  # noqa: E402


def build(b2, n):
    """The COBAHH network: ``(objects, spike monitor, synapses)``."""
    from brian2 import cm, ms, msiemens, mV, nS, siemens, ufarad, umetre

    NE = int(0.8 * n)
    p_conn = 0.02 * 4000.0 / n
    area = 20000 * umetre ** 2
    namespace = dict(
        Cm=(1 * ufarad * cm ** -2) * area,
        gl=(5e-5 * siemens * cm ** -2) * area,
        El=-60 * mV, EK=-90 * mV, ENa=50 * mV,
        g_na=(100 * msiemens * cm ** -2) * area,
        g_kd=(30 * msiemens * cm ** -2) * area,
        VT=-63 * mV,
        taue=5 * ms, taui=10 * ms, Ee=0 * mV, Ei=-80 * mV,
        we=6 * nS, wi=67 * nS,
    )
    # The equations of Brian2's examples/COBAHH.py.
    eqs = """
    dv/dt = (gl*(El-v) + ge*(Ee-v) + gi*(Ei-v)
             - g_na*(m*m*m)*h*(v-ENa)
             - g_kd*(n*n*n*n)*(v-EK))/Cm : volt
    dm/dt = alpha_m*(1-m) - beta_m*m : 1
    dn/dt = alpha_n*(1-n) - beta_n*n : 1
    dh/dt = alpha_h*(1-h) - beta_h*h : 1
    dge/dt = -ge*(1./taue) : siemens
    dgi/dt = -gi*(1./taui) : siemens
    alpha_m = 0.32*(mV**-1)*4*mV/exprel((13*mV-v+VT)/(4*mV))/ms : Hz
    beta_m = 0.28*(mV**-1)*5*mV/exprel((v-VT-40*mV)/(5*mV))/ms : Hz
    alpha_h = 0.128*exp((17*mV-v+VT)/(18*mV))/ms : Hz
    beta_h = 4./(1+exp((40*mV-v+VT)/(5*mV)))/ms : Hz
    alpha_n = 0.032*(mV**-1)*5*mV/exprel((15*mV-v+VT)/(5*mV))/ms : Hz
    beta_n = .5*exp((10*mV-v+VT)/(40*mV))/ms : Hz
    """
    P = b2.NeuronGroup(n, eqs, threshold="v > -20*mV", refractory=3 * ms,
                       method="exponential_euler", namespace=namespace, name="P")
    # m, n, h start at 0 (Brian2's default), as in the example.
    P.v = "El + (randn()*5 - 5)*mV"
    P.ge = "(randn()*1.5 + 4)*10.*nS"
    P.gi = "(randn()*12 + 20)*10.*nS"
    return _brian2_common.exc_inh_network(b2, P, NE, p_conn, namespace)


if __name__ == "__main__":
    sys.exit(_brian2_common.main("COBAHH", build, t_start=_T_START, cpu_start=_CPU_START,
                                 project_prefix="brian2_standalone_cobahh",
                                 description=__doc__.split("\n")[0]))
