"""Projections: weighted, delayed spike transmission from one population to a port of another.

A projection stores its weights either dense (``W`` of shape (n_post, n_pre),
kept transposed so that a presynaptic neuron's outgoing weights are
contiguous) or sparse (CSR by presynaptic neuron), plus:

* ``trace`` (n_traces, B, n_post): the filtered, weighted input it contributes
  to the postsynaptic port in each batch copy (see :mod:`compsim.synapses`);
* ``ring`` (delay_steps + 1, B, n_post): spike jumps waiting for delivery.

All of them live in the network's state store (:mod:`compsim.engine.state`);
weights are shared by the copies. Read and change them through
:attr:`Projection.weights` / :meth:`Projection.set_weights` (the user's
(n_post, n_pre) orientation, whatever the storage).

Timing (see :mod:`compsim.network` for the whole schedule): a spike emitted
in step ``t`` adds its weight to the trace that the postsynaptic update reads
in step ``t + 1 + delay_steps``; with zero delay this is Brian2's default
(the effect is visible in the next state update). Graded projections (from a
rate population, :attr:`compsim.model.Population.activity`) deliver
``W p`` at the start of each step, with ``p`` as the previous step left it:
the update of step ``t + delay_steps`` reads it.

Dale's law: a population added with ``dale="excitatory"`` or ``"inhibitory"``
(:meth:`compsim.Network.add`) fixes the sign of the weights of every projection
from it (:attr:`Projection.sign`). Excitatory: weights >= 0. Inhibitory:
weights <= 0 onto ports whose input acts through its sign (currents in pA,
potentials and dimensionless drives, e.g. the basal and apical dendrites of the
segregated-dendrite neurons); >= 0 onto conductance ports (``Port.is_conductance``: unit nS, or the CWA
neurons' g_e and g_i), where the weight is a conductance and the port's reversal potential makes it
inhibitory.
Weights of the wrong sign are refused by ``connect`` and :meth:`Projection.set_weights`;
learning rules keep the sign by narrowing their bounds (:meth:`Projection.signed_bounds`).
"""
import numpy as np

from .checks import check_array, check_number
from .connectivity import Explicit, FixedInDegree, FixedProbability
from .engine import kernels
from .engine.plan import Stage
from .fastmath import flush_subnormal, fma
from .normalisation import dendritic_normalisation
from .synapses import Exponential, Instantaneous, TruncatedDoubleExponential, default_synapse

DALE = ("excitatory", "inhibitory")  # the declarations of Network.add(..., dale=...)


def weight_sign(dale, port):
    """The sign Dale's law gives the weights of a projection from a population declared ``dale`` onto ``port``
    (module docstring): +1 (weights >= 0), -1 (<= 0) or 0 (no constraint, ``dale=None``)."""
    if dale is None:
        return 0
    return -1 if dale == "inhibitory" and not port.is_conductance else 1


