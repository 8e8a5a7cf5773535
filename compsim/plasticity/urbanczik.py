"""Learning by the dendritic prediction of somatic spiking (Urbanczik & Senn 2014, Neuron 81:521-528).

For a projection onto the ``dendrite`` of :class:`compsim.models.urbanczik.UrbanczikNeuron`.
The weight of synapse ``i -> j`` (pA) follows the somatic spikes ``S_j`` that its
dendrite fails to predict::

    Delta_ij(t) = (S_j(t) - phi(V*_j)) h(V*_j) PSP_i(t)
    tau_Delta dPI_ij/dt = -PI_ij + Delta_ij            (low-pass filter, tau_Delta = 100 ms)
    dw_ij/dt = eta PI_ij

with the dendritic prediction ``V*_j = (g_L,s E_L + g_D V_d,j) / (g_L,s + g_D)``,
``h(U) = d log phi / dU = beta k e / (1 + k e)``, ``e = exp(beta (theta - U))``, and
``PSP_i`` the dendritic potential that one unit of weight of input ``i`` causes
(mV/pA): the presynaptic spike train filtered by the synaptic current
kernel and then by the dendrite, exactly as the model integrates it, so that
``V_d - E_L = sum_i w_i PSP_i`` while the weights stay fixed.

Per step of ``dt`` (the discrete form this module computes, in the
``plasticity`` phase, after the step's update and spikes)::

    PSP_i <- a PSP_i + b x_i                 (a, b: the dendrite's update: exp(-dt g_L,d / C_d), (1 - a) / g_L,d)
    x_i   <- d_syn x_i + n_i(t)              (presynaptic current trace, jump 1 per spike)
    PI_ij <- exp(-dt / tau_Delta) PI_ij + (n_j(t) - phi(V*_j) dt) h(V*_j) PSP_i / tau_Delta
    w_ij  <- w_ij + eta dt PI_ij             (then clipped to [w_min, w_max], narrowed to the
                                              projection's Dale sign: compsim.projection)

``n`` are spike counts of the step (``S dt``). ``eta`` has the unit pA^2 ms
(so that ``eta dt PI`` is in pA). With a batch of B copies, each copy keeps
its own traces and PI, and the weights change by the mean over the copies
(summed copy 0 first).
"""
import math

import numpy as np
from numba import njit

from ..checks import check_number, check_positive
from ..fastmath import flush_subnormal
from ..synapses import Exponential
from .rule import Rule, RuleStage


class UrbanczikSenn(Rule):
    """Dendritic prediction rule (module docstring); ``eta`` (pA^2 ms), ``tau_delta`` (ms), optional weight
    bounds ``w_min``, ``w_max`` (pA; None: unbounded)."""

    def __init__(self, eta, tau_delta=100.0, *, w_min=None, w_max=None):
        owner = "UrbanczikSenn"
        self.eta = check_number("eta", eta, lo=0.0, owner=owner)
        self.tau_delta = check_positive("tau_delta", tau_delta, "ms", owner=owner)
        self.w_min = -math.inf if w_min is None else check_number("w_min", w_min, owner=owner)
        self.w_max = math.inf if w_max is None else check_number("w_max", w_max, lo=self.w_min, owner=owner)

    def attach(self, projection, network):
        owner = "UrbanczikSenn"
        post = projection.post
        if not {"v_dend"} <= set(post.var_names) or projection.target != "dendrite":
            raise ValueError(f"{owner}: the projection must target the 'dendrite' of an UrbanczikNeuron, "
                             f"got {type(post).__name__}.{projection.target}")
        if projection.kind != "dense":
            raise ValueError(f"{owner}: the projection must be dense (connectivity=None)")
        if type(projection.synapse) is not Exponential:
            raise ValueError(f"{owner}: the projection's synapse must be Exponential(tau) (the current kernel)")
        super().attach(projection, network)
        store, own, B = network.store, projection.owner, network.batch
        n_pre, n_post = projection.pre.n, post.n
        store.declare(own, "us_x", (B, n_pre), np.float64, kind="state", doc="presynaptic current traces (per unit w)")
        store.declare(own, "us_psp", (B, n_pre), np.float64, kind="state", doc="dendritic PSP per unit weight (mV/pA)")
        store.declare(own, "us_pi", (B, n_pre, n_post), np.float64, kind="state", doc="low-passed Delta (PI)")
        store.declare(own, "us_err", (B, n_post), np.float64, kind="scratch", doc="postsynaptic error factors")
        store.adopt(own, "us_k", self.constants(post, network.dt, network.method), kind="scratch",
                    doc="UrbanczikSenn constants")

    def constants(self, post, dt, method):
        """The constant vector of :func:`urbanczik_senn_dense` (see its docstring) for ``post``'s parameters."""
        p = post.p
        if any(np.ndim(p[k]) for k in ("g_L_d", "C_d", "g_L_s", "g_D", "E_L", "phi_max", "k", "beta", "theta")):
            raise ValueError("UrbanczikSenn: the postsynaptic parameters must be the same in every batch copy")
        if method == "euler":
            a = 1.0 - dt * p["g_L_d"] / p["C_d"]
            b = dt / p["C_d"]
        else:
            a = math.exp(-dt * p["g_L_d"] / p["C_d"])
            b = (1.0 - a) / p["g_L_d"]
        return np.array([a, b, p["g_L_s"], p["g_D"], p["E_L"], p["phi_max"] * dt / 1000.0, p["k"], p["beta"],
                         p["theta"], math.exp(-dt / self.tau_delta), 1.0 / self.tau_delta, self.eta * dt,
                         *self.projection.signed_bounds(self.w_min, self.w_max, "UrbanczikSenn")], dtype=np.float64)

    def stages(self):
        return [UrbanczikSennStage(self)]

    def describe(self):
        return {"rule": "UrbanczikSenn", "eta": self.eta, "tau_delta_ms": self.tau_delta,
                "w_min": self.w_min, "w_max": self.w_max}


