"""Workload-independent part of the compsim benchmark workers (``_compsim_<workload>.py``).

A worker defines ``build(args)``, which returns the network to run (``args`` holds
``n``, ``seed``, ``threads`` and any option the worker added), and ``summarise(result,
args)``, which returns its record's workload-specific fields (spike counts, rates), and
calls :func:`main`. This module parses the command line, times the phases and prints
exactly one line ``RESULT {json}``::

    python benchmarks/_compsim_<workload>.py --n 4000 --threads 1 --duration-ms 1000 --seed 1

Phases (time.perf_counter): ``t_import`` (import compsim), ``t_setup`` (network
construction incl. connectivity), ``compile_s`` (numba compile, or load of the cached
machine code on a warm cache), ``sim_s`` (the compiled run loop proper, monitors drained
between chunks included), ``total_s`` (from the worker's first statement, ``t_start``).
"""
import argparse
import json
import os
import resource
import time


def network_options(args):
    """The :class:`compsim.Network` options every worker uses: threads, chunks of 10,000 steps."""
    return {"threads": args.threads, "parallel": args.threads > 1, "chunk_steps": 10000}


def main(workload, build, summarise, *, t_start, description, default_n=4000, add_arguments=None, argv=None):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--n", type=int, default=default_n)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--duration-ms", type=float, default=1000.0)
    ap.add_argument("--seed", type=int, default=1)
    if add_arguments is not None:
        add_arguments(ap)
    args = ap.parse_args(argv)
    if args.n < 5:
        ap.error("--n must be >= 5")
    os.environ.setdefault("NUMBA_NUM_THREADS", str(max(args.threads, 1)))

    t0 = time.perf_counter()
    import compsim  # noqa: F401
    from compsim.engine.cpu import cache_dir

    t_import = time.perf_counter() - t0
    cache_warm = any(cache_dir().glob("__pycache__/*.nbi"))
    t0 = time.perf_counter()
    net = build(args)
    t_setup = time.perf_counter() - t0
    net.build()
    compile_s = net.timings["compile_s"]
    t0 = time.perf_counter()
    res = net.run(args.duration_ms)
    sim_wall = time.perf_counter() - t0
    record = {
        "workload": workload,
        "n": args.n,
        "engine": "compsim",
        "mode": "cpu",
        "threads": args.threads,
        "sim_s": net.timings["run_s"],
        "sim_wall_s": sim_wall,
        "compile_s": compile_s,
        "t_import": t_import,
        "t_setup": t_setup,
        "duration_ms": args.duration_ms,
        "dt_ms": net.dt,
        "seed": args.seed,
        "cache_warm_at_start": cache_warm,
    }
    record.update(summarise(res, args))
    record["total_s"] = time.perf_counter() - t_start
    record["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("RESULT " + json.dumps(record), flush=True)
    return 0


def exc_inh_spikes(res, args):
    """Spike count and mean rate of the two-population networks (COBA, COBAHH)."""
    spikes = res.spikes["exc_spikes"].count() + res.spikes["inh_spikes"].count()
    return {"spikes": int(spikes), "rate_hz": spikes / args.n / (args.duration_ms / 1000.0)}
