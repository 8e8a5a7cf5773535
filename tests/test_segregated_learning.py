"""The Guerguiev et al. (2017) rules and two-phase protocol against a NumPy transcription of the published
formulas (paper Eqs. 23-41, as the original code applies them), with the spikes and potentials of the compiled run frozen.

For each training example the weight and bias changes of the compiled loop are compared with what the
formulas give from the recorded spikes (presynaptic filtered spike trains rebuilt from the spike counts)
and the recorded potentials, averaged over the last 20 steps of each phase.
"""
import numpy as np
import pytest

import compsim as cs
from compsim.data.mnist import load_mnist
from compsim.models.segdend import build_segregated_network
from compsim.plasticity.segregated import SegregatedLearning
from compsim.protocols.two_phase import SegregatedTraining

N_HIDDEN, WINDOW = 40, 20


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def counts_matrix(train, n_steps, dt):
    """Spike counts (n_steps, n) of a recorded single-copy spike train (a count c appears c times)."""
    out = np.zeros((n_steps, train.n))
    np.add.at(out, (np.round(train.t / dt).astype(int), train.i), 1.0)
    return out


def filtered(counts, synapse, dt, lag=1):
    """psp(t) = sum_k kernel(k) counts(t - lag - k): what the basal dendrites summed in step t (``lag`` 0: a
    same_step projection, whose spikes act in the step they are fired)."""
    n_steps = counts.shape[0]
    if isinstance(synapse, cs.TruncatedDoubleExponential):
        kernel = synapse.taps(dt)  # kernel[k - 1] for a spike k steps ago
    else:  # DoubleExponential as delivered by the engine: 0 one step after the spike, then c (d0^m - d1^m)
        m = np.arange(n_steps)
        d0, d1 = np.exp(-dt / synapse.tau_decay), np.exp(-dt / synapse.tau_rise)
        kernel = (d0**m - d1**m) / (synapse.tau_decay - synapse.tau_rise)
    psp = np.zeros_like(counts)
    for k, value in enumerate(kernel, start=lag):
        psp[k:] += value * counts[: n_steps - k]
    return psp


@pytest.mark.parametrize("synapse, feedback, same_step", [(cs.TruncatedDoubleExponential(), "fixed", False),
                                                          (cs.DoubleExponential(3.0, 10.0), "fixed", False),
                                                          (cs.TruncatedDoubleExponential(), "learned", False),
                                                          (cs.TruncatedDoubleExponential(), "fixed", True),
                                                          (cs.DoubleExponential(3.0, 10.0), "fixed", True)],
                         ids=["truncated", "double_exponential", "learned_feedback", "truncated_same_step",
                              "double_exponential_same_step"])