class UrbanczikSennStage(RuleStage):
    def arrays(self, out, *fields):
        return ", ".join(out.array(self.subject.projection.owner, f) for f in fields)

    def emit(self, out):
        j = self.subject.projection
        args = [f"{out.array(j.pre.owner, 'cnt')}[0]", f"{out.array(j.post.owner, 'cnt')}[0]",
                out.array(j.post.owner, "state"), str(j.post.var_names.index("v_dend")),
                f"{out.array(j.owner, 'decay')}[0]", self.arrays(out, "us_x", "us_psp", "us_pi", "us_err", "us_k", "wt")]
        out.emit(f"{out.use(urbanczik_senn_dense)}({', '.join(args)})")

    def emit_cuda(self, out):
        """Two passes: a thread per input and copy (traces) and per neuron and copy (errors); then a thread per
        synapse, summing its copies in order."""
        j = self.subject.projection
        n_pre, n_post, batch = j.pre.n, j.post.n, j.post.batch
        out.grid_loop("cell", f"{batch * n_pre}")
        out.emit(f"{out.use(us_presynaptic)}(cell // {n_pre}, cell % {n_pre}, {out.array(j.pre.owner, 'cnt')}[0], "
                 f"{out.array(j.owner, 'decay')}[0], {self.arrays(out, 'us_x', 'us_psp', 'us_k')})", 1)
        out.grid_loop("cell", f"{batch * n_post}")
        out.emit(f"{out.use(us_error)}(cell // {n_post}, cell % {n_post}, {out.array(j.post.owner, 'cnt')}[0], "
                 f"{out.array(j.post.owner, 'state')}, {j.post.var_names.index('v_dend')}, "
                 f"{self.arrays(out, 'us_err', 'us_k')})", 1)

        def synapses(out):
            out.grid_loop("syn", f"{n_pre * n_post}")
            out.emit(f"{out.use(us_synapse)}(syn // {n_post}, syn % {n_post}, "
                     f"{self.arrays(out, 'us_pi', 'us_err', 'us_psp', 'us_k', 'wt')})", 1)
        out.after_barrier(synapses)
        out.end_stage()


@njit(cache=True)
def urbanczik_senn_dense(cnt_pre, cnt_post, post_state, row_vd, d_syn, x, psp, pi, err, k, wt):
    """One step of the rule for dense weights ``wt`` (n_pre, n_post): :func:`us_presynaptic` and :func:`us_error`
    for every copy, then :func:`us_synapse` for every synapse.

    ``k``: ``(a, b, g_L_s, g_D, E_L, phi_dt, k, beta, theta, d_delta, 1/tau_delta, eta dt, w_min, w_max)``.
    """
    for b in range(cnt_pre.shape[0]):
        for i in range(x.shape[1]):
            us_presynaptic(b, i, cnt_pre, d_syn, x, psp, k)
        for j in range(err.shape[1]):
            us_error(b, j, cnt_post, post_state, row_vd, err, k)
    for i in range(wt.shape[0]):
        for j in range(wt.shape[1]):
            us_synapse(i, j, pi, err, psp, k, wt)


@njit(cache=True, inline="always")
def us_presynaptic(b, i, cnt_pre, d_syn, x, psp, k):
    """Input ``i`` of copy ``b``: the dendritic PSP per unit weight follows the current trace, which decays and
    takes the step's spikes."""
    psp[b, i] = flush_subnormal(k[0] * psp[b, i] + k[1] * x[b, i])  # traces of silent inputs: 0, not subnormal
    x[b, i] = flush_subnormal(d_syn * x[b, i] + cnt_pre[b, i])


@njit(cache=True, inline="always")
def us_error(b, j, cnt_post, post_state, row_vd, err, k):
    """Neuron ``j`` of copy ``b``: ``(S - phi(V*) dt) h(V*) / tau_Delta``, ``V*`` the dendritic prediction of the
    somatic potential."""
    g_ls, g_d, e_l, phi_dt, kk, beta, theta = k[2], k[3], k[4], k[5], k[6], k[7], k[8]
    v_star = (g_ls * e_l + g_d * post_state[row_vd, b, j]) / (g_ls + g_d)
    e = math.exp(beta * (theta - v_star))
    h = beta * kk * e / (1.0 + kk * e)
    err[b, j] = (cnt_post[b, j] - phi_dt / (1.0 + kk * e)) * h * k[10]


@njit(cache=True, inline="always")
def us_synapse(i, j, pi, err, psp, k, wt):
    """Synapse ``i -> j``: each copy's low-passed Delta (PI) takes its error times its PSP; the weight changes by
    ``eta dt`` times their mean over the copies (summed in copy order), within the bounds."""
    n_copies = pi.shape[0]
    total = 0.0
    for b in range(n_copies):
        v = flush_subnormal(k[9] * pi[b, i, j] + err[b, j] * psp[b, i])
        pi[b, i, j] = v
        total += v
    wt[i, j] = min(max(wt[i, j] + k[11] / n_copies * total, k[12]), k[13])
