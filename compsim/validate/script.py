"""``compsim validate SCRIPT``: compare a script's network with Brian2; exit 1 when a tolerance is exceeded.

The script is a Python file that defines either

* ``build_network()`` (optionally ``build_network(dt=...)``, which enables
  the convergence study of ``--refine``) returning a :class:`compsim.Network`, or
* a module-level ``network`` (or ``net``) holding one,

and optionally ``VALIDATE = {...}``: default keyword arguments of
:func:`compsim.validate.against_brian2` (``duration``, ``record``,
``neurons``, ``method``, ``target``, ``rtol``, ``spikes``, ``rate_tol``,
``refine``, ``perturb``). Command-line options override them. The script runs
with ``__name__ != "__main__"``, so its ``if __name__ == "__main__":`` block
(e.g. a long simulation) does not.

Exit status: 0 agreement, 1 a tolerance exceeded, 2 usage error or a
script / model that cannot be validated.

Example::

    compsim validate examples/segregated.py --duration 500 --record hid:v_soma \\
        --output val.h5 --plot val.png
"""
import argparse
import runpy
import sys
import traceback
from pathlib import Path

USAGE_ERROR = 2


def _parser():
    ap = argparse.ArgumentParser(prog="compsim validate", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("script", help="Python file defining build_network() or network")
    ap.add_argument("--duration", type=float, help="simulated time in ms (default: VALIDATE or 1000)")
    ap.add_argument("--record", action="append", metavar="POP:VAR[,VAR]",
                    help="variables to compare (repeatable; default: every state variable)")
    ap.add_argument("--method", help="Brian2 integration method (default: the same as compsim's)")
    ap.add_argument("--target", choices=("numpy", "cython"), help="Brian2 code generation target (default numpy)")
    ap.add_argument("--rtol", type=float, help="max relative trace error (default 1e-9 with the same method)")
    ap.add_argument("--spikes", choices=("identical", "rate", "none"), help="spike criterion (default identical)")
    ap.add_argument("--rate-tol", type=float, help="relative rate tolerance of --spikes rate (default 0.05)")
    ap.add_argument("--refine", metavar="F1,F2,...", help="dt divisors of a convergence study, e.g. 1,2,4")
    ap.add_argument("--perturb", action="append", metavar="POP.PARAM=FACTOR",
                    help="scale a parameter on the Brian2 side only (checks that the validation catches it)")
    ap.add_argument("--output", "-o", metavar="FILE.h5", help="save the report (both traces) to HDF5")
    ap.add_argument("--plot", metavar="FILE.png", help="save the overlay figure")
    ap.add_argument("--quiet", "-q", action="store_true", help="print only the verdict")
    return ap


def _parse_record(items):
    record = {}
    for item in items:
        pop, sep, variables = item.partition(":")
        if not sep or not pop or not variables:
            raise ValueError(f"--record expects POP:VAR[,VAR], got {item!r}")
        record.setdefault(pop, []).extend(v for v in variables.split(",") if v)
    return record


def _parse_perturb(items):
    perturb = {}
    for item in items:
        left, sep, factor = item.partition("=")
        pop, dot, param = left.partition(".")
        if not sep or not dot or not pop or not param:
            raise ValueError(f"--perturb expects POP.PARAM=FACTOR, got {item!r}")
        perturb.setdefault(pop, {})[param] = float(factor)
    return perturb


def load_script(path):
    """Run ``path`` and return (network or builder, VALIDATE dict)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such script: {path}")
    ns = runpy.run_path(str(path), run_name="compsim_validate_script")
    options = dict(ns.get("VALIDATE") or {})
    if callable(ns.get("build_network")):
        return ns["build_network"], options
    for name in ("network", "net"):
        if name in ns and ns[name].__class__.__name__ == "Network":
            return ns[name], options
    raise ValueError(f"{path} defines neither build_network() nor a module-level 'network' (compsim.Network)")


def main(argv=None):
    """Entry point of ``compsim validate``; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # -h or a usage error
        return int(exc.code or 0)
    try:
        from . import against_brian2

        net, options = load_script(args.script)
        if args.duration is not None:
            options["duration"] = args.duration
        options.setdefault("duration", 1000.0)
        if args.record:
            options["record"] = _parse_record(args.record)
        for key in ("method", "target", "rtol", "rate_tol"):
            if getattr(args, key) is not None:
                options[key] = getattr(args, key)
        if args.spikes is not None:
            options["spikes"] = None if args.spikes == "none" else args.spikes
        if args.refine:
            options["refine"] = tuple(int(f) for f in args.refine.split(","))
        if args.perturb:
            options["perturb"] = _parse_perturb(args.perturb)
        duration = options.pop("duration")
        report = against_brian2(net, duration, **options)
    except Exception as exc:  # noqa: BLE001 - report any failure of the script or the bridge as a usage error
        if not isinstance(exc, (ValueError, FileNotFoundError, NotImplementedError, ImportError)):
            traceback.print_exc()
        print(f"compsim validate: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    if args.quiet:
        print("PASS" if report.passed else "FAIL: " + "; ".join(report.failures()))
    else:
        print(report.summary())
    if args.output:
        report.save(args.output)
        print(f"report written to {args.output}")
    if args.plot:
        report.plot(args.plot)
        print(f"figure written to {args.plot}")
    return 0 if report.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
