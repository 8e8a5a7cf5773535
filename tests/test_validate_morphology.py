"""Brian2 cross-validation of compartment trees and their channels (compsim.validate), same method on both sides."""
import numpy as np
import pytest

import compsim as cs
from compsim.models import Compartment, Morphology, channels
from compsim.models.cobahh import cobahh_cell

pytest.importorskip("brian2")
import compsim.validate as validate  # noqa: E402

DT = 0.1
RTOL = 1e-9


def _spikes(n, rate_hz, seed, duration):
    rng = np.random.default_rng(seed)
    count = rng.poisson(n * rate_hz * duration * 1e-3)
    return rng.integers(0, n, count), np.round(rng.uniform(0, duration - DT, count) / DT) * DT


def _check(report, min_spikes=0):
    assert report.passed, report.summary()
    for tr in report.traces.values():
        assert tr.errors["max_rel_err"] <= RTOL, (tr.label, tr.errors)
    for sp in report.spikes.values():
        assert sp.measures["identical"], (sp.population, sp.measures)
        assert sp.measures["count_compsim"] >= min_spikes, sp.measures


@pytest.mark.parametrize("method", ["euler", "exponential_euler"])
def test_hodgkin_huxley_soma(method):
    """The COBAHH neuron: Hodgkin-Huxley soma with excitatory and inhibitory conductances."""
    duration, dt = (300.0, DT) if method == "exponential_euler" else (100.0, 0.02)  # Euler: dt < C / g_Na
    net = cs.Network(dt=dt, seed=2, method=method)
    exc = net.add(cs.SpikeTrainSource(30, *_spikes(30, 40.0, 1, duration)), name="exc")
    inh = net.add(cs.SpikeTrainSource(10, *_spikes(10, 20.0, 2, duration)), name="inh")
    pop = net.add(cobahh_cell().population(6, threshold=("soma", -20.0), refractory=3.0), name="hh")
    rng = np.random.default_rng(3)
    net.connect(exc, pop, "soma.ge", rng.uniform(5.0, 25.0, (6, 30)))
    net.connect(inh, pop, "soma.gi", 20.0, connectivity=cs.FixedProbability(0.5))
    pop["soma.v"] = rng.uniform(-65.0, -55.0, 6)
    report = validate.against_brian2(net, duration, record={"hh": ["soma.v", "soma.m", "soma.h", "soma.n",
                                                                  "soma.ge", "refractory"]})
    _check(report, min_spikes=10 if method == "exponential_euler" else 3)


def test_three_compartment_tree_with_nmda():
    """Soma (HH), passive trunk, tuft with NMDA: coupling both ways, the magnesium block (forward Euler:
    the block makes the tuft's equation nonlinear in v, which Brian2's exponential Euler refuses)."""
    duration = 100.0
    cell = Morphology(
        soma=Compartment(C_m=200.0, g_l=10.0, E_l=-65.0, channels=[channels.HHSodium(), channels.HHPotassium()]),
        trunk=Compartment(parent="soma", g_c=20.0, C_m=80.0, g_l=4.0, E_l=-65.0),
        tuft=Compartment(parent="trunk", g_c=10.0, C_m=60.0, g_l=3.0, E_l=-65.0,
                         channels=[channels.NMDA(), channels.Synapse("ampa", E=0.0, tau=2.0)]))
    net = cs.Network(dt=0.02, seed=5, method="euler")
    src = net.add(cs.SpikeTrainSource(20, *_spikes(20, 30.0, 4, duration)), name="src")
    pop = net.add(cell.population(4, threshold=("soma", -20.0), refractory=2.0, currents=["soma"]), name="pyr")
    net.connect(src, pop, "tuft.nmda", np.random.default_rng(6).uniform(0.0, 8.0, (4, 20)))
    net.connect(src, pop, "tuft.ampa", 3.0)
    pop["soma.I_ext"] = np.array([0.0, 100.0, 200.0, 300.0])
    report = validate.against_brian2(net, duration, record={"pyr": ["soma.v", "trunk.v", "tuft.v", "tuft.nmda"]})
    _check(report, min_spikes=1)


def test_passive_branching_tree():
    """A passive branching tree under current steps, Brian2's exponential Euler on both sides (compsim's exact
    propagator is checked against the closed forms in test_morphology.py; Brian2's symbolic exact solver
    does not finish for coupled compartments)."""
    cell = Morphology(soma=Compartment(C_m=150.0, g_l=8.0, E_l=-70.0),
                      a=Compartment(parent="soma", g_c=6.0, C_m=40.0, g_l=2.0, E_l=-68.0),
                      b=Compartment(parent="soma", g_c=9.0, C_m=30.0, g_l=1.0, E_l=-72.0))
    net = cs.Network(dt=DT, method="exponential_euler")
    pop = net.add(cell.population(3, currents=["a"]), name="cell")
    pop["a.I_ext"] = np.array([0.0, 20.0, -30.0])
    pop["soma.v"] = np.array([-60.0, -70.0, -80.0])
    report = validate.against_brian2(net, 100.0, record={"cell": ["soma.v", "a.v", "b.v"]})
    _check(report)


def test_calcium_plateau_in_the_bac_cell():
    """The BAC-firing cell (HH soma, trunk, tuft with an EPSP synapse and a calcium plateau): potentials,
    the plateau's timers and the spikes, exponential Euler on both sides."""
    from compsim.protocols.bac_firing import bac_cell

    net = cs.Network(dt=0.025, method="exponential_euler")
    src = net.add(cs.SpikeTrainSource(1, [0, 0, 0], [5.0, 30.0, 60.0]), name="distal")
    pop = net.add(bac_cell().population(2, threshold=("soma", -20.0), refractory=2.0, currents=["soma"]),
                  name="pyr")
    net.connect(src, pop, "tuft.epsp", np.array([[20.0], [60.0]]))
    pop["soma.I_ext"] = np.array([400.0, 0.0])
    report = validate.against_brian2(net, 100.0, record={"pyr": ["soma.v", "tuft.v", "tuft.plateau",
                                                                   "tuft.plateau_refractory"]})
    _check(report, min_spikes=2)
    assert report.traces[("pyr", "tuft.plateau")].compsim.max() == 30.0  # a plateau happened
