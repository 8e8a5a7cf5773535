"""The learning rules of Guerguiev, Lillicrap & Richards (2017), eLife 6:e22901, as compiled kernels.

The rules act once per training example, at the end of its target phase
(paper Eqs. 23-41; the original code, github.com/jordan-g/Segregated-Dendrite-Deep-Learning,
``deep_learning.py``, ``update_W``). Every quantity is an
average over the last ``W`` steps of a phase (the paper's window
``t_i - (t_{i-1} + Delta t_s)``, 20 ms); subscripts ``f`` and ``t`` mark the
forward and the target phase. ``lambda_max`` is the expected spike count per
step at the maximal rate (``phi_max dt``, 0.2 at 200 Hz and 1 ms), ``sigma``
the logistic function and ``sigma'(x) = sigma(x) (1 - sigma(x))``; potentials
and conductances are dimensionless, as in the paper.

Output layer (somatic potential ``C``, target rate ``lambda_t``, the mean of
``lambda_max sigma(C)`` in the target phase)::

    E_out = k_D lambda_max (lambda_t - lambda_max sigma(C_f)) sigma'(C_f)
    W_out <- W_out + eta_out P_out E_out psp_fᵀ,   b_out <- b_out + eta_out P_out E_out

Hidden layer ``m`` (plateau potentials ``alpha = sigma(mean apical potential)``
at the end of each phase, from the output's broadcast feedback)::

    E_m = k_B lambda_max (alpha_t - alpha_f) sigma'(C_f)
    W_m <- W_m + eta_m P_hidden E_m psp_fᵀ,   b_m <- b_m + eta_m P_hidden E_m

Learned feedback (the original code's ``update_Y``, off in the paper), applied
before the hidden layer's own update; ``psp^A_f`` is the forward-phase
average of the output's filtered spike trains (the apical input)::

    Y_m <- Y_m + eta_Y,m (lambda_max sigma(C_f) - alpha_f) sigma'(A_f) psp^A_fᵀ

``psp_f`` is the forward-phase average of the presynaptic spike trains
filtered by the projection's kernel (exactly what the basal dendrites
summed), ``k_D = g_d / (g_l + g_d)``, ``k_B = g_b / (g_l + g_b + g_a)``,
``P_hidden = 20 / lambda_max`` and ``P_out = 20 / lambda_max**2`` (the
original code's scaling). With a batch of B copies, each presenting its own
example, the copies' changes are averaged (summed copy 0 first, then divided
by the number of copies that showed an example): one fixed order, so the
result does not depend on threads.

Dale's law: the rules have no bounds; after an update of a projection whose
presynaptic population has a Dale declaration (its ``sign``, :mod:`compsim.projection`),
:func:`keep_sign` clips its weights to that sign (``w <- max(w, 0)`` or
``min(w, 0)``). Weights of projections without a sign are not touched.

The kernels act on one element (copy ``b`` and neuron ``i``, one synapse, or one
element): the CUDA backend runs them a thread per element, the CPU in loops
(:mod:`compsim.protocols.two_phase`). Where the CPU is faster with another loop
order (spike lists, trace by trace, row by row, flat arrays), a whole-array
kernel does the same arithmetic in the same order for it, and its per-element
form carries the suffix ``_cell``.
"""
import numpy as np
from numba import njit

from ..checks import check_number, check_positive
from ..fastmath import flush_subnormal, sigmoid

# phase kinds of a schedule
FORWARD, TARGET, TEST = 0, 1, 2


