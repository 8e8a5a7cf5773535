"""Conductance E/I networks: time stepping converges to the closed-form steady state; Dale's law; ranges; errors."""
import numpy as np
import pytest

import compsim as cs
from compsim.models import CobaLIF, ConductanceNeuron
from compsim.models.cwa import steady_state


def random_feedforward(rng, batch, sparse=False):
    """Inputs (exc, inh) -> 1-3 layers of (exc, inh) conductance populations with random sizes and conductances."""
    net = cs.Network(dt=rng.choice([0.05, 0.1, 0.5]), batch=batch, seed=int(rng.integers(100)))
    n_in = int(rng.integers(3, 30))
    layer = [net.add(cs.ActivitySource(n_in, rng.uniform(0, 1, (batch, n_in)), valence=v), name=f"x{k}")
             for k, v in enumerate((1, -1))]
    for depth in range(int(rng.integers(1, 4))):
        size = int(rng.integers(2, 25))
        params = {"C": rng.uniform(0.5, 3.0), "E_r": rng.uniform(-0.6, 0.2), "G_r": rng.uniform(0.3, 2.0)}
        post = [net.add(ConductanceNeuron(size, valence=v, activation=rng.choice(["clipped", "sigmoid"]), **params),
                        name=f"h{depth}{k}") for k, v in enumerate((1, -1))]
        scale = rng.uniform(0.05, 2.0)
        for pre in layer:
            target = "g_e" if pre.p["valence"] > 0 else "g_i"
            for p in post:
                if sparse:
                    net.connect(pre, p, target, scale, connectivity=cs.FixedProbability(0.5))
                else:
                    net.connect(pre, p, target, rng.uniform(0, scale, (p.n, pre.n)))
        layer = post
    return net


@pytest.mark.parametrize("seed", range(8))
def test_time_stepping_converges_to_the_steady_state(seed):
    rng = np.random.default_rng(seed)
    net = random_feedforward(rng, batch=int(rng.integers(1, 4)), sparse=seed % 3 == 2)
    net.run(300.0)
    fixed = steady_state(net)
    for pop in net.populations:
        if isinstance(pop, ConductanceNeuron):
            V, p = fixed[pop.name]
            np.testing.assert_allclose(pop["V"] if net.batch > 1 else pop["V"][None], V, rtol=0, atol=1e-6,
                                       err_msg=pop.name)
            lo = min(pop.p["E_r"], pop.p["E_i"], pop.p["E_e"])
            hi = max(pop.p["E_r"], pop.p["E_i"], pop.p["E_e"])
            assert np.all((V >= lo - 1e-15) & (V <= hi + 1e-15))  # a weighted average of the reversals


def test_steady_state_takes_many_inputs_at_once():
    rng = np.random.default_rng(5)
    net = random_feedforward(rng, batch=1)
    sources = [p for p in net.populations if isinstance(p, cs.ActivitySource)]
    many = {s: rng.uniform(0, 1, (50, s.n)) for s in sources}
    together = steady_state(net, many)
    for row in (0, 17, 49):
        for s in sources:
            s["p"] = many[s][row]
        alone = steady_state(net)
        for name, (V, _) in alone.items():
            np.testing.assert_allclose(together[name][0][row], V[0], rtol=1e-13, atol=1e-15)


def test_recurrent_networks_use_the_damped_fixed_point_and_report_failure():
    rng = np.random.default_rng(2)
    net = cs.Network(dt=0.1)
    x = net.add(cs.ActivitySource(10, rng.uniform(0, 1, 10)), name="x")
    e = net.add(ConductanceNeuron(8, valence=1), name="e")
    i = net.add(ConductanceNeuron(8, valence=-1), name="i")
    net.connect(x, e, "g_e", rng.uniform(0, 1, (8, 10)))
    net.connect(e, i, "g_e", rng.uniform(0, 1, (8, 8)))
    net.connect(i, e, "g_i", rng.uniform(0, 1, (8, 8)))
    net.connect(e, e, "g_e", rng.uniform(0, 0.5, (8, 8)))
    fixed = steady_state(net, tol=1e-13)
    assert 5 < fixed.iterations < 10_000 and fixed.residual < 1e-13
    assert steady_state(random_feedforward(np.random.default_rng(1), batch=1)).iterations == 0  # closed form
    net.run(500.0)
    np.testing.assert_allclose(e["V"], fixed["e"][0][0], atol=1e-6)
    np.testing.assert_allclose(i["V"], fixed["i"][0][0], atol=1e-6)
    with pytest.raises(RuntimeError, match="no convergence after 3 damped iterations"):
        steady_state(net, max_iter=3)


def test_dale_s_law_and_parameter_errors():
    net = cs.Network(dt=0.1)
    x = net.add(cs.ActivitySource(4, 0.5, valence=-1), name="x")
    e = net.add(ConductanceNeuron(3, valence=1), name="e")
    with pytest.raises(ValueError, match="'x' is inhibitory .* must target port 'g_i', not 'g_e'"):
        net.connect(x, e, "g_e", 1.0)
    with pytest.raises(ValueError, match="maximal conductances must be >= 0"):
        net.connect(x, e, "g_i", -np.ones((3, 4)))
    lif = net.add(CobaLIF(2), name="lif")
    with pytest.raises(ValueError, match="takes input from populations with a valence"):
        net.connect(lif, e, "g_e", 1.0)
    with pytest.raises(ValueError, match="parameter 'G_r' must be > 0"):
        ConductanceNeuron(3, G_r=0.0)
    with pytest.raises(ValueError, match="'valence' must be \\+1 or -1"):
        ConductanceNeuron(3, valence=0.5)
    with pytest.raises(ValueError, match="parameter 'p' must be <= 1"):
        cs.ActivitySource(3, 1.5)


def test_spiking_mode_fires_at_phi_max_times_p():
    net = cs.Network(dt=0.1, seed=3)
    x = net.add(cs.ActivitySource(50, 1.0), name="x")
    e = net.add(ConductanceNeuron(400, valence=1, mode="spiking", phi_max=100.0), name="e")
    net.connect(x, e, "g_e", 0.1)
    net.record_spikes(e)
    res = net.run(2000.0)
    p = float(e["p"][0])  # constant input: every neuron sits at the same activity
    expected = 100.0 * p
    rate = res.spikes["e_spikes"].rate_hz(2000.0)
    assert p > 0.5 and abs(rate - expected) < 4 * np.sqrt(expected / (400 * 2.0))  # 4 sigma of the Poisson count


def test_a_batch_copy_equals_a_single_copy_run_to_rounding():
    """Graded dense delivery is one matrix product for the batch: equal to single-copy runs to rounding."""
    rng = np.random.default_rng(8)
    inputs = rng.uniform(0, 1, (5, 30))

    def build(rows):
        net = cs.Network(dt=0.1, batch=len(rows))
        x = net.add(cs.ActivitySource(30, rows, valence=1), name="x")
        h = net.add(ConductanceNeuron(40, valence=1), name="h")
        o = net.add(ConductanceNeuron(7, valence=-1), name="o")
        net.connect(x, h, "g_e", np.random.default_rng(1).uniform(0, 0.3, (40, 30)))
        net.connect(h, o, "g_e", np.random.default_rng(2).uniform(0, 1.0, (7, 40)))
        net.run(5.0)
        return o["V"]

    together = build(inputs)
    for b in (0, 3):
        np.testing.assert_allclose(together[b], build(inputs[b:b + 1]), rtol=1e-14, atol=1e-15)
