"""Pair-based spike-timing-dependent plasticity (STDP) with exponential windows.

Each presynaptic neuron keeps a trace ``x_pre`` (time constant ``tau_plus``),
each postsynaptic neuron a trace ``x_post`` (``tau_minus``); both are
dimensionless and decay by ``exp(-dt / tau)`` per step. A spike sets its trace
to 1 (``pairing="nearest"``: only the nearest earlier partner counts) or adds 1
(``pairing="all"``: all-to-all interactions). Weights change at spikes
(Song, Miller & Abbott 2000; weight dependence of Gütig et al. 2003)::

    presynaptic spike:   x_pre  <- x_pre + 1  (or 1)
                         w      <- w - A_minus * f_-(w) * x_post      (depression)
    postsynaptic spike:  x_post <- x_post + 1 (or 1)
                         w      <- w + A_plus  * f_+(w) * x_pre       (potentiation)
    f_+(w) = ((w_max - w) / (w_max - w_min))**mu,  f_-(w) = ((w - w_min) / (w_max - w_min))**mu
    then w is clipped to [w_min, w_max]

``mu = 0`` is additive STDP, ``mu = 1`` multiplicative (weight-dependent). One
pairing of a presynaptic spike at ``t_pre`` and a postsynaptic one at
``t_post`` changes an additive weight by ``A_plus exp(-(t_post - t_pre)/tau_plus)``
when ``t_post >= t_pre`` and by ``-A_minus exp(-(t_pre - t_post)/tau_minus)``
otherwise (times on the dt grid). A Poisson count ``c > 1`` in one step acts as
``c`` coincident spikes: ``c`` is added to the trace and multiplies the change.

Order within a step (phase ``plasticity``, after delivery): traces decay, then
the presynaptic spikes of the step are processed, then the postsynaptic ones:
a pre and a post spike in the same step count as ``t_post = t_pre``
(potentiation), as in Brian2's ``on_pre`` / ``on_post`` order. ``A_plus``,
``A_minus``, ``w_min`` and ``w_max`` are in the weight's unit (the target port's:
nS, pA or dimensionless); ``tau_plus``, ``tau_minus`` in ms. On a projection
with a Dale sign (:mod:`compsim.projection`) the rule uses the bounds narrowed
to it, ``[max(w_min, 0), w_max]`` or ``[w_min, min(w_max, 0)]``, in the clip
and in ``f_+``, ``f_-``.

Triplet STDP (Pfister & Gerstner 2006, J. Neurosci. 26:9673) adds a slow
presynaptic trace ``r_2`` (``tau_x``) and a slow postsynaptic trace ``o_2``
(``tau_y``), read just before their own spike's increment::

    presynaptic spike:   w <- w - f_-(w) x_post (A2_minus + A3_minus r_2),   then x_pre, r_2 <- +1 (or 1)
    postsynaptic spike:  w <- w + f_+(w) x_pre  (A2_plus  + A3_plus  o_2),   then x_post, o_2 <- +1 (or 1)

so that pair STDP is the triplet rule with ``A3_plus = A3_minus = 0``; both
run the same compiled kernels.
"""
import math

import numpy as np
from numba import njit

from ..checks import check_choice, check_number, check_positive
from ..fastmath import flush_subnormal
from .rule import Rule, RuleStage


