"""Conductance-weighted-averaging (CWA) networks trained on MNIST, then run as time-stepped conductance networks.

The fully connected network of seed 003 ("Learning difficult perceptual tasks
with Hodgkin-Huxley networks", section 4): inputs scaled and clipped to
[0, 1] and doubled into an excitatory and an inhibitory copy, hidden CWA
layers (default two of 2,000) each half excitatory and half inhibitory,
``G = (1 + g)_+``, ``G_r = 1``, ``e_r = -0.4``, activation ``p = (z)_+``, an
affine + softmax read-out, Adam (beta1 0.9, beta2 0.99) on the softmax
cross-entropy. Beside it, the same-size affine ReLU network trained the same
way (and optionally the AbsNorm ablation).

Initialisation and learning rate: ``g ~ U(-0.5, 0.5)`` and Adam at 1e-3 with
mini-batches of 32. The paper's literal settings (Glorot-initialised ``g``,
Adam at 1e-5) learn too slowly on the 8,000-digit split: Glorot-small ``g``
gives every synapse nearly the same conductance, so excitation and inhibition
cancel and the second hidden layer starts silent; at 1e-5 the network stays
far below the target after 30 epochs. The wider initial spread breaks the
balance from the start, and 1e-3 is the affine baseline's rate.

After training, the CWA network is rebuilt in the engine from
:class:`~compsim.models.ConductanceNeuron` populations (rate mode, one
excitatory and one inhibitory population per layer, conductances ``G``) and
run on held-out digits: the time-stepped potentials settle on the steady state
that the training computed in closed form, and the read-out classifies them
the same way.
"""
import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import h5py
import numpy as np

import compsim as cs
from compsim.data.mnist import load_split
from compsim.models.cwa import ConductanceNeuron
from compsim.training import CWA, Affine, LearningCurve, Sequential, doubled_input, fit
from compsim.training.layers import valences

CURVES_FILE, FIGURE_FILE, SETTLING_FIGURE = "cwa_learning_curves.h5", "cwa_learning_curves.png", "cwa_settling.png"
MODELS_FILE = "cwa_models.h5"


@dataclass
class Experiment:
    """What to train (module docstring for the choices)."""

    hidden: tuple = (2000, 2000)
    epochs: int = 20
    batch: int = 32
    lr: float = 1e-3
    init: float = 0.5
    variants: tuple = ("cwa", "affine")  # also "absnorm"
    seed: int = 0
    n_train: int | None = None
    n_test: int | None = None
    train_files: tuple | None = None
    test_files: tuple | None = None
    time_stepped_images: int = 2000  # held-out digits run in the engine after training (0: none)
    float32: bool = True


def build_model(kind, hidden, *, init=0.5, seed=0, dtype=np.float64):
    """``(model, prepare)``: a :class:`~compsim.training.Sequential` of 784 -> hidden... -> 10 and its input map."""
    rng = np.random.default_rng(seed)
    layers = []
    if kind == "affine":
        sizes = (784, *hidden)
        layers = [Affine(a, b, rng=rng, dtype=dtype) for a, b in zip(sizes[:-1], sizes[1:])]
        prepare = lambda x: np.clip(x, 0.0, 1.0).astype(dtype)  # noqa: E731
    elif kind in ("cwa", "absnorm"):
        valence = valences(2 * 784, 784)
        for size in hidden:
            layers.append(CWA(valence, size, init=init, variant=kind, rng=rng, dtype=dtype))
            valence = layers[-1].valence_out
        prepare = lambda x: doubled_input(x).astype(dtype)  # noqa: E731
    else:
        raise ValueError(f"build_model: parameter 'kind' must be 'cwa', 'absnorm' or 'affine', got {kind!r}")
    layers.append(Affine(hidden[-1], 10, relu=False, rng=rng, dtype=dtype))
    return Sequential(*layers), prepare


def save_model(model, path, name):
    """The trained parameters into group ``name`` of HDF5 file ``path``: ``layer<k>/<parameter>``."""
    with h5py.File(path, "a") as f:
        if name in f:
            del f[name]
        g = f.create_group(name)
        for k, layer in enumerate(model.layers):
            for key, value in layer.params.items():
                g.create_dataset(f"layer{k}/{key}", data=value)


def load_model(path, name, hidden, **build):
    """A model built as :func:`build_model` ``(name, hidden, **build)`` with the parameters saved in ``path``."""
    model, prepare = build_model(name, hidden, **build)
    with h5py.File(path, "r") as f:
        for k, layer in enumerate(model.layers):
            for key in layer.params:
                layer.params[key] = f[f"{name}/layer{k}/{key}"][()]
    return model, prepare


