"""compsim worker of the COBA benchmark (run by ``benchmarks/coba.py``, one process per measurement).

``python benchmarks/_compsim_coba.py --n 4000 --threads 1 --duration-ms 1000 --seed 1``
prints one line ``RESULT {json}`` (phases: :mod:`_compsim_common`).
"""
import time

T_START = time.perf_counter()

import sys  # noqa: E402

import _compsim_common  # noqa: E402


def build(args):
    from compsim.models.coba import build_coba

    return build_coba(args.n, seed=args.seed, **_compsim_common.network_options(args)).net


if __name__ == "__main__":
    sys.exit(_compsim_common.main("COBA", build, _compsim_common.exc_inh_spikes, t_start=T_START,
                                  description=__doc__.splitlines()[0]))
