"""PermutedMNIST, 10 tasks, the reference setup (784-2048-2048-10): active dendrites + k-WTA, k-WTA alone, dense MLP.

    python benchmarks/permuted_mnist.py [--seeds 0,1,2] [--tasks 10] [--out DIR] [--figure docs/permuted_mnist.png]

Each network kind is trained task after task (the reference setup of
:mod:`compsim.protocols.permuted_mnist`; embedded split: 8,000 training / 2,000 test
digits per task) once per seed. Prints, after every task, the mean accuracy over the
tasks seen so far (mean and standard deviation over the seeds), the final average and
the wall time per run, and draws the curves. With ``--out DIR`` each seed's accuracy
matrices go to ``DIR/seed<s>/permuted_mnist.h5`` and the table and figure cover every
seed found there (seeds run before, or by ``examples/permuted_mnist.py --seed s -o
DIR/seed<s>``, included).
"""
import glob
import os
import argparse
import time

import h5py
import numpy as np

from compsim.protocols.permuted_mnist import KINDS, Experiment, run

LABELS = {"dendrites": "active dendrites + k-WTA", "kwta": "k-WTA alone", "dense": "dense MLP"}


def plot(curves, path):
    """Mean accuracy over the tasks seen so far against the number of tasks, mean +- sd over seeds."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for kind, per_seed in curves.items():
        tasks = np.arange(1, per_seed.shape[1] + 1)
        mean, sd = 100 * per_seed.mean(axis=0), 100 * per_seed.std(axis=0)
        ax.errorbar(tasks, mean, yerr=sd, marker="o", ms=3, capsize=2, label=LABELS[kind])
    ax.set_xlabel("tasks learned")
    ax.set_ylabel("mean accuracy over tasks seen (%)")
    ax.set_title(f"PermutedMNIST, embedded split, {per_seed.shape[0]} seeds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=150)


def saved_curves(directory, kinds):
    """``({kind: (seeds, tasks) mean accuracy over the tasks seen}, seeds)`` from ``directory/seed*/``."""
    files = sorted(glob.glob(os.path.join(directory, "seed*", "permuted_mnist.h5")))
    curves, seeds = {kind: [] for kind in kinds}, []
    for path in files:
        with h5py.File(path, "r") as f:
            if not all(kind in f for kind in kinds):
                continue
            seeds.append(int(os.path.basename(os.path.dirname(path))[4:]))
            for kind in kinds:
                curves[kind].append(np.nanmean(f[kind][()], axis=1))
    return {kind: np.array(c) for kind, c in curves.items()}, seeds


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--tasks", type=int, default=10)
    ap.add_argument("--hidden", default="2048,2048")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--out", default=None, help="keep each seed's matrices in DIR/seed<s>/permuted_mnist.h5")
    ap.add_argument("--figure", default=None, help="write the curves here (PNG/PDF/SVG)")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    hidden = tuple(int(h) for h in args.hidden.split(","))
    curves, walls = {}, {}
    for kind in args.kinds.split(","):
        per_seed = []
        for seed in seeds:
            exp = Experiment(tasks=args.tasks, hidden=hidden, kinds=(kind,), seed=seed)
            outdir = None if args.out is None else os.path.join(args.out, f"seed{seed}")
            if outdir is not None:
                os.makedirs(outdir, exist_ok=True)
            t0 = time.perf_counter()
            matrix = run(exp, outdir, progress=False, log=lambda text: None)[kind]
            walls.setdefault(kind, []).append(time.perf_counter() - t0)
            per_seed.append(np.nanmean(matrix, axis=1))
            print(f"{kind} seed {seed}: after {args.tasks} tasks {100 * per_seed[-1][-1]:.2f} % "
                  f"({walls[kind][-1]:.0f} s)", flush=True)
        curves[kind] = np.array(per_seed)
    if args.out is not None:  # every seed kept in DIR, this run's and earlier ones
        curves, seeds = saved_curves(args.out, list(curves))
    print(f"\nmean accuracy over the tasks seen so far (%), mean +- sd over seeds {seeds}")
    print("tasks " + "".join(f"{LABELS[k]:>29}" for k in curves))
    for t in range(args.tasks):
        print(f"{t + 1:5d} " + "".join(f"{100 * c[:, t].mean():20.2f} +- {100 * c[:, t].std():5.2f}"
                                       for c in curves.values()))
    print("wall  " + "".join(f"{np.mean(walls[k]):27.0f} s" for k in walls) + "   (per run, mean over this run's seeds)")
    if args.figure:
        plot(curves, args.figure)
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
