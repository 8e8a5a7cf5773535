"""Closed-form oracles for the engine's integrators and synaptic kernels.

Every expected value here is computed from the documented equations
(models/segregated.py, models/lif.py, compsim/synapses.py), never by calling
model code. Timing convention under test (compsim/engine/codegen.py,
compsim/monitors.py): a state monitor sample k is the state at t = k * dt,
taken at the start of step k; a spike emitted in step s is first seen by
its target's port in step s + 1 + delay_steps.
"""
import numpy as np
import pytest

import compsim as cs
from compsim.models import CobaLIF, OutputNeuron, SegregatedPyramidal

DT = 0.1


def _trace(results, monitor, var):
    tr = results.state[monitor]
    return tr.t, tr[var]


# ---------------------------------------------------------------------------------------------
# passive relaxation
# ---------------------------------------------------------------------------------------------
def test_passive_pyramidal_decay_exact():
    """No input, no bias, no spikes: V(t) = V0 exp(-t (g_l+g_b+g_a)/(g_l tau)) at every step."""
    g_l, g_b, g_a, tau = 0.1, 0.6, 0.05, 10.0
    net = cs.Network(dt=DT, seed=1, method="exact")
    hid = net.add(SegregatedPyramidal(4, phi_max=0.0, g_l=g_l, g_b=g_b, g_a=g_a, tau=tau), name="hid")
    v0 = np.array([1.0, -2.0, 0.5, 3.0])
    hid["v_soma"] = v0
    net.record(hid, "v_soma", name="v")
    res = net.run(20.0)
    t, v = _trace(res, "v", "v_soma")
    assert t.size == 200
    np.testing.assert_allclose(t, DT * np.arange(200), rtol=0, atol=1e-9)
    expected = v0[None, :] * np.exp(-t[:, None] * (g_l + g_b + g_a) / (g_l * tau))
    rel = np.abs(v / expected - 1.0)
    assert rel.max() < 1e-6, f"max relative error {rel.max():.3g}"
    assert res.spikes == {} and not np.any(np.isnan(v))


def test_coba_lif_relaxes_to_rest():
    """CobaLIF without input relaxes as E_l + (v0 - E_l) exp(-t / tau_m) (exact method)."""
    E_l, tau_m = -65.0, 15.0
    net = cs.Network(dt=DT, seed=1, method="exact")
    pop = net.add(CobaLIF(3, E_l=E_l, tau_m=tau_m, v_th=100.0), name="lif")
    v0 = np.array([-50.0, -80.0, -64.0])
    pop["v"] = v0
    net.record(pop, "v", name="v")
    net.record_spikes(pop, name="spk")
    res = net.run(60.0)
    t, v = _trace(res, "v", "v")
    expected = E_l + (v0[None, :] - E_l) * np.exp(-t[:, None] / tau_m)
    # relative to the distance from rest (which is what decays), plus the float64 floor of |v|
    err = np.abs(v - expected)
    assert err.max() < 1e-6 * np.abs(v0 - E_l).max() + 1e-10
    assert res.spikes["spk"].count() == 0


# ---------------------------------------------------------------------------------------------
# steady states under constant drive
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["exact", "euler"])
def test_pyramidal_steady_state(method):
    """Biases b_basal, b_apical: V -> (g_b V_b + g_a V_a) / (g_l + g_b + g_a) after 20 tau."""
    g_l, g_b, g_a, tau = 0.1, 0.6, 0.05, 10.0
    b_b = np.array([1.0, -2.0, 0.3, 4.0, 0.0])
    b_a = np.array([0.5, 3.0, -1.0, 0.0, 2.0])
    net = cs.Network(dt=DT, seed=3, method=method)
    hid = net.add(SegregatedPyramidal(b_b.size, g_l=g_l, g_b=g_b, g_a=g_a, tau=tau), name="hid")
    hid["b_basal"] = b_b
    hid["b_apical"] = b_a
    net.record(hid, ["v_soma", "v_basal", "v_apical"], every=100, name="v")
    res = net.run(20 * tau + DT)  # the last sample is at t = 200 ms
    tr = res.state["v"]
    v_ss = (g_b * b_b + g_a * b_a) / (g_l + g_b + g_a)
    assert tr.t[-1] == pytest.approx(20 * tau)
    # the closed form the model documents agrees with the one derived here
    np.testing.assert_allclose(hid.steady_state(b_b, b_a), v_ss, rtol=1e-14, atol=0)
    final = tr["v_soma"][-1]
    rel = np.abs(final - v_ss) / np.maximum(np.abs(v_ss), 1e-300)
    rel[v_ss == 0] = np.abs(final[v_ss == 0])
    assert rel.max() < 1e-9, f"{final} vs {v_ss}"
    # derived dendritic potentials are input + bias (no input here)
    np.testing.assert_array_equal(tr["v_basal"][-1], b_b)
    np.testing.assert_array_equal(tr["v_apical"][-1], b_a)