class SegregatedLearning:
    """Parameters of the Guerguiev et al. rules for a network of L hidden layers.

    Parameters
    ----------
    etas : sequence of float
        Learning rates, one per hidden layer then the output layer (the paper:
        ``(0.21, 0.21)`` for 784-500-10, ``(0.23, 0.23, 0.12)`` for 784-500-100-10).
    P_hidden, P_out : float or None
        Error scales; None gives the original ``20 / lambda_max`` and ``20 / lambda_max**2``.
    feedback : {'fixed', 'symmetric', 'learned'}
        ``fixed``: the random feedback matrices never change (the paper);
        ``symmetric``: the feedback of the (single) hidden layer is kept equal
        to the transposed output weights after every update (paper, Fig. 8);
        ``learned``: the feedback matrices learn (module docstring) with the
        rates ``feedback_etas``, one per hidden layer.
    """

    def __init__(self, etas=(0.21, 0.21), *, P_hidden=None, P_out=None, feedback="fixed", feedback_etas=None):
        self.etas = tuple(check_number(f"etas[{k}]", e, lo=0.0, owner="SegregatedLearning") for k, e in enumerate(etas))
        if len(self.etas) < 1:
            raise ValueError("SegregatedLearning: 'etas' needs one learning rate per layer (hidden layers, then output)")
        self.P_hidden = None if P_hidden is None else check_positive("P_hidden", P_hidden, owner="SegregatedLearning")
        self.P_out = None if P_out is None else check_positive("P_out", P_out, owner="SegregatedLearning")
        if feedback not in ("fixed", "symmetric", "learned"):
            raise ValueError(f"SegregatedLearning: parameter 'feedback' must be 'fixed', 'symmetric' or 'learned', "
                             f"got {feedback!r}")
        if (feedback == "learned") != (feedback_etas is not None):
            raise ValueError("SegregatedLearning: 'feedback_etas' (one per hidden layer) goes with feedback='learned'")
        self.feedback = feedback
        self.feedback_etas = None if feedback_etas is None else tuple(
            check_number(f"feedback_etas[{k}]", e, lo=0.0, owner="SegregatedLearning") for k, e in enumerate(feedback_etas))

    def gains(self, lambda_max, n_hidden_layers):
        """``eta * P`` per layer (hidden layers, then output), for expected counts ``lambda_max`` per step."""
        if len(self.etas) != n_hidden_layers + 1:
            raise ValueError(f"SegregatedLearning: 'etas' must have {n_hidden_layers + 1} entries (one per hidden layer, "
                             f"then the output), got {len(self.etas)}")
        p_hidden = 20.0 / lambda_max if self.P_hidden is None else self.P_hidden
        p_out = 20.0 / lambda_max**2 if self.P_out is None else self.P_out
        if self.feedback_etas is not None and len(self.feedback_etas) != n_hidden_layers:
            raise ValueError(f"SegregatedLearning: 'feedback_etas' must have {n_hidden_layers} entries (one per hidden "
                             f"layer), got {len(self.feedback_etas)}")
        return np.array([e * p_hidden for e in self.etas[:-1]] + [self.etas[-1] * p_out])

    def describe(self):
        return {"rule": "Guerguiev2017", "etas": list(self.etas), "P_hidden": self.P_hidden, "P_out": self.P_out,
                "feedback": self.feedback, "feedback_etas": None if self.feedback_etas is None else list(self.feedback_etas)}


# -- per-step work ---------------------------------------------------------------------------------
@njit(cache=True)
def presynaptic_fir(cnt, spk, nsp, ring, taps, step, first, end, sums, in_window, lag):
    """Window sums of the filtered presynaptic spike trains, FIR kernel, as the postsynaptic neurons see them.

    Adds ``sum_{t=first}^{end-1} psp(t)`` to ``sums`` (B, n), where
    ``psp(t) = sum_k taps[k] cnt(t - lag - k)``, k = 0 .. n_taps - 1; ``lag`` is 1 when the
    projection's spikes act from the next step on, 0 for a ``same_step`` projection.

    The sum is gathered spike by spike: the count of neuron j at step s enters once, with
    ``G(s) = sum of taps[k] over first <= s + lag + k <= end - 1`` (the taps that fall into the
    window). Called every step; in the window's steps (``in_window``) it adds the spikes of step
    ``t - lag``, at the window's first step also those of the ``n_taps - 1`` steps before it, read
    from ``ring`` (n_taps, B, n): the counts of the last n_taps steps (step s in slot ``s % n_taps``),
    which it updates every step from the spike list ``spk``/``nsp``.
    """
    n_taps = ring.shape[0]
    for b in range(cnt.shape[0]):
        acc = sums[b]
        if in_window:
            if step == first:  # spikes before the window whose filtered trace reaches into it
                for s in range(step - lag - n_taps + 1, step - lag):
                    _add_scaled(ring[s % n_taps, b], _window_taps(taps, s + lag, first, end), acc)
            g = _window_taps(taps, step, first, end)
            if lag == 0:
                counts = cnt[b]
                for q in range(nsp[b]):
                    j = spk[b, q]
                    acc[j] += g * counts[j]
            else:
                _add_scaled(ring[(step - 1) % n_taps, b], g, acc)
        row = ring[step % n_taps, b]  # this step's counts replace those of step - n_taps
        for i in range(row.shape[0]):  # (a loop: half the time of a slice assignment)
            row[i] = 0.0
        for q in range(nsp[b]):
            j = spk[b, q]
            row[j] = cnt[b, j]


