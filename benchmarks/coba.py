"""COBA benchmark: compsim against Brian2 (cpp_standalone and runtime/Cython).

Usage::

    python benchmarks/coba.py [--n 4000] [--repeats 3]
        [--engines compsim,brian2-standalone,brian2-runtime] [--threads 1]
        [--json PATH]

The workload and the measurement protocol are those of the project's benchmark
definition (COBA, Vogels & Abbott 2005 / Brette et al. 2007 benchmark 1:
N LIF neurons with conductance synapses, forward Euler, dt = 0.1 ms, 1 s).

Every measurement is a fresh subprocess (one at a time, never two at once):

* ``compsim``            -> ``benchmarks/_compsim_coba.py``
* ``brian2-standalone``  -> ``benchmarks/_brian2_coba.py --mode cpp_standalone``
* ``brian2-runtime``     -> ``benchmarks/_brian2_coba.py --mode runtime``

Each worker prints one line ``RESULT {json}``.  The driver measures ``total_s``
itself as the wall time around the subprocess (interpreter start to exit) and
overwrites the worker's value with it (the worker's own value, which misses
the interpreter start-up, is kept as ``total_in_process_s``).

First one untimed warm-up run per engine (fills numba's cache, Brian2's
standalone project directory and the Cython cache), then ``--repeats`` timed
rounds, the engines alternating inside each round so that drifts of a shared
machine hit all engines alike.  Reported: medians with [min-max] over the
timed runs, and ratios of medians (speed-up > 1 means compsim is faster).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BRIAN2_WORKER = os.path.join(HERE, "_brian2_coba.py")
COMPSIM_WORKER = os.path.join(HERE, "_compsim_coba.py")

ENGINES = ("compsim", "brian2-standalone", "brian2-runtime")
LABELS = {
    "compsim": "compsim cpu",
    "brian2-standalone": "brian2 cpp_standalone",
    "brian2-runtime": "brian2 runtime (cython)",
}
REQUIRED_KEYS = ("workload", "n", "engine", "mode", "threads", "sim_s", "compile_s",
                 "total_s", "peak_rss_mb", "spikes")


def worker_cmd(engine, args, cold=False):
    common = ["--n", str(args.n), "--threads", str(args.threads),
              "--duration-ms", repr(args.duration_ms), "--seed", str(args.seed)]
    if engine == "compsim":
        return [sys.executable, COMPSIM_WORKER] + common
    mode = "cpp_standalone" if engine == "brian2-standalone" else "runtime"
    cmd = [sys.executable, BRIAN2_WORKER, "--mode", mode] + common
    return cmd + (["--cold"] if cold else [])


def run_worker(engine, args, cold=False):
    """Run one worker in a fresh process; return its record or None on failure."""
    cmd = worker_cmd(engine, args, cold)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=args.timeout, cwd=os.path.dirname(HERE))
    except subprocess.TimeoutExpired:
        print(f"  !! {engine}: timed out after {args.timeout} s", flush=True)
        return None
    wall = time.perf_counter() - t0
    rec = None
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            try:
                rec = json.loads(line[len("RESULT "):])
            except json.JSONDecodeError as exc:
                print(f"  !! {engine}: unreadable RESULT line ({exc})", flush=True)
    if proc.returncode != 0 or rec is None:
        why = f"exit status {proc.returncode}" if proc.returncode else "no RESULT line"
        print(f"  !! {engine}: run failed ({why}); command: {' '.join(cmd)}", flush=True)
        tail = (proc.stdout[-1500:] + "\n" + proc.stderr[-3000:]).strip()
        print("     " + tail.replace("\n", "\n     "), flush=True)
        return None
    missing = [k for k in REQUIRED_KEYS if k not in rec]
    if missing:
        print(f"  !! {engine}: RESULT lacks keys {missing}", flush=True)
    rec["total_in_process_s"] = rec.get("total_in_process_s", rec.get("total_s"))
    rec["total_s"] = wall  # driver's wall time around the whole subprocess
    rec["label"] = engine
    return rec


def _fmt(x):
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def _values(recs, key):
    return [r[key] for r in recs if isinstance(r.get(key), (int, float))]


def _med(recs, key):
    v = _values(recs, key)
    return statistics.median(v) if v else None


def _med_range(recs, key):
    v = _values(recs, key)
    if not v:
        return "-"
    return f"{_fmt(statistics.median(v))} [{_fmt(min(v))}-{_fmt(max(v))}]"


def print_table(engines, timed):
    header = ("engine / mode", "runs", "sim_s median [min-max]", "compile_s",
              "setup_s", "total_s median [min-max]", "peak RSS MB (py/bin)",
              "spikes", "rate Hz")
    rows = []
    for eng in engines:
        recs = timed.get(eng, [])
        if not recs:
            continue
        r0 = recs[0]
        name = f"{r0.get('engine', eng)} {r0.get('mode', '')}".strip()
        if r0.get("threads", 1) != 1:
            name += f" ({r0['threads']} thr)"
        rss = _fmt(_med(recs, "peak_rss_mb"))
        if "rss_binary_mb" in r0:
            rss += f" ({_fmt(_med(recs, 'rss_python_mb'))}/{_fmt(_med(recs, 'rss_binary_mb'))})"
        sp = _values(recs, "spikes")
        spikes = (f"{int(statistics.median(sp))}" if sp and min(sp) == max(sp)
                  else (f"{int(statistics.median(sp))} [{min(sp)}-{max(sp)}]" if sp else "-"))
        rate = _med(recs, "rate_hz")
        if rate is None and sp and r0.get("n"):
            rate = statistics.median(sp) / r0["n"] / (r0.get("duration_ms", 1000.0) / 1000.0)
        setup = _med(recs, "t_setup")
        rows.append((name, str(len(recs)), _med_range(recs, "sim_s"),
                     _fmt(_med(recs, "compile_s")), _fmt(setup),
                     _med_range(recs, "total_s"), rss, spikes,
                     "-" if rate is None else f"{rate:.2f}"))
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


def print_ratios(engines, timed):
    present = [e for e in engines if timed.get(e)]
    med = {e: {k: _med(timed[e], k) for k in ("sim_s", "total_s", "compile_s")}
           for e in present}

    def ratio(a, b, key):
        x, y = med[a][key], med[b][key]
        if x is None or y is None or y <= 0:
            return None
        return x / y

    print()
    print("Ratios of medians (numerator / denominator; > 1 means the denominator is faster):")
    if "compsim" in present:
        headline = [("brian2-standalone", "sim_s"), ("brian2-runtime", "total_s")]
        for other, key in headline:
            if other in present:
                r = ratio(other, "compsim", key)
                print(f"  ** {LABELS[other]} {key[:-2]} / compsim {key[:-2]}: "
                      f"{_fmt(r)}x  (speed-up of compsim; > 1 = compsim faster)")
    pairs = []
    for i, a in enumerate(present):
        for b in present[i + 1:]:
            # the slower-by-construction engine in the numerator: Brian2 over
            # compsim, runtime over standalone
            num, den = (b, a) if a == "compsim" or (a, b) == (
                "brian2-standalone", "brian2-runtime") else (a, b)
            pairs.append((num, den))
    for num, den in pairs:
        parts = []
        for key in ("sim_s", "compile_s", "total_s"):
            parts.append(f"{key[:-2]} {_fmt(ratio(num, den, key))}x")
        print(f"  {LABELS[num]} / {LABELS[den]}: " + ", ".join(parts))
    if "compsim" not in present:
        print("  (no compsim figures: no ratios against compsim)")


def main(argv=None):
    ap = argparse.ArgumentParser(description="COBA benchmark: compsim vs Brian2.")
    ap.add_argument("--n", type=int, default=4000,
                    help="number of neurons; defined sizes 4000 (reference), 32000, 128000")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per engine")
    ap.add_argument("--engines", default=",".join(ENGINES),
                    help="comma-separated subset of " + ",".join(ENGINES))
    ap.add_argument("--threads", type=int, default=1,
                    help="threads for compsim and Brian2 standalone (OpenMP); "
                         "Brian2 runtime is single-threaded")
    ap.add_argument("--duration-ms", type=float, default=1000.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", metavar="PATH", help="write all run records to PATH")
    ap.add_argument("--no-warmup", action="store_true",
                    help="skip the untimed warm-up run of each engine")
    ap.add_argument("--cold-warmup", action="store_true",
                    help="wipe Brian2's standalone project dir / Cython cache before the "
                         "warm-up, so the warm-up shows a cold compile (numba's cache "
                         "is not touched)")
    ap.add_argument("--timeout", type=float, default=3600.0,
                    help="seconds allowed per run (default 3600)")
    args = ap.parse_args(argv)

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        ap.error(f"unknown engine(s) {unknown}; choose from {', '.join(ENGINES)}")
    if args.n < 5 or args.repeats < 1 or args.threads < 1:
        ap.error("--n >= 5, --repeats >= 1 and --threads >= 1 are required")

    if "compsim" in engines and not os.path.isfile(COMPSIM_WORKER):
        print(f"NOTE: {os.path.relpath(COMPSIM_WORKER)} does not exist (the compsim worker "
              "has not been written yet): skipping engine 'compsim'.", flush=True)
        engines.remove("compsim")
    if not engines:
        print("No engine left to run.")
        return 1

    try:
        load = os.getloadavg()
    except OSError:
        load = None
    print(f"COBA benchmark: N={args.n} (NE={int(0.8 * args.n)}), dt=0.1 ms, "
          f"duration={args.duration_ms:g} ms, seed={args.seed}, threads={args.threads}, "
          f"repeats={args.repeats}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}"
          + (f", load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}" if load else ""))
    print(f"engines: {', '.join(engines)}; each run is a fresh process, run one at a time",
          flush=True)

    records = []
    if not args.no_warmup:
        print("\nWarm-up: one untimed run per engine (fills numba's cache, Brian2's "
              "standalone build directory and Cython cache); not included in the statistics."
              + (" Brian2 caches wiped first (--cold-warmup)." if args.cold_warmup else ""),
              flush=True)
        for eng in list(engines):
            rec = run_worker(eng, args, cold=args.cold_warmup)
            if rec is None:
                print(f"  {eng}: warm-up failed; dropping this engine", flush=True)
                engines.remove(eng)
                continue
            rec["warmup"] = True
            rec["repeat"] = -1
            records.append(rec)
            warm = rec.get("cache_warm_at_start")
            print(f"  warm-up {eng:18s} total {_fmt(rec['total_s'])} s, compile "
                  f"{_fmt(rec.get('compile_s'))} s, sim {_fmt(rec.get('sim_s'))} s"
                  + ("" if warm is None else f" (caches {'warm' if warm else 'cold'} at start)"),
                  flush=True)

    timed = {e: [] for e in engines}
    print(f"\nTimed runs: {args.repeats} round(s), engines alternating", flush=True)
    for rep in range(args.repeats):
        for eng in engines:
            rec = run_worker(eng, args)
            if rec is None:
                continue
            rec["warmup"] = False
            rec["repeat"] = rep
            records.append(rec)
            timed[eng].append(rec)
            print(f"  [{rep + 1}/{args.repeats}] {eng:18s} sim {_fmt(rec.get('sim_s'))} s, "
                  f"compile {_fmt(rec.get('compile_s'))} s, total {_fmt(rec['total_s'])} s, "
                  f"spikes {rec.get('spikes')}", flush=True)

    print()
    print(f"Results, N={args.n}: medians over the timed runs (warm caches). sim_s = "
          "simulation loop (Brian2 standalone: run time measured inside the C++ code); "
          "compile_s = code generation + compilation/loading (Brian2 runtime: net.run(0 ms); "
          "standalone: codegen + make); setup_s = building the network objects; total_s = "
          "wall time of the whole process, measured by this driver.")
    print_table(engines, timed)
    print_ratios(engines, timed)

    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)
        print(f"\nwrote {len(records)} records ({sum(r['warmup'] for r in records)} warm-up, "
              f"flagged \"warmup\": true) to {args.json}")
    return 0 if any(timed.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
