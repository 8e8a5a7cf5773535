"""compsim worker of the COBAHH benchmark (run by ``benchmarks/cobahh.py``, one process per measurement).

``python benchmarks/_compsim_cobahh.py --n 4000 --threads 1 --duration-ms 1000 --seed 1``
prints one line ``RESULT {json}``. Phases: ``t_import`` (import compsim),
``t_setup`` (network construction incl. connectivity), ``compile_s`` (numba
compile, or load of the cached machine code on a warm cache), ``sim_s``
(the compiled run loop proper, monitors drained between chunks included).

The network is COBAHH of ``/work/shared/benchmarks.md`` (Brian2's
``examples/COBAHH.py``) as :func:`compsim.models.cobahh.build_cobahh` builds it
from compartments (its docstring gives the parameters).
"""
import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402

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
    from compsim.models.cobahh import build_cobahh

    t_import = time.perf_counter() - t0
    cache_warm = any(cache_dir().glob("__pycache__/*.nbi"))
    t0 = time.perf_counter()
    net = build_cobahh(args.n, seed=args.seed, threads=args.threads, parallel=args.threads > 1,
                       chunk_steps=10000).net
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
