"""COBA benchmark: compsim against Brian2 (cpp_standalone and runtime/Cython).

Usage::

    python benchmarks/coba.py [--n 4000] [--repeats 3]
        [--engines compsim,brian2-standalone,brian2-runtime] [--threads 1]
        [--json PATH]

The workload and the measurement protocol are those of the project's benchmark
definition (COBA, Vogels & Abbott 2005 / Brette et al. 2007 benchmark 1:
N LIF neurons with conductance synapses, forward Euler, dt = 0.1 ms, 1 s).

Workers, one fresh subprocess per measurement:

* ``compsim``            -> ``benchmarks/_compsim_coba.py``
* ``brian2-standalone``  -> ``benchmarks/_brian2_coba.py --mode cpp_standalone``
* ``brian2-runtime``     -> ``benchmarks/_brian2_coba.py --mode runtime``

The protocol (warm-up, alternating timed rounds, medians, ratios, ``--json``)
is that of ``benchmarks/_driver.py``, shared with ``benchmarks/cobahh.py``.
"""

import sys

from _driver import Workload, main

COBA = Workload(name="COBA", compsim_worker="_compsim_coba.py", brian2_worker="_brian2_coba.py",
                sizes="4000 (reference), 32000, 128000")

if __name__ == "__main__":
    sys.exit(main(COBA))
