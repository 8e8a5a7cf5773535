"""Brian2 cross-validation of every built-in model and synapse kind (compsim.validate).

Deterministic inputs (replayed spike trains) or frozen noise, the same
integration method on both sides, 1 s at dt = 0.1 ms: traces agree to a
relative error <= 1e-9 and spike trains are identical.
"""
import subprocess
import sys

import numpy as np
import pytest

import compsim as cs
from compsim.models import CobaLIF, ConductanceNeuron, OutputNeuron, SegregatedPyramidal

pytest.importorskip("brian2")
import compsim.validate as validate  # noqa: E402

DT = 0.1
DURATION = 1000.0
RTOL = 1e-9
METHODS = ["euler", "exponential_euler"]


def _spike_train(n, rate_hz, seed, duration=DURATION):
    """Fixed random spike times on the dt grid (repeats in one step allowed)."""
    rng = np.random.default_rng(seed)
    count = rng.poisson(n * rate_hz * duration * 1e-3)
    return rng.integers(0, n, count), np.round(rng.uniform(0, duration - DT, count) / DT) * DT


def _check(report, min_spikes=None):
    assert report.passed, report.summary()
    for tr in report.traces.values():
        assert tr.errors["max_rel_err"] <= RTOL, (tr.label, tr.errors)
        assert tr.compsim.shape == (report.attrs["n_steps"], tr.neurons.size)
    for sp in report.spikes.values():
        assert sp.measures["identical"], (sp.population, sp.measures)
        assert sp.measures["count_compsim"] == sp.measures["count_brian2"]
        if min_spikes:
            assert sp.measures["count_compsim"] >= min_spikes.get(sp.population, 0), sp.measures


def _coba_net(method):
    net = cs.Network(dt=DT, seed=11, method=method)
    rng = np.random.default_rng(5)
    exc = net.add(cs.SpikeTrainSource(40, *_spike_train(40, 25.0, 1)), name="exc_in")
    inh = net.add(cs.SpikeTrainSource(20, *_spike_train(20, 15.0, 2)), name="inh_in")
    cur = net.add(cs.SpikeTrainSource(10, *_spike_train(10, 20.0, 3)), name="cur_in")
    lif = net.add(CobaLIF(16, t_ref=2.0), name="lif")
    net.connect(exc, lif, "ge", rng.uniform(0.0, 5.0, (16, 40)))  # dense, exponential
    net.connect(inh, lif, "gi", 4.0, connectivity=cs.FixedProbability(0.5), delay=0.5)  # sparse, delayed
    net.connect(cur, lif, "I", 600.0, connectivity=cs.FixedInDegree(3),  # double exponential current
                synapse=cs.DoubleExponential(tau_rise=1.0, tau_decay=4.0))
    lif["v"] = rng.uniform(-65.0, -52.0, 16)
    net.set_synaptic_input(lif, "ge", rng.uniform(0.0, 5.0, 16))
    return net


@pytest.mark.parametrize("method", METHODS)
def test_coba_lif(method):
    """CobaLIF: conductances, current, refractoriness, dense / sparse / delayed / double-exponential input."""
    report = validate.against_brian2(_coba_net(method), DURATION,
                                     record={"lif": ["v", "refractory", "ge", "gi", "I"]})
    _check(report, {"lif": 50})
    assert report.attrs["brian2_methods"] == {"lif": method}
    # refractory counters follow Brian2's lastspike-based refractoriness step for step
    ref = report.traces[("lif", "refractory")]
    assert ref.compsim.max() == 2.0 / DT - 1 and ref.errors["max_abs_err"] == 0.0


def _segregated_net(method):
    net = cs.Network(dt=DT, seed=4, method=method)
    rng = np.random.default_rng(9)
    ff = net.add(cs.SpikeTrainSource(30, *_spike_train(30, 20.0, 4)), name="ff")
    fb = net.add(cs.SpikeTrainSource(8, *_spike_train(8, 30.0, 5)), name="fb")
    hid = net.add(SegregatedPyramidal(12, phi_max=150.0), name="hid")
    net.connect(ff, hid, "basal", rng.uniform(-0.2, 0.6, (12, 30)), synapse=cs.DoubleExponential(3.0, 10.0))
    pre = rng.integers(0, 8, 40)
    post = rng.integers(0, 12, 40)
    net.connect(fb, hid, "apical", rng.uniform(-1.0, 1.0, 40), connectivity=cs.Explicit(pre, post), delay=1.0)
    hid["b_basal"] = rng.uniform(-0.5, 0.5, 12)
    hid["b_apical"] = rng.uniform(-0.2, 0.2, 12)
    hid["v_soma"] = rng.uniform(-1.0, 1.0, 12)
    return net


@pytest.mark.parametrize("method", METHODS)
def test_segregated_pyramidal(method):
    """Three-compartment neuron: derived dendritic potentials, biases, frozen-noise Bernoulli spikes."""
    report = validate.against_brian2(_segregated_net(method), DURATION,
                                     record={"hid": ["v_soma", "v_basal", "v_apical", "basal", "apical"]})
    _check(report, {"hid": 300})


