"""compsim worker of the COBAHH benchmark (run by ``benchmarks/cobahh.py``, one process per measurement).

``python benchmarks/_compsim_cobahh.py --n 4000 --threads 1 --duration-ms 1000 --seed 1``
prints one line ``RESULT {json}`` (phases: :mod:`_compsim_common`). The network is COBAHH
of ``/work/shared/benchmarks.md`` (Brian2's ``examples/COBAHH.py``) as
:func:`compsim.models.cobahh.build_cobahh` builds it from compartments (its docstring gives
the parameters).
"""
import time

T_START = time.perf_counter()

import sys  # noqa: E402

import _compsim_common  # noqa: E402


def build(args):
    from compsim.models.cobahh import build_cobahh

    return build_cobahh(args.n, seed=args.seed, **_compsim_common.network_options(args)).net


if __name__ == "__main__":
    sys.exit(_compsim_common.main("COBAHH", build, _compsim_common.exc_inh_spikes, t_start=T_START,
                                  description=__doc__.splitlines()[0]))