@njit(cache=True, inline="always")
def _window_taps(taps, t, first, end):
    """Sum of ``taps[k]`` over the k with ``first <= t + k <= end - 1`` (a spike acting from step t on)."""
    g = 0.0
    for k in range(max(0, first - t), min(taps.shape[0], end - t)):
        g += taps[k]
    return g


@njit(cache=True, inline="always")
def _add_scaled(row, g, acc):
    """``acc += g row``."""
    for i in range(acc.shape[0]):
        acc[i] += g * row[i]


@njit(cache=True, inline="always")
def presynaptic_fir_cell(b, j, cnt, ring, taps, step, first, end, sums, in_window, lag):
    """:func:`presynaptic_fir` for neuron ``j`` of copy ``b``, from the count array instead of the spike list (a
    neuron outside the list has count 0): the same terms in the same order."""
    n_taps = ring.shape[0]
    if in_window:
        acc = sums[b, j]
        if step == first:
            for s in range(step - lag - n_taps + 1, step - lag):
                acc += _window_taps(taps, s + lag, first, end) * ring[s % n_taps, b, j]
        g = _window_taps(taps, step, first, end)
        if lag == 0:
            if cnt[b, j] != 0:
                acc += g * cnt[b, j]
        else:
            acc += g * ring[(step - 1) % n_taps, b, j]
        sums[b, j] = acc
    ring[step % n_taps, b, j] = cnt[b, j]


@njit(cache=True)
def presynaptic_traces(cnt, traces, factors, sums, in_window, lag):
    """Filtered presynaptic spike trains, exponential kernels, as the projection's postsynaptic traces see them.

    ``traces`` (n_traces, B, n) hold the trace values; ``factors`` are the
    projection's decay factors and output coefficient. One trace: ``psp = x``;
    two: ``psp = coef (x_decay - x_rise)``. Each step ``x <- x * decay + cnt(t)``,
    after ``psp(t)`` is added to ``sums`` (when ``in_window``) if ``lag`` is 1 (spikes
    act from the next step on), before it if ``lag`` is 0 (``same_step`` projection).
    """
    for b in range(cnt.shape[0]):
        presynaptic_traces_copy(b, cnt, traces, factors, sums, in_window, lag)


@njit(cache=True, inline="always")
def presynaptic_traces_copy(b, cnt, traces, factors, sums, in_window, lag):
    """:func:`presynaptic_traces` for copy ``b``: with two traces, one vectorised pass over the copy's inputs
    (each count read once), else input by input."""
    if traces.shape[0] != 2:
        for i in range(sums.shape[1]):
            presynaptic_trace_cell(b, i, cnt, traces, factors, sums, in_window, lag)
        return
    count, x_decay, x_rise, acc = cnt[b], traces[0, b], traces[1, b], sums[b]
    if in_window and lag != 0:
        for i in range(count.shape[0]):
            acc[i] += factors[2] * (x_decay[i] - x_rise[i])
            _advance_pair(i, count, x_decay, x_rise, factors)
    elif in_window:
        for i in range(count.shape[0]):
            _advance_pair(i, count, x_decay, x_rise, factors)
            acc[i] += factors[2] * (x_decay[i] - x_rise[i])
    else:
        for i in range(count.shape[0]):
            _advance_pair(i, count, x_decay, x_rise, factors)


