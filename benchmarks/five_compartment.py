"""Five-compartment benchmark ("Dendrites"): compsim against Brian2 (cpp_standalone and runtime/Cython).

Usage::

    python benchmarks/five_compartment.py [--n 1000] [--repeats 3]
        [--engines compsim,brian2-standalone,brian2-runtime,compsim-exact] [--threads 1]
        [--json PATH]

The workload: N neurons of five compartments (Hodgkin-Huxley soma, basal,
trunk, oblique, tuft with a calcium plateau) driven by Poisson spike trains
onto the AMPA conductances of basal, oblique and tuft
(``benchmarks/_five_compartment_cell.py`` defines the cell and its inputs once;
both workers import it), dt = 0.1 ms, 1 s; defined sizes N = 1000 and 10000.
They fire a few Hz, and the tufts produce a plateau now and then; the table
gives both rates (per neuron, Hz) with their standard errors over neurons. The
engines draw different random numbers, so their rates agree statistically,
not spike for spike.

Workers, one fresh subprocess per measurement:

* ``compsim``            -> ``benchmarks/_compsim_five_compartment.py`` (``exponential_euler``,
  the Brian2 workers' scheme)
* ``brian2-standalone``  -> ``benchmarks/_brian2_five_compartment.py --mode cpp_standalone``
* ``brian2-runtime``     -> ``benchmarks/_brian2_five_compartment.py --mode runtime``
* ``compsim-exact``      -> ``benchmarks/_compsim_five_compartment.py --method exact``
  (compsim's implicit tree solver; Brian2 has no counterpart)

The protocol (warm-up, alternating timed rounds, medians, ratios, ``--json``)
is that of ``benchmarks/_driver.py``, shared with ``benchmarks/cobahh.py``.
"""

import sys

from _driver import Workload, main

FIVE_COMPARTMENT = Workload(
    name="Five-compartment neurons with plateaus", compsim_worker="_compsim_five_compartment.py",
    brian2_worker="_brian2_five_compartment.py", sizes="1000 (reference), 10000", default_n=1000,
    exc_fraction=None,
    compsim_variants=(("compsim-exact", "compsim cpu, exact", ("--method", "exact")),),
    extra_columns=(("rate SEM", "rate_sem_hz"), ("plateaus/s", "plateau_rate_hz"),
                   ("plateau SEM", "plateau_rate_sem_hz")))

if __name__ == "__main__":
    sys.exit(main(FIVE_COMPARTMENT))
