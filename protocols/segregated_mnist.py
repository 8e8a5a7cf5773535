"""The segregated-dendrite MNIST experiment of Guerguiev, Lillicrap & Richards (2017), end to end.

Trains a 784-500-10 (or 784-500-100-10, ...) network of
:class:`~compsim.models.SegregatedPyramidal` neurons with the two-phase
protocol (:mod:`compsim.protocols.two_phase`), tests it on held-out digits
after every epoch, and writes the learning curve (HDF5 and PNG) and a
checkpoint to resume from.

Data: by default the embedded MNIST digits (the official test set): the
first 8,000 train, the last 2,000 are held out. ``train_files`` /
``test_files`` take pairs of IDX files instead (e.g. the full 60k/10k MNIST).

Modes:

``faithful``
    the mode that reproduces the paper and the original code: batch 1,
    Poisson spike counts (drawn by time rescaling, ``spike_mode='poisson_events'``:
    the same distribution as the original's per-step ``np.random.poisson``, with
    random numbers drawn only at spikes), the original 10-step truncated kernel, the original
    explicit Euler step (dt = 1 ms: the teaching conductances make the output
    soma overshoot and oscillate, as in the original), the apical
    compartment uncoupled (g_a = 0), the published initialisation and
    learning rates, phases of 50 ms + int(Wald(2, 1)), test phases of 250 ms,
    and the original's order within a step: each layer sees this step's spikes
    of the layer below (``same_step`` projections), the feedback those of the
    step before.
``fast``
    for throughput: B copies each present their own example and the weight
    changes are averaged over the mini-batch; the exact (exponential Euler)
    step, the untruncated kernel, Poisson counts as in faithful mode, learning rates scaled by
    ``eta_scale`` (default ``min(sqrt(B), MAX_FAST_ETA_SCALE)``, to make up for B times fewer
    updates: above about 4 times the paper's rates the rule is unstable; at B = 64 a factor of 8
    reached 48.5 % held out after 3 epochs, 4 reached 73.8 %, 2 44.9 %, 1 20.9 %; 16 stays at chance).
"""
import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numba
import numpy as np

import compsim as cs
from compsim.data.mnist import load_split
from compsim.models.segdend import build_segregated_network
from compsim.plasticity.segregated import SegregatedLearning
from compsim.protocols.two_phase import SegregatedTraining

#: learning rates of the paper ("Learning rate optimization"), by number of hidden layers
PAPER_ETAS = {1: (0.21, 0.21), 2: (0.23, 0.23, 0.12)}
#: largest default factor on the learning rates in fast mode (module docstring)
MAX_FAST_ETA_SCALE = 4.0
CURVE_FILE, CHECKPOINT_FILE, FIGURE_FILE = "learning_curve.h5", "checkpoint.h5", "learning_curve.png"


@dataclass
class Experiment:
    """What to train and how (see the module docstring for the modes)."""

    hidden: tuple = (500,)
    mode: str = "faithful"
    batch: int = 1
    epochs: int = 1
    n_train: int | None = None  # None: every training example (8,000 of the embedded split)
    n_test: int | None = None  # None: every held-out example (2,000 of the embedded split)
    etas: tuple | None = None
    eta_scale: float | None = None
    feedback: str = "fixed"
    feedback_etas: tuple | None = None
    sparse_feedback: bool = False
    test_ms: float = 250.0
    seed: int = 0
    train_files: tuple | None = None
    test_files: tuple | None = None
    test_before: bool = True
    test_every: int | None = None  # also test every this many training examples (None: after each epoch only)
    backend: str = "cpu"  # or "cuda" (compsim.engine.cuda): the same results on a GPU
    threads: int | None = None  # CPU threads sharing out the batch copies (None: every core; 1 for a batch of one)

    def __post_init__(self):
        self.hidden = tuple(int(n) for n in np.atleast_1d(self.hidden))
        if self.mode not in ("faithful", "fast"):
            raise ValueError(f"Experiment: parameter 'mode' must be 'faithful' or 'fast', got {self.mode!r}")
        if self.backend not in ("cpu", "cuda"):
            raise ValueError(f"Experiment: parameter 'backend' must be 'cpu' or 'cuda', got {self.backend!r}")
        if self.mode == "faithful" and self.batch != 1:
            raise ValueError("Experiment: mode 'faithful' runs one example at a time (batch = 1); use mode='fast'")
        for name in ("batch", "epochs", "n_train", "n_test", "threads"):
            value = getattr(self, name)
            if value is None and name in ("n_train", "n_test", "threads"):
                continue
            if not isinstance(value, (int, np.integer)) or value < (0 if name == "epochs" else 1):
                raise ValueError(f"Experiment: parameter '{name}' must be a positive integer, got {value!r}")

    def cpu_threads(self):
        """Threads of the CPU loop, which share out the batch copies: ``threads`` (default every core, Numba's
        threads), and 1 for a batch of one (faithful mode: threading one copy's neuron loops only slows it down)."""
        if self.batch == 1:
            return 1
        cores = numba.config.NUMBA_NUM_THREADS
        return cores if self.threads is None else min(self.threads, cores)

    def learning_rates(self):
        etas = self.etas if self.etas is not None else PAPER_ETAS.get(len(self.hidden))
        if etas is None:
            raise ValueError(f"Experiment: no published learning rates for {len(self.hidden)} hidden layers; give 'etas'")
        scale = self.eta_scale
        if scale is None:
            scale = 1.0 if self.mode == "faithful" else min(float(np.sqrt(self.batch)), MAX_FAST_ETA_SCALE)
        return tuple(scale * e for e in etas)


