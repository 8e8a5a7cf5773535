"""BAC firing (Larkum et al. 1999): the three regimes of the paper's Figure 1, and none at 40 ms apart."""
import numpy as np
import pytest

from compsim.protocols.bac_firing import run_trial


def test_distal_input_alone_gives_a_small_somatic_epsp_and_no_plateau():
    trial = run_trial(distal_ms=50.0)
    assert trial.plateaus == 0 and trial.spikes == 0
    before = np.searchsorted(trial.t, 49.0)  # at rest, just before the input
    soma, tuft = trial.soma.max() - trial.soma[before], trial.tuft.max() - trial.tuft[before]
    assert 0.5 < soma < 10.0  # a few mV at the soma
    assert tuft > 1.5 * soma  # larger where it arrives


def test_somatic_spike_alone_backpropagates_without_a_plateau():
    trial = run_trial(somatic_ms=50.0)
    assert trial.spikes == 1 and trial.plateaus == 0
    assert trial.tuft.max() < -40.0 and trial.tuft.max() - trial.tuft[0] > 5.0  # attenuated, but there


@pytest.mark.parametrize("interval", [0.0, 2.0, 5.0])
def test_coincidence_within_a_few_ms_triggers_a_plateau_and_a_burst(interval):
    trial = run_trial(distal_ms=50.0 + interval, somatic_ms=50.0)
    assert trial.plateaus >= 1 and trial.spikes >= 2


def test_no_plateau_when_the_inputs_are_40_ms_apart():
    trial = run_trial(distal_ms=90.0, somatic_ms=50.0)
    assert trial.plateaus == 0 and trial.spikes == 1
