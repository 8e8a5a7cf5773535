"""The chunk loop is compiled on the promise that its array arguments do not overlap (compsim.engine.noalias):
the store keeps it, and the serial generated functions carry the promise to LLVM."""
import itertools

import numpy as np
from numba import njit

import compsim as cs
from compsim.engine.noalias import NoAliasCompiler
from compsim.engine.state import StateStore
from compsim.models.segregated import OutputNeuron

RNG = np.random.default_rng(11)


def test_adopt_copies_an_array_sharing_memory_with_another_slot():
    store = StateStore()
    base = np.arange(12.0)
    kept = store.adopt("r0", "w", base, kind="weights", doc="weights")
    assert kept is base  # contiguous and alone: taken as it is
    again = store.adopt("r1", "w", base, kind="weights", doc="the same weights")
    view = store.adopt("r2", "w", base[3:7], kind="weights", doc="a view into them")
    assert not np.may_share_memory(again, base) and not np.may_share_memory(view, base)
    np.testing.assert_array_equal(again, base)
    np.testing.assert_array_equal(view, base[3:7])
    assert store.adopt("r0", "w", base, kind="weights", doc="re-adopted by its own slot") is base


def test_replace_refuses_an_array_sharing_memory_with_another_slot():
    store = StateStore()
    store.declare("p0", "state", (2, 3), np.float64, kind="state", doc="state")
    other = store.declare("p1", "state", (2, 3), np.float64, kind="state", doc="state")
    try:
        store.replace("p0_state", other)
    except ValueError as exc:
        assert "p1_state" in str(exc)
    else:
        raise AssertionError("replace accepted an array that another slot holds")


def _two_projections_sharing_weights(same_array):
    """Two plastic projections built from one weight matrix (Fortran order: its transpose is contiguous, the
    layout the store keeps) or from two equal copies of it."""
    net = cs.Network(dt=0.5, seed=4, parallel=False)
    src = net.add(cs.PoissonSource(30, 60.0), name="src")
    a = net.add(OutputNeuron(12), name="a")
    b = net.add(OutputNeuron(12), name="b")
    w = np.asfortranarray(np.abs(np.random.default_rng(5).normal(size=(12, 30))) * 0.05)
    stdp = dict(tau_plus=16.8, tau_minus=33.7, A_plus=0.01, A_minus=0.012, w_max=1.0)
    j1 = net.connect(src, a, "basal", w, plasticity=cs.plasticity.PairSTDP(**stdp))
    j2 = net.connect(src, b, "basal", w if same_array else w.copy(order="F"),
                     plasticity=cs.plasticity.PairSTDP(**stdp))
    net.run(100.0)
    return net, j1, j2


def test_no_two_arrays_of_the_store_overlap_and_one_weight_matrix_gives_independent_projections():
    """A guard: no stage may declare arrays that share memory. (Today ``connect`` copies the user's weights before
    the store adopts them, so the store's own copy is not what keeps the two projections apart here.)"""
    net, j1, j2 = _two_projections_sharing_weights(same_array=True)
    arrays = [a for _, a in net.store.items("state", "weights", "scratch", "record")]
    for x, y in itertools.combinations(arrays, 2):
        assert not np.may_share_memory(x, y)
    _, k1, k2 = _two_projections_sharing_weights(same_array=False)
    np.testing.assert_array_equal(j1.weights, k1.weights)
    np.testing.assert_array_equal(j2.weights, k2.weights)


def test_serial_generated_functions_promise_no_overlap_and_are_inlined_but_threaded_ones_are_not():
    net = cs.Network(dt=1.0, seed=2, batch=4, parallel=True)
    src = net.add(cs.PoissonSource(40, 50.0), name="src")
    post = net.add(OutputNeuron(20), name="post")
    net.connect(src, post, "basal", RNG.normal(size=(post.n, src.n)) * 0.01)
    source = net.source
    for line, following in zip(source.splitlines(), source.splitlines()[1:]):
        if line.startswith("@njit("):
            serial = "parallel=True" not in line
            assert ("pipeline_class=NoAliasCompiler" in line) == serial, following
            called_per_step = serial and not following.startswith(("def run_chunk(", "def copy_steps("))
            assert ("forceinline=True" in line) == called_per_step, following
    assert "pipeline_class=NoAliasCompiler)\ndef copy_steps(" in source  # the copy-major loop
    net.run(10.0)
    assert np.isfinite(post.state).all()


def test_no_alias_compiler_marks_the_pointer_arguments():
    def scale_into(out, x, factor):
        for i in range(x.shape[0]):
            out[i] = factor * x[i]

    promised = njit(pipeline_class=NoAliasCompiler)(scale_into)
    plain = njit(scale_into)
    x, out = RNG.normal(size=37), np.empty(37)
    promised(out, x, 3.0)
    np.testing.assert_array_equal(out, 3.0 * x)
    plain(out, x, 3.0)

    def defined(dispatcher):
        ir = next(iter(dispatcher.inspect_llvm().values()))
        return next(line for line in ir.splitlines() if line.startswith("define") and "scale_into" in line
                    and "cpython" not in line and "cfunc" not in line)

    assert defined(promised).count("noalias") > defined(plain).count("noalias")