@dataclass
class LearningCurve:
    """Per epoch (epoch 0: before training): held-out and training accuracy, timings, weight statistics."""

    epoch: list = field(default_factory=list)
    heldout_accuracy: list = field(default_factory=list)
    train_accuracy: list = field(default_factory=list)
    train_s: list = field(default_factory=list)
    train_images_per_s: list = field(default_factory=list)
    test_s: list = field(default_factory=list)
    test_images_per_s: list = field(default_factory=list)
    weights: dict = field(default_factory=dict)  # projection -> {"mean": [...], "sd": [...], "abs_max": [...]}

    UNITS = {"epoch": "1", "heldout_accuracy": "1", "train_accuracy": "1", "train_s": "s",
             "train_images_per_s": "1/s", "test_s": "s", "test_images_per_s": "1/s"}

    def add(self, epoch, heldout, train, train_s, train_rate, test_s, test_rate, projections):
        for name, value in (("epoch", epoch), ("heldout_accuracy", heldout), ("train_accuracy", train),
                            ("train_s", train_s), ("train_images_per_s", train_rate), ("test_s", test_s),
                            ("test_images_per_s", test_rate)):
            getattr(self, name).append(float(value))
        for j in projections:
            w = j.weights
            stats = self.weights.setdefault(f"{j.pre.name}->{j.post.name}", {"mean": [], "sd": [], "abs_max": []})
            stats["mean"].append(float(w.mean()))
            stats["sd"].append(float(w.std()))
            stats["abs_max"].append(float(np.abs(w).max()))

    def write(self, path, attrs):
        """The curve as an HDF5 file any tool opens: one dataset per quantity (with a ``units`` attribute)."""
        import h5py

        with h5py.File(path, "w", libver=("v110", "v110")) as f:
            for name, unit in self.UNITS.items():
                f.create_dataset(name, data=np.array(getattr(self, name), dtype=np.float64)).attrs["units"] = unit
            for proj, stats in self.weights.items():
                group = f.create_group(f"weights/{proj}")
                for name, values in stats.items():
                    group.create_dataset(name, data=np.array(values)).attrs["units"] = "1"
            for key, value in attrs.items():
                f.attrs[key] = value

    @classmethod
    def read(cls, path):
        import h5py

        curve = cls()
        with h5py.File(path, "r") as f:
            for name in cls.UNITS:
                setattr(curve, name, [float(x) for x in f[name][()]])
            for proj, group in f.get("weights", {}).items():
                curve.weights[proj] = {k: [float(x) for x in group[k][()]] for k in group}
        return curve

    def plot(self, path, title=""):
        """Held-out and training accuracy per epoch, and the weights' spread, as a PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (ax, aw) = plt.subplots(1, 2, figsize=(9, 3.4), constrained_layout=True)
        ax.plot(self.epoch, 100 * np.array(self.heldout_accuracy), "o-", label="held-out")
        trained = [k for k, e in enumerate(self.epoch) if e > 0]
        ax.plot([self.epoch[k] for k in trained], [100 * self.train_accuracy[k] for k in trained], "s--",
                label="training (during the epoch)")
        ax.axhline(10, color="0.7", lw=0.8, ls=":")
        ax.set(xlabel="epoch", ylabel="accuracy (%)", ylim=(0, 100), title=title)
        ax.legend(frameon=False)
        for proj, stats in self.weights.items():
            aw.plot(self.epoch, stats["sd"], "o-", label=proj)
        aw.set(xlabel="epoch", ylabel="weight SD", title="weights")
        aw.legend(frameon=False, fontsize=8)
        fig.savefig(path, dpi=150)
        plt.close(fig)


def load_data(exp):
    """``(train_images, train_labels, test_images, test_labels)`` for the experiment."""
    return load_split(exp.n_train, exp.n_test, exp.train_files, exp.test_files)


def build(exp):
    """The network and its training protocol for ``exp``."""
    faithful = exp.mode == "faithful"
    seg = build_segregated_network(
        exp.hidden, seed=exp.seed, dt=1.0, g_a=0.0, batch=exp.batch,
        method="euler" if faithful else "exponential_euler", spike_mode="poisson_events",
        synapse=cs.TruncatedDoubleExponential() if faithful else cs.DoubleExponential(3.0, 10.0),
        sparse_feedback=exp.sparse_feedback, same_step=faithful, backend=exp.backend,
        parallel=exp.cpu_threads() > 1, threads=exp.cpu_threads())  # threads share out the copies (copy-major)
    rule = SegregatedLearning(exp.learning_rates(), feedback=exp.feedback, feedback_etas=exp.feedback_etas)
    return seg, SegregatedTraining(seg, rule, test_ms=exp.test_ms, seed=exp.seed)


def run(exp, outdir, *, resume=False, progress=True, block=None, log=print):
    """Train ``exp.epochs`` epochs, testing after each; write the curve, figure and checkpoint to ``outdir``.

    ``resume``: continue from ``outdir``'s checkpoint and curve. Returns the :class:`LearningCurve`.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    x_train, y_train, x_test, y_test = load_data(exp)
    seg, training = build(exp)
    t0 = time.perf_counter()
    if progress:
        sys.stderr.write("compiling the training loop (first time only; then loaded from the cache) ...\n")
    seg.net.build()  # compile (or load from the cache) before anything is timed
    log(f"compiled the training loop in {time.perf_counter() - t0:.1f} s")
    curve, first = LearningCurve(), 1
    if resume and (outdir / CHECKPOINT_FILE).exists():
        seg.net.restore_checkpoint(outdir / CHECKPOINT_FILE)
        curve = LearningCurve.read(outdir / CURVE_FILE)
        first = int(max(curve.epoch)) + 1
        log(f"resumed after epoch {first - 1} (held-out accuracy {100 * curve.heldout_accuracy[-1]:.2f} %)")
    attrs = {"experiment": json.dumps(asdict(exp)), "compsim_version": cs.__version__,
             "network": json.dumps(seg.net.describe(), default=str)}
    name = f"784-{'-'.join(map(str, exp.hidden))}-10, {exp.mode}" + (f", batch {exp.batch}" if exp.batch > 1 else "")
    if first == 1 and exp.test_before:
        tested = _test(training, x_test, y_test, progress)
        curve.add(0, tested.accuracy, np.nan, 0.0, np.nan, tested.wall_s, tested.images_per_s, seg.forward)
        log(f"epoch 0: held-out accuracy {100 * tested.accuracy:.2f} % ({tested.images_per_s:.0f} test images/s)")
    block = block or max(exp.batch, 10 * exp.batch if exp.batch > 1 else 250)
    if exp.test_every:
        block = min(block, exp.test_every)
    for epoch in range(first, exp.epochs + 1):
        order = np.random.default_rng([exp.seed, 0xE90C, epoch]).permutation(len(y_train))
        correct, seen, wall, tested_at = 0, 0, 0.0, 0
        for start in range(0, len(order), block):
            idx = order[start : start + block]
            result = training.train(x_train[idx], y_train[idx])
            correct += int(np.sum(result.predictions == result.labels))
            seen += len(idx)
            wall += result.wall_s
            if progress:
                _progress(epoch, exp.epochs, seen, len(order), correct / seen, seen / wall)
            if exp.test_every and seen - tested_at >= exp.test_every and seen < len(order):
                tested_at = seen
                tested = _test(training, x_test, y_test, progress)
                curve.add(epoch - 1 + seen / len(order), tested.accuracy, correct / seen, wall, seen / wall,
                          tested.wall_s, tested.images_per_s, seg.forward)
        if progress:
            sys.stderr.write("\n")
        tested = _test(training, x_test, y_test, progress)
        curve.add(epoch, tested.accuracy, correct / seen, wall, seen / wall, tested.wall_s, tested.images_per_s,
                  seg.forward)
        log(f"epoch {epoch}: held-out accuracy {100 * tested.accuracy:.2f} %, training {100 * correct / seen:.2f} %; "
            f"{seen / wall:.0f} training images/s, {tested.images_per_s:.0f} test images/s")
        curve.write(outdir / CURVE_FILE, attrs)
        curve.plot(outdir / FIGURE_FILE, title=name)
        seg.net.save_checkpoint(outdir / CHECKPOINT_FILE)
    if exp.epochs == 0 or first > exp.epochs:
        curve.write(outdir / CURVE_FILE, attrs)
        curve.plot(outdir / FIGURE_FILE, title=name)
    return curve, seg