class Projection:
    """Connection ``pre -> post.target``; create with :meth:`compsim.Network.connect`."""

    def __init__(self, network, index, pre, post, target, weights, connectivity, delay, synapse, key,
                 plasticity=None, normalise=None, same_step=False):
        owner = f"connect({pre.name} -> {post.name})"
        if not post.ports:
            raise ValueError(f"{owner}: '{post.name}' ({type(post).__name__}) has no synaptic inputs to target")
        self.port_index, port = post.port(target)
        self.unit = port.unit  # of the weights: the port's unit (e.g. nS for a conductance)
        self.sign = weight_sign(pre.dale, port)  # Dale's law: +1 weights >= 0, -1 weights <= 0, 0 free
        self.index, self.owner = index, f"r{index}"
        self.pre, self.post, self.target = pre, post, target
        self.store = network.store
        self.synapse = default_synapse(post, port) if synapse is None else synapse
        if not isinstance(self.synapse, (Exponential, TruncatedDoubleExponential, Instantaneous)):
            raise ValueError(f"{owner}: 'synapse' must be Exponential(...), DoubleExponential(...), "
                             f"TruncatedDoubleExponential(...) or Instantaneous(), got {synapse!r}")
        self.graded = pre.activity is not None  # rate transmission: the pre's activities, every step
        dt = network.dt
        delay = check_number("delay", delay, lo=0.0, unit="ms", owner=owner)
        self.delay_steps = int(round(delay / dt))
        if abs(self.delay_steps * dt - delay) > 1e-6 * max(dt, delay):
            raise ValueError(f"{owner}: parameter 'delay' must be a multiple of dt = {dt} ms, got {delay} ms")
        self.same_step = self._check_same_step(same_step, network, owner)
        dtype, batch = network.dtype, network.batch
        self.connectivity = connectivity
        self.normalise = None if normalise is None else check_number("normalise", normalise, unit=self.unit,
                                                                      owner=owner)
        store, own = self.store, self.owner
        if connectivity is None:
            self.kind = "dense"
            w = check_array("weights", weights, np.shape(weights), owner=owner, unit=self.unit)
            if w.ndim == 0:
                w = np.full((post.n, pre.n), float(w))
            if w.shape != (post.n, pre.n):
                raise ValueError(
                    f"{owner}: parameter 'weights' must have shape (n_post, n_pre) = ({post.n}, {pre.n}), got {w.shape}"
                )
            w = self._normalised(w)
            store.adopt(own, "wt", np.ascontiguousarray(w.T, dtype=dtype), kind="weights",
                        doc=f"weights {pre.name} -> {post.name}.{target}, transposed (n_pre, n_post)")
            store.declare(own, "dense_counts", (batch, pre.n), dtype, kind="scratch",
                          doc="presynaptic counts as a dense vector (BLAS path)")
            store.declare(own, "dot_out", (batch, post.n), dtype, kind="scratch", doc="BLAS result")
        else:
            if not isinstance(connectivity, (FixedProbability, FixedInDegree, Explicit)):
                raise ValueError(
                    f"{owner}: 'connectivity' must be None (dense), FixedProbability, FixedInDegree or Explicit"
                )
            self.kind = "sparse"
            pre_idx, post_idx = connectivity.pairs(pre.n, post.n, key, pre is post)
            w = check_array("weights", weights, (pre_idx.size,), owner=owner, unit=self.unit).astype(dtype)
            if isinstance(connectivity, Explicit):
                w = w[connectivity.order]
            self._post_of_synapse = post_idx
            w = self._normalised(w).astype(dtype)
            indptr = np.zeros(pre.n + 1, dtype=np.int64)
            np.cumsum(np.bincount(pre_idx, minlength=pre.n), out=indptr[1:])
            store.adopt(own, "w", w, kind="weights", doc=f"weights {pre.name} -> {post.name}.{target} (CSR order)")
            store.adopt(own, "indices", post_idx.astype(np.int32), kind="scratch", doc="CSR postsynaptic indices")
            store.adopt(own, "indptr", indptr, kind="scratch", doc="CSR row pointers (by presynaptic neuron)")
        store.declare(own, "trace", (self.synapse.n_traces, batch, post.n), dtype, kind="state",
                      doc=f"synaptic trace(s) of {pre.name} -> {post.name}.{target}")
        if self.fir:  # ring slots: the jumps of the last n_taps steps, plus the delay
            taps = self.synapse.taps(dt)
            self.n_taps = taps.size
            store.declare(own, "ring", (self.delay_steps + taps.size, batch, post.n), dtype, kind="state",
                          doc=f"spike jumps of the last {taps.size} steps (and the delay) of {pre.name} -> {post.name}.{target}")
            store.adopt(own, "decay", taps, kind="scratch", doc="kernel values kappa(k dt), k = 1 .. n_taps")
            store.declare(own, "fir_sum", (batch, post.n), dtype, kind="scratch",
                          doc="this step's kernel sum over the ring (read by the post loop)")
        else:
            store.declare(own, "ring", (self.delay_steps + 1, batch, post.n), dtype, kind="state",
                          doc=f"delay ring of {pre.name} -> {post.name}.{target}")
            decay = self.synapse.decay_factors(dt, network.method) + [self.synapse.output_coefficient()]
            store.adopt(own, "decay", np.array(decay), kind="scratch", doc="per-step decay factors, output coefficient")
        stored = self.weights
        self._check_sign(stored, owner)
        post.check_input(pre, target, stored, owner)
        self.rule = plasticity
        if plasticity is not None:
            if self.graded:
                raise ValueError(f"{owner}: plasticity rules act on spikes; '{pre.name}' transmits graded activities")
            from .plasticity import Rule

            if not isinstance(plasticity, Rule):
                raise ValueError(f"{owner}: 'plasticity' must be a compsim.plasticity rule, got {plasticity!r}")
            plasticity.attach(self, network)

    # -- arrays in the store ------------------------------------------------------
    @property
    def trace(self):
        """Synaptic traces (n_traces, B, n_post), a view into the network's store."""
        return self.store.get(self.owner, "trace")

    @property
    def ring(self):
        """Pending spike jumps (delay_steps + 1, B, n_post), a view into the network's store."""
        return self.store.get(self.owner, "ring")

    @property
    def n_synapses(self):
        return self.store.get(self.owner, "wt" if self.kind == "dense" else "w").size

    def synapse_indices(self):
        """``(pre, post)`` index arrays of all synapses, in storage order."""
        if self.kind == "dense":
            pre, post = np.meshgrid(np.arange(self.pre.n), np.arange(self.post.n), indexing="ij")
            return pre.ravel(), post.ravel()
        pre = np.repeat(np.arange(self.pre.n), np.diff(self.store.get(self.owner, "indptr")))
        return pre, self.store.get(self.owner, "indices").astype(np.int64)

    def post_major(self):
        """Sparse projections: the synapses listed by target, declared once in the store and returned as the
        names ``(by_post_ptr, by_post_pre, by_post)``: the synapses onto target ``i`` are ``by_post[by_post_ptr[i]:
        by_post_ptr[i + 1]]`` (storage indices), by ascending presynaptic neuron ``by_post_pre``, then storage order
        (a stable sort). STDP's potentiation and the CUDA backend's delivery read them."""
        store, own = self.store, self.owner
        if not store.has(own, "by_post"):
            pre, post = self.synapse_indices()
            order = np.argsort(post, kind="stable")
            ptr = np.zeros(self.post.n + 1, dtype=np.int64)
            np.cumsum(np.bincount(post, minlength=self.post.n), out=ptr[1:])
            store.adopt(own, "by_post", order.astype(np.int64), kind="scratch", doc="synapse ids sorted by post")
            store.adopt(own, "by_post_pre", pre[order].astype(np.int64), kind="scratch",
                        doc="presynaptic neuron of each synapse in by_post order")
            store.adopt(own, "by_post_ptr", ptr, kind="scratch", doc="row pointers of by_post")
        return "by_post_ptr", "by_post_pre", "by_post"

    @property
    def weights(self):
        """A copy of the weights: (n_post, n_pre) for dense projections, (n_synapses,) in the order of
        :meth:`synapse_indices` for sparse ones."""
        if self.kind == "dense":
            return self.store.get(self.owner, "wt").T.copy()
        return self.store.get(self.owner, "w").copy()

    def set_weights(self, weights):
        """Replace the weights (same shapes as :attr:`weights`, or a scalar), in the port's unit."""
        owner = f"{self.pre.name} -> {self.post.name}.{self.target}: set_weights"
        shape = (self.post.n, self.pre.n) if self.kind == "dense" else (self.n_synapses,)
        w = self._normalised(check_array("weights", weights, shape, owner=owner, unit=self.unit))
        self._check_sign(w, owner)
        if self.kind == "dense":
            self.store.get(self.owner, "wt")[...] = w.T
        else:
            self.store.get(self.owner, "w")[...] = w

    def _check_sign(self, weights, owner):
        """Dale's law: ValueError naming the projection and its first weight of the wrong sign.

        ``weights`` as :attr:`weights` returns them: (n_post, n_pre) dense, (n_synapses,) sparse.
        """
        bad = np.flatnonzero(self.sign * np.ravel(weights) < 0)
        if bad.size == 0:
            return
        k = int(bad[0])
        if self.kind == "dense":
            i, j = np.unravel_index(k, np.shape(weights))
            where = f"weights[{i}, {j}] (post {i}, pre {j})"
        else:
            pre, post = self.synapse_indices()
            where = f"weights[{k}] (synapse {k}: pre {pre[k]} -> post {post[k]})"
        raise ValueError(f"{owner}: '{self.pre.name}' is declared {self.pre.dale} (Dale's law), so the weights onto "
                         f"'{self.post.name}.{self.target}' ({self.unit}) must be {'>=' if self.sign > 0 else '<='} 0; "
                         f"got {float(np.ravel(weights)[k])!r} at {where}")

    def signed_bounds(self, w_min, w_max, owner):
        """A learning rule's weight bounds narrowed to :attr:`sign` (Dale's law), in the port's unit:
        ``(max(w_min, 0), w_max)`` for +1, ``(w_min, min(w_max, 0))`` for -1, unchanged for 0. The rule
        clips to them after every update (and a weight-dependent rule measures its distances to them).
        ValueError naming ``owner`` (the rule) if the sign leaves no interval."""
        if self.sign == 0:
            return w_min, w_max
        lo, hi = (max(w_min, 0.0), w_max) if self.sign > 0 else (w_min, min(w_max, 0.0))
        if lo >= hi:
            raise ValueError(f"{owner}: the bounds [w_min, w_max] = [{w_min}, {w_max}] leave no room for the weights "
                             f"of {self.pre.name} -> {self.post.name}.{self.target}, which Dale's law keeps "
                             f"{'>=' if self.sign > 0 else '<='} 0 ('{self.pre.name}' is {self.pre.dale})")
        return lo, hi

    def _normalised(self, weights):
        """``weights`` as given, or dendritically normalised (:mod:`compsim.normalisation`) with ``normalise=s``."""
        if self.normalise is None:
            return weights
        if self.kind == "dense":
            return dendritic_normalisation(weights, self.normalise)
        return dendritic_normalisation(np.broadcast_to(weights, self._post_of_synapse.shape), self.normalise,
                                       self._post_of_synapse, self.post.n)

    def synapse_weights(self):
        """Weights in the order of :meth:`synapse_indices` (dense: W.T raveled), float64."""
        return self.store.get(self.owner, "wt" if self.kind == "dense" else "w").ravel().astype(np.float64)

    def weight_matrix(self):
        """Dense (n_post, n_pre) weight matrix (sums duplicates of sparse synapses)."""
        if self.kind == "dense":
            return self.store.get(self.owner, "wt").T.astype(np.float64)
        W = np.zeros((self.post.n, self.pre.n))
        pre, post = self.synapse_indices()
        np.add.at(W, (post, pre), self.store.get(self.owner, "w"))
        return W

    @property
    def fir(self):
        """Whether the kernel is a finite impulse response (:class:`~compsim.TruncatedDoubleExponential`)."""
        return isinstance(self.synapse, TruncatedDoubleExponential)

    def set_input(self, values):
        """Set the input this projection currently contributes to its port: (n_post,) or (B, n_post)."""
        if self.fir:
            raise ValueError(f"{self.pre.name} -> {self.post.name}.{self.target}: set_input needs a kernel with "
                             f"traces; {self.synapse!r} has none (its input is a sum over past spikes)")
        batch = self.trace.shape[1]
        shape = (batch, self.post.n) if np.ndim(values) == 2 else (self.post.n,)
        v = check_array("values", values, shape, owner=f"{self.post.name}.{self.target}", unit=self.unit)
        self.trace[...] = 0.0
        self.trace[0] = v / self.synapse.output_coefficient()

    def clear(self):
        """Zero the traces and the pending (delayed) jumps, in every copy."""
        self.trace[...] = 0.0
        self.ring[...] = 0.0

    def _check_same_step(self, same_step, network, owner):
        """``same_step`` as a bool, if the schedule allows it: no delay, spikes (not graded), and a pre
        that is a source or a population added before the post (populations update in that order)."""
        if not isinstance(same_step, (bool, np.bool_)):
            raise ValueError(f"{owner}: parameter 'same_step' must be True or False, got {same_step!r}")
        if not same_step:
            return False
        if self.delay_steps or self.graded:
            raise ValueError(f"{owner}: 'same_step' needs a spiking pre and delay 0, got "
                             f"{'graded transmission' if self.graded else f'delay {self.delay_steps} steps'}")
        order = network.populations
        if self.pre.update_phase != "sources" and order.index(self.pre) >= order.index(self.post):
            raise ValueError(f"{owner}: 'same_step' needs '{self.pre.name}' updated before '{self.post.name}' "
                             "in the step: a spike source, or a population added to the network before it")
        return True

    @property
    def uses_ring(self):
        """Whether spikes go through the ring buffer rather than straight into the trace.

        Needed for delays; also used by two-trace kernels, so that a spike is
        delivered once (into the ring) instead of once per trace.
        """
        return self.delay_steps > 0 or self.synapse.n_traces != 1

    # -- code generation ------------------------------------------------------------
    def emit_input(self, f, x, first, per_neuron=False):
        """Lines of the post population's loop that add this projection's input to port variable ``x``
        (``per_neuron``: without passes over a copy's neurons, for the CUDA backend's thread per neuron)."""
        if self.fir:
            return self._emit_fir_input(f, x, first, per_neuron)
        r = self.index
        tr, ring, decay = f.array(self.owner, "trace"), f.array(self.owner, "ring"), f.array(self.owner, "decay")
        n_traces = self.synapse.n_traces
        head = [f"d{r} = ({', '.join(f'{decay}[{t}]' for t in range(n_traces + 1))},)"]
        copy = [f"tr{r}_{t} = {tr}[{t}, b]" for t in range(n_traces)]
        if self.uses_ring:  # jumps wait in the ring buffer until due
            head.append(f"slot{r} = step % {ring}.shape[0]")
            copy.append(f"ring{r} = {ring}[slot{r}, b]")
            body = [f"jump = ring{r}[i]", f"ring{r}[i] = 0.0", f"a = tr{r}_0[i] + jump"]
        else:  # zero delay, one trace: jumps were added to the trace directly
            body = [f"a = tr{r}_0[i]"]
        # a decaying trace becomes 0 rather than subnormal (slow arithmetic)
        flush = f.out.use(flush_subnormal)
        tiny = repr(float(np.finfo(self.store.get(self.owner, "trace").dtype).tiny))
        body.append(f"tr{r}_0[i] = {flush}(a * d{r}[0], {tiny})")
        if n_traces == 2:
            body += [f"a2 = tr{r}_1[i] + jump", f"tr{r}_1[i] = {flush}(a2 * d{r}[1], {tiny})",
                     f"a = d{r}[2] * (a - a2)"]
        body.append(f"{x} {'=' if first else '+='} a")
        return {"head": head, "copy": copy, "body": body}

    def _emit_fir_input(self, f, x, first, per_neuron):
        """FIR kernel: ``x = sum_k kappa(k dt) * (jumps due k - 1 steps ago)``, k = 1 .. n_taps (the taps are
        literals, the sum runs newest slot first, in fused multiply-adds), which also zeroes the oldest slot:
        this step's delivery writes into it (due delay_steps + 1 steps later). On the CPU summed for the whole
        copy in one pass before the neuron loop (one array in the neuron loop instead of n_taps, so that it
        vectorises); ``per_neuron``: in the neuron's own lines, in the same order. The ring's slots are found from one
        integer division per step: slot ``step % n_slots`` minus k, a negative index counting from the end."""
        r = self.index
        ring = f.array(self.owner, "ring")
        taps = self.store.get(self.owner, "decay")  # kappa(k dt), k = 1 .. n_taps
        head = [f"slot{r} = step % {ring}.shape[0]"]
        rows = [f"fr{r}_{k} = {ring}[slot{r} - {k}, b]" for k in range(taps.size)]
        fused = f.out.use(fma)
        terms = f"{float(taps[0])!r} * fr{r}_0[i]"
        for k in range(1, taps.size):  # newest first, each tap a fused multiply-add
            terms = f"{fused}({float(taps[k])!r}, fr{r}_{k}[i], {terms})"
        oldest = f"fr{r}_{taps.size - 1}[i] = 0.0"
        if per_neuron:
            return {"head": head, "copy": rows, "body": [f"fir{r} = {terms}", oldest,
                                                          f"{x} {'=' if first else '+='} fir{r}"]}
        total = f.array(self.owner, "fir_sum")
        copy = [*rows, f"fir{r} = {total}[b]", "for i in range(n):", f"    fir{r}[i] = {terms}", f"    {oldest}"]
        body = [f"{x} {'=' if first else '+='} fir{r}[i]"]
        return {"head": head, "copy": copy, "body": body}

    def stages(self):
        if self.graded:
            delivery = GradedDenseDelivery(self) if self.kind == "dense" else GradedSparseDelivery(self)
        else:
            delivery = DenseDelivery(self) if self.kind == "dense" else SparseDelivery(self)
        return [delivery] + ([] if self.rule is None else self.rule.stages())

    def describe(self):
        return {
            "pre": self.pre.name,
            "post": self.post.name,
            "target": self.target,
            "kind": self.kind,
            "transmission": "graded" if self.graded else "spikes",
            "n_synapses": int(self.n_synapses),
            "delay_steps": self.delay_steps,
            "same_step": self.same_step,
            "synapse": self.synapse.describe(),
            "connectivity": None if self.connectivity is None else self.connectivity.describe(),
            "plasticity": None if self.rule is None else self.rule.describe(),
            "normalise": self.normalise,
            "sign": self.sign,
        }


