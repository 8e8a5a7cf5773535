"""Compiled building blocks the generated chunk loop calls: spike bookkeeping, delivery, recording.

All functions work on plain arrays with the batch axis first (``(B, n)``) and
never allocate. Each copy is computed on its own, in the same order whatever
the batch size, so copy ``b`` of a batched run is bit-identical to a
single-copy run on the same random streams. The one exception is graded
(rate) transmission through dense weights (:func:`deliver_graded_dense`): one
matrix product for the whole batch, equal to a single-copy run to rounding.
"""
import math

import numpy as np
from numba import njit

# above this fraction of presynaptic neurons spiking in one step (in one copy), a dense
# projection with at least DENSE_BLAS_MIN_POST targets switches from event-driven row adds
# to one BLAS gemv for that copy (below that many targets the call costs more than the adds)
DENSE_BLAS_FRACTION = 0.125
DENSE_BLAS_MIN_POST = 64
# neurons scanned together by collect_spikes
COLLECT_BLOCK = 64


@njit(cache=True)
def copy_into(dst, src):
    """``dst[...] = src`` for two C-contiguous arrays of one size (any shapes), element by element: an array
    assignment needs Numba's runtime, which CUDA kernels lack, so stages that run on the device copy with this."""
    d = dst.reshape(dst.size)
    s = src.reshape(src.size)
    for k in range(d.shape[0]):
        d[k] = s[k]


@njit(cache=True)
def collect_spikes(cnt, spk, nsp):
    """Per copy ``b``: the indices of neurons with ``cnt[0, b, i] > 0`` into ``spk[b]``, their number into ``nsp[b]``
    (:func:`collect_copy`)."""
    for b in range(spk.shape[0]):
        nsp[b] = collect_copy(cnt[0, b], spk[b])


@njit(cache=True)
def collect_copy(counts, out):
    """The indices of the neurons with ``counts[i] > 0``, in ascending order, into ``out``; returns their number.

    Counts are >= 0; blocks of :data:`COLLECT_BLOCK` neurons whose OR is zero
    (no spike: nearly all of them in sparse activity) are skipped after one
    vectorised pass. One copy at a time (the CUDA backend gives each copy a thread).
    """
    n = counts.shape[0]
    k = 0
    full = n // COLLECT_BLOCK
    for block in range(full):
        start = block * COLLECT_BLOCK
        seen = 0
        for i in range(COLLECT_BLOCK):  # fixed trip count: vectorised
            seen |= counts[start + i]
        if seen != 0:
            for i in range(start, start + COLLECT_BLOCK):
                if counts[i] > 0:
                    out[k] = i
                    k += 1
    for i in range(full * COLLECT_BLOCK, n):
        if counts[i] > 0:
            out[k] = i
            k += 1
    return k


# -- order-preserving spike collection of the CUDA backend, in parallel (large populations): each thread counts the
# spikes of a chunk of neurons; the counts become offsets (within groups of chunks, then over the groups); each
# thread lists its chunk's spikes from its offset. The list equals collect_copy's.

#: neurons a thread counts and lists
CHUNK_NEURONS = 64
#: chunks whose offsets one thread adds up
GROUP_CHUNKS = 64


@njit(cache=True)
def count_chunk(counts, c):
    """How many neurons of chunk ``c`` (:data:`CHUNK_NEURONS` from ``c * CHUNK_NEURONS``) have ``counts[i] > 0``."""
    k = 0
    for i in range(c * CHUNK_NEURONS, min((c + 1) * CHUNK_NEURONS, counts.shape[0])):
        k += 1 if counts[i] > 0 else 0
    return k


@njit(cache=True)
def offsets_in_place(values, start, stop):
    """``values[start:stop]`` becomes its exclusive running sum; returns the total."""
    total = 0
    for k in range(start, stop):
        v = values[k]
        values[k] = total
        total += v
    return total


@njit(cache=True)
def list_chunk(counts, c, first, out):
    """The neurons of chunk ``c`` with ``counts[i] > 0``, ascending, into ``out`` from position ``first``."""
    for i in range(c * CHUNK_NEURONS, min((c + 1) * CHUNK_NEURONS, counts.shape[0])):
        if counts[i] > 0:
            out[first] = i
            first += 1


