"""The fused per-neuron loops compile to SIMD code (a regression guard, not a timing).

A loop that stops vectorising (an early return in a kernel, a libm call, a
division check, too many aliasing arrays) runs several times slower without
any test failing; this one reads the LLVM IR of the generated population
step and asks for vector arithmetic on doubles.
"""
import inspect
import re
import sys

import numpy as np
import pytest
from numba import njit

import compsim as cs
from compsim import rng
from compsim.models.coba import build_coba
from compsim.models.segdend import build_segregated_network

VECTOR = re.compile(r"<\d+ x double>")


def _step_function_ir(net, population):
    net.build()
    module = sys.modules[net._program[0].__module__]
    step = getattr(module, f"step_pop{population.index}")
    fresh = njit(error_model="numpy")(step.py_func)  # cached code cannot be inspected: compile it again
    names = list(inspect.signature(step.py_func).parameters)[3:]
    fresh(0, net.dt, net.stream_keys()[population.index], *[net.store[n] for n in names])
    return fresh.inspect_llvm(fresh.signatures[0])


@pytest.mark.parametrize("method", ["euler", "exponential_euler"])
def test_coba_lif_loop_vectorises(method):
    coba = build_coba(400, seed=1, method=method, parallel=False, record_spikes=False)
    assert VECTOR.search(_step_function_ir(coba.net, coba.exc))


@pytest.mark.parametrize("spike_mode", ["bernoulli", "poisson_events"])
def test_pyramidal_loop_vectorises(spike_mode):
    seg = build_segregated_network(50, seed=0, dt=1.0, spike_mode=spike_mode, parallel=False)
    assert VECTOR.search(_step_function_ir(seg.net, seg.hid))


def test_faithful_segregated_loop_vectorises():
    """The faithful mode's hidden layer: Euler step, Poisson counts by time rescaling, 10-tap FIR inputs.
    Three loops vectorise: the two FIR passes (basal, apical) and the neuron loop."""
    seg = build_segregated_network(50, seed=0, dt=1.0, spike_mode="poisson_events", method="euler", g_a=0.0,
                                   synapse=cs.TruncatedDoubleExponential(), same_step=True, parallel=False)
    ir = _step_function_ir(seg.net, seg.hid)
    assert VECTOR.search(ir)
    assert len(set(re.findall(r"^(vector\.body\d*):", ir, re.M))) >= 3


def test_poisson_source_loop_vectorises_in_bernoulli_mode():
    net = cs.Network(dt=0.1, parallel=False)
    src = net.add(cs.PoissonSource(100, 20.0), name="src")
    net.build()
    module = sys.modules[net._program[0].__module__]
    step = getattr(module, f"step_pop{src.index}")
    fresh = njit(error_model="numpy")(step.py_func)
    names = list(inspect.signature(step.py_func).parameters)[4:]
    fresh(0, 0, net.dt, net.stream_keys()[src.index], *[net.store[n] for n in names])
    assert re.search(r"<\d+ x i64>", fresh.inspect_llvm(fresh.signatures[0]))  # the hash, lane by lane


def test_poisson_events_draws_vectorise():
    """The threshold draws of the neurons reaching their threshold are made in one vector pass
    (the hash and compsim.fastmath.log, lane by lane)."""
    n = 64
    options = {k: v for k, v in rng.poisson_events.targetoptions.items() if k not in ("cache", "nopython")}
    fresh = njit(**options)(rng.poisson_events.py_func)  # cached code cannot be inspected: compile it again
    fresh(3, np.uint64(7), np.full(n, 0.5), np.full(n, 0.25), np.ones(n, np.int32), np.zeros(n, np.int32),
          np.zeros(n))
    ir = fresh.inspect_llvm(fresh.signatures[0])
    assert re.search(r"<\d+ x i64>", ir) and re.search(r"fdiv <\d+ x double>", ir)


def test_generated_compartment_kernels_vectorise():
    """COBAHH's Hodgkin-Huxley soma (exprel, exp; exponential Euler) and the BAC cell's three-compartment tree
    with a plateau (the implicit tree solver): the neuron loop itself is vectorised (LLVM's ``vector.body``).
    Known limit: a tree whose loop writes many more state rows (five compartments with HH and a plateau: 13
    written of 18 arrays) needs more runtime alias checks than LLVM allows and stays scalar."""
    from compsim.models.cobahh import build_cobahh
    from compsim.protocols.bac_firing import bac_cell

    hh = build_cobahh(100, seed=1, parallel=False, record_spikes=False)
    assert "vector.body" in _step_function_ir(hh.net, hh.exc)
    net = cs.Network(dt=0.025, method="exact", parallel=False)
    pop = net.add(bac_cell().population(50, threshold=("soma", -20.0), refractory=2.0), name="pyr")
    assert "vector.body" in _step_function_ir(net, pop)
