"""The main demo: two networks on a fresh machine, no download (``compsim demo -o DIR``).

(a) The COBA network (Vogels & Abbott 2005): 4,000 conductance-based LIF
    neurons, 2 % connectivity, 1 s at dt = 0.1 ms (forward Euler).
(b) The segregated-dendrite network of Guerguiev et al. (2017), 784-500-10,
    driven by real MNIST test images from the embedded data set (one
    ``phase_ms`` forward phase per image).

Each writes an HDF5 file (streamed during the run) and PNG figures to
``outdir``, and prints what it measured.
"""
import argparse
import time
from pathlib import Path

from . import plot
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


def segregated_demo(outdir, *, n_hidden=500, n_images=10, phase_ms=100.0, dt=0.1, seed=0, progress=True):
    """Present ``n_images`` MNIST images to the 784-``n_hidden``-10 network; write ``segdend.h5`` and figures."""
    from compsim.models.segdend import build_segregated_network
    from compsim.protocols.image_presentation import present_images

    images, labels = load_mnist(n_images)
    seg = build_segregated_network(n_hidden, seed=seed, dt=dt)
    net = seg.net
    net.record(seg.hid, ["v_soma", "v_basal", "v_apical"], neurons=slice(0, 20))
    net.record(seg.out, ["v_soma", "v_basal"])
    for pop in (seg.inp, seg.hid, seg.out):
        net.record_spikes(pop)
        net.record_rate(pop)
    t0 = time.perf_counter()
    with net.recording(Path(outdir) / "segdend.h5"):
        shown = present_images(net, seg.inp, seg.out, images, labels=labels, phase_ms=phase_ms,
                               average_ms=phase_ms / 2, clear_state=False)
    wall = time.perf_counter() - t0
    res = _load(Path(outdir) / "segdend.h5")
    rates = {p: res.spikes[f"{p}_spikes"].rate_hz(net.t) for p in ("inp", "hid", "out")}
    print(f"Segregated dendrites 784-{n_hidden}-10: {n_images} MNIST images x {phase_ms:g} ms at dt {dt:g} ms; "
          f"mean rates in/hid/out {rates['inp']:.1f}/{rates['hid']:.1f}/{rates['out']:.1f} Hz; "
          f"untrained predictions {shown.predictions.tolist()} vs labels {labels.tolist()}; wall {wall:.2f} s")
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
        segregated_demo(out, n_hidden=50, n_images=2, phase_ms=50.0)
    else:
        coba_demo(out)
        segregated_demo(out)
    written = sorted(str(p) for p in out.iterdir() if p.suffix in (".h5", ".png"))
    print("wrote:\n  " + "\n  ".join(written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