@njit(cache=True, inline="always")
def _advance_pair(i, count, x_decay, x_rise, factors):
    """Input ``i``'s two traces one step on (:func:`_advanced`)."""
    x_decay[i] = _advanced(x_decay[i], factors[0], count[i])
    x_rise[i] = _advanced(x_rise[i], factors[1], count[i])


@njit(cache=True, inline="always")
def presynaptic_trace_cell(b, i, cnt, traces, factors, sums, in_window, lag):
    """:func:`presynaptic_traces` for input ``i`` of copy ``b``."""
    if lag == 0:
        _advance_cell(b, i, cnt, traces, factors)
    if in_window:
        sums[b, i] += _trace_psp(b, i, traces, factors)
    if lag != 0:
        _advance_cell(b, i, cnt, traces, factors)


@njit(cache=True, inline="always")
def _advance_cell(b, i, cnt, traces, factors):
    """The traces of input ``i``, copy ``b``, one step on."""
    for t in range(traces.shape[0]):
        traces[t, b, i] = _advanced(traces[t, b, i], factors[t], cnt[b, i])


@njit(cache=True, inline="always")
def _advanced(x, decay, count):
    """``x * decay + count``; a trace decaying below the smallest normal double becomes 0
    (:func:`compsim.fastmath.flush_subnormal`)."""
    return flush_subnormal(x * decay + count)


@njit(cache=True, inline="always")
def _trace_psp(b, i, traces, factors):
    """The filtered train of input ``i``, copy ``b``: ``x`` (one trace) or ``coef (x_decay - x_rise)`` (two)."""
    if traces.shape[0] == 2:
        return factors[2] * (traces[0, b, i] - traces[1, b, i])
    return traces[0, b, i]


@njit(cache=True, inline="always")
def add_hidden(b, i, state, row_soma, row_apical, sums):
    """``sums[0] += C``, ``sums[1] += A`` (somatic and apical potentials after this step's update), of copy ``b``,
    neuron ``i``."""
    sums[0, b, i] += state[row_soma, b, i]
    sums[1, b, i] += state[row_apical, b, i]


@njit(cache=True, inline="always")
def add_output(b, i, state, row_soma, lambda_max, sums):
    """``sums[0] += C``, ``sums[1] += lambda_max sigma(C)`` (the expected spike count of the step), of copy ``b``,
    output ``i``."""
    v = state[row_soma, b, i]
    sums[0, b, i] += v
    sums[1, b, i] += lambda_max * sigmoid(v)


# -- phase ends -------------------------------------------------------------------------------------
@njit(cache=True)
def close_window(sums, window, means):
    """``means = sums / window``; ``sums = 0`` (ready for the next phase). Any shape."""
    s = sums.reshape(sums.size)
    m = means.reshape(means.size)
    for k in range(s.shape[0]):
        _close(k, s, window, m)


@njit(cache=True, inline="always")
def close_cell(k, sums, window, means):
    """:func:`close_window` for element ``k`` (C order)."""
    _close(k, sums.reshape(sums.size), window, means.reshape(means.size))


@njit(cache=True)
def close_window_copy(b, sums, window, means):
    """:func:`close_window` for copy ``b`` of arrays (..., B, n) (the batch axis second to last)."""
    s, m = by_copy(sums), by_copy(means)
    for r in range(s.shape[0]):
        for i in range(s.shape[2]):
            m[r, b, i] = s[r, b, i] / window
            s[r, b, i] = 0.0