#: CUDA backend: threads that list one spike's synapses together (a warp: neighbouring synapses, coalesced reads)
EVENT_LANES = 32


class _Delivery(Stage):
    """Phase ``delivery``: add the weights of this step's presynaptic spikes where they will be read.

    A ``same_step`` projection delivers right after its presynaptic population's update instead
    (phase ``sources`` or ``populations``), due in the same step. Subclasses name their compiled
    ``kernel`` and the projection arrays it takes after the spikes.
    """

    phase = "delivery"
    kernel = None
    copy_range = True  # the kernel takes a range of copies first: kernel(b0, b1, *source, *fields, target)
    fields = ()
    lead = 1  # steps from delivery to the first postsynaptic update that reads it (besides the delay)

    def __init__(self, subject):
        super().__init__(subject)
        if subject.same_step:
            self.phase, self.follows, self.lead = subject.pre.update_phase, subject.pre, 0

    def describe(self):
        j = self.subject
        return f"deliver {j.pre.name} -> {j.post.name}.{j.target} ({j.kind})"

    def source(self, out):
        """The presynaptic arguments of the kernel: this step's spikes (index lists and counts)."""
        own = self.subject.pre.owner
        return f"{out.array(own, 'spk')}, {out.array(own, 'nsp')}, {out.array(own, 'cnt')}[0]"

    def target(self, out):
        """Where the input goes: (B, n_post)."""
        j = self.subject
        if j.uses_ring:  # read from step + delay_steps + lead on (a FIR kernel keeps reading it n_taps steps)
            ring = out.array(j.owner, "ring")
            return f"{ring}[(step + {j.delay_steps + self.lead}) % {ring}.shape[0]]"
        return f"{out.array(j.owner, 'trace')}[0]"

    def emit(self, out):
        """A kernel over a range of copies (``copy_range``) for every copy: one call in the step loop, or, when the
        loops of the pre- or postsynaptic population are multi-threaded and there are several copies, a helper
        function sharing the copies out over the threads (each writes only its own copy's input). Otherwise one
        call for the whole batch."""
        j = self.subject
        if not self.copy_range:
            args = ", ".join(out.array(j.owner, field) for field in self.fields)
            out.emit(f"{out.use(self.kernel)}({self.source(out)}, {args}, {self.target(out)})")
            return
        kernel, n_copies = out.use(self.kernel), f"{out.array(j.pre.owner, 'nsp')}.shape[0]"
        if {j.pre.owner, j.post.owner} & out.parallel and j.post.batch > 1:
            f = out.function(f"deliver{j.index}", ("step",), parallel=True)
            f.emit(1, f"into = {self.target(f)}")
            f.emit(1, f"for b in prange({f.array(j.pre.owner, 'nsp')}.shape[0]):")
            f.emit(2, self._call(f, kernel, "b, b + 1", "into"))
            out.add_function(f)
            out.emit(f.call("step"))
            return
        out.emit(self._call(out, kernel, f"0, {n_copies}", self.target(out)))

    def per_copy(self):
        return self.copy_range

    def emit_copy(self, out):
        """The kernel for copy ``b`` alone."""
        out.emit(self._call(out, out.use(self.kernel), "b, b + 1", self.target(out)))

    def _call(self, f, kernel, copies, into):
        """``kernel(b0, b1, ...)`` for copies ``b0 .. b1 - 1`` with the arrays of writer ``f``, into the target rows
        ``into``."""
        args = ", ".join(f.array(self.subject.owner, field) for field in self.fields)
        return f"{kernel}({copies}, {self.source(f)}, {args}, {into})"

    def emit_gather(self, out, gather, args):
        """CUDA backend: one thread per copy and target runs ``gather(b, i, *args, target)``."""
        n_post = self.subject.post.n
        out.comment(self.describe())
        out.grid_loop("cell", f"{self.subject.post.batch * n_post}")
        out.emit(f"{out.use(gather)}(cell // {n_post}, cell % {n_post}, {args}, {self.target(out)})", 1)
        out.end_stage()


