"""COBAHH benchmark: compsim against Brian2 (cpp_standalone and runtime/Cython).

Usage::

    python benchmarks/cobahh.py [--n 4000] [--repeats 3]
        [--engines compsim,brian2-standalone,brian2-runtime] [--threads 1]
        [--json PATH]

The workload is COBAHH of the project's benchmark definition (Brian2's
``examples/COBAHH.py``, Brette et al. 2007 benchmark 3: N single-compartment
Hodgkin-Huxley neurons with conductance synapses, exponential Euler,
dt = 0.1 ms, 1 s; defined sizes N = 4000 and 32000).

Workers, one fresh subprocess per measurement:

* ``compsim``            -> ``benchmarks/_compsim_cobahh.py``
* ``brian2-standalone``  -> ``benchmarks/_brian2_cobahh.py --mode cpp_standalone``
* ``brian2-runtime``     -> ``benchmarks/_brian2_cobahh.py --mode runtime``

The protocol (warm-up, alternating timed rounds, medians, ratios, ``--json``)
is that of ``benchmarks/_driver.py``, shared with ``benchmarks/coba.py``.
"""

import sys

from _driver import Workload, main

COBAHH = Workload(name="COBAHH", compsim_worker="_compsim_cobahh.py",
                  brian2_worker="_brian2_cobahh.py", sizes="4000 (reference), 32000")

if __name__ == "__main__":
    sys.exit(main(COBAHH))