class _STDPRule(Rule):
    """What pair and triplet STDP share: four traces per copy in the store, the kernels, the stage.

    Subclasses set ``tau_plus, tau_minus, tau_x, tau_y, A2_plus, A2_minus, A3_plus, A3_minus,
    w_min, w_max, mu, pairing``.
    """

    def _check_common(self, owner, tau_plus, tau_minus, w_min, w_max, mu, pairing):
        self.tau_plus = check_positive("tau_plus", tau_plus, "ms", owner=owner)
        self.tau_minus = check_positive("tau_minus", tau_minus, "ms", owner=owner)
        self.w_min = check_number("w_min", w_min, owner=owner)
        self.w_max = check_number("w_max", w_max, lo=self.w_min, lo_open=True, owner=owner)
        self.mu = check_number("mu", mu, lo=0.0, hi=1.0, owner=owner)
        self.pairing = check_choice("pairing", pairing, ("all", "nearest"), owner=owner)

    def attach(self, projection, network):
        super().attach(projection, network)
        store, own, batch = network.store, projection.owner, network.batch
        names = f"{projection.pre.name} -> {projection.post.name}"
        for field, side, n in (("x_pre", "presynaptic", projection.pre.n), ("x_post", "postsynaptic", projection.post.n),
                               ("x_pre2", "slow presynaptic (triplet)", projection.pre.n),
                               ("x_post2", "slow postsynaptic (triplet)", projection.post.n)):
            store.declare(own, field, (batch, n), np.float64, kind="state", doc=f"{side} STDP traces of {names}")
        store.adopt(own, "stdp", np.array(self.constants(network.dt)), kind="scratch",
                    doc=f"{type(self).__name__} constants")
        if projection.kind == "sparse":  # synapses by postsynaptic neuron, for the potentiation at post spikes
            projection.post_major()

    def constants(self, dt):
        """``(decay_pre, decay_post, A2_plus, A2_minus, w_min, w_max, mu, nearest, decay_x, decay_y, A3_plus,
        A3_minus)`` for the step ``dt`` (ms); the bounds narrowed to the projection's Dale sign."""
        w_min, w_max = self.projection.signed_bounds(self.w_min, self.w_max, type(self).__name__)
        return [math.exp(-dt / self.tau_plus), math.exp(-dt / self.tau_minus), self.A2_plus, self.A2_minus,
                w_min, w_max, self.mu, float(self.pairing == "nearest"), math.exp(-dt / self.tau_x),
                math.exp(-dt / self.tau_y), self.A3_plus, self.A3_minus]

    def stages(self):
        return [STDPStage(self)]


class PairSTDP(_STDPRule):
    """Pair-based STDP (see the module docstring for the equations).

    Parameters
    ----------
    tau_plus, tau_minus : float
        Time constants of the pre- and postsynaptic traces (ms), > 0.
    A_plus, A_minus : float
        Largest potentiation and depression per pairing (weight unit), >= 0.
    w_max : float
        Upper bound of the weights; ``w_min`` (default 0) the lower one.
    mu : float
        Weight dependence, 0 (additive) to 1 (multiplicative).
    pairing : {'all', 'nearest'}
        All-to-all or nearest-spike interactions.
    """

    def __init__(self, tau_plus=16.8, tau_minus=33.7, A_plus=0.01, A_minus=0.012, w_max=1.0, *, w_min=0.0,
                 mu=0.0, pairing="all"):
        owner = "PairSTDP"
        self._check_common(owner, tau_plus, tau_minus, w_min, w_max, mu, pairing)
        self.A2_plus = self.A_plus = check_number("A_plus", A_plus, lo=0.0, owner=owner)
        self.A2_minus = self.A_minus = check_number("A_minus", A_minus, lo=0.0, owner=owner)
        self.tau_x, self.tau_y, self.A3_plus, self.A3_minus = self.tau_plus, self.tau_minus, 0.0, 0.0

    def describe(self):
        return {"rule": "PairSTDP", "tau_plus_ms": self.tau_plus, "tau_minus_ms": self.tau_minus,
                "A_plus": self.A_plus, "A_minus": self.A_minus, "w_min": self.w_min, "w_max": self.w_max,
                "mu": self.mu, "pairing": self.pairing}


