"""Pair STDP against Brian2: the same rule written as Brian2 ``Synapses`` on the same spike trains.

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


@pytest.mark.parametrize("mu,pairing", [(0.0, "all"), (1.0, "all"), (0.0, "nearest")])
def test_weight_trajectories_equal_brian2(mu, pairing):
    net = cs.Network(dt=DT, seed=21)
    pre = net.add(cs.PoissonSource(N_PRE, np.linspace(5.0, 40.0, N_PRE)), name="pre")
    drive = net.add(cs.PoissonSource(1, 15.0), name="drive")
    post = net.add(Relay(1), name="post")
    net.connect(drive, post, "driver", 1.0)
    rule = cs.plasticity.PairSTDP(tau_plus=16.8, tau_minus=33.7, A_plus=0.02, A_minus=0.021, w_max=1.0, mu=mu,
                                  pairing=pairing)
    proj = net.connect(pre, post, "plastic", np.linspace(0.2, 0.8, N_PRE)[None, :], plasticity=rule)
    net.record_spikes(pre)
    net.record_spikes(post)
    net.record_weights(proj, every=10, name="w")
    res = net.run(DURATION)
    pre_spikes, post_spikes = res.spikes["pre_spikes"], res.spikes["post_spikes"]
    assert pre_spikes.count() > 200 and post_spikes.count() > 5

    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    dt = DT * b2.ms
    # compsim's spike of step s acts at the end of step s; Brian2's generator spike at t = s dt likewise
    g_pre = b2.SpikeGeneratorGroup(N_PRE, pre_spikes.i, pre_spikes.t * b2.ms, dt=dt)
    g_post = b2.SpikeGeneratorGroup(1, post_spikes.i, post_spikes.t * b2.ms, dt=dt)
    reset = "1" if pairing == "nearest" else "{0} + 1"
    syn = b2.Synapses(g_pre, g_post, model="""
        w : 1
        dxpre/dt = -xpre / tau_plus : 1 (event-driven)
        dxpost/dt = -xpost / tau_minus : 1 (event-driven)
        """, on_pre=f"""
        xpre = {reset.format('xpre')}
        w = clip(w - A_minus * ((w - w_min) / (w_max - w_min))**mu * xpost, w_min, w_max)
        """, on_post=f"""
        xpost = {reset.format('xpost')}
        w = clip(w + A_plus * ((w_max - w) / (w_max - w_min))**mu * xpre, w_min, w_max)
        """, dt=dt, namespace={"tau_plus": 16.8 * b2.ms, "tau_minus": 33.7 * b2.ms, "A_plus": 0.02,
                                "A_minus": 0.021, "w_min": 0.0, "w_max": 1.0, "mu": mu})
    syn.connect(i=np.arange(N_PRE), j=np.zeros(N_PRE, int))
    syn.w = np.linspace(0.2, 0.8, N_PRE)
    mon = b2.StateMonitor(syn, "w", record=True, dt=10 * dt, when="end")
    b2.run(DURATION * b2.ms)
    ours = res.state["w"]["w"]
    theirs = np.asarray(mon.w).T
    assert ours.shape == theirs.shape
    assert np.abs(ours[-1] - ours[0]).max() > 0.05  # the weights moved
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)