@njit(cache=True)
def first_nonfinite(state, b):
    """First neuron of copy ``b`` with a non-finite value in any row of ``state`` (n_vars, B, n), or 0."""
    for i in range(state.shape[2]):
        for r in range(state.shape[0]):
            if not math.isfinite(state[r, b, i]):
                return i
    return 0


@njit(cache=True)
def replay_spikes(step, sp_step, sp_idx, cursor, cnt):
    """Counts of a pre-recorded spike train at ``step`` into every copy of ``cnt[0]`` (sorted by step)."""
    counts = cnt[0]
    counts[:] = 0
    first, end = due_spikes(step, sp_step, cursor[0])
    for b in range(counts.shape[0]):
        replay_copy(b, sp_idx, first, end, counts)
    cursor[0] = end


@njit(cache=True, inline="always")
def due_spikes(step, sp_step, p):
    """Positions ``[first, end)`` of the spikes due at ``step`` in the list sorted by step, searched from ``p``."""
    n = sp_step.shape[0]
    while p < n and sp_step[p] < step:
        p += 1
    end = p
    while end < n and sp_step[end] == step:
        end += 1
    return p, end


@njit(cache=True, inline="always")
def replay_copy(b, sp_idx, first, end, counts):
    """Copy ``b`` counts the listed spikes ``first .. end - 1`` (a neuron listed twice spikes twice)."""
    for p in range(first, end):
        counts[b, sp_idx[p]] += 1


@njit(cache=True, _nrt=False, forceinline=True)
def deliver_dense(b0, b1, spk, nsp, cnt, wt, cnt_f, dot_out, target):
    """``target[b] += W @ counts[b]`` for copies ``b0 .. b1 - 1``; ``wt`` is W transposed, (n_pre, n_post).

    Each copy chooses on its own activity: event-driven (contiguous row adds,
    :func:`add_rows`) or, when more than :data:`DENSE_BLAS_FRACTION` of
    the presynaptic neurons spike and there are at least
    :data:`DENSE_BLAS_MIN_POST` targets, one BLAS gemv into the scratch ``dot_out``
    (:func:`add_product`). Compiled without reference counting: the views it takes per copy cost nothing;
    and into its caller, the chunk loop, which calls it per copy and step (a call passes each array's
    pointers, shape and strides on the stack).
    """
    n_pre, n_post = wt.shape
    for b in range(b0, b1):
        m = nsp[b]
        if m == 0:
            continue
        if m > DENSE_BLAS_FRACTION * n_pre and n_post >= DENSE_BLAS_MIN_POST:
            dense = cnt_f[b]
            dense[:] = 0.0
            for k in range(m):
                j = spk[b, k]
                dense[j] = cnt[b, j]
            add_product(dense, wt, dot_out[b], target[b])
        else:
            add_rows(spk[b], m, cnt[b], wt, target[b])


@njit(cache=True, _nrt=True)  # np.dot needs Numba's runtime (the chunk loop runs without it)
def add_product(x, wt, scratch, out):
    """``out += x @ wt`` through ``scratch`` (one BLAS gemv)."""
    np.dot(x, wt, scratch)
    out += scratch


@njit(cache=True, _nrt=False)
def add_rows(spikes, m, counts, wt, out):
    """``out += c_j wt[j]`` for the first ``m`` ``spikes`` j, in their order: ``out[i]`` gets the terms one by one,
    as a thread summing them for target i would (:func:`gather_dense`), but four rows are added in one pass, so
    that ``out`` is read and written once per four spikes (a quarter of the memory traffic). ``c_j w``
    is ``w`` exactly for a single spike."""
    k = 0
    while k + 4 <= m:
        j0, j1, j2, j3 = spikes[k], spikes[k + 1], spikes[k + 2], spikes[k + 3]
        c0, c1, c2, c3 = float(counts[j0]), float(counts[j1]), float(counts[j2]), float(counts[j3])
        w0, w1, w2, w3 = wt[j0], wt[j1], wt[j2], wt[j3]
        for i in range(out.shape[0]):
            out[i] = (((out[i] + c0 * w0[i]) + c1 * w1[i]) + c2 * w2[i]) + c3 * w3[i]
        k += 4
    for q in range(k, m):
        c, w = float(counts[spikes[q]]), wt[spikes[q]]
        for i in range(out.shape[0]):
            out[i] += c * w[i]