def test_updates_equal_numpy_transcription(synapse, feedback, same_step):
    images, labels = load_mnist(3)
    seg = build_segregated_network(N_HIDDEN, seed=5, dt=1.0, g_a=0.0, synapse=synapse, same_step=same_step)
    net = seg.net
    eta_y = 0.5 if feedback == "learned" else None
    training = SegregatedTraining(seg, SegregatedLearning((0.21, 0.21), feedback=feedback,
                                                          feedback_etas=None if eta_y is None else (eta_y,)), seed=3)
    for pop in (seg.inp, seg.hid, seg.out):
        net.record_spikes(pop)
    net.record(seg.hid, ["v_soma", "v_apical"])
    net.record(seg.out, ["v_soma"])
    def snapshot():
        return (seg.forward[0].weights, seg.forward[1].weights, seg.hid["b_basal"].copy(), seg.out["b_basal"].copy(),
                seg.feedback[0].weights)

    snapshots = [snapshot()]
    ends = []
    for k in range(3):
        training.train(images[k : k + 1], labels[k : k + 1])
        ends.append(net.step)
        snapshots.append(snapshot())
    res = net.run(1.0)  # one more sample: the potentials after the last step
    n_steps = net.step
    lengths = training.phase_lengths(0, 3)
    assert np.all(lengths >= 50)
    lag = 0 if same_step else 1
    psp_in = filtered(counts_matrix(res.spikes["inp_spikes"], n_steps, 1.0), synapse, 1.0, lag)
    psp_hid = filtered(counts_matrix(res.spikes["hid_spikes"], n_steps, 1.0), synapse, 1.0, lag)
    psp_out = filtered(counts_matrix(res.spikes["out_spikes"], n_steps, 1.0), synapse, 1.0)
    hid, out = res.state["hid_state"].values, res.state["out_state"].values
    c_hid = hid["v_soma"][1:]  # the sample at step t + 1 is the soma after the update of step t
    a_hid = hid["v_apical"][:-1]  # the apical potential of step t is sampled in step t
    c_out = out["v_soma"][1:]
    lam = 0.2
    k_b = k_d = 0.6 / 0.7
    g_hidden, g_out = 0.21 * 20 / lam, 0.21 * 20 / lam**2
    start = 0
    for k in range(3):
        f_end = start + lengths[k, 0]
        t_end = f_end + lengths[k, 1]
        assert t_end == ends[k]
        fw, tw = slice(f_end - WINDOW, f_end), slice(t_end - WINDOW, t_end)
        c_f, a_f, a_t = c_hid[fw].mean(0), a_hid[fw].mean(0), a_hid[tw].mean(0)
        co_f = c_out[fw].mean(0)
        rate_t = (lam * sigmoid(c_out[tw])).mean(0)
        e_out = k_d * lam * (rate_t - lam * sigmoid(co_f)) * sigmoid(co_f) * (1 - sigmoid(co_f))
        e_hid = k_b * lam * (sigmoid(a_t) - sigmoid(a_f)) * sigmoid(c_f) * (1 - sigmoid(c_f))
        w0, w1, b0, b1, y = snapshots[k]
        w0n, w1n, b0n, b1n, yn = snapshots[k + 1]
        if eta_y is None:
            np.testing.assert_array_equal(yn, y)
        else:  # the original's update_Y: Y += eta_Y (lambda_max sigma(C_f) - alpha_f) sigma'(A_f) psp_out_fᵀ
            e_y = (lam * sigmoid(c_f) - sigmoid(a_f)) * sigmoid(a_f) * (1 - sigmoid(a_f))
            np.testing.assert_allclose(yn - y, eta_y * np.outer(e_y, psp_out[fw].mean(0)), rtol=0, atol=1e-12)
            assert np.abs(yn - y).max() > 1e-6
        np.testing.assert_allclose(w1n - w1, g_out * np.outer(e_out, psp_hid[fw].mean(0)), rtol=0, atol=1e-12)
        np.testing.assert_allclose(b1n - b1, g_out * e_out, rtol=0, atol=1e-12)
        np.testing.assert_allclose(w0n - w0, g_hidden * np.outer(e_hid, psp_in[fw].mean(0)), rtol=0, atol=1e-12)
        np.testing.assert_allclose(b0n - b0, g_hidden * e_hid, rtol=0, atol=1e-12)
        assert np.abs(w1n - w1).max() > 1e-4 and np.abs(w0n - w0).max() > 1e-6  # the rules did act
        start = t_end


def test_split_training_and_checkpoint_give_the_same_weights(tmp_path):
    """Training 6 examples in one call equals 3 + checkpoint + restore into a new network + 3 more."""
    images, labels = load_mnist(6)

    def fresh():
        seg = build_segregated_network(30, seed=2, dt=1.0, g_a=0.0, synapse=cs.TruncatedDoubleExponential())
        return seg, SegregatedTraining(seg, seed=1)

    seg, training = fresh()
    training.train(images, labels)
    whole = [j.weights for j in seg.forward] + [seg.hid["b_basal"].copy()]

    seg, training = fresh()
    training.train(images[:3], labels[:3])
    seg.net.save_checkpoint(tmp_path / "mid.h5")
    seg, training = fresh()
    seg.net.restore_checkpoint(tmp_path / "mid.h5")
    assert training.rounds_done == 3
    training.train(images[3:], labels[3:])
    split = [j.weights for j in seg.forward] + [seg.hid["b_basal"].copy()]
    for a, b in zip(whole, split):
        np.testing.assert_array_equal(a, b)


