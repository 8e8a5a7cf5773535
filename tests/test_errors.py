"""Bad input fails early with a ValueError naming the parameter; a diverging run names where it diverged."""
import numpy as np
import pytest

import compsim as cs
from compsim.models import CobaLIF, OutputNeuron, SegregatedPyramidal


@pytest.fixture
def net():
    return cs.Network(dt=0.1, seed=0)


# ---------------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model, param", [
    (CobaLIF, "tau_m"), (CobaLIF, "tau_e"), (CobaLIF, "g_l"),
    (SegregatedPyramidal, "tau"), (SegregatedPyramidal, "tau_s"), (OutputNeuron, "tau"),
])
@pytest.mark.parametrize("value", [-1.0, 0.0])
def test_nonpositive_time_constant(model, param, value):
    with pytest.raises(ValueError, match=rf"'{param}'.*> 0"):
        model(3, **{param: value})


@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf")])
def test_negative_or_nonfinite_model_param(value):
    with pytest.raises(ValueError, match="'t_ref'"):
        CobaLIF(3, t_ref=value)


@pytest.mark.parametrize("make, param", [
    (lambda: cs.Exponential(-2.0), "tau"),
    (lambda: cs.Exponential(0.0), "tau"),
    (lambda: cs.DoubleExponential(-1.0, 10.0), "tau_rise"),
    (lambda: cs.DoubleExponential(3.0, -10.0), "tau_decay"),
    (lambda: cs.DoubleExponential(10.0, 3.0), "tau_decay"),  # decay must be slower than rise
])
def test_bad_synapse_tau(make, param):
    with pytest.raises(ValueError, match=f"'{param}'"):
        make()


def test_euler_synapse_needs_dt_below_tau():
    net = cs.Network(dt=1.0, method="euler")
    a = net.add(cs.PoissonSource(2, 5.0), name="a")
    b = net.add(CobaLIF(2), name="b")
    with pytest.raises(ValueError, match=r"dt < tau"):
        net.connect(a, b, "ge", 1.0, synapse=cs.Exponential(0.5))


@pytest.mark.parametrize("dt", [0.0, -0.1, float("nan")])
def test_bad_dt(dt):
    with pytest.raises(ValueError, match="'dt'"):
        cs.Network(dt=dt)


@pytest.mark.parametrize("kwargs, param", [
    ({"method": "rk4"}, "method"), ({"dtype": "float16"}, "dtype"), ({"chunk_steps": 0}, "chunk_steps"),
    ({"seed": -1}, "seed"), ({"threads": 0}, "threads"),
    ({"parallel": "yes"}, "parallel"),
])
def test_bad_network_options(kwargs, param):
    with pytest.raises(ValueError, match=f"'{param}'"):
        cs.Network(**kwargs)


def test_unknown_model_parameter():
    with pytest.raises(ValueError, match=r"unknown parameter.*'tau_x'"):
        CobaLIF(3, tau_x=1.0)
    with pytest.raises(ValueError, match=r"unknown parameter.*'g_d'"):
        SegregatedPyramidal(3, g_d=0.6)  # g_d belongs to OutputNeuron


@pytest.mark.parametrize("n", [0, -3, 2.5])
def test_bad_population_size(n):
    with pytest.raises(ValueError, match="'n'"):
        CobaLIF(n)


# ---------------------------------------------------------------------------------------------
# connections
# ---------------------------------------------------------------------------------------------
def test_weight_matrix_wrong_shape(net):
    a = net.add(cs.PoissonSource(4, 5.0), name="a")
    b = net.add(SegregatedPyramidal(3), name="b")
    with pytest.raises(ValueError, match=r"'weights'.*\(3, 4\)"):
        net.connect(a, b, "basal", np.ones((4, 3)))  # transposed
    with pytest.raises(ValueError, match="'weights'"):
        net.connect(a, b, "basal", np.ones(3))
    with pytest.raises(ValueError, match="'weights'"):
        net.connect(a, b, "basal", np.full((3, 4), np.nan))


def test_sparse_weights_wrong_length(net):
    a = net.add(cs.PoissonSource(4, 5.0), name="a")
    b = net.add(CobaLIF(3), name="b")
    with pytest.raises(ValueError, match="'weights'"):
        net.connect(a, b, "ge", np.ones(5), connectivity=cs.Explicit([0, 1], [2, 2]))


def test_unknown_port(net):
    a = net.add(cs.PoissonSource(4, 5.0), name="a")
    b = net.add(SegregatedPyramidal(3), name="b")
    c = net.add(CobaLIF(3), name="c")
    with pytest.raises(ValueError, match=r"unknown compartment or port 'soma'.*basal.*apical"):
        net.connect(a, b, "soma", 1.0)
    with pytest.raises(ValueError, match=r"unknown compartment or port 'basal'"):
        net.connect(a, c, "basal", 1.0)
    with pytest.raises(ValueError, match="'apical'"):
        net.add(OutputNeuron(2), name="o")
        net.connect(a, net.populations[-1], "apical", 1.0)  # the output neuron has no apical dendrite


