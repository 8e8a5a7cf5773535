"""Compiled building blocks the generated step loop calls: spike bookkeeping and delivery.

All functions work on plain arrays (struct of arrays); none allocates.
"""
import numpy as np
from numba import njit

# above this fraction of presynaptic neurons spiking in one step, a dense
# projection switches from event-driven column adds to one BLAS gemv
DENSE_BLAS_FRACTION = 0.125


@njit(cache=True)
def compact_spikes(cnt, spk):
    """Write the indices of neurons with ``cnt > 0`` into ``spk``.

    Returns ``(n_spiking, total_count, bad)`` where ``bad`` is the first
    neuron whose kernel reported a non-finite state (count -1), or -1.
    """
    nsp = 0
    total = 0
    bad = -1
    for i in range(cnt.shape[0]):
        c = cnt[i]
        if c > 0:
            spk[nsp] = i
            nsp += 1
            total += c
        elif c < 0 and bad < 0:
            bad = i
    return nsp, total, bad


@njit(cache=True)
def replay_spikes(step, sp_step, sp_idx, ptr, cnt):
    """Counts of a pre-recorded spike train at ``step`` (sorted by step; ``ptr[0]`` is the cursor)."""
    cnt[:] = 0
    p = ptr[0]
    n = sp_step.shape[0]
    while p < n and sp_step[p] < step:
        p += 1
    while p < n and sp_step[p] == step:
        cnt[sp_idx[p]] += 1
        p += 1
    ptr[0] = p


@njit(cache=True)
def deliver_dense(spk, nsp, cnt, wt, cnt_f, dot_out, target):
    """``target += W @ counts`` for a dense projection; ``wt`` is W transposed, (n_pre, n_post).

    Sparse activity is propagated event-driven (one contiguous row add per
    spiking neuron); when more than :data:`DENSE_BLAS_FRACTION` of the
    presynaptic neurons spike, a single BLAS gemv into the scratch ``dot_out``
    is used instead.
    """
    if nsp == 0:
        return
    n_pre = wt.shape[0]
    if nsp > DENSE_BLAS_FRACTION * n_pre:
        cnt_f[:] = 0.0
        for k in range(nsp):
            j = spk[k]
            cnt_f[j] = cnt[j]
        np.dot(cnt_f, wt, dot_out)
        target += dot_out
        return
    n_post = wt.shape[1]
    for k in range(nsp):
        j = spk[k]
        c = cnt[j]
        if c == 1:
            for i in range(n_post):
                target[i] += wt[j, i]
        else:
            for i in range(n_post):
                target[i] += c * wt[j, i]


@njit(cache=True)
def deliver_sparse(spk, nsp, cnt, indptr, indices, w, target):
    """Event-driven delivery through a CSR matrix (rows = presynaptic neurons)."""
    for k in range(nsp):
        j = spk[k]
        c = cnt[j]
        for s in range(indptr[j], indptr[j + 1]):
            target[indices[s]] += c * w[s]


@njit(cache=True)
def record_spikes(step, spk, nsp, cnt, buf_step, buf_idx, buf_cnt, pos):
    """Append this step's spikes to a spike monitor buffer; returns the new fill position."""
    for k in range(nsp):
        j = spk[k]
        buf_step[pos] = step
        buf_idx[pos] = j
        buf_cnt[pos] = cnt[j]
        pos += 1
    return pos