def test_mini_batch_update_is_the_mean_of_the_copies_updates():
    """B = 2 copies showing examples 0 and 1 change the weights by the mean of the copies' own changes;
    the copies' changes are those a single copy (same random streams, via first_copy) makes."""
    images, labels = load_mnist(2)
    kw = dict(seed=4, dt=1.0, g_a=0.0)

    def trained(batch, first_copy, idx):
        seg = build_segregated_network(20, batch=batch, first_copy=first_copy, **kw)
        before = seg.forward[1].weights
        SegregatedTraining(seg, extra_wald=None).train(images[idx], labels[idx])
        return seg.forward[1].weights - before

    both = trained(2, 0, [0, 1])
    alone = [trained(1, b, [b]) for b in (0, 1)]
    np.testing.assert_allclose(both, (alone[0] + alone[1]) / 2, rtol=0, atol=1e-13)


def test_bad_parameters_are_named():
    seg = build_segregated_network(10, dt=1.0)
    with pytest.raises(ValueError, match="settle_ms"):
        SegregatedTraining(seg, phase_ms=20.0, settle_ms=30.0)
    with pytest.raises(ValueError, match="etas"):
        SegregatedTraining(seg, SegregatedLearning((0.1, 0.1, 0.1)))
    seg = build_segregated_network(10, dt=1.0)
    training = SegregatedTraining(seg)
    with pytest.raises(ValueError, match="labels"):
        training.train(np.zeros((2, 784)), [0, 10])
    with pytest.raises(ValueError, match="pixel"):
        training.train(np.full((1, 784), 2.0), [0])
    from compsim.protocols.segregated_mnist import Experiment
    with pytest.raises(ValueError, match=r"Experiment: parameter 'backend' must be 'cpu' or 'cuda', got 'gpu'"):
        Experiment(backend="gpu")


def test_a_small_network_learns_mnist():
    """784-100-10, faithful mode with 3x the learning rates, 6 epochs of 500 digits: held-out accuracy on
    200 other digits far above chance (10 %); an untrained network sits near chance."""
    from compsim.protocols.segregated_mnist import Experiment, build, load_data

    exp = Experiment(hidden=(100,), n_train=500, n_test=200, eta_scale=3.0, test_ms=100.0)
    x, y, xt, yt = load_data(exp)
    seg, training = build(exp)
    before = training.test(xt, yt).accuracy
    for _ in range(6):
        training.train(x, y)
    after = training.test(xt, yt).accuracy
    assert before < 0.3
    assert after > 0.5, after


def test_symmetric_and_sparse_feedback():
    """Symmetric feedback keeps Y = W_outᵀ after every update; sparse feedback zeroes 80 % of Y, the rest x 5."""
    images, labels = load_mnist(3)
    seg = build_segregated_network(30, seed=1, dt=1.0, g_a=0.0)
    training = SegregatedTraining(seg, SegregatedLearning((0.21, 0.21), feedback="symmetric"))
    training.train(images, labels)
    np.testing.assert_array_equal(seg.feedback[0].weights, seg.forward[1].weights.T)

    dense = build_segregated_network(500, seed=2, dt=1.0).feedback[0].weights
    sparse = build_segregated_network(500, seed=2, dt=1.0, sparse_feedback=True).feedback[0].weights
    kept = sparse != 0
    assert abs(kept.mean() - 0.2) < 0.02
    np.testing.assert_array_equal(sparse[kept], 5.0 * dense[kept])
    with pytest.raises(ValueError, match="symmetric"):
        SegregatedTraining(build_segregated_network((20, 10), dt=1.0), SegregatedLearning((0.2, 0.2, 0.1),
                                                                                          feedback="symmetric"))


def test_default_learning_rates_per_mode():
    """Faithful: the paper's rates; fast: scaled by sqrt(B), at most by MAX_FAST_ETA_SCALE (the rule's stable range)."""
    from compsim.protocols.segregated_mnist import MAX_FAST_ETA_SCALE, PAPER_ETAS, Experiment

    assert Experiment().learning_rates() == PAPER_ETAS[1]
    np.testing.assert_allclose(Experiment(mode="fast", batch=4).learning_rates(), 2.0 * np.array(PAPER_ETAS[1]))
    np.testing.assert_allclose(Experiment(mode="fast", batch=64).learning_rates(),
                               MAX_FAST_ETA_SCALE * np.array(PAPER_ETAS[1]))
    np.testing.assert_allclose(Experiment(mode="fast", batch=64, eta_scale=8.0).learning_rates(),
                               8.0 * np.array(PAPER_ETAS[1]))
