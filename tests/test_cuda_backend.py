"""The CUDA backend gives the CPU backend's results (``compsim.engine.cuda``).

Run on numba-cuda's simulator (``tests/conftest.py`` sets ``NUMBA_ENABLE_CUDASIM=1``), which
executes the generated kernel as Python threads with the CPU's rounding: spikes, recorded traces
and the final state must then equal the CPU backend's bit for bit. On a real GPU
(``NUMBA_ENABLE_CUDASIM=0``) fused multiply-adds change the last bits, so there the states are
compared to 1e-12 relative and spike trains must agree (the networks here are small and short).

The simulator runs one block of a few threads and is slow (tens of ms per step), so the networks
are tiny and the runs short.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import compsim as cs
from compsim.engine import cuda as cuda_backend
from compsim.engine.plan import Stage
from compsim.models import ActiveDendriteNeuron, CobaLIF, ConductanceNeuron, NaudSprekelerNeuron, UrbanczikNeuron
from compsim.plasticity.urbanczik import UrbanczikSenn
from compsim.protocols.bac_firing import bac_cell
from compsim.protocols.nudging import SomaticNudging
from compsim.models.cobahh import build_cobahh
from compsim.models.segdend import build_segregated_network
from compsim.plasticity.segregated import SegregatedLearning
from compsim.protocols.two_phase import SegregatedTraining

pytestmark = pytest.mark.skipif(not cuda_backend.availability()[0], reason=cuda_backend.availability()[1])
EXACT = cuda_backend.simulated()  # the simulator rounds as the CPU does


def assert_same(cpu, gpu, what, exact=True):
    """Equal bit for bit on the simulator (``exact``: the CPU sums in the same order), else to 1e-12 relative
    (float32: 1e-5, a few roundings of fused multiply-adds)."""
    if EXACT and exact:
        np.testing.assert_array_equal(gpu, cpu, err_msg=what)
    elif np.asarray(cpu).dtype == np.float32:
        np.testing.assert_allclose(gpu, cpu, rtol=1e-5, atol=1e-6, err_msg=what)
    else:
        np.testing.assert_allclose(gpu, cpu, rtol=1e-12, atol=1e-14, err_msg=what)


def assert_same_results(a, b, exact=True, every_train_spikes=True):
    """Spike and event trains and population counts equal; state and weight traces equal (bit for bit on the
    simulator)."""
    assert set(a.spikes) == set(b.spikes) and set(a.state) == set(b.state)
    for name, train in a.spikes.items():
        np.testing.assert_array_equal(b.spikes[name].t, train.t, err_msg=name)
        np.testing.assert_array_equal(b.spikes[name].i, train.i, err_msg=name)
        assert train.t.size > 0 or not every_train_spikes, f"{name}: no spikes, nothing compared"
    assert any(train.t.size for train in a.spikes.values()), "no spikes at all: nothing compared"
    for name, trace in a.state.items():
        for var in trace.vars:
            assert_same(trace[var], b.state[name][var], f"{name}.{var}", exact)
    assert set(a.rates) == set(b.rates)
    for name, rate in a.rates.items():
        np.testing.assert_array_equal(b.rates[name].counts, rate.counts, err_msg=name)


def coba_net(backend, batch=2, chunk_steps=1000, dtype="float64"):
    """Poisson drive -> CobaLIF E/I: sparse (fixed probability, fixed in-degree), dense, a delay, a double
    exponential synapse; different rates and initial potentials per copy."""
    net = cs.Network(dt=0.1, seed=11, batch=batch, backend=backend, chunk_steps=chunk_steps, dtype=dtype)
    drive = net.add(cs.PoissonSource(20), name="drive")
    exc = net.add(CobaLIF(16), name="exc")
    inh = net.add(CobaLIF(6), name="inh")
    drive.set_rates(np.random.default_rng(6).uniform(50.0, 200.0, (batch, 20)))
    exc["v"] = -60.0 + np.random.default_rng(5).uniform(-8.0, 8.0, (batch, 16))
    net.connect(drive, exc, "ge", 3.0, connectivity=cs.FixedProbability(0.3))
    net.connect(drive, inh, "ge", 3.0)
    net.connect(exc, exc, "ge", 1.0, connectivity=cs.FixedProbability(0.2), delay=0.5)
    net.connect(exc, inh, "ge", 2.0)
    net.connect(inh, exc, "gi", 6.0, connectivity=cs.FixedInDegree(3), synapse=cs.DoubleExponential(1.0, 6.0))
    for pop in (drive, exc, inh):
        net.record_spikes(pop)
    net.record(exc, ["v", "ge", "gi"], neurons=[0, 7, 15])
    return net


def assert_backends_agree(build, duration_ms):
    """Build the network on both backends, run ``duration_ms``: same results and final state; returns the networks."""
    nets = {backend: build(backend) for backend in ("cpu", "cuda")}
    results = {backend: net.run(duration_ms) for backend, net in nets.items()}
    assert_same_results(results["cpu"], results["cuda"])
    assert_same_store(nets["cpu"], nets["cuda"])
    return nets


def test_coba_like_batch_equals_cpu_spikes_traces_and_final_state():
    assert_backends_agree(coba_net, 4.0)


def busy_sparse_net(backend):
    """Sparse input so dense in time that a target receives about SORT_EVENTS_MAX events a step (120 sources x 0.3
    spikes per step x 0.9 connection probability = 32.4, sd 5.5; 60 target-steps): both ways of adding them."""
    net = cs.Network(dt=0.1, seed=12, batch=2, backend=backend, chunk_steps=4)
    drive = net.add(cs.PoissonSource(120, 3000.0), name="drive")
    pop = net.add(CobaLIF(3), name="pop")
    net.connect(drive, pop, "ge", 0.05, connectivity=cs.FixedProbability(0.9))
    net.record(pop, ["ge"])
    net.record_spikes(drive)  # about 70 spikes a step: the spike buffers fill and grow within the run
    return net


def test_sparse_delivery_with_few_and_many_events_per_target_equals_cpu():
    """Also: chunks of 4 steps, each drained while the next runs, and spike buffers that fill (the chunk stops
    early) and grow."""
    from compsim.engine.kernels import SORT_EVENTS_MAX
    assert SORT_EVENTS_MAX == 32  # the network above is sized for it
    nets = {backend: busy_sparse_net(backend) for backend in ("cpu", "cuda")}
    for net in nets.values():
        net.run(1.0)  # 3 chunks
        net.run(2.0, chunk_steps=15)  # about 1,000 records a chunk: the buffers (960) fill
    results = {backend: n.results() for backend, n in nets.items()}
    assert_same_results(results["cpu"], results["cuda"], every_train_spikes=False)
    monitor = nets["cuda"].monitors[1]
    capacity = int(monitor.store.get(monitor.owner, "capacity")[0])
    assert capacity > 4 * 120 * 2  # grew from its first size (4 records per neuron and copy)
    assert_same_store(nets["cpu"], nets["cuda"])


def many_neurons_net(backend):
    """Populations large enough for the parallel spike collection: 4,200 sources (66 chunks of neurons in two
    groups) and 70 targets (two chunks)."""
    net = cs.Network(dt=0.1, seed=13, batch=2, backend=backend)
    drive = net.add(cs.PoissonSource(4200, 100.0), name="drive")
    pop = net.add(CobaLIF(70), name="pop")
    pop["v"] = np.random.default_rng(3).uniform(-52.0, -50.2, (2, 70))  # threshold -50 mV: spikes within the run
    net.connect(drive, pop, "ge", 4.0, connectivity=cs.FixedInDegree(40))
    net.connect(pop, pop, "gi", 0.5, connectivity=cs.FixedProbability(0.2))
    for p in (drive, pop):
        net.record_spikes(p)
    return net


def test_parallel_spike_collection_of_large_populations_equals_cpu():
    from compsim.engine.kernels import CHUNK_NEURONS, GROUP_CHUNKS
    assert 70 > CHUNK_NEURONS and 4200 > CHUNK_NEURONS * GROUP_CHUNKS  # both take the parallel path, over groups
    assert_backends_agree(many_neurons_net, 1.5)


def assert_same_store(cpu, gpu, exact=True):
    """Every state array (potentials, traces, rings, spike-draw state) came back from the device equal."""
    arrays = cpu.store.items("state", "weights")
    assert len(arrays) >= 3
    for key, array in arrays:
        assert_same(array, gpu.store[key], f"store {key}", exact)


def test_float32_chunks_and_runs_equal_one_cpu_run_with_state_written_between_runs():
    """float32, chunks of 7 steps, two runs with the state changed in between: the host sees and sets the
    state at run boundaries, the device keeps it within a run."""
    cpu, gpu = coba_net("cpu", dtype="float32"), coba_net("cuda", chunk_steps=7, dtype="float32")
    for net in (cpu, gpu):
        net.run(3.0)
        exc = next(p for p in net.populations if p.name == "exc")
        exc["v"] = exc["v"] + 2.0  # written on the host between runs
        net.run(3.0)
    assert_same_results(cpu.results(), gpu.results())
    assert_same_store(cpu, gpu)


def test_checkpoint_of_a_cuda_run_continues_on_the_cpu(tmp_path):
    """The host holds the state between runs: a checkpoint saved after a CUDA run, restored into a CPU
    network, continues as the CUDA network does."""
    gpu, cpu = coba_net("cuda"), coba_net("cpu")
    gpu.run(4.0)
    gpu.save_checkpoint(tmp_path / "ck.h5")
    cpu.restore_checkpoint(tmp_path / "ck.h5")
    a, b = cpu.run(4.0, output=tmp_path / "cpu.h5"), gpu.run(4.0, output=tmp_path / "gpu.h5")
    assert_same_results(a, b, every_train_spikes=False)
    assert_same_store(cpu, gpu)


def segregated_net(backend):
    """The segregated-dendrite somas (Poisson counts by time rescaling), the original 10-step FIR kernel
    and same-step delivery (faithful mode's schedule), dense projections, two copies with their own images."""
    seg = build_segregated_network(12, n_out=3, n_in=30, seed=3, dt=1.0, g_a=0.05, method="euler",
                                   spike_mode="poisson_events", synapse=cs.TruncatedDoubleExponential(),
                                   same_step=True, batch=2, backend=backend)
    seg.inp.set_rates(np.random.default_rng(2).uniform(0.0, 200.0, (2, 30)))
    for pop in (seg.inp, seg.hidden[0], seg.out):
        seg.net.record_spikes(pop)
    seg.net.record(seg.hidden[0], ["v_soma", "v_basal", "v_apical"])
    return seg.net


def test_segregated_network_poisson_events_fir_kernel_same_step_equals_cpu():
    assert_backends_agree(segregated_net, 15.0)


def diverging_net(backend):
    """Replayed spikes kick two neurons to infinity."""
    net = cs.Network(dt=0.1, seed=1, backend=backend)
    src = net.add(cs.SpikeTrainSource(2, [0, 1], [0.5, 0.5]), name="kick")
    pop = net.add(CobaLIF(6), name="victims")
    net.connect(src, pop, "I", 1e308, connectivity=cs.Explicit([0, 1], [3, 3]), synapse=cs.Exponential(2.0))
    return net


def test_divergence_is_reported_with_the_cpu_population_neuron_and_time():
    errors = {}
    for backend in ("cpu", "cuda"):
        with pytest.raises(cs.SimulationDiverged) as info:
            diverging_net(backend).run(2.0, chunk_steps=4)
        errors[backend] = info.value
    cpu, gpu = errors["cpu"], errors["cuda"]
    assert (gpu.population, gpu.neuron, gpu.copy, gpu.step) == (cpu.population, cpu.neuron, cpu.copy, cpu.step)


def _drive(net, n, rates, seed):
    src = net.add(cs.PoissonSource(n), name=f"drive{seed}")
    src.set_rates(np.random.default_rng(seed).uniform(*rates, (net.batch, n)))
    return src


def _conductance(net):
    """CWA neurons: rate mode (graded dense delivery from fixed activities) and spiking mode."""
    rng = np.random.default_rng(3)
    act = net.add(cs.ActivitySource(6, rng.uniform(0.0, 1.0, (2, 6))), name="act")
    inh = net.add(cs.ActivitySource(3, rng.uniform(0.0, 1.0, (2, 3)), valence=-1.0), name="inh")
    he = net.add(ConductanceNeuron(5, valence=1.0, C=3.0), name="he")
    out = net.add(ConductanceNeuron(4, valence=1.0, mode="spiking", phi_max=2000.0), name="out")
    net.connect(act, he, "g_e", rng.uniform(0.0, 0.8, (5, 6)))
    net.connect(inh, he, "g_i", 0.4, connectivity=cs.FixedProbability(0.7))  # graded, sparse
    net.connect(he, out, "g_e", rng.uniform(2.0, 4.0, (4, 5)))
    out["V"] = 0.6
    return [out], [(he, ["V", "p"])]


def _bac(net):
    """The three-compartment cell with a calcium plateau in the tuft and an HH soma, current and synaptic input."""
    pop = net.add(bac_cell().population(3, threshold=("soma", -20.0), refractory=2.0, currents=["soma"]), name="pyr")
    pop["soma.I_ext"] = 2000.0
    drive = _drive(net, 6, (200.0, 600.0), 4)
    net.connect(drive, pop, "tuft.epsp", 20.0)
    return [pop], [(pop, ["soma.v", "tuft.v"])]


def _active(net):
    """Active-dendrite neurons with k-winners-take-all (a thread per copy selects)."""
    pop = net.add(ActiveDendriteNeuron(6, segments=2, k=2, phi_max=2000.0), name="ad")
    pop["V"] = np.random.default_rng(4).uniform(0.3, 0.9, (2, 6))
    net.record_events(pop, "win")  # an event monitor (listed in order, a thread per event)
    net.record_rate(pop)  # a rate monitor (a thread per copy)
    rng = np.random.default_rng(5)
    net.connect(_drive(net, 5, (20.0, 200.0), 5), pop, "drive", rng.uniform(0.0, 0.5, (6, 5)))
    net.connect(_drive(net, 4, (20.0, 200.0), 6), pop, "segment1", rng.uniform(0.0, 0.5, (6, 4)))
    return [pop], []


def _naud_sprekeler(net):
    """Two-compartment adaptive neurons (soma and dendrite currents)."""
    pop = net.add(NaudSprekelerNeuron(4, mu_s=150.0, mu_d=-100.0), name="ns")
    pop["v_s"] = np.random.default_rng(6).uniform(-53.0, -50.5, (2, 4))
    net.connect(_drive(net, 5, (100.0, 400.0), 7), pop, "soma", 800.0, connectivity=cs.FixedInDegree(2))
    net.connect(_drive(net, 5, (100.0, 400.0), 8), pop, "dend", 400.0)
    return [pop], []


def _urbanczik(net):
    """Urbanczik-Senn neurons learning dendritic prediction, nudged by a teacher."""
    teacher = net.add(UrbanczikNeuron(2, phi_max=1000.0), name="teacher")
    teacher["u_target"], teacher["g_nudge"] = -30.0, 2000.0  # held high: the student spikes within the short run
    pop = net.add(UrbanczikNeuron(2, phi_max=1000.0), name="us")
    pop["g_nudge"] = 2000.0
    SomaticNudging(teacher, pop)
    w = np.random.default_rng(9).normal(400.0, 100.0, (2, 8))
    proj = net.connect(_drive(net, 8, (20.0, 60.0), 9), pop, "dendrite", w, plasticity=UrbanczikSenn(4000.0))
    net.record_weights(proj, every=10)  # a weight monitor (a thread per synapse)
    net.average(pop, ["v_dend"])  # an average monitor (in the update, tail on thread 0)
    return [pop], [(pop, ["v_dend"])]


# groups of built-in models in one network each (fewer compilations), the integration method, and
# whether the CUDA backend must equal the CPU bit for bit (graded dense delivery: the CPU's BLAS product
# sums in the library's order, the device in index order)
BUILT_IN = {"CWA rate and spiking": ([_conductance], "exponential_euler", False),
            "Naud-Sprekeler, Urbanczik-Senn, active dendrites": ([_naud_sprekeler, _urbanczik, _active], "euler", True)}


def built_in_net(backend, group):
    """The models of ``group`` (:data:`BUILT_IN`) in one network of two copies."""
    builders, method, _ = BUILT_IN[group]
    net = cs.Network(dt=0.1, seed=8, batch=2, backend=backend, method=method)
    for build in builders:
        spiking, traced = build(net)
        for pop in spiking:
            net.record_spikes(pop)
        for pop, variables in traced:
            net.record(pop, variables)
    return net


@pytest.mark.parametrize("group", BUILT_IN)
def test_built_in_models_equal_cpu(group):
    """The built-in models not covered elsewhere here, in small driven networks with two copies."""
    exact = BUILT_IN[group][2]

    def run(backend):
        net = built_in_net(backend, group)
        return net, net.run(2.0)
    (cpu, a), (gpu, b) = run("cpu"), run("cuda")
    assert_same_results(a, b, exact)
    assert_same_store(cpu, gpu, exact)


def cobahh_bac_net(backend):
    """Hodgkin-Huxley somas (generated compartment kernels) with COBA's sparse E/I wiring, and the
    three-compartment cell with a calcium plateau, in one network of two copies."""
    net = build_cobahh(100, seed=2, batch=2, backend=backend).net
    spiking, traced = _bac(net)
    net.record_spikes(spiking[0])
    net.record(*traced[0])
    return net


def test_cobahh_and_the_bac_cell_equal_cpu():
    def run(backend):
        net = cobahh_bac_net(backend)
        return net, net.run(3.2)  # the BAC cell first fires at 2.8 ms
    (cpu, a), (gpu, b) = run("cpu"), run("cuda")
    assert_same_results(a, b)
    assert_same_store(cpu, gpu)


class _UserStage(Stage):
    """A stage of a user's extension, written for the CPU only."""

    phase = "monitors"

    def emit(self, out):
        out.comment("a user's bookkeeping")


def test_stages_without_a_cuda_form_are_refused_by_name():
    net = cs.Network(dt=0.1, backend="cuda")
    pop = net.add(CobaLIF(4), name="pop")
    net.plan = lambda: [("monitors", [_UserStage(pop)])]
    with pytest.raises(ValueError, match=r"backend 'cuda' cannot run 'run pop' \(_UserStage\) yet; run this network "
                                         r"with backend='cpu'"):
        net.run(1.0)


TRAINING_IMAGES = np.random.default_rng(7).uniform(0.0, 1.0, (4, 30))
TRAINING_LABELS = np.array([0, 2, 1, 2])


def segregated_training(backend, hidden=10, spike_mode="poisson_events", sparse_feedback=False, faithful=False,
                        **rule):
    """The two-phase protocol of the segregated-dendrite network (``hidden``: a size or sizes), two copies;
    ``faithful``: the original code's 10-step kernel and same-step feed-forward delivery."""
    kernel = dict(synapse=cs.TruncatedDoubleExponential(), same_step=True) if faithful else {}
    seg = build_segregated_network(hidden, n_out=3, n_in=30, seed=5, dt=1.0, batch=2, spike_mode=spike_mode,
                                   sparse_feedback=sparse_feedback, backend=backend, **kernel)
    rule = SegregatedLearning((0.5,) * (len(seg.hidden) + 1), **rule)
    training = SegregatedTraining(seg, rule, phase_ms=8.0, settle_ms=4.0, test_ms=6.0, test_settle_ms=2.0, seed=2)
    return seg, training


@pytest.mark.parametrize("n_train, options", [(4, {}), (2, dict(hidden=(10, 6), faithful=True, feedback="learned",
                                                                   feedback_etas=(0.1, 0.1)))],
                         ids=["exponential", "fir-learned-feedback"])
def test_two_phase_training_and_test_equal_cpu(n_train, options):
    """The segregated-dendrite protocol (a thread per element; the phase ends in passes) trains two copies on their
    own examples (``n_train``: two rounds, the second from the state the first left, or one) and tests: weights,
    biases and the outputs equal the CPU's. Second case: the faithful kernel (window sums from the counts), two
    hidden layers, learned feedback."""
    images, labels = TRAINING_IMAGES[:n_train], TRAINING_LABELS[:n_train]

    def train(backend):
        seg, training = segregated_training(backend, **options)
        trained = training.train(images, labels)
        tested = training.test(images[:2], labels[:2])
        return seg, trained, tested
    cpu, gpu = train("cpu"), train("cuda")
    assert_same_store(cpu[0].net, gpu[0].net)
    for a, b in zip(cpu[1:], gpu[1:]):
        assert_same(a.mean_output, b.mean_output, "mean output")
    untrained = segregated_training("cpu", **options)[0]
    for before, after in zip(untrained.forward + untrained.feedback, cpu[0].forward + cpu[0].feedback):
        learns = after in cpu[0].forward or options.get("feedback") == "learned"
        assert (np.abs(after.weights - before.weights).max() > 1e-6) == learns  # the network learned


def test_backend_without_simulator_or_gpu_says_what_is_missing():
    code = ("from compsim.engine import cuda\n"
            "ok, detail = cuda.availability()\n"
            "import compsim as cs\n"
            "try:\n"
            "    cs.Network(backend='cuda')\n"
            "    print('AVAILABLE', detail)\n"
            "except RuntimeError as exc:\n"
            "    print('REFUSED', exc)\n")
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    if out.startswith("AVAILABLE"):
        pytest.skip(f"a GPU is present: {out}")
    assert "backend 'cuda' is not available" in out
    assert "numba-cuda" in out and "NUMBA_ENABLE_CUDASIM=1" in out and "backend='cpu'" in out


def test_backend_choice_is_checked():
    with pytest.raises(ValueError, match="'backend'"):
        cs.Network(backend="opencl")


def test_info_lists_the_backends():
    out = subprocess.run([sys.executable, "-m", "compsim.cli", "info", "--backends"], capture_output=True, text=True,
                         check=True).stdout
    lines = out.splitlines()
    assert lines[0].startswith("cpu:  available")
    assert lines[1].startswith("cuda: available")
    assert ("simulator" in lines[1]) == EXACT  # the test session's simulator, or the GPU's name


def stdp_net(backend):
    """Pair STDP (multiplicative, nearest) on a dense projection, triplet STDP (all-to-all) on a sparse one; a
    replayed spike train (neuron 1 twice in one step) adds input."""
    net = cs.Network(dt=0.1, seed=4, batch=2, backend=backend)
    drive = net.add(cs.PoissonSource(12), name="drive")
    drive.set_rates(np.random.default_rng(1).uniform(100.0, 400.0, (2, 12)))
    replay = net.add(cs.SpikeTrainSource(3, [1, 0, 1, 2, 0], [0.3, 0.3, 0.3, 1.2, 2.75]), name="replay")
    post = net.add(CobaLIF(5), name="post")
    post["v"] = -60.0 + np.random.default_rng(2).uniform(0.0, 9.0, (2, 5))
    net.connect(replay, post, "ge", 5.0)
    net.connect(drive, post, "ge", 4.0,
                plasticity=cs.plasticity.PairSTDP(A_plus=0.2, A_minus=0.25, w_max=8.0, mu=1.0, pairing="nearest"))
    net.connect(drive, post, "ge", 3.0, connectivity=cs.FixedProbability(0.5),
                plasticity=cs.plasticity.TripletSTDP.visual_cortex(w_max=8.0))
    for pop in (drive, replay, post):
        net.record_spikes(pop)
    return net


def test_stdp_pair_and_triplet_dense_and_sparse_batch_equal_cpu():
    """Weights shared by two copies change copy by copy, as on the CPU."""
    nets = assert_backends_agree(stdp_net, 3.5)
    changed = [np.abs(p.weights - w0).max() for p, w0 in zip(nets["cpu"].projections[1:], (4.0, 3.0))]
    assert min(changed) > 1e-3, changed  # the rules did change the weights