def test_delay_not_multiple_of_dt(net):
    a = net.add(cs.PoissonSource(4, 5.0), name="a")
    b = net.add(CobaLIF(3), name="b")
    with pytest.raises(ValueError, match=r"'delay'.*multiple of dt"):
        net.connect(a, b, "ge", 1.0, delay=0.15)
    with pytest.raises(ValueError, match="'delay'"):
        net.connect(a, b, "ge", 1.0, delay=-0.1)
    net.connect(a, b, "ge", 1.0, delay=0.3)  # a multiple (not exactly representable) is accepted


def test_bad_connectivity_parameters(net):
    a = net.add(cs.PoissonSource(4, 5.0), name="a")
    b = net.add(CobaLIF(3), name="b")
    with pytest.raises(ValueError, match="'p'"):
        cs.FixedProbability(1.5)
    with pytest.raises(ValueError, match="'k'"):
        net.connect(a, b, "ge", 1.0, connectivity=cs.FixedInDegree(5))  # only 4 presynaptic neurons
    with pytest.raises(ValueError, match="'post'"):
        net.connect(a, b, "ge", 1.0, connectivity=cs.Explicit([0], [3]))


# ---------------------------------------------------------------------------------------------
# sources and monitors
# ---------------------------------------------------------------------------------------------
def test_nan_rate():
    with pytest.raises(ValueError, match="'rates'"):
        cs.PoissonSource(3, np.nan)
    with pytest.raises(ValueError, match="'rates'"):
        cs.PoissonSource(3, [1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="'rates'"):
        cs.PoissonSource(3, -5.0)
    with pytest.raises(ValueError, match="'rates'"):
        cs.PoissonSource(3, np.ones((10, 4)))  # (n_steps, n) with the wrong n


def test_nan_rate_from_callable(net):
    src = net.add(cs.PoissonSource(3, lambda t: np.where(t[:, None] < 1.0, 5.0, np.nan) * np.ones(3)), name="s")
    net.record_spikes(src)
    with pytest.raises(ValueError, match="'rates'"):
        net.run(5.0)


def test_bernoulli_rate_times_dt_above_one():
    net = cs.Network(dt=0.1)
    with pytest.raises(ValueError, match=r"'rates'.*dt"):
        net.add(cs.PoissonSource(3, 20_000.0), name="s")  # 20 kHz * 0.1 ms = 2 > 1
    net.add(cs.PoissonSource(3, 20_000.0, spike_mode="poisson"), name="p")  # fine as Poisson counts
    ok = net.add(cs.PoissonSource(3, 5.0), name="ok")
    with pytest.raises(ValueError, match=r"'rates'.*dt"):
        ok.set_rates(np.full((10, 3), 12_000.0))
    with pytest.raises(ValueError, match=r"phi_max"):
        net.add(SegregatedPyramidal(3, phi_max=20_000.0), name="h")


def test_unknown_recorded_variable(net):
    b = net.add(SegregatedPyramidal(3), name="b")
    with pytest.raises(ValueError, match=r"unknown variable 'v'"):
        net.record(b, ["v_soma", "v"])
    with pytest.raises(ValueError, match="'neurons'"):
        net.record(b, "v_soma", neurons=[0, 3])
    with pytest.raises(ValueError, match="'every'"):
        net.record(b, "v_soma", every=0)


def test_unknown_state_variable_access(net):
    b = net.add(CobaLIF(3), name="b")
    with pytest.raises(ValueError, match="'u'"):
        b["u"] = 0.0
    with pytest.raises(ValueError, match="'v'"):
        b["v"] = [1.0, 2.0]


def test_run_duration(net):
    net.add(CobaLIF(3), name="b")
    with pytest.raises(ValueError, match="'duration'"):
        net.run(-1.0)


# ---------------------------------------------------------------------------------------------
# divergence
# ---------------------------------------------------------------------------------------------
SPIKE_STEP = 50  # both source neurons spike at 5.0 ms


def _diverging(model, port, parallel):
    """Only neuron 3 of 6 receives two spikes of weight 1e308 in the same step: its input becomes inf."""
    net = cs.Network(dt=0.1, seed=1, parallel=parallel)
    src = net.add(cs.SpikeTrainSource(2, [0, 1], [SPIKE_STEP * 0.1] * 2), name="kick")
    pop = net.add(model(6), name="victims")
    net.connect(src, pop, port, 1e308, connectivity=cs.Explicit([0, 1], [3, 3]), synapse=cs.Exponential(2.0))
    var = pop.var_names[0]
    net.record(pop, var, name="v")
    return net, var


@pytest.mark.parametrize("model, port, parallel", [
    (CobaLIF, "I", False), (CobaLIF, "I", True), (SegregatedPyramidal, "basal", False),
])
def test_simulation_diverged_names_population_neuron_time(model, port, parallel):
    net, var = _diverging(model, port, parallel)
    with pytest.raises(cs.SimulationDiverged) as info:
        net.run(20.0, chunk_steps=7)
    err = info.value
    assert isinstance(err, RuntimeError)
    assert err.population == "victims"
    assert err.neuron == 3
    # the input is first read in step SPIKE_STEP + 1; its update is where v becomes non-finite
    # (the report may name that step or the next sample time, at which the state is non-finite)
    assert err.step in (SPIKE_STEP + 1, SPIKE_STEP + 2), err.step
    assert err.t_ms == pytest.approx(err.step * 0.1)
    msg = str(err)
    assert "'victims'" in msg and "neuron 3" in msg and f"{err.t_ms:g} ms" in msg
    # the run stopped at the divergence (not at 20 ms) and kept what was recorded before it
    assert net.t <= (SPIKE_STEP + 2) * 0.1 + 1e-9
    rec = net.results().state["v"]
    assert rec.t[-1] <= err.t_ms + 1e-9 and rec.t.size >= SPIKE_STEP
    assert np.isfinite(rec[var][rec.t < (SPIKE_STEP + 1) * 0.1 - 1e-9]).all()


def test_monitor_variables_must_be_unique_and_non_empty_and_network_stays_usable():
    net = cs.Network(dt=0.1)
    lif = net.add(CobaLIF(3), name="lif")
    for bad in ([], ["v", "v"]):
        with pytest.raises(ValueError, match="'variables'"):
            net.record(lif, bad)
    with pytest.raises(ValueError, match="'name'"):
        net.record(lif, ["v"], name="a/b")
    net.record(lif, ["v"], neurons=np.array([True, False, True]))  # boolean mask
    res = net.run(1.0)
    assert list(res.state["lif_state"].neurons) == [0, 2]


@pytest.mark.parametrize("neurons", [[0.5, 1.0], np.array([True, False])])
def test_bad_neuron_indices(neurons):
    net = cs.Network(dt=0.1)
    lif = net.add(CobaLIF(3), name="lif")
    with pytest.raises(ValueError, match="'neurons'"):
        net.record(lif, ["v"], neurons=neurons)


def test_run_duration_must_be_a_multiple_of_dt():
    net = cs.Network(dt=0.1)
    net.add(CobaLIF(2))
    with pytest.raises(ValueError, match="'duration'"):
        net.run(0.26)


def test_explicit_and_spike_train_indices_must_be_integers():
    with pytest.raises(ValueError, match="'pre'"):
        cs.Explicit([0.9], [1])
    with pytest.raises(ValueError, match="'indices'"):
        cs.SpikeTrainSource(3, [1.5], [2.0])


def test_fixed_probability_tiny_p_gives_valid_indices():
    net = cs.Network(dt=0.1, seed=3)
    a = net.add(CobaLIF(300), name="a")
    proj = net.connect(a, a, "ge", 1.0, connectivity=cs.FixedProbability(1e-21))
    pre, post = proj.synapse_indices()
    assert proj.n_synapses == 0 or (post.min() >= 0 and post.max() < 300)


def test_callable_rates_may_return_a_scalar():
    net = cs.Network(dt=1.0, seed=1)
    src = net.add(cs.PoissonSource(100, rates=lambda t: 200.0), name="src")
    net.record_spikes(src)
    res = net.run(100.0)
    assert res.spikes["src_spikes"].count() > 1000  # 100 x 200 Hz x 0.1 s = 2000 expected


def test_short_rates_array_is_refused_before_the_run():
    net = cs.Network(dt=1.0, seed=1)
    src = net.add(cs.PoissonSource(2, rates=np.full((5, 2), 10.0)), name="src")
    with pytest.raises(ValueError, match="covers 5 steps"):
        net.run(10.0)
    assert net.step == 0


@pytest.mark.parametrize("value", ["abc", None])
def test_non_numeric_weights(value):
    net = cs.Network(dt=0.1)
    a = net.add(CobaLIF(2), name="a")
    with pytest.raises(ValueError, match="'weights'"):
        net.connect(a, a, "ge", value)


def test_connect_needs_populations():
    net = cs.Network(dt=0.1)
    a = net.add(CobaLIF(2), name="a")
    with pytest.raises(ValueError, match="'pre'"):
        net.connect("a", a, "ge", 1.0)
