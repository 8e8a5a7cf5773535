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
nS, pA or dimensionless); ``tau_plus``, ``tau_minus`` in ms.
"""
import math

import numpy as np
from numba import njit

from ..checks import check_choice, check_number, check_positive
from .rule import Rule, RuleStage


class PairSTDP(Rule):
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
        self.tau_plus = check_positive("tau_plus", tau_plus, "ms", owner=owner)
        self.tau_minus = check_positive("tau_minus", tau_minus, "ms", owner=owner)
        self.A_plus = check_number("A_plus", A_plus, lo=0.0, owner=owner)
        self.A_minus = check_number("A_minus", A_minus, lo=0.0, owner=owner)
        self.w_min = check_number("w_min", w_min, owner=owner)
        self.w_max = check_number("w_max", w_max, lo=self.w_min, lo_open=True, owner=owner)
        self.mu = check_number("mu", mu, lo=0.0, hi=1.0, owner=owner)
        self.pairing = check_choice("pairing", pairing, ("all", "nearest"), owner=owner)

    def attach(self, projection, network):
        super().attach(projection, network)
        store, own, batch = network.store, projection.owner, network.batch
        store.declare(own, "x_pre", (batch, projection.pre.n), np.float64, kind="state",
                      doc=f"presynaptic STDP traces of {projection.pre.name} -> {projection.post.name}")
        store.declare(own, "x_post", (batch, projection.post.n), np.float64, kind="state",
                      doc=f"postsynaptic STDP traces of {projection.pre.name} -> {projection.post.name}")
        store.adopt(own, "stdp", np.array(self.constants(network.dt)), kind="scratch", doc="PairSTDP constants")
        if projection.kind == "sparse":  # synapses by postsynaptic neuron, for the potentiation at post spikes
            pre, post = projection.synapse_indices()
            order = np.argsort(post, kind="stable")
            ptr = np.zeros(projection.post.n + 1, dtype=np.int64)
            np.cumsum(np.bincount(post, minlength=projection.post.n), out=ptr[1:])
            store.adopt(own, "by_post", order.astype(np.int64), kind="scratch", doc="synapse ids sorted by post")
            store.adopt(own, "by_post_pre", pre[order].astype(np.int64), kind="scratch",
                        doc="presynaptic neuron of each synapse in by_post order")
            store.adopt(own, "by_post_ptr", ptr, kind="scratch", doc="row pointers of by_post")

    def constants(self, dt):
        """``(decay_pre, decay_post, A_plus, A_minus, w_min, w_max, mu, nearest)`` for the step ``dt`` (ms)."""
        return [math.exp(-dt / self.tau_plus), math.exp(-dt / self.tau_minus), self.A_plus, self.A_minus,
                self.w_min, self.w_max, self.mu, float(self.pairing == "nearest")]

    def stages(self):
        return [PairSTDPStage(self)]

    def describe(self):
        return {"rule": "PairSTDP", "tau_plus_ms": self.tau_plus, "tau_minus_ms": self.tau_minus,
                "A_plus": self.A_plus, "A_minus": self.A_minus, "w_min": self.w_min, "w_max": self.w_max,
                "mu": self.mu, "pairing": self.pairing}


class PairSTDPStage(RuleStage):
    def emit(self, out):
        j = self.subject.projection
        pre, post, own = j.pre.owner, j.post.owner, j.owner
        spikes = [f"{out.array(p, 'spk')}, {out.array(p, 'nsp')}, {out.array(p, 'cnt')}[0]" for p in (pre, post)]
        traces = f"{out.array(own, 'x_pre')}, {out.array(own, 'x_post')}, {out.array(own, 'stdp')}"
        if j.kind == "dense":
            kernel, weights = pair_stdp_dense, out.array(own, "wt")
        else:
            kernel = pair_stdp_sparse
            weights = ", ".join(out.array(own, f) for f in ("indptr", "indices", "w", "by_post", "by_post_pre",
                                                            "by_post_ptr"))
        out.emit(f"{out.use(kernel)}({spikes[0]}, {spikes[1]}, {traces}, {weights})")


@njit(cache=True, inline="always")
def _potentiate(w, x_pre, count, k):
    """``w + count * A_plus * f_+(w) * x_pre``, clipped; ``k`` is the constant vector of :meth:`PairSTDP.constants`."""
    w_min, w_max, mu = k[4], k[5], k[6]
    f = 1.0 if mu == 0.0 else ((w_max - w) / (w_max - w_min)) ** mu
    return min(max(w + count * k[2] * f * x_pre, w_min), w_max)


@njit(cache=True, inline="always")
def _depress(w, x_post, count, k):
    """``w - count * A_minus * f_-(w) * x_post``, clipped."""
    w_min, w_max, mu = k[4], k[5], k[6]
    f = 1.0 if mu == 0.0 else ((w - w_min) / (w_max - w_min)) ** mu
    return min(max(w - count * k[3] * f * x_post, w_min), w_max)


@njit(cache=True, inline="always")
def _decay_traces(x_pre, x_post, k):
    """Both traces decay by one step: ``x_pre *= exp(-dt/tau_plus)``, ``x_post *= exp(-dt/tau_minus)``."""
    for trace, factor in ((x_pre, k[0]), (x_post, k[1])):
        for b in range(trace.shape[0]):
            row = trace[b]
            for i in range(row.shape[0]):
                row[i] *= factor


@njit(cache=True, inline="always")
def _spike_trace(trace, i, count, nearest):
    trace[i] = 1.0 if nearest != 0.0 else trace[i] + count


@njit(cache=True)
def pair_stdp_dense(pre_spk, pre_nsp, pre_cnt, post_spk, post_nsp, post_cnt, x_pre, x_post, k, wt):
    """One step of pair STDP on dense weights ``wt`` (n_pre, n_post), copies in order 0, 1, ...

    The dense and sparse kernels share the trace and weight updates; they differ in how a
    presynaptic row and a postsynaptic column of weights are reached.
    """
    _decay_traces(x_pre, x_post, k)
    for b in range(x_pre.shape[0]):
        for s in range(pre_nsp[b]):
            j = pre_spk[b, s]
            c = pre_cnt[b, j]
            _spike_trace(x_pre[b], j, c, k[7])
            row, xp = wt[j], x_post[b]
            for i in range(row.shape[0]):
                row[i] = _depress(row[i], xp[i], c, k)
        for s in range(post_nsp[b]):
            i = post_spk[b, s]
            c = post_cnt[b, i]
            _spike_trace(x_post[b], i, c, k[7])
            xq = x_pre[b]
            for j in range(wt.shape[0]):
                wt[j, i] = _potentiate(wt[j, i], xq[j], c, k)


@njit(cache=True)
def pair_stdp_sparse(pre_spk, pre_nsp, pre_cnt, post_spk, post_nsp, post_cnt, x_pre, x_post, k,
                     indptr, indices, w, by_post, by_post_pre, by_post_ptr):
    """One step of pair STDP on CSR weights ``w`` (rows by presynaptic neuron), copies in order."""
    _decay_traces(x_pre, x_post, k)
    for b in range(x_pre.shape[0]):
        for s in range(pre_nsp[b]):
            j = pre_spk[b, s]
            c = pre_cnt[b, j]
            _spike_trace(x_pre[b], j, c, k[7])
            xp = x_post[b]
            for syn in range(indptr[j], indptr[j + 1]):
                w[syn] = _depress(w[syn], xp[indices[syn]], c, k)
        for s in range(post_nsp[b]):
            i = post_spk[b, s]
            c = post_cnt[b, i]
            _spike_trace(x_post[b], i, c, k[7])
            xq = x_pre[b]
            for q in range(by_post_ptr[i], by_post_ptr[i + 1]):
                syn = by_post[q]
                w[syn] = _potentiate(w[syn], xq[by_post_pre[q]], c, k)
