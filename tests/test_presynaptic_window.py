"""The two-phase protocol's presynaptic window sums (FIR kernel), gathered spike by spike, equal the
direct sum of the filtered trains over each window: random counts, lag 0 and 1, kernels of 1 to 10
taps, windows that start with the phase or later, copies with their own spikes; the per-neuron form (the CUDA
backend's thread per neuron, reading the counts) gives the same bits."""
import numpy as np
import pytest
from numba import njit

from compsim.plasticity.segregated import presynaptic_fir, presynaptic_fir_cell


def _direct_window_sum(counts, taps, lag, first, end):
    """``sum_{t=first}^{end-1} sum_k taps[k] counts[t - lag - k]`` (counts before step 0 are 0): (B, n)."""
    total = np.zeros(counts.shape[1:])
    for t in range(first, end):
        for k, tap in enumerate(taps):
            s = t - lag - k
            if s >= 0:
                total += tap * counts[s]
    return total


_fir_cell = njit(presynaptic_fir_cell.py_func)  # callable from Python (it is inlined where it is used)


@pytest.mark.parametrize("lag", [0, 1])
@pytest.mark.parametrize("n_taps", [1, 3, 10])
def test_window_sums_equal_the_direct_filter(lag, n_taps):
    rng = np.random.default_rng(10 * lag + n_taps)
    n_copies, n, taps = 2, 37, rng.uniform(0.01, 0.1, n_taps)
    phases = [(0, 12, 5), (12, 30, 18), (30, 41, 4), (41, 55, 14)]  # (start, end, window): windows up to the phase
    n_steps = phases[-1][1]
    counts = (rng.random((n_steps, n_copies, n)) < 0.2).astype(np.int32) * rng.integers(1, 3, (n_steps, n_copies, n),
                                                                                         dtype=np.int32)
    ring = np.zeros((n_taps, n_copies, n))
    ring_cells = np.zeros((n_taps, n_copies, n))
    spikes = np.zeros((n_copies, n), np.int32)
    n_spiking = np.zeros(n_copies, np.int64)
    for start, end, window in phases:
        sums, sums_cells = np.zeros((n_copies, n)), np.zeros((n_copies, n))
        first = end - window
        for step in range(start, end):
            cnt = counts[step]
            for b in range(n_copies):  # the spike list, as the collection leaves it
                idx = np.flatnonzero(cnt[b])
                spikes[b, :idx.size], n_spiking[b] = idx, idx.size
            presynaptic_fir(cnt, spikes, n_spiking, ring, taps, step, first, end, sums, step >= first, lag)
            for b in range(n_copies):
                for j in range(n):
                    _fir_cell(b, j, cnt, ring_cells, taps, step, first, end, sums_cells, step >= first, lag)
        np.testing.assert_array_equal(sums_cells, sums)
        np.testing.assert_allclose(sums, _direct_window_sum(counts, taps, lag, first, end), rtol=1e-13, atol=1e-15)
        assert sums.max() > 0