def _test(training, x_test, y_test, progress):
    """Test on the held-out digits, saying so on the progress line."""
    if progress:
        sys.stderr.write(f" | testing on {len(y_test)} held-out digits ...")
        sys.stderr.flush()
    tested = training.test(x_test, y_test)
    if progress:
        sys.stderr.write(f" {100 * tested.accuracy:5.1f} %\n" if tested.wall_s else "\n")
    return tested


def _progress(epoch, epochs, seen, total, accuracy, rate):
    width = 30
    done = int(width * seen / total)
    sys.stderr.write(f"\repoch {epoch}/{epochs} [{'#' * done}{'.' * (width - done)}] {seen}/{total} | "
                     f"running accuracy {100 * accuracy:5.1f} % | {rate:6.0f} images/s")
    sys.stderr.flush()


def main(argv=None):
    ap = argparse.ArgumentParser(prog="compsim train-segregated", description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--outdir", default="segregated_mnist", help="directory for the curve, figure, checkpoint")
    ap.add_argument("--hidden", default="500", help="hidden layer sizes, comma-separated (default 500; e.g. 500,100)")
    ap.add_argument("--mode", choices=("faithful", "fast"), default="faithful")
    ap.add_argument("--batch", type=int, default=None, help="copies per mini-batch (fast mode; default 64)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--n-train", type=int, default=None, help="training examples per epoch (default: all)")
    ap.add_argument("--n-test", type=int, default=None, help="held-out examples (default: all)")
    ap.add_argument("--etas", default=None, help="learning rates, comma-separated (hidden layers, then output)")
    ap.add_argument("--eta-scale", type=float, default=None, help="factor on the learning rates (fast: sqrt(batch), at most 4)")
    ap.add_argument("--feedback", choices=("fixed", "symmetric", "learned"), default="fixed")
    ap.add_argument("--feedback-etas", default=None, help="learning rates of the feedback (--feedback learned)")
    ap.add_argument("--sparse-feedback", action="store_true", help="80 %% of the feedback weights zero, the rest x5")
    ap.add_argument("--test-ms", type=float, default=250.0, help="test phase length (ms; the paper: 500)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-files", nargs=2, metavar=("IMAGES", "LABELS"), help="IDX files of the training set")
    ap.add_argument("--test-files", nargs=2, metavar=("IMAGES", "LABELS"), help="IDX files of the test set")
    ap.add_argument("--test-every", type=int, default=None, help="also test every this many training examples")
    ap.add_argument("--resume", action="store_true", help="continue from the checkpoint in --outdir")
    ap.add_argument("--backend", choices=("cpu", "cuda"), default="cpu", help="cuda: run on a GPU (same results)")
    ap.add_argument("--threads", type=int, default=None,
                    help="CPU threads sharing out the batch (default: every core; faithful mode's one copy runs on one; "
                         "the same results whatever the number)")
    args = ap.parse_args(argv)
    batch = args.batch if args.batch is not None else (64 if args.mode == "fast" else 1)
    exp = Experiment(hidden=tuple(int(n) for n in args.hidden.split(",")), mode=args.mode, batch=batch,
                     epochs=args.epochs, n_train=args.n_train, n_test=args.n_test,
                     etas=tuple(float(e) for e in args.etas.split(",")) if args.etas else None,
                     eta_scale=args.eta_scale, feedback=args.feedback, sparse_feedback=args.sparse_feedback,
                     feedback_etas=tuple(float(e) for e in args.feedback_etas.split(",")) if args.feedback_etas else None,
                     test_ms=args.test_ms, seed=args.seed, test_every=args.test_every, backend=args.backend,
                     threads=args.threads,
                     train_files=tuple(args.train_files) if args.train_files else None,
                     test_files=tuple(args.test_files) if args.test_files else None)
    curve, _ = run(exp, args.outdir, resume=args.resume)
    best = int(np.argmax(curve.heldout_accuracy))
    print(f"best held-out accuracy {100 * curve.heldout_accuracy[best]:.2f} % (epoch {int(curve.epoch[best])}); "
          f"wrote {Path(args.outdir) / CURVE_FILE}, {Path(args.outdir) / FIGURE_FILE}, {Path(args.outdir) / CHECKPOINT_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
