"""Workload-independent part of the Brian2 benchmark workers (``_brian2_coba.py``, ``_brian2_cobahh.py``).

A worker defines ``build(b2, n)``, which creates its network's objects (the
device, ``defaultclock.dt`` and the seed are set already) and returns
``(objects, spike_monitor, synapses)`` or ``(objects, spike_monitor, synapses,
extra)`` with ``extra(n, duration_s)`` returning further entries of the record
(read after the run, e.g. counts of other events), and calls :func:`main` with it; this
module parses the command line, sets up the device, times the phases, and
prints exactly one line ``RESULT {json}`` on stdout at the end.  Everything
else Brian2 or the standalone binary prints is noise to the driver
(``benchmarks/_driver.py``).

Command line (the same for every workload)::

    python benchmarks/_brian2_<workload>.py --n 4000 --mode cpp_standalone
    python benchmarks/_brian2_<workload>.py --n 4000 --mode runtime [--cold]

Phases (time.perf_counter):

* ``t_import``: ``import brian2``.
* ``t_setup``: building the network objects (runtime mode: includes creating
  the synapses, which compiles the synapse-creation code on a cold cache;
  standalone mode: only records what to generate).
* runtime mode: ``t_prep`` = ``net.run(0*ms)`` (code generation + Cython
  compilation on a cold cache, loading cached modules on a warm one) and
  ``t_sim`` = ``net.run(duration)``.  ``compile_s`` = ``t_prep``.  On a cold
  cache ``t_setup`` holds compilation too (initialisers and synapse creation;
  the connection probability is a literal in that code, so the first run at a
  new N compiles it again even with a warm cache).
* standalone mode: ``device.build(run=True, compile=True)``, split into
  ``t_make`` (Brian2's own timer around ``make``, plus ``make clean`` if any),
  ``t_binary`` (Brian2's own timer around running ``./main``: loading arrays,
  creating synapses, simulating, writing results) and ``t_codegen`` = the rest
  of ``device.build`` (code generation; it also contains Brian2's short
  post-run NaN check of the state arrays, a few ms).  ``t_sim`` =
  ``device._last_run_time`` (the run time measured inside the C++ code);
  ``compile_s`` = ``t_codegen + t_make``.
* ``total_s``: wall time from the first statement of the worker script (its
  ``t_start``) to the RESULT line.  It does NOT include the interpreter
  start-up before that statement; the driver measures the wall time around the
  whole subprocess and overrides ``total_s`` with it (keeping this value as
  ``total_in_process_s``).

Cold / warm: the runtime mode uses its own Cython cache directory
(``~/.cache/compsim-bench/brian2_cython``, shared by the workloads: its entries
are keyed by the generated code), the standalone mode a per-workload, per-N
project directory (``~/.cache/compsim-bench/<project_prefix>_<N>``, with
``_omp<T>`` appended when T > 1 threads).  A second run finds them filled
("warm"); ``--cold`` wipes the directory used by this mode before starting.

Peak memory: ``ru_maxrss`` of this Python process; for standalone mode also the
peak RSS of ``./main`` alone (GNU time wrapped around it through
``prefs.devices.cpp_standalone.run_cmd_unix`` when /usr/bin/time exists;
otherwise ``RUSAGE_CHILDREN``, only an upper bound: on Linux it also covers the
compiler and the forked copy of this Python process before ``exec``).
``peak_rss_mb`` = max(Python process, binary), the peak of the job's largest
process; ``rss_python_mb`` and ``rss_binary_mb`` give both.
"""

import argparse
import json
import os
import resource
import shutil
import sys
import time

CACHE_ROOT = os.path.join(os.path.expanduser("~"), ".cache", "compsim-bench")
GNU_TIME = "/usr/bin/time"
DT_MS = 0.1


def _maxrss_mb(who):
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(who).ru_maxrss / 1024.0


