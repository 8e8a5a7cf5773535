"""The main demo: two networks on a fresh machine, no download (``compsim demo -o DIR``).

(a) The COBA network (Vogels & Abbott 2005): 4,000 conductance-based LIF
    neurons, 2 % connectivity, 1 s at dt = 0.1 ms (forward Euler).
(b) The segregated-dendrite network of Guerguiev et al. (2017), 784-500-10,
    *learning* MNIST: one epoch of the paper's two-phase protocol (faithful
    mode) on 8,000 embedded digits, tested on 500 held-out digits every 1,000
    training examples (``segregated_mnist/learning_curve.h5`` and ``.png``); then
    the trained network is shown ten held-out digits with everything
    recorded (``segdend.h5``, raster, rate and trace figures).

Each writes HDF5 files (streamed during the run) and PNG figures to
``outdir``, and prints what it measured.
"""
import argparse
import time
from pathlib import Path

from . import plot
from .synapses import TruncatedDoubleExponential
from .data.mnist import load_mnist


def coba_demo(outdir, *, n=4000, duration_ms=1000.0, seed=1, progress=True):
    """Run COBA, write ``coba.h5`` and figures; return the loaded results."""
    from compsim.models.coba import build_coba

    coba = build_coba(n, seed=seed)
    coba.net.record(coba.exc, ["v", "ge", "gi"], neurons=slice(0, 10))
    coba.net.record_rate(coba.exc)
    coba.net.record_rate(coba.inh)
    t0 = time.perf_counter()
    res = coba.net.run(duration_ms, output=Path(outdir) / "coba.h5", progress=progress)
    wall = time.perf_counter() - t0
    spikes = res.spikes["exc_spikes"].count() + res.spikes["inh_spikes"].count()
    print(f"COBA: {n} neurons, {duration_ms:g} ms: {spikes} spikes, mean rate {spikes / n / duration_ms * 1e3:.2f} Hz, "
          f"ISI CV (exc) {res.spikes['exc_spikes'].isi_cv():.2f}; wall {wall:.2f} s "
          f"(compile/cache load {coba.net.timings['compile_s']:.2f} s, loop {coba.net.timings['run_s']:.2f} s)")
    plot.summary_figures(res, outdir, prefix="coba_")
    return res


def learning_demo(outdir, *, n_hidden=500, n_train=8000, n_test=500, test_every=1000, seed=0, progress=True):
    """Train the 784-``n_hidden``-10 network for one epoch (faithful mode), testing every ``test_every``
    examples; write the learning curve to ``outdir/segregated_mnist``. Returns ``(curve, seg)``."""
    from compsim.protocols.segregated_mnist import Experiment, run

    exp = Experiment(hidden=(n_hidden,), n_train=n_train, n_test=n_test, epochs=1, test_every=test_every, seed=seed)
    t0 = time.perf_counter()
    curve, seg = run(exp, Path(outdir) / "segregated_mnist", progress=progress, log=lambda text: None)
    steps = ", ".join(f"{100 * a:.1f}" for a in curve.heldout_accuracy)
    print(f"Segregated dendrites 784-{n_hidden}-10 learning MNIST (faithful mode): held-out accuracy (%) after "
          f"0, {test_every}, ... {n_train} training digits: {steps}; {curve.train_images_per_s[-1]:.0f} training "
          f"digits/s; wall {time.perf_counter() - t0:.1f} s")
    return curve, seg


def segregated_demo(outdir, *, n_hidden=500, n_images=10, phase_ms=250.0, average_ms=220.0, seed=0, progress=True,
                    trained=None):
    """Present ``n_images`` held-out MNIST digits to the 784-``n_hidden``-10 network (the faithful model: dt 1 ms,
    explicit Euler, Poisson spikes, truncated kernel, g_a = 0), each after clearing the state, as in the test phase; write
    ``segdend.h5`` and figures. ``trained``: a trained network whose weights and biases to use."""
    from compsim.models.segdend import build_segregated_network
    from compsim.protocols.image_presentation import present_images

    images, labels = load_mnist(10000)
    images, labels = images[-n_images:], labels[-n_images:]
    dt = 1.0
    seg = build_segregated_network(n_hidden, seed=seed, dt=dt, g_a=0.0, synapse=TruncatedDoubleExponential(),
                                   method="euler")
    if trained is not None:
        for mine, theirs in zip([*seg.forward, *seg.feedback], [*trained.forward, *trained.feedback]):
            mine.set_weights(theirs.weights)
        for mine, theirs in zip([*seg.hidden, seg.out], [*trained.hidden, trained.out]):
            mine["b_basal"] = theirs["b_basal"]
    net = seg.net
    net.record(seg.hid, ["v_soma", "v_basal", "v_apical"], neurons=slice(0, 20))
    net.record(seg.out, ["v_soma", "v_basal"])
    for pop in (seg.inp, seg.hid, seg.out):
        net.record_spikes(pop)
        net.record_rate(pop)
    t0 = time.perf_counter()
    with net.recording(Path(outdir) / "segdend.h5"):
        shown = present_images(net, seg.inp, seg.out, images, labels=labels, phase_ms=phase_ms,
                               average_ms=average_ms, clear_state=True, progress=progress)
    wall = time.perf_counter() - t0
    res = _load(Path(outdir) / "segdend.h5")
    rates = {p: res.spikes[f"{p}_spikes"].rate_hz(net.t) for p in ("inp", "hid", "out")}
    print(f"Segregated dendrites 784-{n_hidden}-10: {n_images} MNIST images x {phase_ms:g} ms at dt {dt:g} ms; "
          f"mean rates in/hid/out {rates['inp']:.1f}/{rates['hid']:.1f}/{rates['out']:.1f} Hz; "
          f"{'trained' if trained is not None else 'untrained'} predictions {shown.predictions.tolist()} vs labels "
          f"{labels.tolist()}; wall {wall:.2f} s")
    plot.summary_figures(res, outdir, prefix="segdend_")
    return res, shown


def _load(path):
    from .io.hdf5 import load

    return load(path)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="compsim demo", description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--outdir", default="demo_output", help="directory for the .h5 files and PNG figures")
    ap.add_argument("--quick", action="store_true", help="small sizes (for smoke tests)")
    args = ap.parse_args(argv)
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    if args.quick:
        coba_demo(out, n=400, duration_ms=200.0)
        _, seg = learning_demo(out, n_hidden=50, n_train=200, n_test=50, test_every=100)
        segregated_demo(out, n_hidden=50, n_images=2, phase_ms=50.0, average_ms=20.0, trained=seg)
    else:
        coba_demo(out)
        _, seg = learning_demo(out)
        segregated_demo(out, trained=seg)
    written = sorted(str(p) for p in out.rglob("*") if p.suffix in (".h5", ".png"))
    print("wrote:\n  " + "\n  ".join(written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
