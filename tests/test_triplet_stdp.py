"""Triplet STDP (Pfister & Gerstner 2006): the frequency dependence of the visual-cortex fit, and a weight
trajectory against a NumPy transcription of the rule's equations.

Post spikes are placed with the relay neuron of the pairing protocol (it spikes in the step after its
driver spikes).
"""
import math

import numpy as np
import pytest

import compsim as cs
from compsim.protocols.stdp_pairing import Relay, pairing_weight_change

DT = 0.1


def test_visual_cortex_frequency_dependence():
    """60 pairings: at 1 Hz, post-before-pre (-10 ms) depresses and pre-before-post (+10 ms) does almost
    nothing; at 50 Hz both orders potentiate (the paper's fit to Sjöström et al. 2001)."""
    rule = lambda: cs.plasticity.TripletSTDP.visual_cortex(w_max=100.0)  # noqa: E731
    assert pairing_weight_change(rule(), -10.0, 1.0) < -0.1
    assert abs(pairing_weight_change(rule(), 10.0, 1.0)) < 1e-3
    assert pairing_weight_change(rule(), 10.0, 50.0) > 0.1
    assert pairing_weight_change(rule(), -10.0, 50.0) > 0.1


def transcription(pre_steps, post_steps, n_pre, n_steps, rule, w0):
    """The rule's per-step order in NumPy: traces decay, pre spikes (depression with r_2 before the spike,
    then traces), post spikes (potentiation with o_2 before the spike, then traces); additive, clipped."""
    d = [math.exp(-DT / tau) for tau in (rule.tau_plus, rule.tau_minus, rule.tau_x, rule.tau_y)]
    r1, r2, o1, o2 = np.zeros(n_pre), np.zeros(n_pre), 0.0, 0.0
    w = np.array(w0, dtype=float)
    for t in range(n_steps):
        r1, o1, r2, o2 = r1 * d[0], o1 * d[1], r2 * d[2], o2 * d[3]
        for j in pre_steps.get(t, []):
            w[j] = min(max(w[j] - o1 * (rule.A2_minus + rule.A3_minus * r2[j]), rule.w_min), rule.w_max)
            r1[j] += 1
            r2[j] += 1
        if t in post_steps:
            w = np.clip(w + r1 * (rule.A2_plus + rule.A3_plus * o2), rule.w_min, rule.w_max)
            o1 += 1
            o2 += 1
    return w


@pytest.mark.parametrize("sparse", [False, True])
def test_trajectory_equals_numpy_transcription(sparse):
    rng = np.random.default_rng(4)
    n_pre, n_steps = 6, 4000
    pairs = np.unique(np.stack([rng.integers(0, n_pre, 120), np.round(rng.uniform(0, n_steps - 20, 120))]), axis=1)
    pre_i, pre_t = pairs[0].astype(int), pairs[1] * DT  # at most one spike per neuron and step
    post_t = np.unique(np.round(rng.uniform(10, n_steps - 20, 40))) * DT
    rule = cs.plasticity.TripletSTDP(16.8, 33.7, 101.0, 125.0, 0.004, 0.008, 0.006, 0.002, w_max=1.0)
    net = cs.Network(dt=DT, seed=2)
    pre = net.add(cs.SpikeTrainSource(n_pre, pre_i, pre_t), name="pre")
    teacher = net.add(cs.SpikeTrainSource(1, np.zeros(post_t.size, int), post_t - DT), name="teacher")
    post = net.add(Relay(1), name="post")
    net.connect(teacher, post, "driver", 1.0)
    w0 = rng.uniform(0.3, 0.7, n_pre)
    connectivity = cs.Explicit(np.arange(n_pre), np.zeros(n_pre, int)) if sparse else None
    proj = net.connect(pre, post, "plastic", w0 if sparse else w0[None, :], connectivity=connectivity, plasticity=rule)
    net.run(n_steps * DT)
    pre_steps = {}
    for i, t in zip(pre_i, np.round(pre_t / DT).astype(int)):
        pre_steps.setdefault(t, []).append(i)
    pre_steps = {t: sorted(v) for t, v in pre_steps.items()}
    post_steps = set(np.round(post_t / DT).astype(int))
    expected = transcription(pre_steps, post_steps, n_pre, n_steps, rule, w0)
    assert np.abs(expected - w0).max() > 0.01
    np.testing.assert_allclose(np.ravel(proj.weights), expected, rtol=0, atol=1e-12)


def test_hippocampal_fit_potentiates_pre_post_pairs_at_low_frequency():
    """Unlike the visual-cortex fit (A2+ ~ 0), the hippocampal fit (Bi & Poo's classic window) potentiates
    pre-before-post and depresses post-before-pre pairs at 1 Hz; nearest-spike and minimal variants too."""
    for pairing in ("all", "nearest"):
        for model in ("full", "minimal"):
            rule = lambda: cs.plasticity.TripletSTDP.hippocampal(w_max=100.0, pairing=pairing, model=model)  # noqa: E731
            assert rule().pairing == pairing
            assert pairing_weight_change(rule(), 10.0, 1.0) > 0.1
            assert pairing_weight_change(rule(), -10.0, 1.0) < -0.05
    with pytest.raises(ValueError, match="TripletSTDP.hippocampal: 'pairing' must be 'all' or 'nearest'"):
        cs.plasticity.TripletSTDP.hippocampal(pairing="first")
    minimal = cs.plasticity.TripletSTDP.visual_cortex(model="minimal")
    assert minimal.A2_plus == 0.0 and minimal.A3_minus == 0.0 and minimal.tau_y == 114.0
