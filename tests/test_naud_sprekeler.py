"""The Naud & Sprekeler (2018) bursting neuron: dendritic input controls the burst fraction, somatic input the
event rate; Brian2 cross-validation with frozen noise."""
import numpy as np
import pytest

import compsim as cs
from compsim.models import NaudSprekelerNeuron


def burst_statistics(extra_soma=0.0, extra_dend=0.0, n=500, duration=2000.0):
    """(event rate in Hz, burst fraction) of ``n`` unconnected neurons with independent background noise,
    ``extra_*`` pA added to the mean background current of the soma / dendrite."""
    net = cs.Network(dt=0.1, seed=1, method="euler")
    pop = net.add(NaudSprekelerNeuron(n, mu_s=70.0 + extra_soma, mu_d=-270.0 + extra_dend), name="ns")
    net.record_events(pop, "event", name="events")
    net.record_events(pop, "burst", name="bursts")
    res = net.run(duration)
    events, bursts = res.spikes["events"].count(), res.spikes["bursts"].count()
    return events / n / (duration * 1e-3), bursts / events


def test_dendrites_control_bursts_and_somata_control_events():
    """Measured (n = 500, 2 s): baseline ~0.7 Hz events, burst fraction ~0.03; +200 pA into the dendrites:
    burst fraction ~0.2; +100 pA into the somata: ~2.3 Hz events, burst fraction ~0.035. Tolerances are
    about three standard errors of the burst fraction (binomial over the events counted)."""
    rate_0, bursts_0 = burst_statistics()
    rate_d, bursts_d = burst_statistics(extra_dend=200.0)
    rate_s, bursts_s = burst_statistics(extra_soma=100.0)
    assert bursts_d > bursts_0 + 0.1  # dendritic input alone raises the burst fraction
    assert rate_s > 2.0 * rate_0  # somatic input alone raises the event rate ...
    assert abs(bursts_s - bursts_0) < 0.025  # ... but not the burst fraction


def test_kernel_needs_forward_euler():
    net = cs.Network(dt=0.1, method="exponential_euler")
    net.add(NaudSprekelerNeuron(2), name="ns")
    with pytest.raises(ValueError, match="method='euler'"):
        net.run(1.0)


def test_against_brian2():
    validate = pytest.importorskip("compsim.validate")
    pytest.importorskip("brian2")
    net = cs.Network(dt=0.1, seed=3, method="euler")
    rng = np.random.default_rng(2)
    count = 40
    src = net.add(cs.SpikeTrainSource(10, rng.integers(0, 10, count), np.round(rng.uniform(0, 95, count), 1)),
                  name="src")
    pop = net.add(NaudSprekelerNeuron(4, mu_s=150.0, mu_d=-100.0), name="ns")
    net.connect(src, pop, "soma", rng.uniform(0.0, 300.0, (4, 10)))
    net.connect(src, pop, "dend", 400.0, connectivity=cs.FixedProbability(0.5))
    report = validate.against_brian2(net, 100.0, record={"ns": ["v_s", "v_d", "w_s", "w_d", "noise_s", "noise_d"]})
    assert report.passed, report.summary()
    for tr in report.traces.values():
        assert tr.errors["max_rel_err"] <= 1e-9, (tr.label, tr.errors)
    for sp in report.spikes.values():
        assert sp.measures["identical"] and sp.measures["count_compsim"] >= 3, sp.measures
