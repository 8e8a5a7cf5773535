"""The epoch loop: shuffled mini-batches, Adam or SGD, held-out accuracy per epoch, a learning curve in HDF5 and PNG."""
import sys
import time
from dataclasses import dataclass, field

import h5py
import numpy as np

from compsim.checks import check_count

from .optim import SGD, Adam
from .loss import softmax_cross_entropy


def accuracy(model, x, y, *, prepare=None, context=None, batch=1000):
    """Fraction of ``x`` whose argmax output equals ``y`` (forward passes in batches of ``batch``);
    ``context`` (one row per example) goes to a :class:`~compsim.training.dendrites.ContextSequential`."""
    prepare = prepare or (lambda v: v)
    if len(y) == 0:
        return float("nan")
    correct = 0
    for start in range(0, len(y), batch):
        if context is not None:
            model.set_context(context[start:start + batch])
        out = model.forward(prepare(x[start:start + batch]))
        correct += int(np.sum(np.argmax(out, axis=1) == y[start:start + batch]))
    return correct / len(y)


@dataclass
class LearningCurve:
    """Per epoch (epoch 0: before training): training loss and accuracy, held-out accuracy, wall time."""

    name: str = ""
    epoch: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    train_accuracy: list = field(default_factory=list)
    test_accuracy: list = field(default_factory=list)
    wall_s: list = field(default_factory=list)

    UNITS = {"epoch": "1", "train_loss": "1", "train_accuracy": "1", "test_accuracy": "1", "wall_s": "s"}

    def add(self, epoch, loss, train, test, wall):
        for key, value in zip(self.UNITS, (epoch, loss, train, test, wall)):
            getattr(self, key).append(float(value))

    @property
    def best(self):
        """``(epoch, held-out accuracy)`` of the best epoch."""
        k = int(np.argmax(self.test_accuracy))
        return int(self.epoch[k]), self.test_accuracy[k]

    def write(self, h5, attrs=None):
        """Into group ``name`` of the open HDF5 file (or path) ``h5``: one dataset per column, with units."""
        if not isinstance(h5, h5py.Group):
            with h5py.File(h5, "a") as f:
                return self.write(f, attrs)
        if self.name in h5:
            del h5[self.name]
        g = h5.create_group(self.name)
        for key, unit in self.UNITS.items():
            g.create_dataset(key, data=np.asarray(getattr(self, key))).attrs["units"] = unit
        for key, value in (attrs or {}).items():
            g.attrs[key] = value
        return g

    @staticmethod
    def plot(curves, path, title=""):
        """Held-out accuracy per epoch of several curves on one figure (PNG/PDF/SVG by the suffix)."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6, 4))
        ax = fig.subplots()
        for k, curve in enumerate(curves):  # one colour per model: held-out solid, training dotted
            ax.plot(curve.epoch, 100 * np.asarray(curve.test_accuracy), marker="o", ms=3, color=f"C{k}",
                    label=f"{curve.name} held-out")
            ax.plot(curve.epoch[1:], 100 * np.asarray(curve.train_accuracy[1:]), ls=":", color=f"C{k}",
                    label=f"{curve.name} training")
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy (%)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
        fig.tight_layout()
        fig.savefig(path, dpi=150)
        return path


def _progress(name, epoch, epochs, seen, total, loss, acc, rate):
    width = 24
    done = int(width * seen / total)
    sys.stderr.write(f"\r{name} epoch {epoch}/{epochs} [{'#' * done}{'.' * (width - done)}] {seen}/{total} | "
                     f"loss {loss:.4f} | running accuracy {100 * acc:5.1f} % | {rate:6.0f} examples/s")
    sys.stderr.flush()


def fit(model, x_train, y_train, x_test, y_test, *, epochs, batch=100, lr=1e-3, optimiser="adam", prepare=None,
        seed=0, name="model", progress=True, on_epoch=None, context=None, test_context=None):
    """Train ``model`` (a :class:`~compsim.training.layers.Sequential` ending in logits) on softmax
    cross-entropy with ``optimiser`` (``"adam"`` or ``"sgd"``); test after every epoch. Returns the
    :class:`LearningCurve` (epoch 0: untrained).

    ``prepare`` maps raw inputs to the model's (e.g. :func:`~compsim.training.layers.doubled_input`);
    the shuffle of epoch k is keyed by ``(seed, k)``; ``on_epoch(curve, optimiser)`` runs after each
    epoch's test (e.g. to rewire sparse layers, :meth:`compsim.training.sparse.SparseAffine.evolve`).
    ``optimiser`` may also be an optimiser object, to carry its state across calls (e.g. task after task).
    ``context`` / ``test_context``: one context row per training / test example, for models with
    dendritic segments (:class:`~compsim.training.dendrites.ContextSequential`).
    """
    epochs = check_count("epochs", epochs, lo=0, owner="fit")
    batch = check_count("batch", batch, owner="fit")
    prepare = prepare or (lambda v: v)
    if isinstance(optimiser, str):
        if optimiser not in ("adam", "sgd"):
            raise ValueError(f"fit: parameter 'optimiser' must be 'adam', 'sgd' or an optimiser, got {optimiser!r}")
        optimiser = (Adam if optimiser == "adam" else SGD)(model.params, lr=lr)
    curve = LearningCurve(name)
    curve.add(0, np.nan, np.nan, accuracy(model, x_test, y_test, prepare=prepare, context=test_context), 0.0)
    for epoch in range(1, epochs + 1):
        order = np.random.default_rng([seed, epoch]).permutation(len(y_train))
        t0, total_loss, correct, seen = time.perf_counter(), 0.0, 0, 0
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            if context is not None:
                model.set_context(context[idx])
            logits = model.forward(prepare(x_train[idx]))
            loss, grad = softmax_cross_entropy(logits, y_train[idx])
            model.backward(grad)
            optimiser.step(model.grads)
            total_loss += loss * idx.size
            correct += int(np.sum(np.argmax(logits, axis=1) == y_train[idx]))
            seen += idx.size
            if progress:
                _progress(name, epoch, epochs, seen, len(order), total_loss / seen, correct / seen,
                          seen / (time.perf_counter() - t0))
        wall = time.perf_counter() - t0
        tested = accuracy(model, x_test, y_test, prepare=prepare, context=test_context)
        curve.add(epoch, total_loss / seen, correct / seen, tested, wall)
        if progress:
            sys.stderr.write(f" | held-out {100 * tested:5.2f} %\n")
        if on_epoch is not None:
            on_epoch(curve, optimiser)
    return curve
