"""Dendritic normalisation of a sparse MLP trained with SET on MNIST (seed 001, Bird & Cuntz, Fig. 1d and 3f).

One sigmoid hidden layer of ``hidden`` units (paper: 30, 100, 300) receives an
Erdős–Rényi sparse projection from the 784 pixels (connection probability
``epsilon = 0.2``); after every epoch sparse evolutionary training (SET) excises
the fraction ``zeta = 0.15`` of the weakest hidden-layer contacts and grows as
many at random with ``v ~ N(0, 1)``. A dense softmax read-out of 10 units, the
log-likelihood (softmax cross-entropy) cost, plain SGD with mini-batches of 10
at learning rate 0.05 (the paper's section 2 and Fig. 1 caption). Variants of the
hidden layer (:mod:`compsim.training.sparse`, :mod:`compsim.training.batchnorm`):

``none``       the unnormalised control, ``w_i = v_i`` (blue in the paper);
``l0``         dendritic normalisation ``w_i = s v_i / ||v_i||_0`` trained on its exact gradient, eq. 2 (orange);
``l0_active``  the same normalisation with the ``v`` update of the authors' published code, which divides each
               example's term by the number of *active* afferents instead of ``||v_i||_0`` (not a gradient of C);
``l2``         heterosynaptic normalisation (Salimans & Kingma) ``w_i = g_i v_i / ||v_i||_2`` (green, Fig. 3f);
``l0l2``       the joint normalisation, eq. 3 (red, Fig. 3f);
``batchnorm``  unnormalised sparse weights, batch normalisation (Ioffe & Szegedy) of the pre-activations.

Initialisation (the text leaves it to its Supplementary File 2, the code at
github.com/synapsesanddendrites/Dendritic-normalisation, from which these are
taken; ``network_sp.py``, ``network_nm.py``, ``network_nm_L2.py``): hidden
``v ~ N(0, 1)`` on the mask (the paper's "new connections are distributed
normally with mean 0 and standard deviation 1" at the start too), biases
``~ N(0, 1)``, the read-out dense with weights and biases ``~ N(0, 1)`` (Nielsen's
``network2.py`` "large weight" initialiser) and never normalised or rewired,
initial ``s = 25`` (``s_init=25``) and ``g_i = 25`` (``g_init=25``); pixels in
[0, 1]. With ``n ~ 157`` afferents the control starts with pre-activations of
standard deviation ~4 (saturated sigmoids), L0 with ~0.6.

Measurement: held-out accuracy after every epoch, after the SET step, as the authors' code does
(batch normalisation in evaluation mode: its running statistics); training cost: the mean
cost over the epoch's mini-batches. Every seed k builds the same initial network (mask, ``v``,
biases, read-out) and mini-batch order for all variants: the comparison is paired.
"""
import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compsim.checks import check_choice, check_count, check_number
from compsim.data.mnist import load_split
from compsim.training import LearningCurve, Sequential, accuracy, fit
from compsim.training.batchnorm import BatchNorm
from compsim.training.sparse import SparseAffine

VARIANTS = ("none", "l0", "l0_active", "l2", "l0l2", "batchnorm")
LABELS = {"none": "unnormalised", "l0": "dendritic L0 (eq. 2)", "l0_active": "dendritic L0 (authors' update)",
          "l2": "heterosynaptic L2", "l0l2": "joint L0/L2", "batchnorm": "batch norm"}
STYLES = {"none": ("C0", "-"), "l0": ("C1", "-"), "l0_active": ("C1", "--"), "l2": ("C2", "-"),
          "l0l2": ("C3", "-"), "batchnorm": ("C4", "-")}
CURVES_FILE, FIGURE_FILE = "sparse_normalisation.h5", "sparse_normalisation.png"


