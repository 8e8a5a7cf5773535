"""Same seed, same results: whatever the chunk size, thread count or serial/parallel loop.

The random numbers are a pure function of (seed, stream, neuron, step)
(compsim/rng.py), and connectivity is drawn from the projection's own stream,
so every variant below must reproduce the reference run bit for bit.
"""
import numba
import numpy as np
import pytest

import compsim as cs
from compsim.models import CobaLIF, OutputNeuron, SegregatedPyramidal

DURATION = 150.0  # ms, 1500 steps
POPS = ("inp", "hid", "out", "exc", "inh")


def build(seed=7, **options):
    """Poisson input -> pyramidal hidden layer <-> output layer (dense, feedback delayed), and a
    sparse CobaLIF E/I network driven by the same input (FixedProbability and FixedInDegree)."""
    net = cs.Network(dt=0.1, seed=seed, **options)
    par = np.random.default_rng(0)  # parameters (not the network seed): identical in every variant
    inp = net.add(cs.PoissonSource(40, par.uniform(0.0, 100.0, 40)), name="inp")
    hid = net.add(SegregatedPyramidal(30), name="hid")
    out = net.add(OutputNeuron(5), name="out")
    exc = net.add(CobaLIF(80), name="exc")
    inh = net.add(CobaLIF(20), name="inh")
    net.connect(inp, hid, "basal", par.uniform(-0.4, 0.4, (30, 40)))
    net.connect(hid, out, "basal", par.uniform(-0.4, 0.4, (5, 30)))
    net.connect(out, hid, "apical", par.uniform(-1.0, 1.0, (30, 5)), delay=2.0)
    out.teach(np.array([1.0, 0.0, 0.0, 0.5, 0.0]))
    p_in = cs.FixedProbability(0.2)
    net.connect(inp, exc, "ge", 6.0, connectivity=p_in)
    net.connect(inp, inh, "ge", 3.0, connectivity=p_in)
    net.connect(exc, exc, "ge", 1.0, connectivity=cs.FixedProbability(0.1, allow_autapses=False))
    net.connect(exc, inh, "ge", 1.5, connectivity=cs.FixedInDegree(10), delay=0.5)
    net.connect(inh, exc, "gi", 8.0, connectivity=cs.FixedInDegree(5))
    net.connect(inh, inh, "gi", 4.0, connectivity=cs.FixedProbability(0.2), synapse=cs.DoubleExponential(1.0, 5.0))
    exc["v"] = -60.0 + par.uniform(-5.0, 5.0, 80)
    for pop in (inp, hid, out, exc, inh):
        net.record_spikes(pop, name=f"{pop.name}_spk")
    net.record(hid, ["v_soma", "basal", "apical"], name="hid_v")
    net.record(out, "v_soma", every=3, name="out_v")
    net.record(exc, ["v", "ge", "gi"], neurons=[0, 5, 17, 79], name="exc_v")
    net.record_rate(exc, name="exc_rate")
    return net


def run(seed=7, chunk_steps=None, **options):
    net = build(seed, **options)
    return net.run(DURATION, chunk_steps=chunk_steps)


@pytest.fixture(scope="module")
def reference():
    res = run()
    # the reference is a meaningful network: every population spikes
    for name in POPS:
        assert res.spikes[f"{name}_spk"].count() > 30, name
    return res


@pytest.fixture(autouse=True)
def _restore_threads():
    yield
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


def assert_identical(a, b):
    for name in POPS:
        sa, sb = a.spikes[f"{name}_spk"], b.spikes[f"{name}_spk"]
        np.testing.assert_array_equal(sa.t, sb.t, err_msg=f"{name} spike times")
        np.testing.assert_array_equal(sa.i, sb.i, err_msg=f"{name} spike indices")
    for mon, tr in a.state.items():
        np.testing.assert_array_equal(tr.t, b.state[mon].t, err_msg=mon)
        for var in tr.vars:
            np.testing.assert_array_equal(tr[var], b.state[mon][var], err_msg=f"{mon}.{var}")
    np.testing.assert_array_equal(a.rates["exc_rate"].counts, b.rates["exc_rate"].counts)
    np.testing.assert_array_equal(a.rates["exc_rate"].t, b.rates["exc_rate"].t)


@pytest.mark.parametrize("chunk_steps", [1, 7, 1000])
def test_chunk_size_invariance(reference, chunk_steps):
    assert_identical(reference, run(chunk_steps=chunk_steps))


def test_network_chunk_steps_option(reference):
    """chunk_steps given to the Network rather than to run()."""
    assert_identical(reference, build(chunk_steps=7).run(DURATION))


def test_split_runs(reference):
    """Two consecutive runs (different chunkings) continue exactly where the first stopped."""
    net = build()
    net.run(40.0, chunk_steps=13)
    res = net.run(DURATION - 40.0, chunk_steps=1000)
    assert_identical(reference, res)


def test_serial_explicit(reference):
    assert_identical(reference, run(parallel=False))


@pytest.mark.parametrize("threads", [1, 2])
def test_parallel_threads(reference, threads):
    res = run(parallel=True, threads=threads, chunk_steps=250)
    assert numba.get_num_threads() == min(threads, numba.config.NUMBA_NUM_THREADS)
    assert_identical(reference, res)


def test_parallel_batch_shares_copies_out():
    """With several copies, threaded populations share the copies out, and so do their spike deliveries
    (a helper looping over the copies with prange): the same results as one thread."""
    serial = run(batch=3, parallel=False)
    net = build(batch=3, parallel=True, threads=2)
    threaded = net.run(DURATION, chunk_steps=250)
    assert "for b in prange(" in net.source.split("def deliver")[1]
    assert_identical(serial, threaded)
    assert serial.spikes["hid_spk"].count() > 30


def test_different_seed_differs(reference):
    other = run(seed=8)
    for name in POPS:
        a, b = reference.spikes[f"{name}_spk"], other.spikes[f"{name}_spk"]
        assert a.count() != b.count() or not np.array_equal(a.i, b.i), name


def test_float32_close_to_float64(reference):
    """float32 runs; its deterministic part (input spikes and the hidden layer's filtered input,
    which depends on them only) matches float64 to float32 precision."""
    net = build(dtype="float32")
    res = net.run(DURATION)
    assert net.populations[1].state.dtype == np.float32
    assert res.state["hid_v"]["basal"].dtype == np.float32
    a, b = reference.spikes["inp_spk"], res.spikes["inp_spk"]
    np.testing.assert_array_equal(a.t, b.t)
    np.testing.assert_array_equal(a.i, b.i)
    x64 = reference.state["hid_v"]["basal"]
    x32 = res.state["hid_v"]["basal"].astype(np.float64)
    assert np.abs(x64).max() > 0.1
    np.testing.assert_allclose(x32, x64, rtol=0, atol=1e-5 * np.abs(x64).max())
    for name in POPS:
        n64, n32 = reference.spikes[f"{name}_spk"].count(), res.spikes[f"{name}_spk"].count()
        assert n32 > 0
        # the stochastic/chaotic parts diverge but keep their statistics (loose: 25 %)
        assert abs(n32 - n64) <= 0.25 * n64 + 5, (name, n32, n64)
    for tr in res.state.values():
        for var in tr.vars:
            assert np.isfinite(tr[var]).all()
