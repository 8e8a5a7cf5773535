"""The batch axis: B copies in one run equal B single-copy runs on the same random streams.

Copy ``b`` of ``Network(batch=B)`` draws the numbers of copy ``first_copy + b``;
``Network(batch=1, first_copy=b)`` with copy b's inputs and state must give the
same spikes and traces bit for bit. Covered: a sparse COBA-like network with
Poisson drive, delays and double-exponential synapses; the dense segregated
network on MNIST with one image per copy; a parameter sweep; the HDF5 file of
a batched run.
"""
import numpy as np
import pytest

import compsim as cs
from compsim.data.mnist import load_mnist
from compsim.models import CobaLIF
from compsim.models.segdend import build_segregated_network

B = 8
DURATION = 150.0  # ms


def sparse_net(batch, first_copy=0, tau_m=20.0, copies=range(B), rates=None, **options):
    """Poisson drive -> CobaLIF E/I with FixedProbability / FixedInDegree, a delay and a double exponential.

    Initial potentials differ per copy (row b of a fixed table), so that copies differ beyond their noise.
    """
    net = cs.Network(dt=0.1, seed=11, batch=batch, first_copy=first_copy, **options)
    v0 = -60.0 + np.random.default_rng(5).uniform(-8.0, 8.0, (B, 80))
    table = np.random.default_rng(6).uniform(5.0, 40.0, (B, 50))
    drive = net.add(cs.PoissonSource(50), name="drive")
    exc = net.add(CobaLIF(80, tau_m=tau_m), name="exc")
    inh = net.add(CobaLIF(20), name="inh")
    rows = list(copies)
    if rates is None:  # constant rates, one row per copy
        drive.set_rates(table[rows] if batch > 1 else table[rows[0]])
    else:  # given per step: (n_steps, B, 50) in a batch, (n_steps, 50) alone
        drive.set_rates(rates)
    exc["v"] = v0[rows] if batch > 1 else v0[rows[0]]
    net.connect(drive, exc, "ge", 3.0, connectivity=cs.FixedProbability(0.3))
    net.connect(drive, inh, "ge", 3.0, connectivity=cs.FixedInDegree(8))
    net.connect(exc, exc, "ge", 1.0, connectivity=cs.FixedProbability(0.1), delay=0.5)
    net.connect(exc, inh, "ge", 2.0, connectivity=cs.FixedProbability(0.2))
    net.connect(inh, exc, "gi", 6.0, connectivity=cs.FixedInDegree(5), synapse=cs.DoubleExponential(1.0, 6.0))
    for pop in (drive, exc, inh):
        net.record_spikes(pop)
    net.record(exc, ["v", "ge", "gi"], neurons=[0, 7, 42, 79])
    net.record_rate(inh)
    return net


def assert_copy_equals_single(batched, single, b):
    for name, train in single.spikes.items():
        mine = batched.spikes[name].of_copy(b)
        np.testing.assert_array_equal(mine.t, train.t, err_msg=f"{name} copy {b}")
        np.testing.assert_array_equal(mine.i, train.i, err_msg=f"{name} copy {b}")
    for name, trace in single.state.items():
        for var in trace.vars:
            np.testing.assert_array_equal(batched.state[name][var][:, b], trace[var], err_msg=f"{name}.{var} {b}")
    for name, rate in single.rates.items():
        np.testing.assert_array_equal(batched.rates[name].counts[:, b], rate.counts)


def test_sparse_network_copies_equal_single_runs():
    batched = sparse_net(B).run(DURATION)
    assert batched.attrs["batch"] == B
    counts = [batched.spikes["exc_spikes"].of_copy(b).count() for b in range(B)]
    assert min(counts) > 20 and len(set(counts)) > 1  # active, and the copies differ
    for b in range(B):
        single = sparse_net(1, first_copy=b, copies=[b]).run(DURATION)
        assert_copy_equals_single(batched, single, b)


