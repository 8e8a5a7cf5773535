"""Regenerative dendrites: NMDA needs glutamate and depolarisation together; the plateau's timing."""
import numpy as np

import compsim as cs
from compsim.models import Compartment, Morphology, channels


def nmda_cell(plateau):
    return Morphology(soma=Compartment(C_m=200.0, g_l=10.0, E_l=-70.0),
                      tuft=Compartment(parent="soma", g_c=5.0, C_m=100.0, g_l=5.0, E_l=-70.0,
                                       channels=[channels.NMDA(), plateau]))


def run_tuft(glutamate, current, plateau):
    """One glutamate release (weight ``glutamate`` onto tuft.nmda, at 20 ms) with ``current`` pA into the
    tuft throughout: (number of plateaus, peak tuft potential)."""
    net = cs.Network(dt=0.1, method="exact")
    src = net.add(cs.SpikeTrainSource(1, [0], [20.0]), name="glu")
    pop = net.add(nmda_cell(plateau).population(1, currents=["tuft"]), name="cell")
    net.connect(src, pop, "tuft.nmda", glutamate)
    pop["tuft.I_ext"] = current
    net.record_events(pop, "tuft.plateau", name="plateaus")
    net.record(pop, ["tuft.v"], name="v")
    res = net.run(300.0)
    return res.spikes["plateaus"].count(), res.state["v"]["tuft.v"].max()


def test_nmda_plateau_needs_glutamate_and_depolarisation_together():
    plateau = channels.CalciumPlateau(threshold=-35.0, duration=30.0, g=20.0, E=50.0, refractory=50.0)
    glutamate_alone = run_tuft(4000.0, 0.0, plateau)
    depolarisation_alone = run_tuft(0.0, 100.0, plateau)
    both = run_tuft(4000.0, 100.0, plateau)
    assert glutamate_alone[0] == 0 and glutamate_alone[1] < -40.0  # the magnesium block holds
    assert depolarisation_alone[0] == 0 and depolarisation_alone[1] < -50.0
    assert both[0] >= 1 and both[1] > 0.0  # unblocked NMDA current is regenerative: a plateau


def test_plateau_lasts_its_duration_and_waits_its_refractory_period():
    cell = Morphology(soma=Compartment(C_m=100.0, g_l=10.0, E_l=-70.0, channels=[
        channels.CalciumPlateau(threshold=-50.0, duration=12.0, g=30.0, E=50.0, refractory=8.0)]))
    net = cs.Network(dt=0.1, method="exact")
    pop = net.add(cell.population(1, currents=["soma"]), name="cell")
    pop["soma.I_ext"] = 250.0  # rests at -45 mV, above the threshold: a plateau whenever allowed
    net.record_events(pop, "soma.plateau", name="plateaus")
    net.record(pop, ["soma.plateau"], name="left")
    res = net.run(100.0)
    onsets = np.asarray(res.spikes["plateaus"].t)
    np.testing.assert_allclose(np.diff(onsets), 20.0, atol=1e-9)  # duration + refractory
    trace = res.state["left"]
    left = trace["soma.plateau"][:, 0][np.asarray(trace.t) <= onsets[-1]]  # the last plateau runs past the end
    assert left.max() == 12.0 and np.count_nonzero(left > 0) == (len(onsets) - 1) * 120  # 12 ms of 0.1 ms