def _children_cpu_s():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def exc_inh_network(b2, P, n_exc, p_conn, namespace):
    """The COBA / COBAHH wiring of group ``P``: its first ``n_exc`` neurons excite (``ge += we``), the rest
    inhibit (``gi += wi``), every pair with probability ``p_conn``; returns ``build``'s
    ``(objects, spike_monitor, synapses)``."""
    Ce = b2.Synapses(P[:n_exc], P, on_pre="ge += we", namespace=namespace, name="Ce")
    Ci = b2.Synapses(P[n_exc:], P, on_pre="gi += wi", namespace=namespace, name="Ci")
    Ce.connect(p=p_conn)
    Ci.connect(p=p_conn)
    mon = b2.SpikeMonitor(P, record=False, name="spikemon")
    return (P, Ce, Ci, mon), mon, (Ce, Ci)


def parse_args(description, project_prefix, argv=None):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--n", type=int, default=4000,
                    help="number of neurons (see the workload's defined sizes)")
    ap.add_argument("--mode", choices=("cpp_standalone", "runtime"), required=True)
    ap.add_argument("--duration-ms", type=float, default=1000.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1,
                    help="OpenMP threads (cpp_standalone only; runtime mode is single-threaded)")
    ap.add_argument("--build-dir", default=None,
                    help="standalone project directory (default: "
                         + os.path.join(CACHE_ROOT, project_prefix + "_<N>") + ")")
    ap.add_argument("--cython-cache-dir", default=None,
                    help="Cython cache directory for runtime mode (default: "
                         + os.path.join(CACHE_ROOT, "brian2_cython") + ")")
    ap.add_argument("--cold", action="store_true",
                    help="wipe this mode's build directory / Cython cache first")
    args = ap.parse_args(argv)
    if args.n < 5:
        ap.error("--n must be >= 5")
    if args.threads < 1:
        ap.error("--threads must be >= 1")
    return args