class DenseDelivery(_Delivery):
    """Dense weights: event-driven row adds or one BLAS gemv per copy (:func:`compsim.engine.kernels.deliver_dense`)."""

    kernel = staticmethod(kernels.deliver_dense)
    fields = ("wt", "dense_counts", "dot_out")

    def emit_cuda(self, out):
        self.emit_gather(out, kernels.gather_dense, f"{self.source(out)}, {out.array(self.subject.owner, 'wt')}")


class SparseDelivery(_Delivery):
    """CSR weights, event-driven (:func:`compsim.engine.kernels.deliver_sparse`)."""

    kernel = staticmethod(kernels.deliver_sparse)
    fields = ("indptr", "indices", "w")

    def emit_cuda(self, out):
        """Event-driven in two passes, the sum in the CPU's order:

        1. a warp of :data:`EVENT_LANES` threads per spike lists its row's synapses at their targets
           (``events[b, by_post_ptr[i] + k]``, ``k`` counted by an atomic ``fill[b, i]``);
        2. after the phase's barrier, a thread per copy and target sorts its few events and adds them
           (:func:`compsim.engine.kernels.sum_events`).

        The work is proportional to the synapses of the spiking neurons, not to all synapses."""
        j = self.subject
        by_post = j.post_major()
        syn_pre, fill, events = self.event_lists()
        A = lambda field: out.array(j.owner, field)  # noqa: E731
        spk, nsp, cnt = (out.array(j.pre.owner, f) for f in ("spk", "nsp", "cnt"))
        lanes, n_post = EVENT_LANES, j.post.n
        out.comment(f"{self.describe()}: each spike's synapses to their targets' event lists")
        out.emit(f"for b in range({nsp}.shape[0]):")
        out.emit(f"for q in range(tid, {nsp}[b] * {lanes}, nthreads):", 1)
        out.emit(f"j_pre = {spk}[b, q // {lanes}]", 2)
        out.emit(f"for syn in range({A('indptr')}[j_pre] + q % {lanes}, {A('indptr')}[j_pre + 1], {lanes}):", 2)
        out.emit(f"i_post = {A('indices')}[syn]", 3)
        out.emit(f"{A(events)}[b, {A('by_post_ptr')}[i_post] + cuda.atomic.add({A(fill)}, (b, i_post), 1)] = syn", 3)

        def add_events(out):
            args = ", ".join(A(f) for f in (*by_post, syn_pre, "w", fill, events))
            out.comment(f"{self.describe()}: each target adds its events")
            out.grid_loop("cell", f"{j.post.batch * n_post}")
            out.emit(f"{out.use(kernels.sum_events)}(cell // {n_post}, cell % {n_post}, {cnt}[0], {args}, "
                     f"{self.target(out)})", 1)
        out.after_barrier(add_events)
        out.end_stage()

    def event_lists(self):
        """The CUDA delivery's arrays, declared once: ``syn_pre`` (the presynaptic neuron of each synapse), ``fill``
        (B, n_post: events per target this step) and ``events`` (B, n_synapses: their synapse indices, target
        ``i``'s from ``by_post_ptr[i]``)."""
        j, store = self.subject, self.subject.store
        if not store.has(j.owner, "events"):
            pre, _ = j.synapse_indices()
            index = np.int32 if j.n_synapses < 2**31 else np.int64
            store.adopt(j.owner, "syn_pre", pre.astype(np.int32), kind="scratch", doc="presynaptic neuron per synapse")
            store.declare(j.owner, "fill", (j.post.batch, j.post.n), np.int32, kind="scratch",
                          doc="CUDA delivery: events per target this step")
            store.declare(j.owner, "events", (j.post.batch, j.n_synapses), index, kind="scratch",
                          doc="CUDA delivery: this step's synapses, listed by target")
        return "syn_pre", "fill", "events"


