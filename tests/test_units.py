"""Units at the API edge: Brian2 and `quantities` values are converted to ms, mV, nS, pA, Hz; wrong dimensions name the parameter."""
import numpy as np
import pytest

import compsim as cs
from compsim.models import CobaLIF, SegregatedPyramidal

b2 = pytest.importorskip("brian2")
pq = pytest.importorskip("quantities")


def _network(dt, tau_m, rate, weight, tau, times, duration):
    net = cs.Network(dt=dt, seed=2)
    src = net.add(cs.PoissonSource(20, rate), name="src")
    replay = net.add(cs.SpikeTrainSource(2, [0, 1], times), name="replay")
    lif = net.add(CobaLIF(10, tau_m=tau_m), name="lif")
    net.connect(src, lif, "ge", weight, synapse=cs.Exponential(tau))
    net.connect(replay, lif, "ge", weight)
    lif["v"] = np.full(10, -60.0) if isinstance(tau_m, float) else np.full(10, -60.0) * b2.mV
    net.record(lif, "v")
    return net.run(duration).state["lif_state"]["v"]


def test_brian2_and_quantities_values_give_the_run_of_plain_numbers():
    plain = _network(0.1, 20.0, 30.0, 0.5, 5.0, [1.0, 2.5], 10.0)
    brian = _network(0.1 * b2.ms, 20 * b2.ms, 30 * b2.Hz, 0.5 * b2.nS, 5 * b2.ms, [0.001, 0.0025] * b2.second,
                     10 * b2.ms)
    quant = _network(0.1 * pq.ms, 0.02 * pq.s, 30 * pq.Hz, 0.5 * pq.nS, 5 * pq.ms, [1.0, 2.5] * pq.ms, 10 * pq.ms)
    assert np.ptp(plain) > 0.1  # the inputs act
    np.testing.assert_array_equal(brian, plain)
    np.testing.assert_array_equal(quant, plain)


def test_model_parameters_rates_and_per_copy_values_convert():
    assert CobaLIF(3, E_l=-0.065 * b2.volt).p["E_l"] == pytest.approx(-65.0)
    assert CobaLIF(3, g_l=0.01 * b2.uS).p["g_l"] == pytest.approx(10.0)
    assert CobaLIF(3, tau_m=[10.0, 30.0] * pq.ms).p["tau_m"].tolist() == [10.0, 30.0]
    assert cs.DoubleExponential(3 * b2.ms, 10 * b2.ms).tau_decay == pytest.approx(10.0)
    src = cs.PoissonSource(4, np.array([1.0, 2.0, 3.0, 4.0]) * b2.kHz)
    assert np.asarray(src._given).tolist() == [1000.0, 2000.0, 3000.0, 4000.0]


@pytest.mark.parametrize("build, message", [
    (lambda: cs.Network(dt=0.1 * b2.mV), r"Network: parameter 'dt' must have the dimension of ms"),
    (lambda: CobaLIF(3, tau_m=20 * b2.nS), r"parameter 'tau_m' must have the dimension of ms"),
    (lambda: CobaLIF(3, E_l=-65 * pq.ms), r"parameter 'E_l' must have the dimension of mV"),
    (lambda: cs.PoissonSource(3, 5 * b2.ms), r"parameter 'rates' must have the dimension of Hz"),
    (lambda: cs.SpikeTrainSource(1, [0], [1.0] * b2.Hz), r"parameter 'times' must have the dimension of ms"),
    (lambda: cs.Exponential(tau=2 * pq.mV), r"parameter 'tau' must have the dimension of ms"),
])
def test_a_wrong_dimension_is_an_error_naming_the_parameter(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_weights_take_the_unit_of_their_port():
    net = cs.Network(dt=0.1)
    src = net.add(cs.PoissonSource(3, 10.0), name="src")
    lif = net.add(CobaLIF(2), name="lif")
    pyr = net.add(SegregatedPyramidal(2), name="pyr")
    assert net.connect(src, lif, "I", 2 * b2.pA).weights[0, 0] == pytest.approx(2.0)
    with pytest.raises(ValueError, match=r"parameter 'weights' must have the dimension of nS"):
        net.connect(src, lif, "ge", 2 * b2.pA)
    with pytest.raises(ValueError, match=r"parameter 'weights' must have the dimension of 1"):
        net.connect(src, pyr, "basal", 0.3 * b2.nS)
    assert net.connect(src, pyr, "basal", 0.3 * b2.nS / b2.nS).weights[0, 0] == pytest.approx(0.3)


def test_a_duration_in_seconds_runs_that_many_ms():
    net = cs.Network(dt=0.5)
    net.add(cs.PoissonSource(2, 10.0), name="src")
    net.run(0.01 * b2.second)
    assert net.t == pytest.approx(10.0)
    with pytest.raises(ValueError, match=r"Network.run: parameter 'duration' must have the dimension of ms"):
        net.run(3 * b2.Hz)