@njit(cache=True, inline="always")
def by_copy(a):
    """C-contiguous array ``a`` (..., B, n) as a view (rows, B, n)."""
    batch, n = a.shape[-2], a.shape[-1]
    return a.reshape((a.size // (batch * n), batch, n))


@njit(cache=True, inline="always")
def _close(k, s, window, m):
    m[k] = s[k] / window
    s[k] = 0.0


@njit(cache=True, inline="always")
def output_error(b, i, mean_c_f, rate_t, lambda_max, k_d, err):
    """``E = k_D lambda_max (lambda_t - lambda_max sigma(C_f)) sigma'(C_f)``, of copy ``b``, output ``i``."""
    s = sigmoid(mean_c_f[b, i])
    err[b, i] = k_d * lambda_max * (rate_t[b, i] - lambda_max * s) * s * (1.0 - s)


@njit(cache=True, inline="always")
def hidden_error(b, i, mean_c_f, mean_a_f, mean_a_t, lambda_max, k_b, err):
    """``E = k_B lambda_max (alpha_t - alpha_f) sigma'(C_f)`` with plateaus ``alpha = sigma(mean A)``, of copy ``b``,
    neuron ``i``."""
    s = sigmoid(mean_c_f[b, i])
    err[b, i] = k_b * lambda_max * (sigmoid(mean_a_t[b, i]) - sigmoid(mean_a_f[b, i])) * s * (1.0 - s)


@njit(cache=True, inline="always")
def feedback_error(b, i, mean_c_f, mean_a_f, lambda_max, err):
    """Learned feedback: ``E = (lambda_max sigma(C_f) - alpha_f) sigma'(A_f)``, ``alpha_f = sigma(A_f)``, of copy ``b``,
    neuron ``i``."""
    a = sigmoid(mean_a_f[b, i])
    err[b, i] = (lambda_max * sigmoid(mean_c_f[b, i]) - a) * a * (1.0 - a)


@njit(cache=True)
def apply_update(wt, state, row_bias, err, psp_f, active, gain):
    """``W += g/n E psp_fᵀ`` and ``b += g/n E``, summed over the active copies (copy 0 first), n = their number.

    ``wt`` (n_pre, n_post) is W transposed; the bias row of ``state`` changes in every copy alike
    (``row_bias < 0``: no bias). By blocks of rows (contiguous, vectorised): :func:`update_rows`, which a
    threaded loop shares out over the threads (each weight gets the same terms in the same order whatever the
    threads); :func:`update_weight_cell` adds them in that order too.
    """
    g = update_gain(active, gain)
    if g == 0.0:
        return
    for block in range(update_blocks(wt)):
        update_rows(block, wt, err, psp_f, active, g)
    update_biases(state, row_bias, err, active, g)


#: rows of ``wt`` updated together by :func:`update_rows`
UPDATE_ROWS = 4


@njit(cache=True, inline="always")
def update_blocks(wt):
    """The number of blocks of :data:`UPDATE_ROWS` rows of ``wt`` (the last may be shorter)."""
    return (wt.shape[0] + UPDATE_ROWS - 1) // UPDATE_ROWS


@njit(cache=True, inline="always")
def update_rows(block, wt, err, psp_f, active, g):
    """Rows ``j`` of block ``block`` of ``wt``: ``+= g psp_f[b, j] err[b]`` for the active copies b in order
    (no term where ``psp_f[b, j]`` is 0).

    Each weight gets the same terms in the same order as row by row, but the four rows of a block are
    updated in one pass over ``err[b]`` when all four have a term from copy b: a copy's errors are
    read from memory once per block instead of once per row.
    """
    j0 = block * UPDATE_ROWS
    if j0 + UPDATE_ROWS > wt.shape[0]:
        for j in range(j0, wt.shape[0]):
            for b in range(err.shape[0]):
                if active[b] != 0:
                    _add_term(wt[j], g * psp_f[b, j], err[b])
        return
    r0, r1, r2, r3 = wt[j0], wt[j0 + 1], wt[j0 + 2], wt[j0 + 3]
    for b in range(err.shape[0]):
        if active[b] == 0:
            continue
        e = err[b]
        p0, p1, p2, p3 = g * psp_f[b, j0], g * psp_f[b, j0 + 1], g * psp_f[b, j0 + 2], g * psp_f[b, j0 + 3]
        if p0 != 0.0 and p1 != 0.0 and p2 != 0.0 and p3 != 0.0:
            for i in range(e.shape[0]):
                r0[i] += p0 * e[i]
                r1[i] += p1 * e[i]
                r2[i] += p2 * e[i]
                r3[i] += p3 * e[i]
        else:
            _add_term(r0, p0, e)
            _add_term(r1, p1, e)
            _add_term(r2, p2, e)
            _add_term(r3, p3, e)


@njit(cache=True, inline="always")
def _add_term(row, p, e):
    """``row += p e`` unless ``p`` is 0 (a weight gets no term from a copy whose presynaptic psp is 0)."""
    if p != 0.0:
        _add_scaled(e, p, row)


@njit(cache=True, inline="always")
def update_biases(state, row_bias, err, active, g):
    """The biases' change (row ``row_bias`` of ``state``; none if it is negative): :func:`update_bias_cell`."""
    if row_bias >= 0:
        for i in range(err.shape[1]):
            update_bias_cell(i, state, row_bias, err, active, g)


@njit(cache=True, inline="always")
def update_gain(active, gain):
    """``gain / n`` for the ``n`` copies that showed an example; 0 if none did (nothing changes)."""
    n_active = 0
    for b in range(active.shape[0]):
        n_active += active[b]
    return gain / n_active if n_active > 0 else 0.0


@njit(cache=True, inline="always")
def update_weight_cell(j, i, wt, err, psp_f, active, g):
    """:func:`apply_update` for the weight ``j -> i``, with ``g`` from :func:`update_gain`."""
    if g == 0.0:
        return
    w = wt[j, i]
    for b in range(err.shape[0]):
        if active[b] != 0:
            p = g * psp_f[b, j]
            if p != 0.0:
                w += p * err[b, i]
    wt[j, i] = w


@njit(cache=True, inline="always")
def update_bias_cell(i, state, row_bias, err, active, g):
    """:func:`apply_update` for the bias of neuron ``i`` (every copy alike), with ``g`` from :func:`update_gain`."""
    if g == 0.0:
        return
    db = 0.0
    for b in range(err.shape[0]):
        if active[b] != 0:
            db += err[b, i]
    db *= g
    for b in range(state.shape[1]):
        state[row_bias, b, i] += db


@njit(cache=True)
def keep_sign(wt, sign):
    """Dale's law after an update: ``wt = max(wt, 0)`` for ``sign`` +1, ``min(wt, 0)`` for -1, unchanged for 0.
    Any shape (C-contiguous)."""
    flat = wt.reshape(wt.size)
    for k in range(flat.shape[0]):
        _clip_to_sign(k, flat, sign)


@njit(cache=True, inline="always")
def keep_sign_cell(k, wt, sign):
    """:func:`keep_sign` for element ``k`` (C order)."""
    _clip_to_sign(k, wt.reshape(wt.size), sign)


@njit(cache=True, inline="always")
def _clip_to_sign(k, flat, sign):
    if sign > 0:
        flat[k] = max(flat[k], 0.0)
    elif sign < 0:
        flat[k] = min(flat[k], 0.0)


@njit(cache=True, inline="always")
def copy_transposed(j, i, wt_out, wt_feedback):
    """Symmetric feedback: ``Y = W_outᵀ``; both stored transposed, so ``wt_feedback = wt_outᵀ``: element ``j, i``."""
    wt_feedback[j, i] = wt_out[i, j]


@njit(cache=True)
def zero(a):
    """Set every element of the C-contiguous array ``a`` to 0."""
    flat = a.reshape(a.size)
    for k in range(flat.shape[0]):
        flat[k] = 0


@njit(cache=True)
def zero_copy(b, a):
    """:func:`zero` for copy ``b`` of an array (..., B, n) (the batch axis second to last)."""
    rows = by_copy(a)
    for r in range(rows.shape[0]):
        for i in range(rows.shape[2]):
            rows[r, b, i] = 0


@njit(cache=True, inline="always")
def zero_cell(k, a):
    """:func:`zero` for element ``k`` (C order)."""
    a.reshape(a.size)[k] = 0