class TripletSTDP(_STDPRule):
    """Triplet STDP of Pfister & Gerstner (2006) (module docstring); amplitudes in the weight's unit.

    Parameters
    ----------
    tau_plus, tau_minus, tau_x, tau_y : float
        Time constants (ms) of the fast presynaptic ``r_1``, fast postsynaptic ``o_1``,
        slow presynaptic ``r_2`` and slow postsynaptic ``o_2`` traces.
    A2_plus, A3_plus, A2_minus, A3_minus : float
        Pair and triplet amplitudes of potentiation and depression, >= 0.
    w_max, w_min, mu, pairing
        As for :class:`PairSTDP`; ``pairing='nearest'`` sets traces to 1 at a spike.

    :meth:`visual_cortex` and :meth:`hippocampal` give the paper's fits to visual cortex
    (Sjöström et al. 2001) and hippocampal culture (Bi & Poo 1998; Wang et al. 2005) data
    (:data:`PFISTER_GERSTNER_2006`).
    """

    def __init__(self, tau_plus, tau_minus, tau_x, tau_y, A2_plus, A3_plus, A2_minus, A3_minus, w_max=1.0, *,
                 w_min=0.0, mu=0.0, pairing="all"):
        owner = "TripletSTDP"
        self._check_common(owner, tau_plus, tau_minus, w_min, w_max, mu, pairing)
        self.tau_x = check_positive("tau_x", tau_x, "ms", owner=owner)
        self.tau_y = check_positive("tau_y", tau_y, "ms", owner=owner)
        for name, value in (("A2_plus", A2_plus), ("A3_plus", A3_plus), ("A2_minus", A2_minus), ("A3_minus", A3_minus)):
            setattr(self, name, check_number(name, value, lo=0.0, owner=owner))

    @classmethod
    def visual_cortex(cls, w_max=1.0, *, pairing="all", model="full", **options):
        """The paper's fit to visual cortex data: ``pairing`` 'all' (all-to-all) or 'nearest' (nearest
        spike), ``model`` 'full' or 'minimal' (:data:`PFISTER_GERSTNER_2006`); tau_+ 16.8, tau_- 33.7 ms."""
        return cls._fitted("visual_cortex", "visual cortex", w_max, pairing, model, options)

    @classmethod
    def hippocampal(cls, w_max=1.0, *, pairing="all", model="full", **options):
        """The paper's fit to hippocampal culture data, as :meth:`visual_cortex`."""
        return cls._fitted("hippocampal", "hippocampal", w_max, pairing, model, options)

    @classmethod
    def _fitted(cls, method, data, w_max, pairing, model, options):
        key = (data, pairing, model)
        if key not in PFISTER_GERSTNER_2006:
            raise ValueError(f"TripletSTDP.{method}: 'pairing' must be 'all' or 'nearest' and 'model' 'full' or "
                             f"'minimal', got {pairing!r}, {model!r}")
        tau_x, tau_y, a2p, a3p, a2m, a3m = PFISTER_GERSTNER_2006[key]
        return cls(16.8, 33.7, tau_x, tau_y, a2p, a3p, a2m, a3m, w_max, pairing=pairing, **options)

    def describe(self):
        return {"rule": "TripletSTDP", "tau_plus_ms": self.tau_plus, "tau_minus_ms": self.tau_minus,
                "tau_x_ms": self.tau_x, "tau_y_ms": self.tau_y, "A2_plus": self.A2_plus, "A3_plus": self.A3_plus,
                "A2_minus": self.A2_minus, "A3_minus": self.A3_minus, "w_min": self.w_min, "w_max": self.w_max,
                "mu": self.mu, "pairing": self.pairing}