class _GradedDelivery(_Delivery):
    """Graded (rate) transmission: every step, the weighted sum of the presynaptic activities (the
    population's ``activity`` variable, e.g. ``p`` of a conductance neuron in rate mode).

    Runs first in the step (phase ``sources``), so that the postsynaptic update of step t sees the
    activities as they are at the start of step t (after step t - 1), ``delay_steps`` later with a
    delay: every population is updated from the same snapshot, as in Brian2's ``(summed)`` variables.
    """

    phase = "sources"
    lead = 0  # delivered before the populations update in the same step
    copy_range = False  # one product for the whole batch

    def describe(self):
        j = self.subject
        return f"deliver {j.pre.name} -> {j.post.name}.{j.target} ({j.kind}, graded)"

    def source(self, out):
        pre = self.subject.pre
        return f"{out.array(pre.owner, 'state')}[{pre.var_names.index(pre.activity)}]"


class GradedDenseDelivery(_GradedDelivery):
    """Dense weights: one BLAS product for the whole batch (:func:`compsim.engine.kernels.deliver_graded_dense`)."""

    kernel = staticmethod(kernels.deliver_graded_dense)
    fields = ("wt", "dot_out")

    def emit_cuda(self, out):
        self.emit_gather(out, kernels.gather_graded, f"{self.source(out)}, {out.array(self.subject.owner, 'wt')}")


class GradedSparseDelivery(_GradedDelivery):
    """CSR weights, row by row over the active presynaptic units (:func:`compsim.engine.kernels.deliver_graded_sparse`)."""

    kernel = staticmethod(kernels.deliver_graded_sparse)
    fields = ("indptr", "indices", "w")

    def emit_cuda(self, out):
        """Each target sums its synapses' terms in the CPU's order (post-major, :meth:`Projection.post_major`):
        :func:`~compsim.engine.kernels.gather_sparse` with the activities in the place of spike counts."""
        j = self.subject
        args = ", ".join(out.array(j.owner, f) for f in (*j.post_major(), "w"))
        self.emit_gather(out, kernels.gather_sparse, f"{self.source(out)}, {args}")