@njit(cache=True, _nrt=False)
def deliver_sparse(b0, b1, spk, nsp, cnt, indptr, indices, w, target):
    """Event-driven delivery of the spikes of copies ``b0 .. b1 - 1`` through a CSR matrix (rows = presynaptic
    neurons)."""
    for b in range(b0, b1):
        for k in range(nsp[b]):
            j = spk[b, k]
            c = cnt[b, j]
            for s in range(indptr[j], indptr[j + 1]):
                target[b, indices[s]] += c * w[s]


@njit(cache=True, _nrt=True)  # np.dot needs Numba's runtime (the chunk loop runs without it)
def deliver_graded_dense(values, wt, dot_out, target):
    """``target[b] += W @ values[b]`` for every copy ``b``; ``wt`` is W transposed.

    One BLAS product for the whole batch (gemm: the weights are read once per step, not once per
    copy, which decides the speed of large batched rate networks). A copy's result can differ from a
    single-copy run in the last bits where the BLAS library blocks a batch differently from one row.
    """
    if values.shape[0] == 1:
        np.dot(values[0], wt, dot_out[0])
    else:
        np.dot(values, wt, dot_out)
    target += dot_out


@njit(cache=True)
def deliver_graded_sparse(values, indptr, indices, w, target):
    """``target[b] += W @ values[b]`` through a CSR matrix (rows = presynaptic units), skipping zero activities."""
    for b in range(values.shape[0]):
        out = target[b]
        row = values[b]
        for j in range(row.shape[0]):
            v = row[j]
            if v != 0.0:
                for s in range(indptr[j], indptr[j + 1]):
                    out[indices[s]] += v * w[s]


# -- one target at a time: the delivery of the CUDA backend (a thread per copy and target). Each sums the
# same terms in the same order as the event-driven CPU kernels above, so the bits agree wherever the device
# rounds as the CPU does (no fused multiply-add).

@njit(cache=True)
def gather_dense(b, i, spk, nsp, cnt, wt, target):
    """``target[b, i] += sum_k c_k W[i, j_k]`` over copy ``b``'s spikes ``j_k`` (ascending), as :func:`deliver_dense`'s
    row adds do (its BLAS path for dense activity sums in the library's order instead)."""
    acc = target[b, i]
    for k in range(nsp[b]):
        j = spk[b, k]
        c = cnt[b, j]
        acc += wt[j, i] if c == 1 else c * wt[j, i]
    target[b, i] = acc


@njit(cache=True)
def gather_sparse(b, i, cnt, by_post_ptr, by_post_pre, by_post, w, target):
    """``target[b, i] += sum c_j w_s`` over the synapses ``s`` onto target ``i`` (listed by
    :meth:`compsim.projection.Projection.post_major`: ascending presynaptic index, then storage order) whose
    presynaptic neuron ``j`` spiked: the order in which :func:`deliver_sparse` adds them. With graded activities
    ``c`` in the place of spike counts, the order of :func:`deliver_graded_sparse`."""
    acc = target[b, i]
    for e in range(by_post_ptr[i], by_post_ptr[i + 1]):
        c = cnt[b, by_post_pre[e]]
        if c != 0:
            acc += c * w[by_post[e]]
    target[b, i] = acc


#: a target with more events than this in a step sums them by scanning its synapses (:func:`gather_sparse`)
#: instead of sorting them (:func:`sum_events`): the same terms in the same order, O(in-degree)
SORT_EVENTS_MAX = 32