def test_segregated_network_copies_equal_single_runs():
    images, _ = load_mnist(B)

    def build(batch, first_copy=0):
        seg = build_segregated_network(60, seed=3, dt=1.0, batch=batch, first_copy=first_copy)
        seg.net.record_spikes(seg.hid)
        seg.net.record_spikes(seg.out)
        seg.net.record(seg.hid, ["v_soma", "v_apical"], neurons=[0, 30, 59])
        seg.net.record(seg.out, "v_soma")
        return seg

    seg = build(B)
    seg.inp.set_image(images)
    seg.out.teach(np.eye(10)[np.arange(B) % 10] * 0.8)
    batched = seg.net.run(120.0)
    for b in range(B):
        one = build(1, first_copy=b)
        one.inp.set_image(images[b])
        one.out.teach(np.eye(10)[b % 10] * 0.8)
        assert_copy_equals_single(batched, one.net.run(120.0), b)


def test_per_step_per_copy_rates_equal_single_runs():
    steps = 1000
    grid = np.random.default_rng(9).uniform(0.0, 60.0, (steps, B, 50))
    batched = sparse_net(B, rates=grid).run(steps * 0.1)
    for b in (0, 3, B - 1):
        single = sparse_net(1, first_copy=b, copies=[b], rates=grid[:, b]).run(steps * 0.1)
        assert_copy_equals_single(batched, single, b)


def test_parameter_sweep_equals_separate_runs():
    taus = [8.0, 10.0, 12.0, 15.0, 18.0, 21.0, 25.0, 30.0]
    batched = sparse_net(B, tau_m=taus, copies=[0] * B).run(DURATION)
    assert len({batched.spikes["exc_spikes"].of_copy(b).count() for b in range(B)}) > 4  # tau_m matters
    for b, tau in enumerate(taus):
        single = sparse_net(1, first_copy=b, tau_m=tau, copies=[0]).run(DURATION)
        assert_copy_equals_single(batched, single, b)


def test_batched_hdf5_file_loads_with_its_batch_axis(tmp_path):
    net = sparse_net(B)
    from_file = net.run(60.0, output=tmp_path / "batch.h5")
    memory = sparse_net(B).run(60.0)
    loaded = cs.load(tmp_path / "batch.h5")
    assert loaded.attrs["batch"] == B and loaded.attrs["complete"]
    for res in (from_file, loaded):
        st = res.state["exc_state"]
        assert st["v"].shape == (600, B, 4)
        np.testing.assert_array_equal(st["v"], memory.state["exc_state"]["v"])
        sp, ref = res.spikes["exc_spikes"], memory.spikes["exc_spikes"]
        assert sp.batch == B and set(np.unique(sp.copy)) <= set(range(B))
        for field in ("t", "i", "copy"):
            np.testing.assert_array_equal(getattr(sp, field), getattr(ref, field))
        assert res.rates["inh_rate"].counts.shape == (600, B)
        np.testing.assert_array_equal(res.rates["inh_rate"].counts, memory.rates["inh_rate"].counts)


def test_per_copy_inputs_are_checked():
    net = cs.Network(dt=0.1, batch=4)
    src = net.add(cs.PoissonSource(3), name="src")
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        src.set_rates(np.ones((5, 3)))
    with pytest.raises(ValueError, match="rows"):
        src.set_image(np.zeros((3, 3)))
    pop = net.add(CobaLIF(3), name="lif")
    with pytest.raises(ValueError, match="'v'"):
        pop["v"] = np.zeros((2, 3))
    assert pop["v"].shape == (4, 3)


def test_threads_over_copies_give_the_same_results():
    serial = sparse_net(B, parallel=False).run(DURATION)
    threaded = sparse_net(B, parallel=True, threads=2).run(DURATION)
    for b in range(B):
        assert_copy_equals_single(threaded, _single_view(serial, b), b)


def _single_view(results, b):
    """Copy ``b`` of batched results, shaped like a single-copy run's."""
    from compsim.results import PopulationRate, Results, StateTrace

    out = Results(attrs=results.attrs, network=results.network)
    out.spikes = {k: v.of_copy(b) for k, v in results.spikes.items()}
    out.state = {k: StateTrace(v.name, v.population, v.t, v.neurons, {n: a[:, b] for n, a in v.values.items()},
                               v.units, v.every) for k, v in results.state.items()}
    out.rates = {k: PopulationRate(v.name, v.population, v.n, v.t, v.counts[:, b], v.dt)
                 for k, v in results.rates.items()}
    return out
