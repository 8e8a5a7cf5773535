"""Urbanczik & Senn (2014): the two-compartment neuron and the dendritic prediction rule.

* with fixed weights, the dendritic potential is exactly ``E_L + sum_i w_i PSP_i`` (the rule's PSPs);
* the weights of a run equal a NumPy transcription of the rule's equations applied to the run's recorded
  spikes and dendritic potentials (1e-9);
* a student neuron nudged by a teacher with other (fixed) weights learns, from the same inputs, to predict
  the teacher's somatic rate with its dendrite: the rate error falls by far more than 80 %.
"""
import math

import numpy as np

import compsim as cs
from compsim.models import UrbanczikNeuron
from compsim.plasticity import UrbanczikSenn
from compsim.protocols.nudging import SomaticNudging

DT = 0.1


def counts_matrix(train, n_steps):
    out = np.zeros((n_steps, train.n))
    np.add.at(out, (np.round(train.t / DT).astype(int), train.i), 1.0)
    return out


def transcription(pre_counts, post_counts, v_dend, w0, eta, neuron, tau_delta=100.0):
    """The rule's per-step equations in NumPy: returns the weights after every step (n_steps, n_post, n_pre)."""
    p = neuron.p
    a = math.exp(-DT * p["g_L_d"] / p["C_d"])
    b = (1 - a) / p["g_L_d"]
    d_syn, d_delta = math.exp(-DT / p["tau_syn"]), math.exp(-DT / tau_delta)
    n_steps, n_pre = pre_counts.shape
    x, psp = np.zeros(n_pre), np.zeros(n_pre)
    pi = np.zeros((n_pre, w0.shape[0]))
    w = w0.T.copy()
    out = []
    for t in range(n_steps):
        psp = a * psp + b * x
        x = d_syn * x + pre_counts[t]
        v_star = (p["g_L_s"] * p["E_L"] + p["g_D"] * v_dend[t]) / (p["g_L_s"] + p["g_D"])
        e = np.exp(p["beta"] * (p["theta"] - v_star))
        h = p["beta"] * p["k"] * e / (1 + p["k"] * e)
        err = (post_counts[t] - p["phi_max"] * DT / 1000 / (1 + p["k"] * e)) * h / tau_delta
        pi = d_delta * pi + np.outer(psp, err)
        w = w + eta * DT * pi
        out.append(w.T.copy())
    return np.array(out)


def test_dendrite_is_the_weighted_sum_of_the_rules_psps():
    rng = np.random.default_rng(0)
    net = cs.Network(dt=DT, seed=1)
    inp = net.add(cs.PoissonSource(15, rates=rng.uniform(5, 50, 15)), name="inp")
    cell = net.add(UrbanczikNeuron(2), name="cell")
    w = rng.normal(50, 30, (2, 15))
    proj = net.connect(inp, cell, "dendrite", w, plasticity=UrbanczikSenn(eta=0.0))
    net.run(300.0)
    psp = net.store.get(proj.owner, "us_psp")[0]  # after the last step's update, like v_dend
    np.testing.assert_allclose(cell["v_dend"], cell.p["E_L"] + w @ psp, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(proj.weights, w)  # eta = 0: nothing learned


def test_weights_equal_numpy_transcription():
    rng = np.random.default_rng(2)
    n_pre, n_post, eta = 12, 2, 4000.0
    net = cs.Network(dt=DT, seed=5)
    inp = net.add(cs.PoissonSource(n_pre, rates=rng.uniform(20, 60, n_pre)), name="inp")
    cell = net.add(UrbanczikNeuron(n_post), name="cell")
    w0 = rng.normal(400, 100, (n_post, n_pre))
    proj = net.connect(inp, cell, "dendrite", w0, plasticity=UrbanczikSenn(eta))
    net.record_spikes(inp)
    net.record_spikes(cell)
    net.record(cell, ["v_dend"])
    n_steps = 3000
    net.run(n_steps * DT)
    learned = proj.weights
    res = net.run(DT)  # one more sample: v_dend after the last step
    v_dend = res.state["cell_state"].values["v_dend"][1:]  # sample t + 1 = after the update of step t
    pre, post = counts_matrix(res.spikes["inp_spikes"], n_steps), counts_matrix(res.spikes["cell_spikes"], n_steps)
    assert post.sum() > 20  # the post neurons fired: the rule had errors to follow
    expected = transcription(pre, post, v_dend, w0, eta, cell)[-1]
    np.testing.assert_allclose(learned, expected, rtol=0, atol=1e-9 * np.abs(w0).max())
    assert np.abs(expected - w0).max() > 1.0  # and the weights did change


def test_student_learns_the_teachers_rate():
    dt_bin, period, n_in = 20.0, 200.0, 100
    rng = np.random.default_rng(1)
    steps = int(period / DT)
    # each input has a random rate (0-40 Hz) in each 20-ms bin of a 200-ms pattern, repeated
    rates = np.repeat(rng.uniform(0, 40.0, (int(period / dt_bin), n_in)), int(dt_bin / DT), axis=0)
    net = cs.Network(dt=DT, seed=3)
    inp = net.add(cs.PoissonSource(n_in, rates=lambda t: rates[np.round(t / DT).astype(int) % steps]), name="inp")
    teacher = net.add(UrbanczikNeuron(1), name="teacher")
    student = net.add(UrbanczikNeuron(1), name="student")
    net.connect(inp, teacher, "dendrite", rng.normal(60, 60, (1, n_in)))
    net.connect(inp, student, "dendrite", np.zeros((1, n_in)), plasticity=UrbanczikSenn(eta=1000.0))
    SomaticNudging(teacher, student)
    student["g_nudge"] = 3000.0
    net.record(teacher, ["v_soma"])
    net.record(student, ["v_dend"])

    def rate_error(res, t0):
        """Mean |teacher rate - student's dendritic prediction of it| (Hz) per 20-ms bin of the pattern."""
        tv, sv = res.state["teacher_state"], res.state["student_state"]
        m = tv.t >= t0
        bins = ((tv.t[m] % period) // dt_bin).astype(int)
        mean = lambda r: np.bincount(bins, r) / np.bincount(bins)  # noqa: E731
        teach = mean(teacher.rate(tv.values["v_soma"][m, 0]))
        pred = mean(student.rate(student.prediction(sv.values["v_dend"][m, 0])))
        return np.mean(np.abs(teach - pred))

    before = rate_error(net.run(1000.0), 0.0)
    net.run(200_000.0)
    after = rate_error(net.run(1000.0), net.t - 1000.0)
    assert before > 20.0
    assert after < 0.2 * before, (before, after)
