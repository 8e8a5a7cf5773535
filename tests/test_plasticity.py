"""Pair STDP inside the compiled loop: the analytic window, bounds, weight dependence, pairing schemes,
batches, checkpoints and weight recordings.

Post spikes are placed exactly with a relay neuron: it spikes in the step after
its teacher input spikes, whatever its plastic input does (that input is read but
ignored), so every pairing interval is known.
"""
import math

import numpy as np
import pytest

import compsim as cs
from compsim.protocols.stdp_pairing import Relay

DT = 0.1
T_POST = 20.0  # ms, time of the single postsynaptic spike


def pairing_net(pre_times, rule, *, sparse=False, batch=1, w0=0.5):
    """One presynaptic neuron per entry of ``pre_times`` (ms) -> one relay neuron spiking at T_POST."""
    net = cs.Network(dt=DT, seed=3, batch=batch)
    n = len(pre_times)
    pre = net.add(cs.SpikeTrainSource(n, np.arange(n), pre_times), name="pre")
    teacher = net.add(cs.SpikeTrainSource(1, [0], [T_POST - DT]), name="teacher")
    post = net.add(Relay(1), name="post")
    net.connect(teacher, post, "driver", 1.0)
    if sparse:
        proj = net.connect(pre, post, "plastic", w0, connectivity=cs.Explicit(np.arange(n), np.zeros(n, int)),
                           plasticity=rule)
    else:
        proj = net.connect(pre, post, "plastic", w0, plasticity=rule)
    net.record_spikes(post)
    return net, proj


@pytest.mark.parametrize("sparse", [False, True])
def test_one_pairing_changes_the_weight_by_the_analytic_window(sparse):
    intervals = np.arange(-60, 61) * DT  # t_post - t_pre, ms
    rule = cs.plasticity.PairSTDP(tau_plus=16.8, tau_minus=33.7, A_plus=0.01, A_minus=0.012, w_max=1.0)
    net, proj = pairing_net(T_POST - intervals, rule, sparse=sparse)
    res = net.run(40.0)
    np.testing.assert_allclose(res.spikes["post_spikes"].t, [T_POST])
    dw = proj.weights.ravel() - 0.5
    expected = np.where(intervals >= 0, 0.01 * np.exp(-intervals / 16.8), -0.012 * np.exp(intervals / 33.7))
    np.testing.assert_allclose(dw, expected, rtol=0, atol=1e-12)


def test_weights_stay_within_bounds():
    rule = cs.plasticity.PairSTDP(A_plus=5.0, A_minus=5.0, w_max=0.8, w_min=0.1)
    net, proj = pairing_net([T_POST - 1.0, T_POST + 1.0], rule)
    net.run(40.0)
    np.testing.assert_array_equal(proj.weights.ravel(), [0.8, 0.1])


def test_multiplicative_dependence_scales_with_the_distance_to_the_bounds():
    rule = cs.plasticity.PairSTDP(tau_plus=10.0, tau_minus=20.0, A_plus=0.1, A_minus=0.2, w_max=2.0, mu=1.0)
    net, proj = pairing_net([T_POST - 2.0, T_POST + 3.0], rule, w0=0.5)
    net.run(40.0)
    plus = 0.5 + 0.1 * (2.0 - 0.5) / 2.0 * math.exp(-2.0 / 10.0)
    minus = 0.5 - 0.2 * 0.5 / 2.0 * math.exp(-3.0 / 20.0)
    np.testing.assert_allclose(proj.weights.ravel(), [plus, minus], rtol=0, atol=1e-12)


