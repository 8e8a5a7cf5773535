"""compsim worker of the COBAHH benchmark (run by ``benchmarks/cobahh.py``, one process per measurement).

``python benchmarks/_compsim_cobahh.py --n 4000 --threads 1 --duration-ms 1000 --seed 1``
prints one line ``RESULT {json}``. Phases: ``t_import`` (import compsim),
``t_setup`` (network construction incl. connectivity), ``compile_s`` (numba
compile, or load of the cached machine code on a warm cache), ``sim_s``
(the compiled run loop proper, monitors drained between chunks included).

The network is COBAHH of ``/work/shared/benchmarks.md`` (Brian2's
``examples/COBAHH.py``) built from :mod:`compsim.models` compartments: one
soma of 20000 um^2 (C_m = 1 uF/cm^2 -> 200 pF, g_l = 5e-5 S/cm^2 -> 10 nS,
g_Na = 100 mS/cm^2 -> 20000 nS, g_Kd = 30 mS/cm^2 -> 6000 nS), exponential
Euler, dt = 0.1 ms, spike when v > -20 mV, refractory 3 ms, no reset; two
populations ``exc`` (0.8 N) and ``inh`` (0.2 N) of that cell, all four
projections with ``FixedProbability(0.02 * 4000 / N)``, 6 nS onto
``soma.ge`` and 67 nS onto ``soma.gi``; initial v = E_l + (5 xi - 5) mV,
ge = (1.5 xi + 4) * 10 nS, gi = (12 xi + 20) * 10 nS, gates m = h = n = 0.
"""
import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402

# Densities of the definition times the area 20000 um^2 = 2e-4 cm^2:
C_M_PF = 200.0  # 1 uF/cm^2
G_L_NS = 10.0  # 5e-5 S/cm^2
G_NA_NS = 20000.0  # 100 mS/cm^2
G_KD_NS = 6000.0  # 30 mS/cm^2
E_L, E_K, E_NA, V_T = -60.0, -90.0, 50.0, -63.0  # mV
E_E, E_I, TAU_E, TAU_I = 0.0, -80.0, 5.0, 10.0  # mV, ms
W_EXC_NS, W_INH_NS = 6.0, 67.0
THRESHOLD_MV, REFRACTORY_MS = -20.0, 3.0


def build_cobahh(n, *, seed=1, dt=0.1, record_spikes=True, **network_options):
    """The COBAHH network with ``n`` neurons: ``(net, exc, inh)`` (module docstring).

    Initial states are drawn from ``numpy.random.default_rng(seed)`` in the order of
    ``compsim.models.coba.build_coba`` (per population: v, ge, gi); extra keyword
    arguments go to :class:`compsim.Network` (chunk_steps, parallel, threads).
    """
    import numpy as np

    import compsim as cs
    from compsim.models import Compartment, Morphology, channels

    soma = Compartment(C_m=C_M_PF, g_l=G_L_NS, E_l=E_L, channels=[
        channels.HHSodium(g_max=G_NA_NS, E=E_NA, V_T=V_T),
        channels.HHPotassium(g_max=G_KD_NS, E=E_K, V_T=V_T),
        channels.Synapse("ge", E=E_E, tau=TAU_E),
        channels.Synapse("gi", E=E_I, tau=TAU_I)])
    cell = Morphology(soma=soma)
    net = cs.Network(dt=dt, seed=seed, method="exponential_euler", **network_options)
    n_exc = int(0.8 * n)
    exc = net.add(cell.population(n_exc, threshold=("soma", THRESHOLD_MV), refractory=REFRACTORY_MS),
                  name="exc")
    inh = net.add(cell.population(n - n_exc, threshold=("soma", THRESHOLD_MV), refractory=REFRACTORY_MS),
                  name="inh")
    rule = cs.FixedProbability(0.02 * 4000 / n)
    for pre, port, w in ((exc, "soma.ge", W_EXC_NS), (inh, "soma.gi", W_INH_NS)):
        for post in (exc, inh):
            net.connect(pre, post, port, w, connectivity=rule)
    rng = np.random.default_rng(seed)
    for pop in (exc, inh):
        # m, h, n keep their initial value 0 (the gates' default, as in Brian2's example).
        pop["soma.v"] = E_L + 5.0 * rng.standard_normal(pop.n) - 5.0
        net.set_synaptic_input(pop, "soma.ge", (1.5 * rng.standard_normal(pop.n) + 4.0) * 10.0)
        net.set_synaptic_input(pop, "soma.gi", (12.0 * rng.standard_normal(pop.n) + 20.0) * 10.0)
    if record_spikes:
        net.record_spikes(exc)
        net.record_spikes(inh)
    return net, exc, inh


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--duration-ms", type=float, default=1000.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.n < 5:
        ap.error("--n must be >= 5")
    os.environ.setdefault("NUMBA_NUM_THREADS", str(max(args.threads, 1)))

    t0 = time.perf_counter()
    import compsim  # noqa: F401
    from compsim.engine.cpu import cache_dir

    t_import = time.perf_counter() - t0
    cache_warm = any(cache_dir().glob("__pycache__/*.nbi"))
    t0 = time.perf_counter()
    net, exc, inh = build_cobahh(args.n, seed=args.seed, threads=args.threads,
                                 parallel=args.threads > 1, chunk_steps=10000)
    t_setup = time.perf_counter() - t0
    net.build()
    compile_s = net.timings["compile_s"]
    t0 = time.perf_counter()
    res = net.run(args.duration_ms)
    sim_wall = time.perf_counter() - t0
    spikes = res.spikes["exc_spikes"].count() + res.spikes["inh_spikes"].count()
    record = {
        "workload": "COBAHH",
        "n": args.n,
        "engine": "compsim",
        "mode": "cpu",
        "threads": args.threads,
        "sim_s": net.timings["run_s"],
        "sim_wall_s": sim_wall,
        "compile_s": compile_s,
        "t_import": t_import,
        "t_setup": t_setup,
        "total_s": time.perf_counter() - T_START,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "spikes": int(spikes),
        "rate_hz": spikes / args.n / (args.duration_ms / 1000.0),
        "duration_ms": args.duration_ms,
        "dt_ms": 0.1,
        "seed": args.seed,
        "cache_warm_at_start": cache_warm,
    }
    print("RESULT " + json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