@pytest.mark.parametrize("method", ["exact", "euler"])
def test_output_neuron_teaching_steady_state(method):
    """Output soma with teach(target) settles at (g_d V_b + g_exc E_e + g_inh E_i)/(g_l + g_d + g_exc + g_inh).

    Derived from the documented equation
    tau dV/dt = -V + (g_d/g_l)(V_b - V) + (g_exc/g_l)(E_e - V) + (g_inh/g_l)(E_i - V)
    with g_exc = target, g_inh = 1 - target (``teach``) and dV/dt = 0.
    """
    g_l, g_d, E_e, E_i, tau = 0.1, 0.6, 8.0, -8.0, 10.0
    target = np.array([0.0, 1.0, 0.25, 0.7])
    b = np.array([0.5, -1.0, 2.0, 0.0])
    net = cs.Network(dt=DT, seed=3, method=method)
    out = net.add(OutputNeuron(target.size, g_l=g_l, g_d=g_d, E_e=E_e, E_i=E_i, tau=tau), name="out")
    out["b_basal"] = b
    out.teach(target)
    net.record(out, "v_soma", every=100, name="v")
    res = net.run(20 * tau + DT)
    g_exc, g_inh = target, 1.0 - target
    v_ss = (g_d * b + g_exc * E_e + g_inh * E_i) / (g_l + g_d + g_exc + g_inh)
    final = res.state["v"]["v_soma"][-1]
    np.testing.assert_allclose(final, v_ss, rtol=1e-9, atol=0)


# ---------------------------------------------------------------------------------------------
# synaptic kernels
# ---------------------------------------------------------------------------------------------
T_SPIKE = 2.0  # ms, step 20
W = 0.75


def _kernel_run(method, synapse, delay=0.0, duration=40.0):
    """One replayed spike of neuron 0 at T_SPIKE into 'basal' of two pyramidal neurons (weights W, 2W)."""
    net = cs.Network(dt=DT, seed=5, method=method)
    src = net.add(cs.SpikeTrainSource(1, [0], [T_SPIKE]), name="src")
    hid = net.add(SegregatedPyramidal(2, phi_max=0.0), name="hid")
    net.connect(src, hid, "basal", np.array([[W], [2 * W]]), synapse=synapse, delay=delay)
    net.record(hid, ["basal", "v_basal"], name="x")
    res = net.run(duration)
    t, x = _trace(res, "x", "basal")
    np.testing.assert_array_equal(res.state["x"]["v_basal"], x)  # v_basal = input + bias 0
    return t, x


def _first(t, delay):
    return np.isclose(t, T_SPIKE + delay + DT) | (t > T_SPIKE + delay + DT)


