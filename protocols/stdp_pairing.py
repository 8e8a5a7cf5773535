"""The STDP pairing protocol: presynaptic and postsynaptic spikes paired at a fixed interval, repeated.

``n_pairs`` presynaptic spikes at ``frequency_hz``; each is followed (``interval_ms > 0``, pre
before post) or preceded (``< 0``) by one postsynaptic spike. The postsynaptic neuron is a
:class:`Relay`: it spikes exactly in the step after a spike of its driver, whatever its plastic
input does, so every interval is what the protocol says (the in-vitro experiment's current
injection). :func:`pairing_weight_change` returns the change of the one plastic weight.
"""
import numpy as np
from numba import njit

import compsim as cs
from compsim.checks import check_count, check_number, check_positive
from compsim.model import Model, Param, Port, Var


class Relay(Model):
    """Spikes in a step where its ``driver`` input exceeds 0.5; its ``plastic`` port is read but has no effect.

    A projection of weight 1 from a spike source into ``driver`` (with the default 0.01-ms
    kernel) makes the relay spike in the step after each source spike.
    """

    params = (Param("tau_in", 0.01, "ms", "decay of the driver input", lo=0.0, lo_open=True, per_copy=False),)
    state_vars = (Var("v", "1", "driver input"),)
    ports = (Port("driver", "1", "drive", ("exponential", "tau_in")),
             Port("plastic", "1", "learning input, ignored", ("exponential", "tau_in")))

    def kernels(self, method):
        return None, relay_update


@njit(cache=True, inline="always")
def relay_update(i, step, key, c, v, driver, plastic):
    """``(input, 1 if input > 0.5 else 0)``."""
    return driver, 1 if driver > 0.5 else 0


def pairing_times(n_pairs, interval_ms, frequency_hz, start_ms=50.0):
    """``(t_pre, t_post)`` (ms) of the protocol."""
    n_pairs = check_count("n_pairs", n_pairs, owner="pairing_times")
    interval_ms = check_number("interval_ms", interval_ms, unit="ms", owner="pairing_times")
    frequency_hz = check_positive("frequency_hz", frequency_hz, "Hz", owner="pairing_times")
    t_pre = start_ms + max(0.0, -interval_ms) + 1000.0 / frequency_hz * np.arange(n_pairs)
    return t_pre, t_pre + interval_ms


def pairing_weight_change(rule, interval_ms, frequency_hz, n_pairs=60, *, w0=1.0, dt=0.1, seed=0):
    """Weight change of one synapse with learning ``rule`` after the pairing protocol."""
    t_pre, t_post = pairing_times(n_pairs, interval_ms, frequency_hz)
    net = cs.Network(dt=dt, seed=seed)
    pre = net.add(cs.SpikeTrainSource(1, np.zeros(n_pairs, int), t_pre), name="pre")
    driver = net.add(cs.SpikeTrainSource(1, np.zeros(n_pairs, int), t_post - dt), name="driver")
    post = net.add(Relay(1), name="post")
    net.connect(driver, post, "driver", 1.0)
    proj = net.connect(pre, post, "plastic", w0, plasticity=rule)
    net.record_spikes(post)
    res = net.run(float(np.round((max(t_pre.max(), t_post.max()) + 50.0) / dt) * dt))
    if res.spikes["post_spikes"].count() != n_pairs:
        raise RuntimeError("pairing_weight_change: the relay did not spike once per pairing")
    return float(proj.weights[0, 0]) - w0
