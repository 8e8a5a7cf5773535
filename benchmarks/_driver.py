"""Workload-independent part of the compsim-against-Brian2 benchmarks (``coba.py``, ``cobahh.py``, ``five_compartment.py``).

A benchmark script describes its workload with a :class:`Workload` (name, worker
scripts, defined sizes) and calls :func:`main`; everything else lives here:

Every measurement is a fresh subprocess (one at a time, never two at once):

* ``compsim``            -> the workload's compsim worker
* ``brian2-standalone``  -> the workload's Brian2 worker ``--mode cpp_standalone``
* ``brian2-runtime``     -> the workload's Brian2 worker ``--mode runtime``
* ``compsim-<variant>``  -> the compsim worker with the variant's extra arguments
  (``Workload.compsim_variants``, e.g. ``compsim-exact``: ``--method exact``)

All workers take ``--n --threads --duration-ms --seed`` (the Brian2 ones also
``--mode`` and ``--cold``) and print one line ``RESULT {json}``.  The driver
measures ``total_s`` itself as the wall time around the subprocess (interpreter
start to exit) and overwrites the worker's value with it (the worker's own
value, which misses the interpreter start-up, is kept as ``total_in_process_s``).

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
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))

ENGINES = ("compsim", "brian2-standalone", "brian2-runtime")
LABELS = {
    "compsim": "compsim cpu",
    "brian2-standalone": "brian2 cpp_standalone",
    "brian2-runtime": "brian2 runtime (cython)",
}
REQUIRED_KEYS = ("workload", "n", "engine", "mode", "threads", "sim_s", "compile_s",
                 "total_s", "peak_rss_mb", "spikes")


@dataclass(frozen=True)
class Workload:
    """What a benchmark script tells the driver about its workload.

    ``name``: as in the benchmark definition ("COBA"); ``compsim_worker`` and
    ``brian2_worker``: file names of the worker scripts in ``benchmarks/``;
    ``sizes``: the defined sizes, for ``--help``; ``exc_fraction``: fraction of
    excitatory neurons, shown in the header (None: not shown).
    """

    name: str
    compsim_worker: str
    brian2_worker: str
    sizes: str = "4000 (reference), 32000, 128000"
    default_n: int = 4000
    dt_ms: float = 0.1
    exc_fraction: float | None = 0.8
    # further compsim engines: (engine name starting with "compsim-", label, extra worker arguments),
    # e.g. ("compsim-exact", "compsim cpu, exact", ("--method", "exact"))
    compsim_variants: tuple = ()
    # further table columns: (header, record key), shown as median [min-max] (strings as they are)
    extra_columns: tuple = ()

    @property
    def engines(self):
        return ENGINES + tuple(v[0] for v in self.compsim_variants)

    @property
    def labels(self):
        return {**LABELS, **{v[0]: v[1] for v in self.compsim_variants}}

    def worker_path(self, engine):
        return os.path.join(HERE, self.compsim_worker if is_compsim(engine) else self.brian2_worker)


def is_compsim(engine):
    return engine == "compsim" or engine.startswith("compsim-")


def worker_cmd(workload, engine, args, cold=False):
    common = ["--n", str(args.n), "--threads", str(args.threads),
              "--duration-ms", repr(args.duration_ms), "--seed", str(args.seed)]
    if is_compsim(engine):
        extra = [a for v in workload.compsim_variants if v[0] == engine for a in v[2]]
        return [sys.executable, workload.worker_path(engine)] + common + extra
    mode = "cpp_standalone" if engine == "brian2-standalone" else "runtime"
    cmd = [sys.executable, workload.worker_path(engine), "--mode", mode] + common
    return cmd + (["--cold"] if cold else [])


def run_worker(workload, engine, args, cold=False):
    """Run one worker in a fresh process; return its record or None on failure."""
    cmd = worker_cmd(workload, engine, args, cold)
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


def print_table(engines, timed, extra_columns=()):
    header = ("engine / mode", "runs", "sim_s median [min-max]", "compile_s",
              "setup_s", "total_s median [min-max]", "peak RSS MB (py/bin)",
              "spikes", "rate Hz") + tuple(h for h, _ in extra_columns)
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
        extra = []
        for _, key in extra_columns:
            v = _values(recs, key)
            if v:
                lo, hi, md = min(v), max(v), statistics.median(v)
                extra.append(f"{md:.3g}" if lo == hi else f"{md:.3g} [{lo:.3g}-{hi:.3g}]")
            else:
                extra.append(str(r0.get(key, "-")))
        rows.append((name, str(len(recs)), _med_range(recs, "sim_s"),
                     _fmt(_med(recs, "compile_s")), _fmt(setup),
                     _med_range(recs, "total_s"), rss, spikes,
                     "-" if rate is None else f"{rate:.2f}", *extra))
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


def print_ratios(engines, timed, labels=LABELS):
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
    for cs_engine in (e for e in present if is_compsim(e)):
        headline = [("brian2-standalone", "sim_s"), ("brian2-runtime", "total_s")]
        cs_name = "compsim" if cs_engine == "compsim" else labels[cs_engine]
        for other, key in headline:
            if other in present:
                r = ratio(other, cs_engine, key)
                print(f"  ** {labels[other]} {key[:-2]} / {cs_name} {key[:-2]}: "
                      f"{_fmt(r)}x  (speed-up of compsim; > 1 = compsim faster)")
    pairs = []
    for i, a in enumerate(present):
        for b in present[i + 1:]:
            # the slower-by-construction engine in the numerator: Brian2 over
            # compsim, runtime over standalone (between compsim engines: the later over the earlier)
            num, den = (b, a) if is_compsim(a) or (a, b) == (
                "brian2-standalone", "brian2-runtime") else (a, b)
            pairs.append((num, den))
    for num, den in pairs:
        parts = []
        for key in ("sim_s", "compile_s", "total_s"):
            parts.append(f"{key[:-2]} {_fmt(ratio(num, den, key))}x")
        print(f"  {labels[num]} / {labels[den]}: " + ", ".join(parts))
    if not any(is_compsim(e) for e in present):
        print("  (no compsim figures: no ratios against compsim)")


def parse_args(workload, argv=None):
    ap = argparse.ArgumentParser(description=f"{workload.name} benchmark: compsim vs Brian2.")
    ap.add_argument("--n", type=int, default=workload.default_n,
                    help=f"number of neurons; defined sizes {workload.sizes}")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per engine")
    ap.add_argument("--engines", default=",".join(workload.engines),
                    help="comma-separated subset of " + ",".join(workload.engines))
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
    unknown = [e for e in engines if e not in workload.engines]
    if unknown:
        ap.error(f"unknown engine(s) {unknown}; choose from {', '.join(workload.engines)}")
    if args.n < 5 or args.repeats < 1 or args.threads < 1:
        ap.error("--n >= 5, --repeats >= 1 and --threads >= 1 are required")
    return args, engines


def main(workload, argv=None):
    """Run the benchmark of ``workload`` with the command line ``argv``; returns the exit status."""
    args, engines = parse_args(workload, argv)

    compsim_worker = workload.worker_path("compsim")
    if any(is_compsim(e) for e in engines) and not os.path.isfile(compsim_worker):
        print(f"NOTE: {os.path.relpath(compsim_worker)} does not exist (the compsim worker "
              "has not been written yet): skipping the compsim engines.", flush=True)
        engines = [e for e in engines if not is_compsim(e)]
    if not engines:
        print("No engine left to run.")
        return 1

    try:
        load = os.getloadavg()
    except OSError:
        load = None
    size = f"N={args.n}"
    if workload.exc_fraction is not None:
        size += f" (NE={int(workload.exc_fraction * args.n)})"
    print(f"{workload.name} benchmark: {size}, dt={workload.dt_ms:g} ms, "
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
            rec = run_worker(workload, eng, args, cold=args.cold_warmup)
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
            rec = run_worker(workload, eng, args)
            if rec is None:
                continue
            rec["warmup"] = False
            rec["repeat"] = rep
            records.append(rec)
            timed[eng].append(rec)
            print(f"  [{rep + 1}/{args.repeats}] {eng:18s} sim {_fmt(rec.get('sim_s'))} s, "
                  f"compile {_fmt(rec.get('compile_s'))} s, total {_fmt(rec['total_s'])} s, "
                  f"spikes {rec.get('spikes')}"
                  + "".join(f", {key} {_fmt(rec[key])}" for _, key in workload.extra_columns
                            if isinstance(rec.get(key), (int, float))), flush=True)

    print()
    print(f"Results, N={args.n}: medians over the timed runs (warm caches). sim_s = "
          "simulation loop (Brian2 standalone: run time measured inside the C++ code); "
          "compile_s = code generation + compilation/loading (Brian2 runtime: net.run(0 ms); "
          "standalone: codegen + make); setup_s = building the network objects; total_s = "
          "wall time of the whole process, measured by this driver.")
    print_table(engines, timed, workload.extra_columns)
    print_ratios(engines, timed, workload.labels)

    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)
        print(f"\nwrote {len(records)} records ({sum(r['warmup'] for r in records)} warm-up, "
              f"flagged \"warmup\": true) to {args.json}")
    return 0 if any(timed.values()) else 1