@dataclass
class Experiment:
    """What to train (module docstring for the choices)."""

    hidden: int = 100
    epsilon: float = 0.2
    zeta: float = 0.15
    epochs: int = 20
    batch: int = 10
    lr: float = 0.05
    s: float = 25.0
    variants: tuple = ("none", "l0", "l0_active", "l2", "batchnorm")
    seeds: int = 5
    seed: int = 0
    n_train: int | None = None
    n_test: int | None = None
    train_files: tuple | None = None
    test_files: tuple | None = None


def build(variant, exp, rng):
    """The network of ``variant``: sparse hidden layer (+ batch normalisation), dense read-out."""
    check_choice("variant", variant, VARIANTS, owner="sparse_normalisation")
    normalise = {"l0_active": "l0", "batchnorm": "none"}.get(variant, variant)
    hidden = SparseAffine(784, exp.hidden, epsilon=exp.epsilon, normalise=normalise, s=exp.s,
                          activation="none" if variant == "batchnorm" else "sigmoid",
                          update="active" if variant == "l0_active" else "gradient", rng=rng)
    readout = SparseAffine(exp.hidden, 10, epsilon=1.0, activation="none", rng=rng)
    if variant == "batchnorm":
        return Sequential(hidden, BatchNorm(exp.hidden, activation="sigmoid"), readout)
    return Sequential(hidden, readout)


def held_out(model, x, y):
    """Accuracy on ``(x, y)`` with every batch normalisation in evaluation mode."""
    norms = [layer for layer in model.layers if isinstance(layer, BatchNorm)]
    for layer in norms:
        layer.training = False
    try:
        return accuracy(model, x, y)
    finally:
        for layer in norms:
            layer.training = True


def train(variant, exp, k, data, progress=True):
    """One trial (seed ``k``) of ``variant``: SET after each epoch, then the held-out test. Returns its curve."""
    x_train, y_train, x_test, y_test = data
    model = build(variant, exp, np.random.default_rng([exp.seed, k]))
    sparse = model.layers[0]

    def after_epoch(curve, optimiser):  # fit is given no held-out set: SET first, then test (the authors' order)
        sparse.evolve(exp.zeta)
        curve.test_accuracy[-1] = held_out(model, x_test, y_test)

    before = held_out(model, x_test, y_test)
    curve = fit(model, x_train, y_train, x_test[:0], y_test[:0], epochs=exp.epochs, batch=exp.batch, lr=exp.lr,
                optimiser="sgd", seed=1000 * exp.seed + k, name=f"{variant}/seed{k}", progress=progress,
                on_epoch=after_epoch)
    curve.test_accuracy[0] = before
    return curve


def summarise(curves, name):
    """``(mean, sd)`` over trials, as two :class:`LearningCurve` named ``name/mean`` and ``name/sd``."""
    stats = []
    for reduce, suffix in ((np.mean, "mean"), (np.std, "sd")):
        out = LearningCurve(f"{name}/{suffix}")
        for key in LearningCurve.UNITS:
            values = reduce([getattr(c, key) for c in curves], axis=0)
            setattr(out, key, list(curves[0].epoch) if key == "epoch" else [float(v) for v in values])
        stats.append(out)
    return tuple(stats)


def at_epoch(curves, epoch):
    """Held-out accuracy (%) after ``epoch`` over trials: ``(mean, sd)``."""
    values = 100 * np.array([c.test_accuracy[epoch] for c in curves])
    return float(values.mean()), float(values.std())


