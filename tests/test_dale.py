"""Dale's law: a population declared excitatory or inhibitory (``net.add(..., dale=...)``) fixes the sign of
the weights of its projections; connect and set_weights refuse the wrong sign, learning rules keep it.

Post spikes are placed with the relay neuron of the STDP pairing protocol (it spikes in the step after its
teacher input spikes), so every pairing, and so the sign of every STDP change, is known.
"""
import numpy as np
import pytest

import compsim as cs
from compsim.data.mnist import load_mnist
from compsim.models import CobaLIF, OutputNeuron, SegregatedPyramidal, UrbanczikNeuron
from compsim.models.segdend import SegregatedNetwork, initial_biases, initial_weights
from compsim.plasticity.segregated import SegregatedLearning
from compsim.protocols.stdp_pairing import Relay
from compsim.protocols.two_phase import SegregatedTraining

DT = 0.1
T_POST = 20.0  # ms, the relay's one spike
PRE_AFTER = T_POST + np.array([1.0, 2.0, 4.0])  # presynaptic spikes after the post spike: depression
PRE_BEFORE = T_POST - np.array([1.0, 2.0, 4.0])  # before it: potentiation


def relay_net(pre_times, rule, w0, *, dale=None, sparse=False):
    """Presynaptic neurons spiking at ``pre_times`` (ms) -> the 'plastic' port (dimensionless) of a relay
    spiking at T_POST."""
    net = cs.Network(dt=DT, seed=3)
    n = len(pre_times)
    pre = net.add(cs.SpikeTrainSource(n, np.arange(n), pre_times), name="pre", dale=dale)
    teacher = net.add(cs.SpikeTrainSource(1, [0], [T_POST - DT]), name="teacher")
    post = net.add(Relay(1), name="post")
    net.connect(teacher, post, "driver", 1.0)
    connectivity = cs.Explicit(np.arange(n), np.zeros(n, int)) if sparse else None
    return net, net.connect(pre, post, "plastic", w0, connectivity=connectivity, plasticity=rule)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_stdp_depression_stops_at_zero_on_an_excitatory_projection(sparse):
    def run(dale):
        rule = cs.plasticity.PairSTDP(A_plus=0.0, A_minus=0.5, w_min=-1.0, w_max=1.0)
        net, proj = relay_net(PRE_AFTER, rule, 0.2, dale=dale, sparse=sparse)
        net.run(40.0)
        return proj.weights.ravel()

    free, excitatory = run(None), run("excitatory")
    assert free.min() < -0.1  # the rule's own bound (-1) lets the weights change sign
    assert excitatory.min() == 0.0 and np.all(excitatory >= 0.0)
    np.testing.assert_array_equal(excitatory, np.maximum(free, 0.0))  # clipped, otherwise the same rule


def test_inhibitory_weights_keep_their_sign_on_potential_and_conductance_ports():
    # dimensionless port (the relay's): inhibitory weights are <= 0; potentiation stops at 0
    rule = cs.plasticity.PairSTDP(A_plus=0.5, A_minus=0.0, w_min=-1.0, w_max=1.0)
    net, proj = relay_net(PRE_BEFORE, rule, -0.2, dale="inhibitory")
    assert proj.sign == -1 and proj.describe()["sign"] == -1
    net.run(40.0)
    w = proj.weights.ravel()
    assert w.max() == 0.0 and np.all(w <= 0.0)
    free, free_proj = relay_net(PRE_BEFORE, cs.plasticity.PairSTDP(A_plus=0.5, A_minus=0.0, w_min=-1.0, w_max=1.0),
                                -0.2)
    free.run(40.0)
    assert free_proj.weights.max() > 0.1

    # conductance port (nS): an inhibitory population's weights are conductances, >= 0; depression stops at 0
    def conductance_run(dale):
        net = cs.Network(dt=DT, seed=3)
        inh = net.add(cs.SpikeTrainSource(3, np.arange(3), T_POST + 5.0 + np.array([1.0, 2.0, 4.0])), name="inh",
                      dale=dale)
        teacher = net.add(cs.SpikeTrainSource(1, [0], [T_POST]), name="teacher")
        post = net.add(CobaLIF(1, t_ref=100.0), name="post")  # one spike, a few ms after the teacher's
        net.connect(teacher, post, "ge", 100.0)
        proj = net.connect(inh, post, "gi", 0.2,
                           plasticity=cs.plasticity.PairSTDP(A_plus=0.0, A_minus=0.5, w_min=-1.0, w_max=1.0))
        net.record_spikes(post)
        res = net.run(40.0)
        assert len(res.spikes["post_spikes"].t) == 1 and res.spikes["post_spikes"].t[0] < T_POST + 5.0
        return proj

    inhibitory = conductance_run("inhibitory")
    assert inhibitory.sign == 1
    assert inhibitory.weights.min() == 0.0 and np.all(inhibitory.weights >= 0.0)
    assert conductance_run(None).weights.min() < -0.1


