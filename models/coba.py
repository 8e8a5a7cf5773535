"""The COBA network of Vogels & Abbott (2005) / Brette et al. (2007), benchmark 1.

``N`` conductance-based LIF neurons (:class:`~compsim.models.CobaLIF`), the
first 80 % excitatory; every (pre, post) pair connected with probability
``p = 0.02 * 4000 / N`` (expected in-degree 80, autapses allowed); an
excitatory spike adds 6 nS to ``ge`` (tau_e = 5 ms), an inhibitory one 67 nS
to ``gi`` (tau_i = 10 ms), with g_l = 10 nS (0.6 and 6.7 in units of g_l);
zero delay. Initial state, with independent standard normals xi::

    v  = E_l + (5 xi - 5) mV
    ge = (1.5 xi + 4) * 10 nS
    gi = (12 xi + 20) * 10 nS

which kicks off a self-sustained asynchronous-irregular state of ~18-19 Hz.
The benchmark integrates with forward Euler at dt = 0.1 ms
(``../shared/benchmarks.md``, workload COBA).
"""
from dataclasses import dataclass

import numpy as np

import compsim as cs

from .lif import CobaLIF

W_EXC_NS = 6.0
W_INH_NS = 67.0


@dataclass
class CobaNetwork:
    """The assembled network and its two populations."""

    net: cs.Network
    exc: CobaLIF
    inh: CobaLIF


def build_coba(n=4000, *, seed=1, dt=0.1, method="euler", p=None, record_spikes=True, **network_options):
    """Build the COBA network with ``n`` neurons (see the module docstring).

    ``p`` defaults to ``0.02 * 4000 / n``; initial states are drawn from
    ``numpy.random.default_rng(seed)``; extra keyword arguments go to
    :class:`compsim.Network` (dtype, chunk_steps, parallel, threads).
    """
    n = int(n)
    if n < 5:
        raise ValueError(f"build_coba: parameter 'n' must be >= 5, got {n}")
    net = cs.Network(dt=dt, seed=seed, method=method, **network_options)
    n_exc = int(0.8 * n)
    exc = net.add(CobaLIF(n_exc), name="exc")
    inh = net.add(CobaLIF(n - n_exc), name="inh")
    return wire_exc_inh(net, exc, inh, p=0.02 * 4000 / n if p is None else p, seed=seed, E_l=exc.p["E_l"],
                        record_spikes=record_spikes)


def wire_exc_inh(net, exc, inh, *, p, seed, E_l, record_spikes, v="v", ge="ge", gi="gi"):
    """The benchmark networks' wiring and start (COBA, and COBAHH in :mod:`compsim.models.cobahh`): every pair
    connected with probability ``p``, 6 nS onto port ``ge`` from ``exc``, 67 nS onto ``gi`` from ``inh``;
    initial ``v``, ``ge``, ``gi`` drawn per population as the module docstring says (``v`` around ``E_l``).
    Returns the :class:`CobaNetwork`."""
    rule = cs.FixedProbability(p)
    for pre, port, w in ((exc, ge, W_EXC_NS), (inh, gi, W_INH_NS)):
        for post in (exc, inh):
            net.connect(pre, post, port, w, connectivity=rule)
    rng = np.random.default_rng(seed)
    for pop in (exc, inh):
        pop[v] = E_l + 5.0 * rng.standard_normal(pop.n) - 5.0
        net.set_synaptic_input(pop, ge, (1.5 * rng.standard_normal(pop.n) + 4.0) * 10.0)
        net.set_synaptic_input(pop, gi, (12.0 * rng.standard_normal(pop.n) + 20.0) * 10.0)
    if record_spikes:
        net.record_spikes(exc)
        net.record_spikes(inh)
    return CobaNetwork(net, exc, inh)