@pytest.mark.parametrize("pairing", ["all", "nearest"])
def test_all_to_all_and_nearest_spike_pairing(pairing):
    rule = cs.plasticity.PairSTDP(tau_plus=10.0, A_plus=0.01, A_minus=0.0, pairing=pairing)
    net = cs.Network(dt=DT, seed=3)
    pre = net.add(cs.SpikeTrainSource(1, [0, 0], [T_POST - 5.0, T_POST - 2.0]), name="pre")
    teacher = net.add(cs.SpikeTrainSource(1, [0], [T_POST - DT]), name="teacher")
    post = net.add(Relay(1), name="post")
    net.connect(teacher, post, "driver", 1.0)
    proj = net.connect(pre, post, "plastic", 0.5, plasticity=rule)
    net.run(40.0)
    dw = 0.01 * math.exp(-2.0 / 10.0) + (0.01 * math.exp(-5.0 / 10.0) if pairing == "all" else 0.0)
    assert proj.weights[0, 0] - 0.5 == pytest.approx(dw, abs=1e-12)


def test_copies_of_a_batch_update_the_shared_weights_in_turn():
    rule = cs.plasticity.PairSTDP(A_plus=0.01, A_minus=0.012)
    intervals = np.array([-3.0, 1.0, 4.0])
    single, w1 = pairing_net(T_POST - intervals, cs.plasticity.PairSTDP(A_plus=0.01, A_minus=0.012))
    single.run(40.0)
    batched, w3 = pairing_net(T_POST - intervals, rule, batch=3)
    batched.run(40.0)
    np.testing.assert_allclose(w3.weights - 0.5, 3 * (w1.weights - 0.5), rtol=1e-12)


def test_rule_state_is_part_of_checkpoints(tmp_path):
    def build():
        rates = np.full(30, 40.0)
        net = cs.Network(dt=DT, seed=8)
        src = net.add(cs.PoissonSource(30, rates), name="src")
        out = net.add(cs.PoissonSource(5, 30.0), name="out_drive")
        post = net.add(Relay(5), name="post")
        net.connect(out, post, "driver", 1.0)
        proj = net.connect(src, post, "plastic", 0.5, connectivity=cs.FixedProbability(0.5),
                           plasticity=cs.plasticity.PairSTDP(A_plus=0.005, A_minus=0.006))
        return net, proj

    whole, proj = build()
    whole.run(400.0)
    first, _ = build()
    first.run(200.0)
    first.save_checkpoint(tmp_path / "ck.h5")
    second, proj2 = build()
    second.restore_checkpoint(tmp_path / "ck.h5")
    second.run(200.0)
    assert np.abs(proj.weights - 0.5).max() > 1e-3  # the weights did learn
    np.testing.assert_array_equal(proj2.weights, proj.weights)


def test_weight_recording_streams_to_hdf5(tmp_path):
    rule = cs.plasticity.PairSTDP(A_plus=0.01, A_minus=0.012)
    net, proj = pairing_net([T_POST - 1.0, T_POST + 2.0], rule)
    net.record_weights(proj, every=10, name="w")
    res = net.run(40.0, output=tmp_path / "w.h5")
    loaded = cs.load(tmp_path / "w.h5")
    for r in (res, loaded):
        trace = r.state["w"]
        assert trace["w"].shape == (40, 2) and trace.population == "pre->post.plastic"
        np.testing.assert_allclose(trace.t, np.arange(40) * 1.0)
        np.testing.assert_array_equal(trace["w"][-1], proj.weights.ravel())
        before = trace["w"][trace.t < T_POST - 1e-9]
        np.testing.assert_array_equal(before[:, 0], 0.5)  # no change before the post spike


def test_plasticity_stage_has_its_place_in_the_schedule():
    net, _ = pairing_net([1.0], cs.plasticity.PairSTDP())
    line = next(x for x in net.schedule.splitlines() if x.startswith("plasticity"))
    assert "PairSTDP pre -> post.plastic" in line


def test_bad_rule_parameters_are_named():
    with pytest.raises(ValueError, match="'tau_plus'"):
        cs.plasticity.PairSTDP(tau_plus=0.0)
    with pytest.raises(ValueError, match="'mu'"):
        cs.plasticity.PairSTDP(mu=2.0)
    with pytest.raises(ValueError, match="'w_max'"):
        cs.plasticity.PairSTDP(w_max=-1.0)
    rule = cs.plasticity.PairSTDP()
    pairing_net([1.0], rule)
    with pytest.raises(ValueError, match="one rule per projection"):
        pairing_net([1.0], rule)