def engine_network(model, images, *, dt=0.1, C=1.0):
    """The trained CWA ``model`` as a time-stepped network of rate-mode conductance populations, one batch copy per
    image. Returns ``(net, layers)``: ``layers[k]`` is the (excitatory, inhibitory) population pair of hidden layer k."""
    cwa_layers = [layer for layer in model.layers if isinstance(layer, CWA)]
    if not cwa_layers or any(layer.variant != "cwa" for layer in cwa_layers):
        raise ValueError("engine_network: only CWA layers (valence per presynaptic unit) map onto Dale's law")
    x = np.clip(np.asarray(images, dtype=np.float64), 0.0, 1.0)
    net = cs.Network(dt=dt, batch=len(x))
    pre = [(net.add(cs.ActivitySource(784, x, valence=1.0), name="input_exc"), slice(0, 784)),
           (net.add(cs.ActivitySource(784, x, valence=-1.0), name="input_inh"), slice(784, 1568))]
    layers = []
    for k, layer in enumerate(cwa_layers):
        G = np.maximum(1.0 + layer.params["g"].astype(np.float64), 0.0)
        n_exc = int(np.sum(layer.valence_out > 0))
        post = []
        for name, rows, valence in (("exc", slice(0, n_exc), 1.0), ("inh", slice(n_exc, G.shape[0]), -1.0)):
            pop = net.add(ConductanceNeuron(rows.stop - rows.start, valence=valence, C=C, G_r=layer.G_r,
                                            E_r=layer.e_r), name=f"h{k + 1}_{name}")
            for source, cols in pre:
                net.connect(source, pop, "g_e" if source.p["valence"] > 0 else "g_i", G[rows, cols])
            post.append((pop, rows))
        layers.append((post[0][0], post[1][0]))
        pre = post
    return net, layers


def readout(model, layers):
    """Class scores of the engine network's last hidden layer through the trained affine read-out."""
    exc, inh = layers[-1]
    p = np.concatenate([np.atleast_2d(exc["p"]), np.atleast_2d(inh["p"])], axis=1)
    head = model.layers[-1]
    return p @ head.params["W"].astype(np.float64).T + head.params["b"]


def time_stepped_agreement(model, images, *, settle_ms=20.0, chunk=250, record=None):
    """Run the trained CWA model in the engine on ``images`` (``chunk`` at a time, ``settle_ms`` each) and
    compare its predictions with the closed-form forward pass. Returns ``(agreement, engine_predictions,
    steady_predictions, max |V - V_steady|)``; ``record``: a path for the settling figure of the first image."""
    model64 = _as_float64(model)
    engine_pred, steady_pred, worst = [], [], 0.0
    for start in range(0, len(images), chunk):
        part = images[start:start + chunk]
        net, layers = engine_network(model64, part)
        if record is not None and start == 0:
            for exc, _ in layers:
                net.record(exc, ["V"], neurons=slice(0, 6))
        res = net.run(settle_ms)
        engine_pred.append(np.argmax(readout(model64, layers), axis=1))
        steady_pred.append(np.argmax(model64.forward(doubled_input(part)), axis=1))
        for k, (exc, inh) in enumerate(layers):
            z, _ = model64.layers[k].preactivation(_hidden_input(model64, part, k))
            V = np.concatenate([np.atleast_2d(exc["V"]), np.atleast_2d(inh["V"])], axis=1)
            worst = max(worst, float(np.max(np.abs(V - z))))
        if record is not None and start == 0:
            _settling_figure(res, model64, part[:1], layers, record)
    engine_pred, steady_pred = np.concatenate(engine_pred), np.concatenate(steady_pred)
    return float(np.mean(engine_pred == steady_pred)), engine_pred, steady_pred, worst


def _as_float64(model):
    for layer in model.layers:
        for key in layer.params:
            layer.params[key] = layer.params[key].astype(np.float64)
        for attr in ("valence_in", "valence_out"):
            if hasattr(layer, attr):
                setattr(layer, attr, getattr(layer, attr).astype(np.float64))
    return model


def _hidden_input(model, images, k):
    """The input of hidden layer ``k`` (its presynaptic activities) for ``images``."""
    x = doubled_input(images)
    for layer in model.layers[:k]:
        x = layer.forward(x)
    return x


