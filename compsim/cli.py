"""Command line: ``compsim run | info | plot | demo | validate``.

``compsim run SCRIPT [ARGS...]``   run a simulation script (as ``python SCRIPT``)
``compsim info FILE.h5``           what a result file holds: monitors, sizes, metadata, versions
``compsim info --backends``        which backends (``Network(backend=...)``) can run here, and on what
``compsim plot FILE.h5 -o DIR``    traces, rasters and population rates (``--neurons``, ``--window``,
                                   ``--format png|pdf|svg``, ``--copy B`` for batched runs)
``compsim demo [-o DIR]``          the main demo (COBA and the segregated-dendrite network on MNIST)
``compsim validate SCRIPT``        compare the script's network with Brian2; non-zero exit on disagreement
``compsim train-segregated``       train the segregated-dendrite network on MNIST (learning curve, checkpoint)
``compsim train-cwa``              train CWA networks and the affine baseline on MNIST, run the CWA network time-stepped
"""
import argparse
import json
import runpy
import sys
from pathlib import Path


def _run(args):
    script = Path(args.script)
    if not script.is_file():
        raise SystemExit(f"compsim run: no such script: {script}")
    sys.argv = [str(script), *args.args]
    runpy.run_path(str(script), run_name="__main__")
    return 0


def _info(args):
    if args.backends:
        return _backends()
    if args.file is None:
        raise SystemExit("compsim info: give a result file (FILE.h5) or --backends")
    from .io.hdf5 import read_metadata

    attrs, network, monitors = read_metadata(args.file)  # never reads the recorded data
    status = "complete" if attrs.get("complete") else "INCOMPLETE"
    print(f"{args.file}: dt = {attrs.get('dt_ms')} ms, t_end = {attrs.get('t_end_ms')} ms, "
          f"seed = {attrs.get('seed')}, batch = {attrs.get('batch', 1)}, {status}")
    for name, mon in monitors.items():
        shapes = ", ".join(f"{k} {tuple(v)}" for k, v in mon["datasets"].items())
        print(f"  {mon['kind']:7s} {name!r} on {mon['population']!r}: {shapes}")
    print("attributes:")
    for key in sorted(attrs):
        print(f"  {key}: {attrs[key]}")
    net = network or {}
    print("populations:")
    for name, pop in net.get("populations", {}).items():
        params = ", ".join(f"{k}={_value(v['value'])} {v['unit']}" for k, v in pop.get("params", {}).items())
        print(f"  {name}: {pop['model']}({pop['n']}) {params}")
    print("projections:")
    for proj in net.get("projections", []):
        print(f"  {proj['pre']} -> {proj['post']}.{proj['target']}: {proj['kind']}, {proj['n_synapses']} synapses, "
              f"delay {proj['delay_steps']} steps, {json.dumps(proj['synapse'])}")
    return 0


def _backends():
    """Print each backend, whether it can run here, and on what."""
    import numba

    from .engine import cuda

    print(f"cpu:  available: Numba {numba.__version__}, {numba.config.NUMBA_NUM_THREADS} threads")
    ok, detail = cuda.availability()
    print(f"cuda: {'available' if ok else 'not available'}: {detail}")
    return 0


def _value(v):
    """A parameter value for display: a number, or the per-copy values of a sweep."""
    return f"{v:g}" if isinstance(v, (int, float)) else "[" + ", ".join(f"{x:g}" for x in v) + "]"


def _neurons(text):
    """Neuron indices from ``'0,5,9'`` or a range ``'0:50'`` (end excluded)."""
    try:
        if ":" in text:
            start, stop = (int(x) for x in text.split(":"))
            return list(range(start, stop))
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--neurons takes '0,5,9' or '0:50', got {text!r}") from None


def _plot(args):
    from .plot import summary_figures
    from .io.hdf5 import load

    paths = summary_figures(load(args.file), args.outdir, prefix=args.prefix, copy=args.copy, neurons=args.neurons,
                            window=args.window, fmt=args.format)
    for p in paths:
        print(p)
    return 0


def _demo(argv):
    from .demo import main

    return main(argv)


def _validate(argv):
    from .validate.script import main

    return main(argv)


def _train_segregated(argv):
    from .protocols.segregated_mnist import main

    return main(argv)


def _train_cwa(argv):
    from .protocols.cwa_mnist import main

    return main(argv)


# subcommands that parse their own options
_DELEGATED = {"demo": _demo, "validate": _validate, "train-segregated": _train_segregated, "train-cwa": _train_cwa}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in _DELEGATED:
        return _DELEGATED[argv[0]](argv[1:])
    ap = argparse.ArgumentParser(prog="compsim", description="compsim: fast multi-compartment spiking networks")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run a simulation script")
    p.add_argument("script")
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(func=_run)
    p = sub.add_parser("info", help="describe a result file, or list the backends")
    p.add_argument("file", nargs="?")
    p.add_argument("--backends", action="store_true", help="list the backends that can run here")
    p.set_defaults(func=_info)
    p = sub.add_parser("plot", help="plot a result file")
    p.add_argument("file")
    p.add_argument("-o", "--outdir", default=".", help="output directory (default: current)")
    p.add_argument("--prefix", default="", help="prefix of the PNG file names")
    p.add_argument("--copy", type=int, default=0, help="batch copy to plot in files of batched runs (default 0)")
    p.add_argument("--neurons", type=_neurons, help="neurons to draw: '0,5,9' or '0:50' (traces: those recorded)")
    p.add_argument("--window", type=float, nargs=2, metavar=("START_MS", "STOP_MS"), help="time window in ms")
    p.add_argument("--format", choices=("png", "pdf", "svg"), default="png", help="file format (default png)")
    p.set_defaults(func=_plot)
    sub.add_parser("demo", help="run the main demo (compsim demo -h for options)")
    sub.add_parser("validate", help="validate a script's network against Brian2 (compsim validate -h)")
    sub.add_parser("train-segregated", help="train the segregated-dendrite network on MNIST (-h for options)")
    sub.add_parser("train-cwa", help="train conductance-weighted-averaging networks on MNIST (-h for options)")
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