def _output_net(method):
    net = cs.Network(dt=DT, seed=6, method=method)
    rng = np.random.default_rng(3)
    src = net.add(cs.SpikeTrainSource(25, *_spike_train(25, 20.0, 6)), name="src")
    out = net.add(OutputNeuron(6), name="out")
    net.connect(src, out, "basal", rng.uniform(0.0, 0.8, (6, 25)), delay=0.3)
    out["b_basal"] = rng.uniform(0.0, 1.0, 6)
    out.teach(np.array([1.0, 0.0, 0.0, 0.5, 0.0, 0.2]))
    out["I_ext"] = rng.uniform(-0.05, 0.05, 6)
    return net


@pytest.mark.parametrize("method", METHODS)
def test_output_neuron(method):
    """Output neuron: teaching conductances, injected current, delayed exponential input, frozen noise."""
    report = validate.against_brian2(_output_net(method), DURATION)
    _check(report, {"out": 300})
    assert set(report.traces) == {("out", "v_soma"), ("out", "v_basal")}


def test_poisson_spiking_network_frozen_noise():
    """Poisson inputs replayed, Poisson-spiking somas on frozen noise, feedforward and feedback: identical spikes."""
    net = cs.Network(dt=DT, seed=21, method="exponential_euler")
    rng = np.random.default_rng(21)
    inp = net.add(cs.PoissonSource(60, rng.uniform(0.0, 40.0, 60)), name="inp")
    hid = net.add(SegregatedPyramidal(20), name="hid")
    out = net.add(OutputNeuron(5), name="out")
    kernel = cs.DoubleExponential(3.0, 10.0)
    net.connect(inp, hid, "basal", rng.uniform(0.0, 0.5, (20, 60)), synapse=kernel)
    net.connect(hid, out, "basal", rng.uniform(0.0, 0.4, (5, 20)), synapse=kernel)
    net.connect(out, hid, "apical", rng.uniform(-1.0, 1.0, (20, 5)), synapse=kernel)
    hid["b_basal"] = 0.8
    report = validate.against_brian2(net, DURATION)
    _check(report, {"hid": 500, "out": 100})


def test_poisson_counts_replayed():
    """A 'poisson'-mode source emits several spikes in one step; the replay keeps every one of them."""
    net = cs.Network(dt=DT, seed=8, method="euler")
    src = net.add(cs.PoissonSource(30, 1500.0, spike_mode="poisson"), name="src")
    lif = net.add(CobaLIF(5, v_th=-45.0), name="lif")
    net.connect(src, lif, "ge", 0.1, connectivity=cs.FixedProbability(0.5))
    report = validate.against_brian2(net, 300.0, record={"lif": ["v", "ge"]})
    _check(report, {"lif": 5})


def test_network_that_ran_before_and_is_untouched():
    """Validation starts from the current state (refractory neurons, delayed jumps in flight) and copies the network."""
    net = _coba_net("euler")
    net.record_spikes(net.populations[3], name="user_spikes")
    inh = net.populations[1]
    t_spike = np.sort(inh.times[inh.times > 130.0])[0]
    net.run(t_spike + 2 * DT)  # that spike's jumps (delay 0.5 ms) are still in the ring
    t0 = net.t
    before = {p.name: (p.state.copy() if p.state is not None else None) for p in net.populations}
    rings = [j.ring.copy() for j in net.projections]
    assert any(np.any(r != 0) for r in rings), "expected delayed jumps in flight"
    report = validate.against_brian2(net, 300.0, record={"lif": ["v", "refractory", "gi"]})
    _check(report)
    assert report.attrs["t0_ms"] == pytest.approx(t0)
    assert net.t == t0 and [m.name for m in net.monitors] == ["user_spikes"]
    for p in net.populations:
        if before[p.name] is not None:
            np.testing.assert_array_equal(p.state, before[p.name])
    for j, r in zip(net.projections, rings):
        np.testing.assert_array_equal(j.ring, r)
    res = net.run(10.0)  # the original still runs and records as before
    assert "user_spikes" in res.spikes


def test_wrong_parameter_is_caught():
    """g_a off by 1 % on one side makes the validation fail."""
    report = validate.against_brian2(_segregated_net("exponential_euler"), 200.0, record={"hid": ["v_soma"]},
                                     perturb={"hid": {"g_a": 1.01}})
    assert not report.passed
    assert any("hid.v_soma" in f for f in report.failures())


def test_float32_network_uses_looser_tolerance():
    net = cs.Network(dt=DT, seed=4, method="exponential_euler", dtype="float32")
    src = net.add(cs.SpikeTrainSource(10, *_spike_train(10, 20.0, 7, 200.0)), name="src")
    hid = net.add(SegregatedPyramidal(4, phi_max=0.0), name="hid")
    net.connect(src, hid, "basal", 0.3)
    report = validate.against_brian2(net, 200.0)
    assert report.tolerances["rtol"] == 1e-4
    assert report.passed, report.summary()


