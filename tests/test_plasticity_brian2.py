"""Pair and triplet STDP against Brian2: the same rule written as Brian2 ``Synapses`` on the same spike trains.

Presynaptic Poisson trains (drawn by compsim) and the relay neuron's spikes are
replayed in Brian2 by ``SpikeGeneratorGroup``s; Brian2's traces are event-driven
(exact exponentials between spikes), compsim's decay once per step, so the
weight trajectories agree to rounding, not bit for bit.
"""
import numpy as np
import pytest

import compsim as cs

from compsim.protocols.stdp_pairing import Relay

DT = 0.1

b2 = pytest.importorskip("brian2")

DURATION = 1000.0  # ms
N_PRE = 20
W0 = np.linspace(0.2, 0.8, N_PRE)


def compsim_trajectory(rule):
    """Weights (samples, N_PRE) every 10 steps, and the pre and post spikes, of one compsim run."""
    net = cs.Network(dt=DT, seed=21)
    pre = net.add(cs.PoissonSource(N_PRE, np.linspace(5.0, 40.0, N_PRE)), name="pre")
    drive = net.add(cs.PoissonSource(1, 15.0), name="drive")
    post = net.add(Relay(1), name="post")
    net.connect(drive, post, "driver", 1.0)
    proj = net.connect(pre, post, "plastic", W0[None, :], plasticity=rule)
    net.record_spikes(pre)
    net.record_spikes(post)
    net.record_weights(proj, every=10, name="w")
    res = net.run(DURATION)
    pre_spikes, post_spikes = res.spikes["pre_spikes"], res.spikes["post_spikes"]
    assert pre_spikes.count() > 200 and post_spikes.count() > 5
    return res.state["w"]["w"], pre_spikes, post_spikes


def brian2_trajectory(pre_spikes, post_spikes, model, on_pre, on_post, namespace):
    """The same trajectory from Brian2 ``Synapses(model, on_pre, on_post)`` driven by the same spikes."""
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    dt = DT * b2.ms
    # compsim's spike of step s acts at the end of step s; Brian2's generator spike at t = s dt likewise
    g_pre = b2.SpikeGeneratorGroup(N_PRE, pre_spikes.i, pre_spikes.t * b2.ms, dt=dt)
    g_post = b2.SpikeGeneratorGroup(1, post_spikes.i, post_spikes.t * b2.ms, dt=dt)
    syn = b2.Synapses(g_pre, g_post, model="w : 1\n" + model, on_pre=on_pre, on_post=on_post, dt=dt,
                      namespace=namespace)
    syn.connect(i=np.arange(N_PRE), j=np.zeros(N_PRE, int))
    syn.w = W0
    mon = b2.StateMonitor(syn, "w", record=True, dt=10 * dt, when="end")
    b2.run(DURATION * b2.ms)
    return np.asarray(mon.w).T


def assert_same_trajectory(ours, theirs):
    assert ours.shape == theirs.shape
    assert np.abs(ours[-1] - ours[0]).max() > 0.05  # the weights moved
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)


@pytest.mark.parametrize("mu,pairing", [(0.0, "all"), (1.0, "all"), (0.0, "nearest")])
def test_pair_stdp_trajectories_equal_brian2(mu, pairing):
    rule = cs.plasticity.PairSTDP(tau_plus=16.8, tau_minus=33.7, A_plus=0.02, A_minus=0.021, w_max=1.0, mu=mu,
                                  pairing=pairing)
    ours, pre_spikes, post_spikes = compsim_trajectory(rule)
    reset = "1" if pairing == "nearest" else "{0} + 1"
    theirs = brian2_trajectory(pre_spikes, post_spikes, """
        dxpre/dt = -xpre / tau_plus : 1 (event-driven)
        dxpost/dt = -xpost / tau_minus : 1 (event-driven)
        """, f"""
        xpre = {reset.format('xpre')}
        w = clip(w - A_minus * ((w - w_min) / (w_max - w_min))**mu * xpost, w_min, w_max)
        """, f"""
        xpost = {reset.format('xpost')}
        w = clip(w + A_plus * ((w_max - w) / (w_max - w_min))**mu * xpre, w_min, w_max)
        """, {"tau_plus": 16.8 * b2.ms, "tau_minus": 33.7 * b2.ms, "A_plus": 0.02, "A_minus": 0.021,
              "w_min": 0.0, "w_max": 1.0, "mu": mu})
    assert_same_trajectory(ours, theirs)


@pytest.mark.parametrize("pairing", ["all", "nearest"])
def test_triplet_stdp_trajectories_equal_brian2(pairing):
    """Pfister & Gerstner's equations in Brian2: at a pre spike w -= o1 (A2- + A3- r2), then r1, r2 jump;
    at a post spike w += r1 (A2+ + A3+ o2), then o1, o2 jump (the slow traces as they were before the spike);
    nearest-spike interaction: the traces are set to 1 instead of incremented."""
    params = dict(tau_plus=16.8, tau_minus=33.7, tau_x=101.0, tau_y=125.0, A2_plus=0.005, A3_plus=0.02,
                  A2_minus=0.02, A3_minus=0.004)
    rule = cs.plasticity.TripletSTDP(**params, w_max=1.0, pairing=pairing)
    ours, pre_spikes, post_spikes = compsim_trajectory(rule)
    jump = "1" if pairing == "nearest" else "{0} + 1"
    theirs = brian2_trajectory(pre_spikes, post_spikes, """
        dr1/dt = -r1 / tau_plus : 1 (event-driven)
        dr2/dt = -r2 / tau_x : 1 (event-driven)
        do1/dt = -o1 / tau_minus : 1 (event-driven)
        do2/dt = -o2 / tau_y : 1 (event-driven)
        """, f"""
        w = clip(w - o1 * (A2_minus + A3_minus * r2), 0, 1)
        r1 = {jump.format('r1')}
        r2 = {jump.format('r2')}
        """, f"""
        w = clip(w + r1 * (A2_plus + A3_plus * o2), 0, 1)
        o1 = {jump.format('o1')}
        o2 = {jump.format('o2')}
        """, {**{k: v * b2.ms for k, v in params.items() if k.startswith("tau")},
              **{k: v for k, v in params.items() if k.startswith("A")}})
    assert_same_trajectory(ours, theirs)