@pytest.mark.parametrize("dale, bounds", [("excitatory", [0.0, np.inf]), ("inhibitory", [-np.inf, 0.0]),
                                          (None, [-np.inf, np.inf])])
def test_urbanczik_senn_clips_to_the_signed_bounds(dale, bounds):
    net = cs.Network(dt=0.1, seed=1)
    src = net.add(cs.PoissonSource(4, 10.0), name="src", dale=dale)
    post = net.add(UrbanczikNeuron(2), name="post")
    proj = net.connect(src, post, "dendrite", 0.0, synapse=cs.Exponential(2.0),
                       plasticity=cs.plasticity.UrbanczikSenn(eta=1.0))
    np.testing.assert_array_equal(net.store.get(proj.owner, "us_k")[-2:], bounds)  # the kernel's (w_min, w_max)


def segregated(dale, seed=5, n_hidden=20):
    """build_segregated_network's 784-n_hidden-10 network (truncated kernel, g_a = 0) with the input declared
    ``dale`` and small non-negative input weights."""
    net = cs.Network(dt=1.0, seed=seed)
    rng = np.random.default_rng(seed)
    kernel = cs.TruncatedDoubleExponential()
    inp = net.add(cs.PoissonSource(784, spike_mode="poisson"), name="inp", dale=dale)
    hid = net.add(SegregatedPyramidal(n_hidden, g_a=0.0, spike_mode="poisson"), name="hid")
    out = net.add(OutputNeuron(10, spike_mode="poisson"), name="out")
    w_in = rng.uniform(0.0, 0.04, (n_hidden, 784))  # small, so that the rule alone would make some negative
    w_out, y = initial_weights((10, n_hidden), n_hidden, rng), initial_weights((n_hidden, 10), n_hidden, rng)
    for pop in (hid, out):
        pop["b_basal"] = initial_biases(pop.n, rng)
    forward = [net.connect(inp, hid, "basal", w_in, synapse=kernel),
               net.connect(hid, out, "basal", w_out, synapse=kernel)]
    return SegregatedNetwork(net, inp, [hid], out, forward, [net.connect(out, hid, "apical", y, synapse=kernel)])


def test_segregated_learning_keeps_an_excitatory_input_non_negative():
    images, labels = load_mnist(4)

    def trained(dale):
        seg = segregated(dale)
        assert seg.forward[0].weights.min() >= 0.0
        SegregatedTraining(seg, SegregatedLearning((0.21, 0.21)), extra_wald=None, seed=1).train(images, labels)
        return seg.forward[0].weights

    assert trained(None).min() < 0.0  # the rule alone drives some input weights negative
    w = trained("excitatory")
    assert np.all(w >= 0.0) and np.any(w == 0.0)