def test_poisson_count_somas_segregated_network():
    """The segregated-dendrite network in its original 'poisson' spike mode (counts > 1 per step at dt = 1 ms)."""
    from compsim.models.segdend import build_segregated_network

    seg = build_segregated_network(n_hidden=40, n_in=100, seed=2, dt=1.0, spike_mode="poisson")
    seg.inp.set_rates(np.random.default_rng(0).uniform(0.0, 200.0, 100))
    report = validate.against_brian2(seg.net, DURATION)
    _check(report, {"hid": 2000, "out": 100})
    steps, idx = report.spikes["hid"].compsim
    assert np.unique(steps * 40 + idx).size < steps.size, "expected steps with several spikes of one neuron"


def test_model_without_brian2_equivalent_is_refused():
    class Bare(SegregatedPyramidal):
        brian2_model = None

    net = cs.Network(dt=0.1, seed=1)
    net.add(Bare(2), name="bare")
    with pytest.raises(Exception, match="brian2_model"):
        validate.against_brian2(net, 1.0)


def test_import_compsim_does_not_import_brian2():
    code = ("import sys, compsim, compsim.validate, compsim.models; "
            "assert 'brian2' not in sys.modules, 'brian2 imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_spike_measures():
    """First divergence, Gamma factor and rates of hand-made trains."""
    from compsim.validate.compare import first_divergence, spike_agreement, trace_errors

    a = (np.array([1, 5, 9, 20]), np.array([0, 1, 0, 1]))
    assert first_divergence(a, a, 2) is None
    b = (np.array([1, 5, 10, 20]), np.array([0, 1, 0, 1]))
    assert first_divergence(a, b, 2) == 9
    assert first_divergence(a, (a[0][:3], a[1][:3]), 2) == 20
    m = spike_agreement(a, b, 2, 1000, 0.1)
    assert not m["identical"] and m["first_divergence_ms"] == pytest.approx(0.9)
    assert m["gamma"] == pytest.approx(1.0, abs=0.01)  # a one-step shift is within the coincidence window
    far = (np.array([100, 300, 500, 700]), np.array([0, 1, 0, 1]))
    assert spike_agreement(a, far, 2, 1000, 0.1)["gamma"] < 0.05
    assert spike_agreement(a, a, 2, 1000, 0.1)["rate_compsim_hz"] == pytest.approx(20.0)
    e = trace_errors(np.array([[1.0, 0.0], [2.0, 1e-9]]), np.array([[1.0, 0.0], [2.5, 0.0]]), 0.1, np.array([3, 7]))
    assert e["max_abs_err"] == 0.5 and e["t_worst_ms"] == pytest.approx(0.1) and e["neuron_worst"] == 3
    assert e["max_rel_err"] == pytest.approx(0.2)


def _conductance_net(method, activation, mode="rate"):
    """Two E/I layers of conductance neurons on fixed graded inputs (dense and sparse), and a spiking layer."""
    net = cs.Network(dt=DT, seed=8, method=method)
    rng = np.random.default_rng(12)
    xe = net.add(cs.ActivitySource(20, rng.uniform(0, 1, 20), valence=1.0), name="xe")
    xi = net.add(cs.ActivitySource(20, rng.uniform(0, 1, 20), valence=-1.0), name="xi")
    he = net.add(ConductanceNeuron(8, valence=1.0, C=3.0, activation=activation), name="he")
    hi = net.add(ConductanceNeuron(6, valence=-1.0, C=2.0, E_r=0.1, activation=activation), name="hi")
    out = net.add(ConductanceNeuron(5, valence=1.0, C=4.0, E_r=0.3, mode=mode), name="out")
    for post in (he, hi):
        net.connect(xe, post, "g_e", rng.uniform(0, 0.3, (post.n, 20)))
        net.connect(xi, post, "g_i", 0.4, connectivity=cs.FixedProbability(0.5))
    net.connect(he, out, "g_e", rng.uniform(0, 2.0, (5, 8)))
    net.connect(hi, out, "g_i", rng.uniform(0, 1.0, (5, 6)))
    he["V"] = rng.uniform(-1.0, 1.0, 8)
    return net


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("activation", ["clipped", "sigmoid"])
def test_conductance_neuron_rate_mode(method, activation):
    """Conductance E/I layers with graded transmission: Brian2 (summed) variables, both activations."""
    report = validate.against_brian2(_conductance_net(method, activation), 200.0,
                                     record={"he": ["V", "p"], "hi": ["V", "p"], "out": ["V", "p"]})
    _check(report)
    with pytest.raises(ValueError, match="'he.g_e' is fed by graded projections"):
        validate.against_brian2(_conductance_net(method, activation), 1.0, record={"he": ["g_e"]})
    assert np.ptp(report.traces[("out", "V")].compsim) > 0.05  # the potentials move (settling from the start)


def test_conductance_neuron_spiking_mode():
    """Spiking mode: Bernoulli spikes with compsim's uniforms as frozen noise."""
    report = validate.against_brian2(_conductance_net("exponential_euler", "clipped", mode="spiking"), DURATION,
                                     record={"out": ["V", "p"]})
    _check(report, {"out": 20})
