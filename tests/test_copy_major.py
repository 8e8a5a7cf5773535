"""The copy-major chunk loop (compsim.engine.cpu.COPY_MAJOR): a threaded batch runs copy by copy through segments of
steps, and gives bit for bit what the step-major loop gives.

It is used when a batch runs on threads and every stage works on one copy at a time; monitors (which record all
copies step by step) keep the step-major loop.
"""
import os
import subprocess
import sys

import numba
import numpy as np
import pytest

import compsim as cs
from compsim.models import CobaLIF, OutputNeuron, SegregatedPyramidal
from compsim.protocols.segregated_mnist import Experiment, build, load_data

B = 3


@pytest.fixture(autouse=True)
def _restore_threads():
    yield
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


def network(parallel, spike_mode="bernoulli", **options):
    """Poisson input (a rate per copy) -> pyramidal layer <-> output layer (feedback delayed), and a sparse
    CobaLIF E/I pair: dense and sparse deliveries, delays, two synapse kernels, Bernoulli or Poisson-event spikes."""
    net = cs.Network(dt=0.1, seed=5, batch=B, parallel=parallel, threads=2 if parallel else None, **options)
    par = np.random.default_rng(1)
    inp = net.add(cs.PoissonSource(40, spike_mode=spike_mode), name="inp")
    inp.set_rates(par.uniform(0.0, 120.0, (B, 40)))
    hid = net.add(SegregatedPyramidal(30, spike_mode=spike_mode), name="hid")
    out = net.add(OutputNeuron(5, spike_mode=spike_mode), name="out")
    exc, inh = net.add(CobaLIF(60), name="exc"), net.add(CobaLIF(15), name="inh")
    net.connect(inp, hid, "basal", par.uniform(-0.4, 0.4, (30, 40)))
    net.connect(hid, out, "basal", par.uniform(-0.4, 0.4, (5, 30)), synapse=cs.DoubleExponential(1.0, 4.0))
    net.connect(out, hid, "apical", par.uniform(-1.0, 1.0, (30, 5)), delay=2.0)
    net.connect(inp, exc, "ge", 6.0, connectivity=cs.FixedProbability(0.2))
    net.connect(exc, inh, "ge", 1.5, connectivity=cs.FixedInDegree(10), delay=0.5)
    net.connect(inh, exc, "gi", 8.0, connectivity=cs.FixedInDegree(5))
    exc["v"] = -60.0 + par.uniform(-5.0, 5.0, (B, 60))
    return net


def final_state(net):
    return {key: array.copy() for key, array in net.store.items("state", "weights")}


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("spike_mode", ["bernoulli", "poisson_events"])
def test_copy_major_equals_step_major(spike_mode):
    serial = network(False, spike_mode)
    serial.run(60.0)
    threaded = network(True, spike_mode)
    threaded.run(60.0, chunk_steps=7)  # segments end at chunk ends too
    assert "def copy_steps(" in threaded.source and "def copy_steps(" not in serial.source
    state = final_state(serial)
    assert_same_state(state, final_state(threaded))
    hidden = serial.populations[1]
    v = state[f"{hidden.owner}_state"][hidden.var_names.index("v_soma")]
    assert not np.array_equal(v[0], v[1])  # each copy its own input and noise


def test_monitors_keep_the_step_major_loop():
    net = network(True)
    net.record_spikes(net.populations[1], name="hid_spk")
    net.run(5.0)
    assert "def copy_steps(" not in net.source


def test_divergence_in_one_copy_is_reported_as_step_by_step():
    """Copy 1 alone gets inputs of weight 1e308: the copy-major loop names the population, copy, neuron and step
    that the step-major loop names."""
    errors = {}
    for parallel in (False, True):
        net = cs.Network(dt=0.1, seed=1, batch=2, parallel=parallel, threads=2 if parallel else None)
        src = net.add(cs.PoissonSource(2), name="kick")
        src.set_rates(np.array([[0.0, 0.0], [3000.0, 3000.0]]))
        pop = net.add(CobaLIF(6), name="victims")
        weights = np.zeros((6, 2))
        weights[3] = 1e308
        net.connect(src, pop, "I", weights, synapse=cs.Exponential(2.0))
        with pytest.raises(cs.SimulationDiverged) as info:
            net.run(20.0, chunk_steps=50)
        errors[parallel] = info.value
        assert ("def copy_steps(" in net.source) == parallel
    step_major, copy_major = errors[False], errors[True]
    assert (copy_major.population, copy_major.copy, copy_major.neuron, copy_major.step) == \
        (step_major.population, step_major.copy, step_major.neuron, step_major.step)
    assert copy_major.population == "victims" and copy_major.copy == 1 and copy_major.neuron == 3


def _training(threads, batch=4):
    exp = Experiment(mode="fast", batch=batch, n_train=12, n_test=6, test_ms=40.0, threads=threads)
    seg, training = build(exp)
    x, y, xt, yt = load_data(exp)
    return seg, training, (x, y, xt, yt)


def test_segregated_fast_mode_trains_identically_copy_major():
    """The two-phase protocol in the copy-major loop: segments end at phase ends, the weight updates run between
    them; training (with a last round that leaves a copy idle) and testing give the same weights, biases and outputs."""
    results = []
    for threads in (1, 2):
        seg, training, (x, y, xt, yt) = _training(threads)
        if threads > 1:
            seg.net.chunk_steps = 13  # chunks end inside phases: a segment ends there too, and the phase goes on
        before = training.test(xt, yt)
        trained = training.train(x[:10], y[:10])  # 3 rounds of 4: copies 2 and 3 idle in the last
        trained2 = training.train(x, y)
        after = training.test(xt, yt)
        assert ("def copy_steps(" in seg.net.source) == (threads > 1)
        results.append((before.mean_output, trained.mean_output, trained2.mean_output, after.mean_output,
                        final_state(seg.net)))
    for a, b in zip(results[0][:4], results[1][:4]):
        np.testing.assert_array_equal(a, b)
    assert_same_state(results[0][4], results[1][4])
    assert not np.array_equal(results[0][0], results[0][3])  # it learned something


def test_experiment_threads():
    """Fast mode shares its copies out over every core by default; faithful mode runs on one thread."""
    assert Experiment(mode="fast", batch=4).cpu_threads() == numba.config.NUMBA_NUM_THREADS
    assert Experiment().cpu_threads() == 1
    assert Experiment(threads=2).cpu_threads() == 1  # one copy: nothing to share out
    assert Experiment(mode="fast", batch=4, threads=1).cpu_threads() == 1
    with pytest.raises(ValueError, match="'threads'"):
        Experiment(threads=0)


COMPILE_ONCE = """
import sys
import numpy as np
import compsim as cs
from compsim.models import OutputNeuron
net = cs.Network(dt=1.0, seed=3, batch=4, parallel=True)
src = net.add(cs.PoissonSource(30, 40.0), name="src")
post = net.add(OutputNeuron(12), name="post")
net.connect(src, post, "basal", np.full((12, 30), 0.01))
net.run(5.0)
module = next(m for name, m in sys.modules.items() if name.startswith("compsim_chunk"))
print(len(module.copy_segment.overloads), len(module.copy_steps.overloads))
"""


def test_the_copy_major_loop_compiles_each_function_once(tmp_path):
    """A literal first segment start or the parallel body's unsigned copy index would compile copy_segment and
    copy_steps again under other signatures (twice the compile time of a first run)."""
    env = {**os.environ, "COMPSIM_CACHE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", COMPILE_ONCE], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", "1"]
