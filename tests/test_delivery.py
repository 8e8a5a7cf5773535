"""Spike delivery kernels and spike listing, against NumPy: both paths of the dense delivery (row adds
in spike order, bit for bit; BLAS for dense activity, to rounding), copy ranges, CSR delivery, and the
16-lane listing of non-zero counts (:mod:`compsim.simd`)."""
import numpy as np
import pytest
from numba import njit

import compsim as cs
from compsim.engine import kernels
from compsim.models import OutputNeuron
from compsim.simd import list_nonzero

RNG = np.random.default_rng(5)


@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 100, 500, 784])
@pytest.mark.parametrize("density", [0.0, 0.07, 0.5, 1.0])
def test_list_nonzero_equals_numpy(n, density):
    values = (RNG.random(n) < density).astype(np.int32) * RNG.integers(1, 4, n).astype(np.int32)
    out = np.full(n + 1, -7, np.int32)
    m = list_nonzero(values, out)
    assert m == np.count_nonzero(values)
    assert np.array_equal(out[:m], np.flatnonzero(values))


def test_list_nonzero_uses_a_compress_store():
    """The listing compiles to LLVM's masked compress store (vpcompressd with AVX-512), 16 indices at a time."""
    fresh = njit(list_nonzero.py_func)  # cached code cannot be inspected: compile it again
    fresh(np.zeros(40, np.int32), np.zeros(40, np.int32))
    assert "llvm.masked.compressstore.v16i32" in fresh.inspect_llvm(fresh.signatures[0])


def _spikes(counts):
    """Per copy: the spiking neurons (ascending) and their number, as the engine lists them."""
    spk = np.zeros(counts.shape, np.int32)
    nsp = np.zeros(counts.shape[0], np.int64)
    for b, row in enumerate(counts):
        idx = np.flatnonzero(row)
        spk[b, :idx.size], nsp[b] = idx, idx.size
    return spk, nsp


@pytest.mark.parametrize("fraction", [0.05, 0.6])  # row adds; BLAS gemv (above DENSE_BLAS_FRACTION)
def test_deliver_dense_equals_numpy_for_a_range_of_copies(fraction):
    B, n_pre, n_post = 5, 40, kernels.DENSE_BLAS_MIN_POST + 3
    counts = ((RNG.random((B, n_pre)) < fraction) * RNG.integers(1, 3, (B, n_pre))).astype(np.int32)
    spk, nsp = _spikes(counts)
    assert (nsp > kernels.DENSE_BLAS_FRACTION * n_pre).all() == (fraction > 0.5)
    wt = RNG.normal(size=(n_pre, n_post))
    start = RNG.normal(size=(B, n_post))
    target = start.copy()
    kernels.deliver_dense(1, 4, spk, nsp, counts, wt, np.zeros((B, n_pre)), np.zeros((B, n_post)), target)
    assert np.array_equal(target[[0, 4]], start[[0, 4]])  # copies outside the range are untouched
    for b in (1, 2, 3):
        if fraction < 0.5:  # row adds: the terms one by one in spike order, exactly
            expected = start[b].copy()
            for j in spk[b, :nsp[b]]:
                expected = expected + counts[b, j] * wt[j]
            assert np.array_equal(target[b], expected)
        else:
            np.testing.assert_allclose(target[b], start[b] + counts[b] @ wt, rtol=1e-12, atol=1e-12)


def test_deliver_sparse_equals_numpy_for_a_range_of_copies():
    B, n_pre, n_post = 4, 30, 20
    W = RNG.normal(size=(n_pre, n_post)) * (RNG.random((n_pre, n_post)) < 0.3)
    indptr = np.concatenate([[0], np.cumsum((W != 0).sum(axis=1))]).astype(np.int64)
    indices = np.concatenate([np.flatnonzero(row) for row in W]).astype(np.int64)
    counts = (RNG.random((B, n_pre)) < 0.2).astype(np.int32)
    spk, nsp = _spikes(counts)
    target = np.zeros((B, n_post))
    kernels.deliver_sparse(0, 3, spk, nsp, counts, indptr, indices, W[W != 0], target)
    np.testing.assert_allclose(target[:3], counts[:3] @ W, rtol=1e-13, atol=1e-13)
    assert not target[3].any()


def test_chunk_loop_runs_without_reference_counting():
    """run_chunk and the serial population steps are compiled without Numba's runtime (no atomic reference
    counts for the array views they take per copy and step); threaded steps keep it (parallel loops allocate),
    and so do the kernels calling BLAS, which say so. The loop still runs, BLAS path included."""
    net = cs.Network(dt=1.0, seed=2, parallel=False)
    src = net.add(cs.PoissonSource(40, 900.0), name="src")  # most neurons spike each step: the BLAS path
    post = net.add(OutputNeuron(kernels.DENSE_BLAS_MIN_POST), name="post")
    net.connect(src, post, "basal", RNG.normal(size=(post.n, src.n)) * 0.01)
    source = net.source
    assert "@njit(cache=True, nogil=True, _nrt=False, pipeline_class=NoAliasCompiler)\ndef run_chunk(" in source
    assert f"_nrt=False, pipeline_class=NoAliasCompiler, forceinline=True)\ndef step_pop{post.index}(" in source
    for kernel in (kernels.add_product, kernels.deliver_graded_dense):
        assert kernel.targetoptions["_nrt"] is True
    net.run(20.0)
    assert np.isfinite(post.state).all() and post.state[0].std() > 0