#: Fitted parameters of Pfister & Gerstner (2006), J. Neurosci. 26:9673, the tables of fitted parameters
#: (Table 4: hippocampal culture): (data, pairing, model) -> (tau_x ms, tau_y ms, A2+, A3+, A2-, A3-); tau_+ = 16.8 ms
#: and tau_- = 33.7 ms in every set. The minimal models have A3- = 0, so tau_x plays no part there; it is
#: set to the full model's value. I could not read the paper's tables themselves: these values agree across at
#: least two independent implementations that cite them (e.g. NEST's stdp_triplet_synapse examples, Auryn's
#: TripletConnection and MinimalTripletConnection, Plasticnet); three values have a dissenting copy
#: (hippocampal all-to-all full A3-: 1.4e-3, one copy 1.4e-4; visual all-to-all minimal tau_y: 114, one copy
#: 125; visual nearest minimal A3+: 5e-2, one copy 5.2e-2); the majority is taken.
PFISTER_GERSTNER_2006 = {
    ("visual cortex", "all", "full"): (101.0, 125.0, 5e-10, 6.2e-3, 7e-3, 2.3e-4),
    ("visual cortex", "all", "minimal"): (101.0, 114.0, 0.0, 6.5e-3, 7.1e-3, 0.0),
    ("visual cortex", "nearest", "full"): (714.0, 40.0, 8.8e-11, 5.3e-2, 6.6e-3, 3.1e-3),
    ("visual cortex", "nearest", "minimal"): (714.0, 40.0, 0.0, 5e-2, 8e-3, 0.0),
    ("hippocampal", "all", "full"): (946.0, 27.0, 6.1e-3, 6.7e-3, 1.6e-3, 1.4e-3),
    ("hippocampal", "all", "minimal"): (946.0, 40.0, 5.3e-3, 8e-3, 3.5e-3, 0.0),
    ("hippocampal", "nearest", "full"): (575.0, 47.0, 4.6e-3, 9.1e-3, 3e-3, 7.5e-9),
    ("hippocampal", "nearest", "minimal"): (575.0, 48.0, 4.6e-3, 9.1e-3, 3e-3, 0.0),
}


class STDPStage(RuleStage):
    def emit(self, out):
        j = self.subject.projection
        pre, post, own = j.pre.owner, j.post.owner, j.owner
        spikes = [f"{out.array(p, 'spk')}, {out.array(p, 'nsp')}, {out.array(p, 'cnt')}[0]" for p in (pre, post)]
        traces = ", ".join(out.array(own, f) for f in ("x_pre", "x_post", "x_pre2", "x_post2", "stdp"))
        if j.kind == "dense":
            kernel, weights = stdp_dense, out.array(own, "wt")
        else:
            kernel = stdp_sparse
            weights = ", ".join(out.array(own, f) for f in ("indptr", "indices", "w", "by_post", "by_post_pre",
                                                            "by_post_ptr"))
        out.emit(f"{out.use(kernel)}({spikes[0]}, {spikes[1]}, {traces}, {weights})")

    def emit_cuda(self, out):
        """Three passes, a thread per trace entry or synapse: the traces decay; each synapse makes its
        changes of the step, copy by copy (:func:`stdp_synapse`); the traces take the step's spikes."""
        j = self.subject.projection
        own = j.owner
        cnt = {side: f"{out.array(p.owner, 'cnt')}[0]" for side, p in (("pre", j.pre), ("post", j.post))}
        x_pre, x_post, x_pre2, x_post2, k = (out.array(own, f) for f in ("x_pre", "x_post", "x_pre2", "x_post2", "stdp"))
        traces = {"pre": (x_pre, x_pre2, 0, 8), "post": (x_post, x_post2, 1, 9)}  # fast, slow, their decay constants
        out.comment(self.describe())
        decay = out.use(stdp_decay)
        self._per_neuron(out, lambda side: [f"{decay}({traces[side][0]}, {traces[side][1]}, b, i, "
                                            f"{k}[{traces[side][2]}], {k}[{traces[side][3]}])"])
        out.barrier()
        synapse = out.use(stdp_synapse)
        args = f"{cnt['pre']}, {cnt['post']}, {x_pre}, {x_post}, {x_pre2}, {x_post2}, {k}"
        if j.kind == "dense":
            wt = out.array(own, "wt")
            out.grid_loop("cell", f"{j.pre.n * j.post.n}")
            out.emit(f"pre, post = cell // {j.post.n}, cell % {j.post.n}", 1)
            out.emit(f"{wt}[pre, post] = {synapse}({wt}[pre, post], pre, post, {args})", 1)
        else:
            j.store.adopt(own, "syn_pre", j.synapse_indices()[0].astype(np.int64), kind="scratch",
                          doc="presynaptic neuron of each synapse (storage order)")
            w, syn_pre, indices = (out.array(own, f) for f in ("w", "syn_pre", "indices"))
            out.grid_loop("cell", f"{j.n_synapses}")
            out.emit(f"{w}[cell] = {synapse}({w}[cell], {syn_pre}[cell], {indices}[cell], {args})", 1)
        out.barrier()
        take = out.use(_take_spike)
        self._per_neuron(out, lambda side: [f"c = {cnt[side]}[b, i]", "if c > 0:",
                                            f"    {take}({traces[side][0]}[b], {traces[side][1]}[b], i, c, 0.0, 0.0, "
                                            f"{k}[7])"])
        out.end_stage()

    def _per_neuron(self, out, lines):
        """CUDA: a pass with a thread per copy and neuron of both sides, running ``lines(side)`` with ``b``, ``i``."""
        j = self.subject.projection
        n_pre, n_post, pre_cells = j.pre.n, j.post.n, j.pre.batch * j.pre.n
        out.grid_loop("cell", f"{pre_cells + j.post.batch * n_post}")
        out.emit(f"if cell < {pre_cells}:", 1)
        out.emit(f"b, i = cell // {n_pre}, cell % {n_pre}", 2)
        out.emit_all(lines("pre"), 2)
        out.emit("else:", 1)
        out.emit(f"b, i = (cell - {pre_cells}) // {n_post}, (cell - {pre_cells}) % {n_post}", 2)
        out.emit_all(lines("post"), 2)