def figure(summaries, path, title=""):
    """Like the paper's Fig. 1d: training cost (top) and held-out accuracy (bottom) from epoch 1, mean +- sd shaded."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(6.5, 6.5))
    top, bottom = fig.subplots(2, 1, sharex=True)
    for variant, (mean, sd) in summaries.items():
        colour, line = STYLES[variant]
        epoch = np.asarray(mean.epoch)
        for ax, key, scale in ((top, "train_loss", 1.0), (bottom, "test_accuracy", 100.0)):  # from epoch 1
            m, s = scale * np.asarray(getattr(mean, key))[1:], scale * np.asarray(getattr(sd, key))[1:]
            ax.plot(epoch[1:], m, color=colour, ls=line, label=LABELS[variant])
            ax.fill_between(epoch[1:], m - s, m + s, color=colour, alpha=0.2, lw=0)
    top.set_ylabel("training cost (log-likelihood)")
    top.set_yscale("log")
    top.set_title(title, fontsize="medium")
    bottom.set_ylabel("held-out accuracy (%)")
    bottom.set_xlabel("epoch")
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    lowest = min(min(mean.test_accuracy[1:]) for mean, _ in summaries.values())
    bottom.set_ylim(max(0.0, 100 * lowest - 5), 100)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    bottom.legend(fontsize="small", loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    return path


def run(exp, outdir=None, *, progress=True, log=print):
    """Train every variant on ``exp.seeds`` seeds; returns ``{variant: [LearningCurve per seed]}``. With ``outdir``:
    every curve and the mean and sd over seeds in ``outdir/sparse_normalisation.h5``, the figure beside it."""
    owner = "sparse_normalisation"
    check_count("seeds", exp.seeds, owner=owner)
    check_count("hidden", exp.hidden, owner=owner)
    check_number("zeta", exp.zeta, lo=0.0, hi=1.0, hi_open=True, owner=owner)
    for variant in exp.variants:
        check_choice("variant", variant, VARIANTS, owner=owner)
    data = load_split(exp.n_train, exp.n_test, exp.train_files, exp.test_files)
    results, summaries = {}, {}
    for variant in exp.variants:
        t0 = time.perf_counter()
        results[variant] = [train(variant, exp, k, data, progress) for k in range(exp.seeds)]
        summaries[variant] = summarise(results[variant], variant)
        wall = (time.perf_counter() - t0) / exp.seeds
        report = ", ".join(f"epoch {e}: {m:.2f} +- {s:.2f} %" for e in sorted({1, min(5, exp.epochs), exp.epochs})
                           for m, s in [at_epoch(results[variant], e)])
        log(f"{LABELS[variant]:31s} held-out accuracy {report} ({exp.seeds} seeds, {wall:.1f} s per trial)")
    if outdir is not None:
        outdir = Path(outdir)
        attrs = {key: str(value) for key, value in vars(exp).items()}
        for variant, curves in results.items():
            for curve in (*curves, *summaries[variant]):
                curve.write(outdir / CURVES_FILE, attrs)
        figure(summaries, outdir / FIGURE_FILE, f"sparse MLP 784-{exp.hidden}-10 with SET on MNIST "
                                                  f"({len(data[1])} training digits, {exp.seeds} seeds)")
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(prog="sparse_normalisation", description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--outdir", default=".")
    ap.add_argument("--hidden", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--s", type=float, default=25.0, help="initial s (L0) and g_i (L2, joint)")
    ap.add_argument("--variants", default=",".join(Experiment.variants), help=f"from {','.join(VARIANTS)}")
    ap.add_argument("--n-train", type=int)
    ap.add_argument("--n-test", type=int)
    ap.add_argument("--quiet", action="store_true", help="no progress line")
    ap.add_argument("--train-files", nargs=2, metavar=("IMAGES", "LABELS"))
    ap.add_argument("--test-files", nargs=2, metavar=("IMAGES", "LABELS"))
    args = ap.parse_args(argv)
    exp = Experiment(hidden=args.hidden, epochs=args.epochs, seeds=args.seeds, seed=args.seed, s=args.s,
                     variants=tuple(args.variants.split(",")), n_train=args.n_train, n_test=args.n_test,
                     train_files=args.train_files, test_files=args.test_files)
    Path(args.outdir).mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    run(exp, args.outdir, progress=not args.quiet)
    print(f"total {time.perf_counter() - t0:.0f} s; curves in {Path(args.outdir) / CURVES_FILE}, "
          f"figure {Path(args.outdir) / FIGURE_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