@njit(cache=True)
def sum_events(b, i, cnt, by_post_ptr, by_post_pre, by_post, syn_pre, w, fill, events, target):
    """The second pass of the CUDA backend's event-driven sparse delivery: ``target[b, i] += sum c_j w_s`` over the
    ``fill[b, i]`` synapses ``s`` onto target ``i`` whose presynaptic neuron ``j = syn_pre[s]`` spiked this step.

    The first pass (a thread per spike and synapse) listed them in ``events[b, by_post_ptr[i]:]`` in the order the
    threads arrived; here they are sorted by storage index, the order in which :func:`deliver_sparse` adds them
    (ascending presynaptic neuron, then storage order), so the sum is the CPU's, bit for bit where the device rounds
    as the CPU does. Above :data:`SORT_EVENTS_MAX` events the target scans its synapses instead
    (:func:`gather_sparse`: the same terms in the same order). ``fill[b, i]`` is reset for the next step.
    """
    m = fill[b, i]
    if m == 0:
        return
    fill[b, i] = 0
    if m > SORT_EVENTS_MAX:
        gather_sparse(b, i, cnt, by_post_ptr, by_post_pre, by_post, w, target)
        return
    ev = events[b]
    first = by_post_ptr[i]
    for a in range(first + 1, first + m):  # insertion sort: a few events per target and step
        key = ev[a]
        k = a - 1
        while k >= first and ev[k] > key:
            ev[k + 1] = ev[k]
            k -= 1
        ev[k + 1] = key
    acc = target[b, i]
    for a in range(first, first + m):
        s = ev[a]
        acc += cnt[b, syn_pre[s]] * w[s]
    target[b, i] = acc


@njit(cache=True)
def gather_graded(b, i, values, wt, target):
    """``target[b, i] += sum_j W[i, j] values[b, j]`` (ascending j; :func:`deliver_graded_dense` sums in BLAS order,
    so the two agree to rounding)."""
    dot = 0.0
    for j in range(values.shape[1]):
        dot += wt[j, i] * values[b, j]
    target[b, i] += dot


@njit(cache=True)
def record_spikes(step, spk, nsp, cnt, buf_step, buf_copy, buf_idx, buf_cnt, pos):
    """Append this step's spikes of every copy to a spike monitor buffer; returns the new fill position."""
    for b in range(nsp.shape[0]):
        for k in range(nsp[b]):
            record_spike(pos, step, b, spk[b, k], cnt, buf_step, buf_copy, buf_idx, buf_cnt)
            pos += 1
    return pos


@njit(cache=True, inline="always")
def record_spike(pos, step, b, j, cnt, buf_step, buf_copy, buf_idx, buf_cnt):
    """Record ``pos`` of a spike monitor buffer: neuron ``j`` of copy ``b`` spiked ``cnt[b, j]`` times at ``step``."""
    buf_step[pos] = step
    buf_copy[pos] = b
    buf_idx[pos] = j
    buf_cnt[pos] = cnt[b, j]


@njit(cache=True)
def record_events(step, counts, buf_step, buf_copy, buf_idx, buf_cnt, pos, capacity):
    """Append the non-zero counts of ``counts`` (B, n) (an event row); stops at ``capacity``; returns the position."""
    for b in range(counts.shape[0]):
        row = counts[b]
        for j in range(row.shape[0]):
            if row[j] > 0 and pos < capacity:
                buf_step[pos] = step
                buf_copy[pos] = b
                buf_idx[pos] = j
                buf_cnt[pos] = row[j]
                pos += 1
    return pos


@njit(cache=True)
def count_spikes(spk, nsp, cnt, out, pos):
    """Total spike count of each copy into ``out[pos, b]``."""
    for b in range(nsp.shape[0]):
        out[pos, b] = count_copy(b, spk, nsp, cnt)


@njit(cache=True, inline="always")
def count_copy(b, spk, nsp, cnt):
    """Total spike count of copy ``b`` (its spike list, in order)."""
    total = 0
    for k in range(nsp[b]):
        total += cnt[b, spk[b, k]]
    return total


@njit(cache=True)
def sample_weights(step, weights, synapses, every, values, steps, fill):
    """Every ``every[0]`` steps, copy ``weights[synapses]`` into the next row of ``values`` (slots, 1, 1, K)."""
    if step % every[0] != 0:
        return
    pos = fill[0]
    for k in range(synapses.shape[0]):
        sample_weight(k, weights, synapses, values[pos, 0, 0])
    steps[pos] = step
    fill[0] = pos + 1


@njit(cache=True, inline="always")
def sample_weight(k, weights, synapses, row):
    """Sample ``k`` of a weight monitor's row: the weight of synapse ``synapses[k]`` (flat ``weights``)."""
    row[k] = weights[synapses[k]]
