"""Continual learning on PermutedMNIST with active dendrites and k-winners-take-all (seed 000, after Iyer et al. 2022).

Task t shows the digits with a fixed random pixel permutation (keyed by
``(seed, t)``); the networks learn the tasks one after the other and are
tested after each task on every task seen so far.

Networks, the reference setup scaled by ``hidden`` (default two layers of 2,048):

``dendrites``
    :class:`~compsim.training.dendrites.ActiveDendrites` layers (one segment per task,
    50 % feedforward weight sparsity) each followed by k-winners-take-all (5 % active),
    a shared linear head. The context of an example is its task's *prototype*, the mean
    training image of the task; at test time each image takes the context of the nearest
    prototype (Euclidean), so the task is inferred, not given.
``kwta``
    the same sizes and k-WTA, without dendrites;
``dense``
    the plain ReLU MLP of the same size (which forgets).

All are trained the same way: Adam (one optimiser for the whole sequence), mini-batches
of 256, ``epochs`` epochs per task, inputs standardised with the MNIST mean and standard
deviation (0.1307, 0.3081), as the reference's data loader does. Arithmetic in float32 by
default (as the reference's PyTorch code); ``dtype="float64"`` for double precision.
"""
import argparse
import sys
import time
from dataclasses import dataclass

import h5py
import numpy as np

from compsim.data.mnist import load_split
from compsim.training import Adam, Affine, Sequential, accuracy, fit
from compsim.training.dendrites import ActiveDendrites, ContextSequential, KWinners

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
KINDS = ("dendrites", "kwta", "dense")


@dataclass
class Experiment:
    tasks: int = 10
    hidden: tuple = (2048, 2048)
    active: float = 0.05
    density: float = 0.5
    epochs: int = 3
    batch: int = 256
    lr: float = 1e-3
    kinds: tuple = KINDS
    seed: int = 0
    dtype: str = "float32"
    n_train: int | None = None
    n_test: int | None = None
    train_files: tuple | None = None
    test_files: tuple | None = None


def build(kind, exp, rng):
    """The network ``kind`` (module docstring) for ``exp``."""
    sizes = (784, *exp.hidden)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        if kind == "dendrites":
            layers.append(ActiveDendrites(n_in, n_out, exp.tasks, 784, density=exp.density, rng=rng,
                                          dtype=exp.dtype))
        else:
            layers.append(Affine(n_in, n_out, relu=kind == "dense", rng=rng, dtype=exp.dtype))
        if kind != "dense":
            layers.append(KWinners(max(1, int(round(exp.active * n_out)))))
    layers.append(Affine(sizes[-1], 10, relu=False, rng=rng, dtype=exp.dtype))
    return ContextSequential(*layers) if kind == "dendrites" else Sequential(*layers)


def permutations(exp):
    """One pixel permutation per task, keyed by (seed, task)."""
    return [np.random.default_rng([exp.seed, 0x9E44, t]).permutation(784) for t in range(exp.tasks)]


def run(exp, outdir=None, *, progress=True, log=print):
    """Train every network kind task after task; returns ``{kind: accuracy matrix}`` where row t holds the
    accuracy on tasks 0..t after training task t (NaN beyond), and writes it to ``outdir/permuted_mnist.h5``."""
    x_train, y_train, x_test, y_test = load_split(exp.n_train, exp.n_test, exp.train_files, exp.test_files)
    x_train = ((x_train - MNIST_MEAN) / MNIST_STD).astype(exp.dtype)
    x_test = ((x_test - MNIST_MEAN) / MNIST_STD).astype(exp.dtype)
    perms = permutations(exp)
    prototypes = np.stack([x_train[:, p].mean(axis=0) for p in perms])
    results = {}
    for kind in exp.kinds:
        rng = np.random.default_rng(exp.seed)
        model = build(kind, exp, rng)
        optimiser = Adam(model.params, lr=exp.lr)
        matrix = np.full((exp.tasks, exp.tasks), np.nan)
        t0 = time.perf_counter()
        for task, perm in enumerate(perms):
            train_context = np.repeat(prototypes[task][None], len(y_train), axis=0) if kind == "dendrites" else None
            fit(model, x_train[:, perm], y_train, x_test[:0], y_test[:0], epochs=exp.epochs, batch=exp.batch,
                optimiser=optimiser, seed=exp.seed * 1000 + task, name=f"{kind} task {task + 1}", progress=progress,
                context=train_context, test_context=None if train_context is None else train_context[:0])
            for seen in range(task + 1):
                x = x_test[:, perms[seen]]
                context = None
                if kind == "dendrites":  # infer the task: the nearest prototype among the tasks seen so far
                    distances = ((x[:, None, :] - prototypes[None, :task + 1]) ** 2).sum(axis=2)
                    context = prototypes[np.argmin(distances, axis=1)]
                matrix[task, seen] = accuracy(model, x, y_test, context=context)
            log(f"{kind}: after task {task + 1}, mean accuracy over {task + 1} tasks "
                f"{100 * np.nanmean(matrix[task]):.2f} % ({time.perf_counter() - t0:.0f} s)")
        results[kind] = matrix
        if outdir is not None:
            with h5py.File(f"{outdir}/permuted_mnist.h5", "a") as f:
                if kind in f:
                    del f[kind]
                f.create_dataset(kind, data=matrix).attrs["units"] = "1"
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(prog="permuted_mnist", description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--outdir", default=".")
    ap.add_argument("--tasks", type=int, default=10)
    ap.add_argument("--hidden", default="2048,2048")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--train-files", nargs=2, metavar=("IMAGES", "LABELS"))
    ap.add_argument("--test-files", nargs=2, metavar=("IMAGES", "LABELS"))
    args = ap.parse_args(argv)
    exp = Experiment(tasks=args.tasks, hidden=tuple(int(h) for h in args.hidden.split(",")), epochs=args.epochs,
                     kinds=tuple(args.kinds.split(",")), seed=args.seed, dtype=args.dtype, train_files=args.train_files,
                     test_files=args.test_files)
    run(exp, args.outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
