"""Projections: weighted, delayed spike transmission from one population to a port of another.

A projection stores its weights either dense (``W`` of shape (n_post, n_pre),
kept transposed so that a presynaptic neuron's outgoing weights are
contiguous) or sparse (CSR by presynaptic neuron), plus:

* ``trace`` (n_traces, n_post): the filtered, weighted input it contributes
  to the postsynaptic port (see :mod:`compsim.synapses`);
* ``ring`` (delay_steps + 1, n_post): spike jumps waiting for delivery.

Timing (see :mod:`compsim.network` for the whole schedule): a spike emitted
in step ``t`` adds its weight to the trace that the postsynaptic update reads
in step ``t + 1 + delay_steps``; with zero delay this is Brian2's default
(the effect is visible in the next state update).
"""
import numpy as np

from .checks import check_array, check_number
from .connectivity import Explicit, FixedInDegree, FixedProbability
from .synapses import Exponential, default_synapse


class Projection:
    """Connection ``pre -> post.target``; create with :meth:`compsim.Network.connect`."""

    def __init__(self, network, index, pre, post, target, weights, connectivity, delay, synapse, key):
        owner = f"connect({pre.name} -> {post.name})"
        if not post.ports:
            raise ValueError(f"{owner}: '{post.name}' ({type(post).__name__}) has no synaptic inputs to target")
        self.port_index, port = post.port(target)
        self.network, self.index = network, index
        self.pre, self.post, self.target = pre, post, target
        self.synapse = default_synapse(post, port) if synapse is None else synapse
        if not isinstance(self.synapse, Exponential):
            raise ValueError(f"{owner}: 'synapse' must be Exponential(...) or DoubleExponential(...), got {synapse!r}")
        dt = network.dt
        delay = check_number("delay", delay, lo=0.0, unit="ms", owner=owner)
        self.delay_steps = int(round(delay / dt))
        if abs(self.delay_steps * dt - delay) > 1e-6 * max(dt, delay):
            raise ValueError(f"{owner}: parameter 'delay' must be a multiple of dt = {dt} ms, got {delay} ms")
        dtype = network.dtype
        self.connectivity = connectivity
        if connectivity is None:
            self.kind = "dense"
            w = check_array("weights", weights, np.shape(weights), owner=owner)
            if w.ndim == 0:
                w = np.full((post.n, pre.n), float(w))
            if w.shape != (post.n, pre.n):
                raise ValueError(
                    f"{owner}: parameter 'weights' must have shape (n_post, n_pre) = ({post.n}, {pre.n}), got {w.shape}"
                )
            w = check_array("weights", w, w.shape, owner=owner)
            self.wt = np.ascontiguousarray(w.T, dtype=dtype)
            self.cnt_f = np.zeros(pre.n, dtype=dtype)
            self.dot_out = np.zeros(post.n, dtype=dtype)
        else:
            if not isinstance(connectivity, (FixedProbability, FixedInDegree, Explicit)):
                raise ValueError(
                    f"{owner}: 'connectivity' must be None (dense), FixedProbability, FixedInDegree or Explicit"
                )
            self.kind = "sparse"
            pre_idx, post_idx = connectivity.pairs(pre.n, post.n, key, pre is post)
            n_syn = pre_idx.size
            self.w = check_array("weights", weights, (n_syn,), owner=owner).astype(dtype)
            if isinstance(connectivity, Explicit):
                self.w = self.w[connectivity.order]
            self.indices = post_idx.astype(np.int32)
            self.indptr = np.zeros(pre.n + 1, dtype=np.int64)
            np.cumsum(np.bincount(pre_idx, minlength=pre.n), out=self.indptr[1:])
        self.trace = np.zeros((self.synapse.n_traces, post.n), dtype=dtype)
        self.ring = np.zeros((self.delay_steps + 1, post.n), dtype=dtype)
        self.fpar = np.array(self.synapse.decay_factors(dt, network.method) + [self.synapse.output_coefficient()])

    @property
    def n_synapses(self):
        return self.wt.size if self.kind == "dense" else self.indices.size

    def synapse_indices(self):
        """``(pre, post)`` index arrays of all synapses, in storage order."""
        if self.kind == "dense":
            pre, post = np.meshgrid(np.arange(self.pre.n), np.arange(self.post.n), indexing="ij")
            return pre.ravel(), post.ravel()
        pre = np.repeat(np.arange(self.pre.n), np.diff(self.indptr))
        return pre, self.indices.astype(np.int64)

    def weights(self):
        """Weights in the order of :meth:`synapse_indices` (dense: W.T raveled)."""
        return (self.wt if self.kind == "dense" else self.w).ravel().copy()

    def weight_matrix(self):
        """Dense (n_post, n_pre) weight matrix (sums duplicates of sparse synapses)."""
        if self.kind == "dense":
            return self.wt.T.astype(np.float64)
        W = np.zeros((self.post.n, self.pre.n))
        pre, post = self.synapse_indices()
        np.add.at(W, (post, pre), self.w)
        return W

    def set_input(self, values):
        """Set the input this projection currently contributes to its port (e.g. initial conductances)."""
        v = check_array("values", values, (self.post.n,), owner=f"{self.post.name}.{self.target}")
        self.trace[:] = 0.0
        self.trace[0] = v / self.synapse.output_coefficient()

    def describe(self):
        return {
            "pre": self.pre.name,
            "post": self.post.name,
            "target": self.target,
            "kind": self.kind,
            "n_synapses": int(self.n_synapses),
            "delay_steps": self.delay_steps,
            "synapse": self.synapse.describe(),
            "connectivity": None if self.connectivity is None else self.connectivity.describe(),
        }
