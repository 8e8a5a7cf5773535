"""compsim worker of the five-compartment benchmark (run by ``benchmarks/five_compartment.py``, one process per measurement).

``python benchmarks/_compsim_five_compartment.py --n 1000 --threads 1 --duration-ms 1000 --seed 1
[--method exponential_euler|exact]`` prints one line ``RESULT {json}`` (phases:
:mod:`_compsim_common`).

The population and its Poisson inputs are those of ``_five_compartment_cell.py``
(:func:`build_compsim`); ``--method exponential_euler`` is the scheme of the Brian2
worker, ``--method exact`` compsim's implicit (backward-Euler, Hines) tree solver.
Besides the spikes the record holds the plateau count (``plateaus``,
``plateau_rate_hz``) and the standard errors over neurons of both rates.
"""
import time

T_START = time.perf_counter()

import sys  # noqa: E402

import numpy as np  # noqa: E402

import _compsim_common  # noqa: E402


def per_neuron_sem(train, n, dur_s):
    """Standard error over neurons of the per-neuron event rate (Hz)."""
    counts = np.bincount(np.asarray(train.i, dtype=np.int64), minlength=n) / dur_s
    return float(counts.std(ddof=1) / np.sqrt(n))


def add_arguments(ap):
    ap.add_argument("--method", choices=("exponential_euler", "exact"), default="exponential_euler")


def build(args):
    from _five_compartment_cell import build_compsim

    return build_compsim(args.n, seed=args.seed, method=args.method, **_compsim_common.network_options(args))[0]


def summarise(res, args):
    dur_s = args.duration_ms / 1000.0
    spikes, plateaus = res.spikes["spikes"], res.spikes["plateaus"]
    return {"mode": "cpu exact" if args.method == "exact" else "cpu", "method": args.method,
            "spikes": int(spikes.count()), "rate_hz": spikes.count() / args.n / dur_s,
            "rate_sem_hz": per_neuron_sem(spikes, args.n, dur_s),
            "plateaus": int(plateaus.count()), "plateau_rate_hz": plateaus.count() / args.n / dur_s,
            "plateau_rate_sem_hz": per_neuron_sem(plateaus, args.n, dur_s)}


if __name__ == "__main__":
    sys.exit(_compsim_common.main("five_compartment", build, summarise, t_start=T_START, default_n=1000,
                                  add_arguments=add_arguments, description=__doc__.splitlines()[0]))