@njit(cache=True, inline="always")
def _potentiate(w, x_pre, count, amplitude, k):
    """``w + count * amplitude * f_+(w) * x_pre``, clipped; ``amplitude = A2_plus + A3_plus o_2``;
    ``k`` is the constant vector of :meth:`_STDPRule.constants`."""
    w_min, w_max, mu = k[4], k[5], k[6]
    f = 1.0 if mu == 0.0 else ((w_max - w) / (w_max - w_min)) ** mu
    return min(max(w + count * amplitude * f * x_pre, w_min), w_max)


@njit(cache=True, inline="always")
def _depress(w, x_post, count, amplitude, k):
    """``w - count * amplitude * f_-(w) * x_post``, clipped; ``amplitude = A2_minus + A3_minus r_2``."""
    w_min, w_max, mu = k[4], k[5], k[6]
    f = 1.0 if mu == 0.0 else ((w - w_min) / (w_max - w_min)) ** mu
    return min(max(w - count * amplitude * f * x_post, w_min), w_max)


@njit(cache=True, inline="always")
def _decay_traces(x_pre, x_post, x_pre2, x_post2, k):
    """Every trace decays by one step with its own factor (``exp(-dt / tau)``), to 0 below the smallest
    normal double (:func:`compsim.fastmath.flush_subnormal`)."""
    for trace, factor in ((x_pre, k[0]), (x_post, k[1]), (x_pre2, k[8]), (x_post2, k[9])):
        for b in range(trace.shape[0]):
            row = trace[b]
            for i in range(row.shape[0]):
                row[i] = flush_subnormal(row[i] * factor)


@njit(cache=True)
def stdp_decay(fast, slow, b, i, factor, slow_factor):
    """CUDA backend: one neuron's fast and slow traces decay by one step (as :func:`_decay_traces`)."""
    fast[b, i] = flush_subnormal(fast[b, i] * factor)
    slow[b, i] = flush_subnormal(slow[b, i] * slow_factor)


@njit(cache=True)
def stdp_synapse(w, j, i, pre_cnt, post_cnt, x_pre, x_post, x_pre2, x_post2, k):
    """CUDA backend: the weight ``w`` from ``j`` to ``i`` after one step's changes, copy 0 first, as :func:`stdp_dense`
    and :func:`stdp_sparse` make them: traces decayed, this step's spikes not yet taken. In copy ``b``, a
    presynaptic spike depresses with ``x_post`` (the postsynaptic spikes come after the presynaptic ones)
    and then counts in the ``x_pre`` that a postsynaptic spike of the same step potentiates with."""
    nearest = k[7]
    for b in range(pre_cnt.shape[0]):
        xq = x_pre[b, j]
        c = pre_cnt[b, j]
        if c > 0:
            w = _depress(w, x_post[b, i], c, k[3] + k[11] * x_pre2[b, j], k)
            xq = 1.0 if nearest != 0.0 else xq + c
        c = post_cnt[b, i]
        if c > 0:
            w = _potentiate(w, xq, c, k[2] + k[10] * x_post2[b, i], k)
    return w