def _settling_figure(res, model, image, layers, path):
    """Membrane potentials of the first image's first excitatory neurons, with the steady state dashed."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 2.2 + 2.0 * len(layers)))
    axes = fig.subplots(len(layers), 1, sharex=True, squeeze=False)[:, 0]
    for k, (ax, (exc, _)) in enumerate(zip(axes, layers)):
        trace = res.state[f"{exc.name}_state"]
        z, _ = model.layers[k].preactivation(_hidden_input(model, image, k))
        V = trace["V"][:, 0] if trace["V"].ndim == 3 else trace["V"]
        for col, nid in enumerate(trace.neurons):
            line, = ax.plot(trace.t, V[:, col], lw=1)
            ax.axhline(z[0, nid], color=line.get_color(), ls="--", lw=0.8)
        ax.set_ylabel(f"V, layer {k + 1} (valence units)")
    axes[0].set_title("time-stepped E/I conductance network; dashed: CWA steady state", fontsize="medium")
    axes[-1].set_xlabel("time (ms)")
    fig.tight_layout()
    fig.savefig(path, dpi=150)


def run(exp, outdir, *, progress=True, log=print):
    """Train every variant, write the curves (HDF5, PNG), then run the CWA network time-stepped on held-out digits.

    Returns ``(curves, models, agreement)``; ``agreement`` is None without time-stepped images.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    x_train, y_train, x_test, y_test = load_split(exp.n_train, exp.n_test, exp.train_files, exp.test_files)
    dtype = np.float32 if exp.float32 else np.float64
    curves, models = [], {}
    for kind in exp.variants:
        model, prepare = build_model(kind, exp.hidden, init=exp.init, seed=exp.seed, dtype=dtype)
        curve = fit(model, x_train, y_train, x_test, y_test, epochs=exp.epochs, batch=exp.batch, lr=exp.lr,
                    prepare=prepare, seed=exp.seed, name=kind, progress=progress)
        best_epoch, best = curve.best
        log(f"{kind}: held-out accuracy {100 * curve.test_accuracy[-1]:.2f} % after {exp.epochs} epochs (best "
            f"{100 * best:.2f} % at epoch {best_epoch}); {sum(curve.wall_s):.0f} s of training")
        curves.append(curve)
        models[kind] = model
        with h5py.File(outdir / CURVES_FILE, "a") as f:
            curve.write(f, {"experiment": json.dumps(asdict(exp), default=str)})
        save_model(model, outdir / MODELS_FILE, kind)
    sizes = "-".join(map(str, exp.hidden))
    LearningCurve.plot(curves, outdir / FIGURE_FILE, title=f"MNIST, 784-{sizes}-10, {len(y_train)} training digits")
    agreement = None
    if "cwa" in models and exp.time_stepped_images:
        t0 = time.perf_counter()
        images = x_test[:exp.time_stepped_images]
        agreement, engine_pred, _, worst = time_stepped_agreement(models["cwa"], images,
                                                                   record=outdir / SETTLING_FIGURE)
        log(f"time-stepped CWA network on {len(images)} held-out digits: {100 * agreement:.2f} % classified as by "
            f"the steady state, accuracy {100 * np.mean(engine_pred == y_test[:len(images)]):.2f} %, largest "
            f"|V - V_steady| {worst:.2e} after 20 ms; {time.perf_counter() - t0:.0f} s")
    return curves, models, agreement


def main(argv=None):
    ap = argparse.ArgumentParser(prog="compsim train-cwa", description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--outdir", default="cwa_mnist", help="directory for the curves, figures")
    ap.add_argument("--hidden", default="2000,2000", help="hidden layer sizes (default 2000,2000)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--init", type=float, default=0.5, help="g ~ U(-init, init)")
    ap.add_argument("--variants", default="cwa,affine", help="comma-separated: cwa, absnorm, affine")
    ap.add_argument("--n-train", type=int, default=None)
    ap.add_argument("--n-test", type=int, default=None)
    ap.add_argument("--time-stepped", type=int, default=2000, help="held-out digits to run in the engine after training")
    ap.add_argument("--train-files", nargs=2, metavar=("IMAGES", "LABELS"), help="IDX files (e.g. full MNIST)")
    ap.add_argument("--test-files", nargs=2, metavar=("IMAGES", "LABELS"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    exp = Experiment(hidden=tuple(int(h) for h in args.hidden.split(",")), epochs=args.epochs, batch=args.batch,
                     lr=args.lr, init=args.init, variants=tuple(args.variants.split(",")), seed=args.seed,
                     n_train=args.n_train, n_test=args.n_test, train_files=args.train_files,
                     test_files=args.test_files, time_stepped_images=args.time_stepped)
    run(exp, args.outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