@pytest.mark.parametrize("method", ["exact", "euler"])
@pytest.mark.parametrize("delay", [0.0, 1.5])
def test_exponential_kernel(method, delay):
    """w exp(-(t - t_spike - d - dt)/tau) from one step after the spike (euler: w (1 - dt/tau)^k); 0 before."""
    tau = 4.0
    t, x = _kernel_run(method, cs.Exponential(tau), delay)
    on = _first(t, delay)
    assert on.sum() == t.size - int(round((T_SPIKE + delay) / DT)) - 1
    np.testing.assert_array_equal(x[~on], 0.0)
    k = np.rint((t[on] - T_SPIKE - delay - DT) / DT)
    shape = np.exp(-k * DT / tau) if method == "exact" else (1.0 - DT / tau) ** k
    expected = np.array([W, 2 * W])[None, :] * shape[:, None]
    np.testing.assert_allclose(x[on], expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("delay", [0.0, 1.5])
def test_double_exponential_kernel(delay):
    """DoubleExponential(3, 10): w (exp(-s/10) - exp(-s/3)) / (10 - 3), s = t - t_spike - d - dt."""
    t, x = _kernel_run("exact", cs.DoubleExponential(3.0, 10.0), delay)
    on = _first(t, delay)
    np.testing.assert_array_equal(x[~on], 0.0)
    s = t[on] - T_SPIKE - delay - DT
    shape = (np.exp(-s / 10.0) - np.exp(-s / 3.0)) / (10.0 - 3.0)
    expected = np.array([W, 2 * W])[None, :] * shape[:, None]
    np.testing.assert_allclose(x[on], expected, rtol=1e-9, atol=1e-14)
    # the peak of the kernel, at s* = ln(10/3) * 3 * 10 / (10 - 3), is where it should be
    s_peak = np.log(10.0 / 3.0) * 30.0 / 7.0
    assert abs(s[np.argmax(x[on, 0])] - s_peak) <= DT / 2 + 1e-9


@pytest.mark.parametrize("delay", [0.0, 0.3])
def test_truncated_kernel_equals_the_direct_sum(delay):
    """TruncatedDoubleExponential (the original code's 10-step kernel at dt = 1 ms, computed by two recursions):
    the input at step t is sum_k w kappa(k) c(t - k - d), k = 1 .. 10, for a replayed train with overlapping,
    repeated and lone spikes, and exactly 0 once the last spike is more than 10 steps old."""
    dt, kernel = 1.0, cs.TruncatedDoubleExponential()
    taps = (np.exp(-np.arange(1, 11) / 10.0) - np.exp(-np.arange(1, 11) / 3.0)) / 7.0  # kappa(k), k = 1 .. 10
    times = np.array([2.0, 3.0, 3.0, 5.0, 9.0, 30.0, 31.0])  # ms (steps); neuron 0 twice at 3 ms
    net = cs.Network(dt=dt, seed=5, method="exact")
    src = net.add(cs.SpikeTrainSource(1, np.zeros(times.size, int), times), name="src")
    hid = net.add(SegregatedPyramidal(2, phi_max=0.0), name="hid")
    net.connect(src, hid, "basal", np.array([[W], [2 * W]]), synapse=kernel, delay=delay * 10)
    net.record(hid, "basal", name="x")
    x = net.run(60.0).state["x"]["basal"]
    d = int(round(delay * 10 / dt))
    counts = np.bincount(times.astype(int), minlength=60)
    expected = np.array([sum(taps[k - 1] * counts[t - k - d] for k in range(1, 11) if t - k - d >= 0)
                         for t in range(60)])
    np.testing.assert_allclose(x, expected[:, None] * np.array([W, 2 * W]), rtol=1e-12, atol=1e-15)
    silent = np.arange(60) > times.max() + d + 10
    assert silent.sum() > 5 and np.all(x[silent] == 0.0)


def test_conductance_kernel_on_coba_lif():
    """The same timing holds for a conductance port (CobaLIF 'ge', default Exponential(tau_e))."""
    tau_e = 5.0
    net = cs.Network(dt=DT, seed=5, method="exact")
    src = net.add(cs.SpikeTrainSource(2, [1, 0, 1], [1.0, 3.0, 3.0]), name="src")
    lif = net.add(CobaLIF(1, tau_e=tau_e, v_th=100.0), name="lif")
    net.connect(src, lif, "ge", np.array([[2.0, 3.0]]))
    net.record(lif, "ge", name="g")
    res = net.run(20.0)
    t, g = _trace(res, "g", "ge")
    g = g[:, 0]
    expected = np.zeros_like(t)
    for t_sp, w in ((1.0, 3.0), (3.0, 2.0), (3.0, 3.0)):
        k = np.rint((t - t_sp - DT) / DT)
        expected += np.where(k >= 0, w * np.exp(-np.maximum(k, 0) * DT / tau_e), 0.0)
    np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-15)
