"""compsim worker of the five-compartment benchmark (run by ``benchmarks/five_compartment.py``, one process per measurement).

``python benchmarks/_compsim_five_compartment.py --n 1000 --threads 1 --duration-ms 1000 --seed 1
[--method exponential_euler|exact]`` prints one line ``RESULT {json}``. Phases as in
``_compsim_cobahh.py``: ``t_import``, ``t_setup`` (network construction incl.
connectivity), ``compile_s`` (numba compile, or load of the cached machine code),
``sim_s`` (the compiled run loop, monitors drained between chunks included).

The population and its Poisson inputs are those of ``_five_compartment_cell.py``
(:func:`build_compsim`); ``--method exponential_euler`` is the scheme of the Brian2
worker, ``--method exact`` compsim's implicit (backward-Euler, Hines) tree solver.
Besides the spikes the record holds the plateau count (``plateaus``,
``plateau_rate_hz``) and the standard errors over neurons of both rates.
"""
import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402


def per_neuron_sem(train, n, dur_s):
    """Standard error over neurons of the per-neuron event rate (Hz)."""
    counts = np.bincount(np.asarray(train.i, dtype=np.int64), minlength=n) / dur_s
    return float(counts.std(ddof=1) / np.sqrt(n))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--duration-ms", type=float, default=1000.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--method", choices=("exponential_euler", "exact"), default="exponential_euler")
    args = ap.parse_args()
    if args.n < 5:
        ap.error("--n must be >= 5")
    os.environ.setdefault("NUMBA_NUM_THREADS", str(max(args.threads, 1)))

    t0 = time.perf_counter()
    import compsim  # noqa: F401
    from compsim.engine.cpu import cache_dir

    from _five_compartment_cell import DT_MS, build_compsim

    t_import = time.perf_counter() - t0
    cache_warm = any(cache_dir().glob("__pycache__/*.nbi"))
    t0 = time.perf_counter()
    net, _ = build_compsim(args.n, seed=args.seed, method=args.method, threads=args.threads,
                           parallel=args.threads > 1, chunk_steps=10000)
    t_setup = time.perf_counter() - t0
    net.build()
    compile_s = net.timings["compile_s"]
    t0 = time.perf_counter()
    res = net.run(args.duration_ms)
    sim_wall = time.perf_counter() - t0
    dur_s = args.duration_ms / 1000.0
    spikes, plateaus = res.spikes["spikes"], res.spikes["plateaus"]
    record = {
        "workload": "five_compartment",
        "n": args.n,
        "engine": "compsim",
        "mode": "cpu exact" if args.method == "exact" else "cpu",
        "method": args.method,
        "threads": args.threads,
        "sim_s": net.timings["run_s"],
        "sim_wall_s": sim_wall,
        "compile_s": compile_s,
        "t_import": t_import,
        "t_setup": t_setup,
        "total_s": time.perf_counter() - T_START,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "spikes": int(spikes.count()),
        "rate_hz": spikes.count() / args.n / dur_s,
        "rate_sem_hz": per_neuron_sem(spikes, args.n, dur_s),
        "plateaus": int(plateaus.count()),
        "plateau_rate_hz": plateaus.count() / args.n / dur_s,
        "plateau_rate_sem_hz": per_neuron_sem(plateaus, args.n, dur_s),
        "duration_ms": args.duration_ms,
        "dt_ms": DT_MS,
        "seed": args.seed,
        "cache_warm_at_start": cache_warm,
    }
    print("RESULT " + json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