@njit(cache=True, inline="always")
def _spike_trace(trace, i, count, nearest):
    trace[i] = 1.0 if nearest != 0.0 else trace[i] + count


@njit(cache=True, inline="always")
def _take_spike(fast, slow, i, count, pair_amplitude, triplet_amplitude, nearest):
    """A spike of neuron ``i``: returns ``pair_amplitude + triplet_amplitude * slow[i]`` (the slow trace
    before this spike: ``A2 + A3 r_2`` at a presynaptic, ``A2 + A3 o_2`` at a postsynaptic spike), then
    the neuron's fast and slow traces take the spike."""
    amplitude = pair_amplitude + triplet_amplitude * slow[i]
    _spike_trace(fast, i, count, nearest)
    _spike_trace(slow, i, count, nearest)
    return amplitude


@njit(cache=True)
def stdp_dense(pre_spk, pre_nsp, pre_cnt, post_spk, post_nsp, post_cnt, x_pre, x_post, x_pre2, x_post2, k, wt):
    """One step of pair/triplet STDP on dense weights ``wt`` (n_pre, n_post), copies in order 0, 1, ...

    The dense and sparse kernels share the trace and weight updates; they differ in how a
    presynaptic row and a postsynaptic column of weights are reached.
    """
    _decay_traces(x_pre, x_post, x_pre2, x_post2, k)
    for b in range(x_pre.shape[0]):
        for s in range(pre_nsp[b]):
            j = pre_spk[b, s]
            c = pre_cnt[b, j]
            amplitude = _take_spike(x_pre[b], x_pre2[b], j, c, k[3], k[11], k[7])
            row, xp = wt[j], x_post[b]
            for i in range(row.shape[0]):
                row[i] = _depress(row[i], xp[i], c, amplitude, k)
        for s in range(post_nsp[b]):
            i = post_spk[b, s]
            c = post_cnt[b, i]
            amplitude = _take_spike(x_post[b], x_post2[b], i, c, k[2], k[10], k[7])
            xq = x_pre[b]
            for j in range(wt.shape[0]):
                wt[j, i] = _potentiate(wt[j, i], xq[j], c, amplitude, k)


@njit(cache=True)
def stdp_sparse(pre_spk, pre_nsp, pre_cnt, post_spk, post_nsp, post_cnt, x_pre, x_post, x_pre2, x_post2, k,
                indptr, indices, w, by_post, by_post_pre, by_post_ptr):
    """One step of pair/triplet STDP on CSR weights ``w`` (rows by presynaptic neuron), copies in order."""
    _decay_traces(x_pre, x_post, x_pre2, x_post2, k)
    for b in range(x_pre.shape[0]):
        for s in range(pre_nsp[b]):
            j = pre_spk[b, s]
            c = pre_cnt[b, j]
            amplitude = _take_spike(x_pre[b], x_pre2[b], j, c, k[3], k[11], k[7])
            xp = x_post[b]
            for syn in range(indptr[j], indptr[j + 1]):
                w[syn] = _depress(w[syn], xp[indices[syn]], c, amplitude, k)
        for s in range(post_nsp[b]):
            i = post_spk[b, s]
            c = post_cnt[b, i]
            amplitude = _take_spike(x_post[b], x_post2[b], i, c, k[2], k[10], k[7])
            xq = x_pre[b]
            for q in range(by_post_ptr[i], by_post_ptr[i + 1]):
                syn = by_post[q]
                w[syn] = _potentiate(w[syn], xq[by_post_pre[q]], c, amplitude, k)