def main(workload, build, *, t_start, cpu_start, project_prefix, description=None, argv=None):
    """Run one measurement of ``workload`` (its name in the RESULT record) built by ``build(b2, n)``.

    ``t_start`` / ``cpu_start``: ``time.perf_counter()`` / ``time.process_time()``
    taken by the worker's first statement; ``project_prefix``: name of the
    standalone project directory under ``CACHE_ROOT`` (``_<N>`` appended).
    """
    args = parse_args(description or f"Brian2 worker for the {workload} benchmark",
                      project_prefix, argv)
    # Not named n: Brian2 resolves external names in the namespace of net.run's caller (this
    # function), and COBAHH's gating variable n would then clash with it (harmless, but warned).
    size = args.n
    standalone = args.mode == "cpp_standalone"
    threads = args.threads if standalone else 1
    notes = []
    if not standalone and args.threads > 1:
        notes.append("runtime (cython) mode is single-threaded; --threads ignored")
        print("warning: " + notes[-1], file=sys.stderr)

    if standalone:
        build_dir = args.build_dir or os.path.join(
            CACHE_ROOT, f"{project_prefix}_{size}" + (f"_omp{threads}" if threads > 1 else ""))
        build_dir = os.path.abspath(build_dir)
        if args.cold and os.path.isdir(build_dir):
            shutil.rmtree(build_dir)
        was_warm = os.path.isfile(os.path.join(build_dir, "main"))
        cache_dir = None
    else:
        build_dir = None
        cache_dir = os.path.abspath(args.cython_cache_dir
                                    or os.path.join(CACHE_ROOT, "brian2_cython"))
        if args.cold and os.path.isdir(cache_dir):
            shutil.rmtree(cache_dir)
        was_warm = os.path.isdir(cache_dir) and bool(os.listdir(cache_dir))
        os.makedirs(cache_dir, exist_ok=True)

    # ---- import -------------------------------------------------------------
    t0 = time.perf_counter()
    import brian2 as b2
    from brian2 import ms
    t_import = time.perf_counter() - t0

    # ---- setup --------------------------------------------------------------
    t0 = time.perf_counter()
    b2.prefs.logging.console_log_level = "WARNING"
    if standalone:
        b2.set_device("cpp_standalone", directory=build_dir, build_on_run=False)
        if threads > 1:
            b2.prefs.devices.cpp_standalone.openmp_threads = threads
        rss_file = os.path.join(build_dir, "results", "_main_time.txt")
        if os.path.exists(GNU_TIME):
            # %M = peak RSS (KiB), %e = wall, %U/%S = user/system CPU of ./main
            b2.prefs.devices.cpp_standalone.run_cmd_unix = [
                GNU_TIME, "-f", "%M %e %U %S", "-o", rss_file, "./main"]
    else:
        b2.prefs.codegen.target = "cython"
        b2.prefs.codegen.runtime.cython.cache_dir = cache_dir
    b2.defaultclock.dt = DT_MS * ms
    b2.seed(args.seed)

    built = build(b2, size)
    objects, mon, synapses = built[:3]
    extra = built[3] if len(built) > 3 else None
    net = b2.Network(*objects)
    duration = args.duration_ms * ms

    rec = {}
    if standalone:
        net.run(duration)  # only records the run for code generation
        t_setup = time.perf_counter() - t0
        cpu_children_before = _children_cpu_s()
        t0 = time.perf_counter()
        b2.device.build(directory=build_dir, run=True, compile=True)
        t_build = time.perf_counter() - t0
        timers = b2.device.timers
        t_make = (timers["compile"]["make"] or 0.0) + (timers["compile"]["clean"] or 0.0)
        t_binary = timers["run_binary"] or 0.0
        t_codegen = t_build - t_make - t_binary
        t_sim = float(b2.device._last_run_time)
        compile_s = t_codegen + t_make
        rss_binary = None
        binary_cpu = None
        try:
            with open(rss_file) as f:
                fields = f.read().split()
            rss_binary = float(fields[-4]) / 1024.0
            binary_cpu = float(fields[-2]) + float(fields[-1])
        except (OSError, ValueError, IndexError):
            pass
        if rss_binary is None:
            # Fallback only: RUSAGE_CHILDREN is the max over all children, i.e. also
            # the compiler and the forked copy of this Python process before exec,
            # so it is an upper bound of the binary's RSS, not its RSS.
            notes.append("binary RSS unknown (no GNU time): RUSAGE_CHILDREN upper bound "
                         "used (includes compiler and the forked Python process)")
            rss_binary = _maxrss_mb(resource.RUSAGE_CHILDREN)
        rec.update(t_codegen=t_codegen, t_make=t_make, t_binary=t_binary,
                   t_build=t_build, binary_cpu_s=binary_cpu,
                   build_children_cpu_s=_children_cpu_s() - cpu_children_before,
                   rss_binary_mb=rss_binary, build_dir=build_dir)
    else:
        t_setup = time.perf_counter() - t0
        t0 = time.perf_counter()
        net.run(0 * ms)
        t_prep = time.perf_counter() - t0
        c0 = time.process_time()
        t0 = time.perf_counter()
        net.run(duration)
        t_sim = time.perf_counter() - t0
        rec.update(t_prep=t_prep, sim_cpu_s=time.process_time() - c0,
                   cython_cache_dir=cache_dir)
        compile_s = t_prep
        rss_binary = None

    spikes = int(mon.num_spikes)
    n_syn = sum(int(len(s)) for s in synapses)
    rss_python = _maxrss_mb(resource.RUSAGE_SELF)
    peak = max(rss_python, rss_binary or 0.0)
    total = time.perf_counter() - t_start
    dur_s = args.duration_ms / 1000.0

    out = {
        "workload": workload,
        "n": size,
        "engine": "brian2",
        "mode": args.mode,
        "threads": threads,
        "sim_s": t_sim,
        "compile_s": compile_s,
        "total_s": total,
        "total_in_process_s": total,
        "peak_rss_mb": peak,
        "rss_python_mb": rss_python,
        "spikes": spikes,
        "rate_hz": spikes / size / dur_s,
        "synapses": n_syn,
        "duration_ms": args.duration_ms,
        "dt_ms": DT_MS,
        "seed": args.seed,
        "cache_warm_at_start": was_warm,
        "t_import": t_import,
        "t_setup": t_setup,
        "cpu_s": time.process_time() - cpu_start + _children_cpu_s(),
        "brian2_version": b2.__version__,
    }
    out.update(rec)
    if extra is not None:
        out.update(extra(size, dur_s))
    if notes:
        out["notes"] = notes
    sys.stdout.flush()
    print("RESULT " + json.dumps(out), flush=True)
    return 0
