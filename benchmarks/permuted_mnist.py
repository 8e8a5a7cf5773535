"""PermutedMNIST, 10 tasks, the reference setup (784-2048-2048-10): active dendrites + k-WTA, k-WTA alone, dense MLP.

    python benchmarks/permuted_mnist.py [--seeds 0,1,2] [--tasks 10] [--figure docs/permuted_mnist.png]

Each network kind is trained task after task (3 epochs per task, Adam, batch 256,
embedded split: 8,000 training / 2,000 test digits per task) once per seed, with
:func:`compsim.protocols.permuted_mnist.run`. Prints, after every task, the mean
accuracy over the tasks seen so far (mean and standard deviation over the seeds),
the final average and the wall time per run, and draws the curves.
"""
import argparse
import time

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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--tasks", type=int, default=10)
    ap.add_argument("--hidden", default="2048,2048")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--figure", default=None, help="write the curves here (PNG/PDF/SVG)")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    hidden = tuple(int(h) for h in args.hidden.split(","))
    curves, walls = {}, {}
    for kind in args.kinds.split(","):
        per_seed = []
        for seed in seeds:
            exp = Experiment(tasks=args.tasks, hidden=hidden, kinds=(kind,), seed=seed)
            t0 = time.perf_counter()
            matrix = run(exp, progress=False, log=lambda text: None)[kind]
            walls.setdefault(kind, []).append(time.perf_counter() - t0)
            per_seed.append(np.nanmean(matrix, axis=1))
            print(f"{kind} seed {seed}: after {args.tasks} tasks {100 * per_seed[-1][-1]:.2f} % "
                  f"({walls[kind][-1]:.0f} s)", flush=True)
        curves[kind] = np.array(per_seed)
    print(f"\nmean accuracy over the tasks seen so far (%), mean +- sd over seeds {seeds}")
    print("tasks " + "".join(f"{LABELS[k]:>29}" for k in curves))
    for t in range(args.tasks):
        print(f"{t + 1:5d} " + "".join(f"{100 * c[:, t].mean():20.2f} +- {100 * c[:, t].std():5.2f}"
                                       for c in curves.values()))
    print("wall  " + "".join(f"{np.mean(walls[k]):27.0f} s" for k in curves) + "   (per run, mean over seeds)")
    if args.figure:
        plot(curves, args.figure)
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