def test_bad_declarations_and_weights_of_the_wrong_sign_are_named():
    net = cs.Network(dt=DT)
    for bad in ("exc", True, 1):
        with pytest.raises(ValueError, match=r"Network.add: parameter 'dale' must be one of None, 'excitatory', "
                                             r"'inhibitory'"):
            net.add(cs.PoissonSource(2, 5.0), name="x", dale=bad)
    exc = net.add(cs.PoissonSource(3, 5.0), name="exc", dale="excitatory")
    inh = net.add(cs.PoissonSource(3, 5.0), name="inh", dale="inhibitory")
    assert (exc.dale, inh.dale) == ("excitatory", "inhibitory")
    post = net.add(Relay(2), name="post")
    w = np.full((2, 3), 0.5)
    w[1, 2] = -0.25
    with pytest.raises(ValueError, match=r"connect\(exc -> post\): 'exc' is declared excitatory \(Dale's law\), "
                                         r"so the weights onto 'post.plastic' \(1\) must be >= 0; got -0.25 at "
                                         r"weights\[1, 2\] \(post 1, pre 2\)"):
        net.connect(exc, post, "plastic", w)
    with pytest.raises(ValueError, match=r"'inh' is declared inhibitory .* must be <= 0; got 0.5 at weights\[1\] "
                                         r"\(synapse 1: pre 2 -> post 1\)"):
        net.connect(inh, post, "plastic", [-0.5, 0.5], connectivity=cs.Explicit([0, 2], [0, 1]))
    proj = net.connect(inh, post, "plastic", -0.5)
    with pytest.raises(ValueError, match=r"inh -> post.plastic: set_weights: .* <= 0; got 0.1 at weights\[0, 1\]"):
        proj.set_weights([[-0.1, 0.1, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(proj.weights, -0.5)  # refused: unchanged
    proj.set_weights(0.0)
    # a rule's bounds that leave no weight of the projection's sign: PairSTDP's default [0, 1] for inhibitory
    with pytest.raises(ValueError, match=r"PairSTDP: the bounds \[w_min, w_max\] = \[0.0, 1.0\] leave no room .* "
                                         r"inh -> post.plastic, .* <= 0 \('inh' is inhibitory\)"):
        net.connect(inh, post, "plastic", -0.5, plasticity=cs.plasticity.PairSTDP())
    coba = net.add(CobaLIF(2), name="coba")
    with pytest.raises(ValueError, match=r"'inh' is declared inhibitory .* onto 'coba.gi' \(nS\) must be >= 0"):
        net.connect(inh, coba, "gi", -1.0)


def test_a_checkpoint_does_not_restore_into_another_dale_declaration(tmp_path):
    def build(dale):
        net = cs.Network(dt=DT, seed=2)
        src = net.add(cs.PoissonSource(3, 20.0), name="src", dale=dale)
        post = net.add(CobaLIF(2), name="post")
        net.connect(src, post, "ge", 1.0)
        return net

    net = build("excitatory")
    net.run(5.0)
    net.save_checkpoint(tmp_path / "ck.h5")
    build("excitatory").restore_checkpoint(tmp_path / "ck.h5")
    with pytest.raises(ValueError, match=r"projections\[0\]\.sign"):
        build(None).restore_checkpoint(tmp_path / "ck.h5")


def test_inhibitory_population_onto_cwa_conductance_ports_keeps_positive_weights():
    """The CWA neuron's g_i is a (dimensionless) conductance: an inhibitory population's weights onto it are
    >= 0, as the model itself requires, and negative ones are refused."""
    from compsim.models import ConductanceNeuron

    net = cs.Network(dt=DT)
    inh = net.add(ConductanceNeuron(2, valence=-1.0), name="inh", dale="inhibitory")
    post = net.add(ConductanceNeuron(3), name="post")
    assert net.connect(inh, post, "g_i", 0.5).sign == 1
    with pytest.raises(ValueError, match="must be >= 0"):
        net.connect(inh, post, "g_i", -0.5)
