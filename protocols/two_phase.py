"""The two-phase training protocol of Guerguiev, Lillicrap & Richards (2017), run inside the compiled loop.

Training, per example (paper, "Training paradigm" and "Simulation details"; the original code):

* **forward phase**: the input shows the image (rate ``max_rate * pixel``),
  no teaching; length ``phase_ms`` plus an extra ``int(Wald(mean 2, scale 1))`` ms;
* **target phase**: the same image, and the output somas receive the
  teaching conductances ``g_exc = t``, ``g_inh = 1 - t`` of the one-hot label
  ``t``; length drawn like the forward phase's;
* in each phase, averages over its last ``phase_ms - settle_ms`` (20 ms) of
  the somatic potentials, apical potentials (plateaus
  ``alpha = sigma(mean A)`` at the phase end), output rates and presynaptic
  filtered spike trains; at the end of the target phase the weights and
  biases change (:mod:`compsim.plasticity.segregated`).

The state is not cleared between training examples. **Testing**: one forward
phase of ``test_ms`` (250 ms, as in the original code; the paper says 500)
per image, after clearing every potential, trace and spike history;
prediction = argmax of the output's mean somatic potential over the last
``test_ms - test_settle_ms`` (220 ms).

Everything above happens in the compiled loop: the protocol's schedule
(phase ends, kinds, the example each batch copy shows) is an array, and
Python runs once per chunk of steps, not per phase. With a batch of B
copies, copy ``b`` shows example ``k B + b`` in round ``k``; all copies
share the phase lengths of the round, and the weight changes are averaged
over the copies (mini-batch). Phase lengths come from a generator keyed by
(``seed``, round number), so a training run split into several calls (or
resumed from a checkpoint) draws the same lengths as one call.

On the CUDA backend every piece of this work runs a thread per element (pixel,
neuron, weight) with the CPU kernels' per-element forms, and a phase's end runs
in passes separated by grid barriers (window means, errors, updates, Dale's
law, symmetric feedback); a thread per weight adds its copies' changes in the
CPU's order, so both backends give the same weights.

One step's order: the protocol starts a phase (new image, teaching on or off,
state cleared for a test) before the sources draw their spikes; it sums
its averages and applies the updates in the ``plasticity`` phase, after the
step's spikes have been delivered.
"""
import time
from dataclasses import dataclass

import numpy as np
from numba import njit

from compsim.checks import check_number, check_positive
from compsim.engine.plan import Stage
from compsim.plasticity import segregated as rules
from compsim.plasticity.segregated import FORWARD, TARGET, TEST, SegregatedLearning

PHASE_NAMES = {FORWARD: "forward", TARGET: "target", TEST: "test"}  # the markers' labels


@dataclass
class PhaseResult:
    """What a training or test run produced: per example, the output's mean somatic potential
    (forward phase in training, the test phase in testing), the predictions, labels and timing."""

    mean_output: np.ndarray
    labels: np.ndarray
    wall_s: float

    @property
    def predictions(self):
        return np.argmax(self.mean_output, axis=1)

    @property
    def accuracy(self):
        """Fraction of examples whose prediction equals the label."""
        return float(np.mean(self.predictions == self.labels)) if len(self.labels) else float("nan")

    @property
    def images_per_s(self):
        return len(self.labels) / self.wall_s if self.wall_s > 0 else float("nan")


class SegregatedTraining:
    """Train and test a :class:`compsim.models.segdend.SegregatedNetwork` with the two-phase protocol.

    Parameters
    ----------
    seg : SegregatedNetwork
        The network (its forward projections must be dense and without delay).
    rule : SegregatedLearning
        Learning rates and options (default: the paper's 784-500-10 rates).
    max_rate : float
        Input rate of a white pixel (Hz); the paper's 200 Hz.
    phase_ms, settle_ms : float
        Minimal phase length and the time before the averaging window (ms):
        the window is the last ``phase_ms - settle_ms`` of every phase.
    extra_wald : tuple (mean, scale) or None
        Extra phase length ``int(Wald(mean, scale))`` ms (paper: (2, 1)); None: fixed phases.
    test_ms, test_settle_ms : float
        Test phase length and the time before its averaging window (ms).
    seed : int
        Seed of the phase lengths.
    """

    def __init__(self, seg, rule=None, *, max_rate=200.0, phase_ms=50.0, settle_ms=30.0, extra_wald=(2.0, 1.0),
                 test_ms=250.0, test_settle_ms=30.0, seed=0):
        owner = "SegregatedTraining"
        self.seg, self.net = seg, seg.net
        self.rule = SegregatedLearning() if rule is None else rule
        self.max_rate = check_positive("max_rate", max_rate, "Hz", owner=owner)
        dt = self.net.dt
        self.phase_steps = self._steps("phase_ms", phase_ms, dt)
        self.window = self.phase_steps - self._steps("settle_ms", settle_ms, dt, zero=True)
        self.test_steps = self._steps("test_ms", test_ms, dt)
        self.test_window = self.test_steps - self._steps("test_settle_ms", test_settle_ms, dt, zero=True)
        if self.window < 1 or self.test_window < 1:
            raise ValueError(f"{owner}: settle_ms must be shorter than phase_ms and test_settle_ms shorter than test_ms")
        if extra_wald is not None:
            extra_wald = tuple(check_positive(f"extra_wald[{k}]", v, "ms", owner=owner) for k, v in enumerate(extra_wald))
        self.extra_wald = extra_wald
        self.seed = int(seed)
        for j in seg.forward:
            if j.kind != "dense" or j.delay_steps:
                raise ValueError(f"{owner}: the forward projection {j.pre.name} -> {j.post.name} must be dense "
                                 "and without delay")
        out = seg.out
        if np.ndim(out.p["phi_max"]) or any(np.ndim(h.p["phi_max"]) for h in seg.hidden):
            raise ValueError(f"{owner}: phi_max must be the same in every batch copy")
        self.lambda_max = float(out.p["phi_max"]) * dt / 1000.0
        self.gains = self.rule.gains(self.lambda_max, len(seg.hidden))
        if self.rule.feedback == "symmetric" and len(seg.hidden) != 1:
            raise ValueError(f"{owner}: symmetric feedback needs exactly one hidden layer, got {len(seg.hidden)}")
        self.learns_feedback = self.rule.feedback == "learned"
        if self.learns_feedback:
            self.gains = np.concatenate([self.gains, self.rule.feedback_etas])
            if len({repr(j.synapse) for j in seg.feedback}) != 1 or any(j.delay_steps for j in seg.feedback):
                raise ValueError(f"{owner}: learned feedback needs one kernel and no delay on every feedback projection")
        self.net.add_protocol(self)

    @staticmethod
    def _steps(name, value, dt, zero=False):
        value = check_number(name, value, lo=0.0, lo_open=not zero, unit="ms", owner="SegregatedTraining")
        steps = int(round(value / dt))
        if abs(steps * dt - value) > 1e-6 * max(dt, value):
            raise ValueError(f"SegregatedTraining: parameter '{name}' must be a multiple of dt = {dt} ms, got {value}")
        return steps

    # -- set-up by the network -------------------------------------------------------------------
    def attach(self, index):
        """Declare the protocol's arrays in the network's store (called by :meth:`compsim.Network.add_protocol`)."""
        self.owner = f"x{index}"
        seg, net, store, own = self.seg, self.net, self.net.store, self.owner
        B, dtype = net.batch, np.float64
        store.declare(own, "clock", (2,), np.int64, kind="state", doc="current phase, whether it has begun")
        store.declare(own, "rounds", (1,), np.int64, kind="state", doc="training rounds completed")
        for m, j in enumerate(seg.forward):
            if j.fir:
                store.declare(own, f"pre{m}", (j.n_taps, B, j.pre.n), dtype, kind="state",
                              doc=f"spike counts of '{j.pre.name}' over the kernel's length")
            else:
                store.declare(own, f"pre{m}", (j.synapse.n_traces, B, j.pre.n), dtype, kind="state",
                              doc=f"filtered spike trains of '{j.pre.name}'")
            store.declare(own, f"psp{m}", (B, j.pre.n), dtype, kind="state", doc="window sum of the presynaptic psp")
            store.declare(own, f"pspf{m}", (B, j.pre.n), dtype, kind="state", doc="forward-phase mean presynaptic psp")
            store.declare(own, f"err{m}", (B, j.post.n), dtype, kind="scratch", doc=f"errors of '{j.post.name}'")
        for m, h in enumerate(seg.hidden):
            for name, doc in (("hsum", "window sums of C, A"), ("hf", "forward means of C, A"), ("ht", "target means")):
                store.declare(own, f"{name}{m}", (2, B, h.n), dtype, kind="state", doc=f"{doc} of '{h.name}'")
            if self.learns_feedback:
                store.declare(own, f"errfb{m}", (B, h.n), dtype, kind="scratch", doc=f"feedback errors of '{h.name}'")
        if self.learns_feedback:  # the output's filtered spikes, the apical input of every hidden layer
            fb, n_out = seg.feedback[0], seg.out.n
            shape = (fb.n_taps, B, n_out) if fb.fir else (fb.synapse.n_traces, B, n_out)
            store.declare(own, "fbpre", shape, dtype, kind="state", doc="filtered output spikes (apical input)")
            store.declare(own, "fbpsp", (B, n_out), dtype, kind="state", doc="window sum of the apical psp")
            store.declare(own, "fbpspf", (B, n_out), dtype, kind="state", doc="forward-phase mean apical psp")
        for name, doc in (("osum", "window sums of C, rate"), ("of", "forward means"), ("ot", "target means")):
            store.declare(own, name, (2, B, seg.out.n), dtype, kind="state", doc=f"{doc} of '{seg.out.name}'")
        store.declare(own, "active", (B,), np.int64, kind="scratch", doc="copies showing an example this phase")
        store.adopt(own, "gains", self.gains, kind="scratch", doc="eta * P per layer")
        self._set_schedule(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, B), np.int64),
                           np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, seg.inp.n)),
                           np.zeros((0, seg.out.n)), 0)

    def _set_schedule(self, ends, kinds, examples, rounds, windows, images, targets, n_rounds):
        store, own = self.net.store, self.owner
        for name, arr in (("phase_end", ends), ("phase_kind", kinds), ("phase_example", examples),
                          ("phase_round", rounds), ("window", windows), ("images", images), ("targets", targets)):
            store.adopt(own, name, arr, kind="scratch", doc=f"schedule: {name}")
        store.declare(own, "outputs", (n_rounds, self.net.batch, self.seg.out.n), np.float64, kind="scratch",
                      doc="mean output somatic potential per round and copy")
        store.get(own, "clock")[:] = 0

    def stages(self):
        return [PhaseStart(self), PhaseLearning(self)]

    def describe(self):
        return {"protocol": "two-phase (Guerguiev et al. 2017)", "rule": self.rule.describe(),
                "phase_steps": self.phase_steps, "window": self.window, "extra_wald": self.extra_wald,
                "test_steps": self.test_steps, "test_window": self.test_window, "max_rate_hz": self.max_rate}

    # -- running -----------------------------------------------------------------------------------
    @property
    def rounds_done(self):
        """Training rounds (B examples each) completed so far; keys the phase lengths."""
        return int(self.net.store.get(self.owner, "rounds")[0])

    def phase_lengths(self, first_round, n_rounds):
        """Steps of the forward and target phases of rounds ``first_round ..``: array (n_rounds, 2)."""
        lengths = np.full((n_rounds, 2), self.phase_steps, dtype=np.int64)
        if self.extra_wald is not None:
            mean, scale = self.extra_wald
            for k in range(n_rounds):
                rng = np.random.default_rng([self.seed, 0x7A5E, first_round + k])
                lengths[k] += (rng.wald(mean, scale, size=2) / self.net.dt).astype(np.int64)
        return lengths

    def train(self, images, labels, *, progress=False):
        """Train on ``images`` (n, n_in) in [0, 1] with integer ``labels`` (n,), in order; returns a
        :class:`PhaseResult` of the forward phases (the network's guesses before each update)."""
        images, labels = self._examples(images, labels)
        B, n = self.net.batch, len(labels)
        n_rounds = -(-n // B)
        lengths = self.phase_lengths(self.rounds_done, n_rounds)
        kinds = np.tile([FORWARD, TARGET], n_rounds)
        windows = np.full(2 * n_rounds, self.window, dtype=np.int64)
        result = self._run(images, labels, lengths.ravel(), kinds, windows, n_rounds, progress)
        self.net.store.get(self.owner, "rounds")[0] += n_rounds
        return result

    def test(self, images, labels, *, progress=False):
        """Test on ``images`` (state cleared before each); returns a :class:`PhaseResult`."""
        images, labels = self._examples(images, labels)
        n_rounds = -(-len(labels) // self.net.batch)
        lengths = np.full(n_rounds, self.test_steps, dtype=np.int64)
        kinds = np.full(n_rounds, TEST, dtype=np.int64)
        windows = np.full(n_rounds, self.test_window, dtype=np.int64)
        return self._run(images, labels, lengths, kinds, windows, n_rounds, progress)

    def _examples(self, images, labels):
        n_in = self.seg.inp.n
        images = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
        labels = np.asarray(labels).astype(np.int64).ravel()
        if images.shape[1] != n_in or len(labels) != len(images):
            raise ValueError(f"SegregatedTraining: images must be (n, {n_in}) with one label each, got "
                             f"{images.shape} and {labels.shape}")
        if len(images) == 0:
            raise ValueError("SegregatedTraining: no images given")
        if images.min() < 0 or images.max() > 1:
            raise ValueError("SegregatedTraining: pixel values must be in [0, 1]")
        n_out = self.seg.out.n
        if labels.min() < 0 or labels.max() >= n_out:
            raise ValueError(f"SegregatedTraining: labels must be in [0, {n_out - 1}], got {labels.min()}..{labels.max()}")
        return images, labels

    def _run(self, images, labels, lengths, kinds, windows, n_rounds, progress):
        net, B = self.net, self.net.batch
        per_round = len(kinds) // n_rounds
        index = np.arange(n_rounds * B)
        index[len(labels):] = -1  # copies without an example in the last round show nothing and do not learn
        examples = np.repeat(index.reshape(n_rounds, B), per_round, axis=0)
        rounds = np.repeat(np.arange(n_rounds), per_round)
        ends = net.step + np.cumsum(lengths)
        targets = np.eye(self.seg.out.n)[labels]
        self._set_schedule(ends, kinds, examples, rounds, windows, self.max_rate * images, targets, n_rounds)
        src = self.seg.inp
        src.rates_buffer(self.max_rate)
        starts = (net.step + np.concatenate([[0], np.cumsum(lengths)[:-1]])) * net.dt
        shown = examples.max(axis=1)  # with a batch: the highest example shown in the round
        net.mark([f"{PHASE_NAMES[kind]} {example}" for kind, example in zip(kinds, shown)], starts)
        t0 = time.perf_counter()
        net.run(float(lengths.sum()) * net.dt, progress=progress)
        wall = time.perf_counter() - t0
        outputs = net.store.get(self.owner, "outputs").reshape(n_rounds * B, -1)[: len(labels)].copy()
        return PhaseResult(outputs, labels, wall)


class _ProtocolStage(Stage):
    """A stage of the protocol, written for either backend by :class:`_Lines`."""

    def describe(self):
        return f"{self.verb} (two-phase protocol)"

    def emit(self, out):
        self.write(_Lines(out, cuda=False))

    def emit_cuda(self, out):
        self.write(_Lines(out, cuda=True))
        out.end_stage()


class _Lines:
    """The protocol's lines for one backend: :meth:`each` runs a per-element kernel for every element, a thread per
    element on the CUDA backend, in loops (or a whole-array kernel) on the CPU; :meth:`sync` is a grid-wide barrier
    on CUDA (nothing on the CPU, whose order is sequential)."""

    def __init__(self, out, cuda, copy=False):
        self.out, self.cuda, self.copy = out, cuda, copy  # copy: the lines of copy ``b`` (copy-major CPU loop)

    def emit(self, text, indent):
        self.out.emit(text, indent)

    def array(self, owner, field):
        return self.out.array(owner, field)

    def size(self, owner, field):
        return int(self.out.store.get(owner, field).size)

    def each(self, indent, kernel, cell, shape, *args):
        """``cell(index, *args)`` for every index of ``shape``: (rows, columns) gives ``cell(row, column, ...)``,
        (size,) ``cell(k, ...)``; on CUDA a thread per index (grid-stride loop), on the CPU in order (nested
        loops), or ``kernel(*args)`` where a whole-array kernel orders the work better for the CPU."""
        joined = ", ".join(str(a) for a in args)
        if self.copy:  # copy b's elements: (B, n) gives cell(b, i, ...) for each i; (B,) cell(b, ...)
            if len(shape) == 2:
                self.emit(f"for i in range({shape[1]}):", indent)
                self.emit(f"{self.out.use(cell)}(b, i, {joined})", indent + 1)
            else:
                self.emit(f"{self.out.use(cell)}(b, {joined})", indent)
            return
        if not self.cuda and kernel is not None:
            self.emit(f"{self.out.use(kernel)}({joined})", indent)
            return
        if len(shape) == 1:
            index = "k"
            self.emit(f"for k in range(tid, {shape[0]}, nthreads):" if self.cuda else f"for k in range({shape[0]}):",
                      indent)
        elif self.cuda:
            rows, cols = shape
            index = f"cell // {cols}, cell % {cols}"
            self.emit(f"for cell in range(tid, {rows * cols}, nthreads):", indent)
        else:
            index = "b, i"
            self.emit(f"for b in range({shape[0]}):", indent)
            indent += 1
            self.emit(f"for i in range({shape[1]}):", indent)
        self.emit(f"{self.out.use(cell)}({index}, {joined})", indent + 1)

    def sync(self, indent):
        if self.cuda:
            self.emit("grid.sync()", indent)

    def serial(self, indent, *lines):
        """Lines for one thread (thread 0 on CUDA, after a barrier)."""
        if self.cuda:
            self.emit("grid.sync()", indent)
            self.emit("if tid == 0:", indent)
            indent += 1
        for line in lines:
            self.emit(line, indent)

    def flat(self, indent, kernel, cell, owner, field, *args):
        """:meth:`each` over every element of the store's array ``owner.field`` (its first argument); nothing if it
        is empty."""
        if self.size(owner, field):
            self.each(indent, kernel, cell, (self.size(owner, field),), self.array(owner, field), *args)


class PhaseStart(_ProtocolStage):
    """Phase ``sources``: at the first step of a phase, show each copy its image, switch the teaching
    conductances on (target phase) or off, and clear the state (test phase)."""

    phase = "sources"
    verb = "start phases"

    def write(self, lines):
        clock = self._start(lines, "")
        lines.serial(1, f"{clock}[1] = 1")

    def per_copy(self):
        return _batch_axes_fit(self.subject, self._cleared())

    def emit_copy(self, out):
        """At a segment's first step, if a phase begins: copy ``b``'s image, teaching and (test) cleared state;
        after the segment, the phase has begun."""
        clock = self._start(_Lines(out, cuda=False, copy=True), "s == s0 and ")
        after = out.global_writer("after")
        after.emit(f"if {clock}[0] < {out.array(self.subject.owner, 'phase_end')}.shape[0]:")
        after.emit(f"{clock}[1] = 1", 1)

    def _cleared(self):
        """The (owner, field) arrays a test phase clears: every projection's traces and ring, the presynaptic
        filters."""
        proto = self.subject
        arrays = [(j.owner, field) for j in proto.net.projections for field in ("trace", "ring")]
        names = [f"pre{m}" for m in range(len(proto.seg.forward))] + (["fbpre"] if proto.learns_feedback else [])
        return [a for a in arrays + [(proto.owner, name) for name in names] if proto.net.store.get(*a).size]

    def _start(self, lines, first):
        """The lines starting a phase that has not begun (``first``: a further condition); returns the clock's
        name."""
        proto = self.subject
        seg, own, B = proto.seg, proto.owner, proto.net.batch
        a = {k: lines.array(own, k) for k in ("clock", "phase_end", "phase_kind", "phase_example", "images",
                                               "targets", "active")}
        rates = lines.array(seg.inp.owner, "rates")
        o_state = lines.array(seg.out.owner, "state")
        rows = seg.out.var_names
        lines.out.comment("two-phase protocol: start of a phase")
        lines.emit(f"if {first}{a['clock']}[1] == 0 and {a['clock']}[0] < {a['phase_end']}.shape[0]:", 0)
        lines.emit(f"ph = {a['clock']}[0]", 1)
        lines.each(1, None, show_image, (B, seg.inp.n), "ph", a["phase_example"], a["images"], rates)
        lines.each(1, None, teach, (B, seg.out.n), "ph", f"{a['phase_kind']}[ph]", a["phase_example"],
                   a["targets"], o_state, rows.index("g_exc"), rows.index("g_inh"))
        lines.each(1, None, mark_active, (B,), "ph", a["phase_example"], a["active"])
        lines.emit(f"if {a['phase_kind']}[ph] == {TEST}:", 1)
        for pop in (*seg.hidden, seg.out):
            lines.each(2, None, zero_state_row, (B, pop.n), lines.array(pop.owner, "state"),
                       pop.var_names.index("v_soma"))
        for owner, field in self._cleared():
            if lines.copy:
                lines.emit(f"{lines.out.use(rules.zero_copy)}(b, {lines.array(owner, field)})", 2)
            else:
                lines.flat(2, rules.zero, rules.zero_cell, owner, field)
        return a["clock"]


def _batch_axes_fit(proto, arrays):
    """Whether each store array ``(owner, field)`` has the batch axis second to last (the per-copy kernels' view)."""
    store, B = proto.net.store, proto.net.batch
    return all(store.get(*a).ndim >= 2 and store.get(*a).shape[-2] == B for a in arrays)


class PhaseLearning(_ProtocolStage):
    """Phase ``plasticity``: filter the presynaptic spikes, sum the window averages, and at a phase's
    last step close its averages, apply the learning rules (after a target phase) and keep the outputs.

    At a phase's end the work runs in passes that each depend on the one before (window means, errors,
    updates, Dale's law, symmetric feedback); the updates of different layers touch different arrays.
    """

    phase = "plasticity"
    verb = "average and learn"

    def write(self, lines):
        clock = lines.array(self.subject.owner, "clock")
        lines.out.comment("two-phase protocol: averages and learning")
        self._sums(lines)
        lines.emit("if step == end - 1:", 1)
        self._phase_end(lines, self._learn)
        lines.serial(2, f"{clock}[0] = ph + 1", f"{clock}[1] = 0")

    def _phase_end(self, lines, learn):
        """At a phase's last step: the window means; after a target phase ``learn(lines, indent)``, else the
        output's guess is kept."""
        proto = self.subject
        seg, own, B = proto.seg, proto.owner, proto.net.batch
        A = lambda field: lines.array(own, field)  # noqa: E731
        L = len(seg.hidden)
        lines.sync(2)
        lines.emit(f"w = float({A('window')}[ph])", 2)
        lines.emit(f"if kind == {TARGET}:", 2)
        self._close(lines, 3, "osum", "ot")
        for m in range(L):
            self._close(lines, 3, f"hsum{m}", f"ht{m}")
        lines.sync(3)
        learn(lines, 3)
        lines.emit("else:", 2)  # forward or test phase: keep the means and the output's guess
        self._close(lines, 3, "osum", "of")
        lines.sync(3)
        lines.each(3, None, copy_output, (B, seg.out.n), f"{A('outputs')}[{A('phase_round')}[ph]]",
                   f"{A('of')}[0]")
        lines.emit(f"if kind == {FORWARD}:", 3)
        for m in range(L):
            self._close(lines, 4, f"hsum{m}", f"hf{m}")
        for m in range(L + 1):
            self._close(lines, 4, f"psp{m}", f"pspf{m}")
        if proto.learns_feedback:
            self._close(lines, 4, "fbpsp", "fbpspf")

    def per_copy(self):
        """Not with FIR kernels (their presynaptic windows read the spike lists of the whole batch)."""
        proto = self.subject
        sums = ["osum", "of", "ot"] + [f"{k}{m}" for m in range(len(proto.seg.hidden)) for k in ("hsum", "hf", "ht")]
        sums += [f"{k}{m}" for m in range(len(proto.seg.forward)) for k in ("psp", "pspf")]
        sums += ["fbpsp", "fbpspf"] if proto.learns_feedback else []
        return not any(j.fir for j in proto.seg.forward) and _batch_axes_fit(proto, [(proto.owner, k) for k in sums])

    def emit_copy(self, out):
        """Per copy and step: the presynaptic filters, window sums and, at a phase's last step, the copy's means and
        errors. A segment of steps ends at a phase's last step; after it, the weight updates shared by the copies
        (after a target phase) and the next phase."""
        lines = _Lines(out, cuda=False, copy=True)
        A = lambda field: lines.array(self.subject.owner, field)  # noqa: E731
        n_phases = f"{A('phase_end')}.shape[0]"
        before = out.global_writer("before")
        before.emit(f"if {A('clock')}[0] < {n_phases}:")
        before.emit(f"s1 = min(s1, {A('phase_end')}[{A('clock')}[0]] - step0)", 1)
        out.comment("two-phase protocol: averages (copy b)")
        self._sums(lines)
        lines.emit("if step == end - 1:", 1)
        self._phase_end(lines, self._errors)  # the updates use every copy's errors: after the segment
        after = _Lines(out.global_writer("after"), cuda=False)
        after.emit(f"ph = {A('clock')}[0]", 0)
        after.emit(f"if ph < {n_phases} and {A('phase_end')}[ph] - step0 == s1:", 0)
        after.emit(f"if {A('phase_kind')}[ph] == {TARGET}:", 1)
        self._updates(after, 2)
        after.emit(f"{A('clock')}[0] = ph + 1", 1)
        after.emit(f"{A('clock')}[1] = 0", 1)

    def _sums(self, lines):
        """Inside ``if ph < number of phases:`` (with ``kind``, ``end``, ``win``): the presynaptic filters and the
        window sums of the step."""
        proto = self.subject
        seg, own, B = proto.seg, proto.owner, proto.net.batch
        A = lambda field: lines.array(own, field)  # noqa: E731
        for j, pre, psp in self._phase_head(lines):
            self._presynaptic(lines, j, A(pre), A(psp), f"win and kind == {FORWARD}")
        lines.emit("if win:", 1)
        lines.emit(f"if kind != {TEST}:", 2)
        for m, h in enumerate(seg.hidden):
            rows = h.var_names
            lines.each(3, None, rules.add_hidden, (B, h.n), lines.array(h.owner, "state"),
                       rows.index("v_soma"), rows.index("v_apical"), A(f"hsum{m}"))
        lines.each(2, None, rules.add_output, (B, seg.out.n), lines.array(seg.out.owner, "state"),
                   seg.out.var_names.index("v_soma"), repr(proto.lambda_max), A("osum"))

    def _phase_head(self, lines):
        """``ph``, ``kind``, ``end`` and ``win`` (in the averaging window) of the current phase, inside ``if ph <
        number of phases:``; returns the filtered presynaptic trains ``(projection, pre, psp)``."""
        proto = self.subject
        A = lambda field: lines.array(proto.owner, field)  # noqa: E731
        lines.emit(f"ph = {A('clock')}[0]", 0)
        lines.emit(f"if ph < {A('phase_end')}.shape[0]:", 0)
        lines.emit(f"kind = {A('phase_kind')}[ph]", 1)
        lines.emit(f"end = {A('phase_end')}[ph]", 1)
        lines.emit(f"win = step >= end - {A('window')}[ph]", 1)
        filtered = [(j, f"pre{m}", f"psp{m}") for m, j in enumerate(proto.seg.forward)]
        if proto.learns_feedback:
            filtered.append((proto.seg.feedback[0], "fbpre", "fbpsp"))
        return filtered

    def _presynaptic(self, lines, j, pre, psp, in_window):
        """The window sums of projection ``j``'s filtered presynaptic spike trains (as its targets see them)."""
        own, B = self.subject.owner, self.subject.net.batch
        cnt = f"{lines.array(j.pre.owner, 'cnt')}[0]"
        factors = lines.array(j.owner, "decay")
        lag = 0 if j.same_step else 1
        if lines.copy:  # copy b (exponential kernels: per_copy())
            lines.emit(f"{lines.out.use(rules.presynaptic_traces_copy)}(b, {cnt}, {pre}, {factors}, {psp}, {in_window}, "
                       f"{lag})", 1)
            return
        if not j.fir:
            lines.each(1, rules.presynaptic_traces, rules.presynaptic_trace_cell, (B, j.pre.n), cnt, pre, factors,
                       psp, in_window, lag)
            return
        window = f"end - {lines.array(own, 'window')}[ph], end, {psp}, {in_window}, {lag}"
        if lines.cuda:  # a thread per neuron reads its count; the CPU gathers the spike list
            lines.each(1, None, rules.presynaptic_fir_cell, (B, j.pre.n), cnt, pre, factors, "step", window)
        else:
            spikes = f"{lines.array(j.pre.owner, 'spk')}, {lines.array(j.pre.owner, 'nsp')}"
            lines.each(1, rules.presynaptic_fir, None, (), cnt, spikes, pre, factors, "step", window)

    def _close(self, lines, indent, sums, means):
        own = self.subject.owner
        if lines.copy:
            lines.emit(f"{lines.out.use(rules.close_window_copy)}(b, {lines.array(own, sums)}, w, "
                       f"{lines.array(own, means)})", indent)
            return
        lines.each(indent, rules.close_window, rules.close_cell, (lines.size(own, sums),), lines.array(own, sums), "w",
                   lines.array(own, means))

    def _learn(self, lines, indent):
        """After a target phase: errors, then the updates (output, learned feedback, hidden layers), then Dale's law
        and symmetric feedback, each pass complete before the next."""
        self._errors(lines, indent)
        lines.sync(indent)
        self._updates(lines, indent)

    def _errors(self, lines, indent):
        """The errors of every layer (per copy and neuron)."""
        proto = self.subject
        seg, own, B = proto.seg, proto.owner, proto.net.batch
        A = lambda field: lines.array(own, field)  # noqa: E731
        L, lam = len(seg.hidden), repr(proto.lambda_max)
        k_d = seg.out.p["g_d"] / (seg.out.p["g_l"] + seg.out.p["g_d"])
        lines.each(indent, None, rules.output_error, (B, seg.out.n), f"{A('of')}[0]",
                   f"{A('ot')}[1]", lam, repr(float(k_d)), A(f"err{L}"))
        for m, h in enumerate(seg.hidden):
            if proto.learns_feedback:  # the original's update_Y
                lines.each(indent, None, rules.feedback_error, (B, h.n), f"{A(f'hf{m}')}[0]",
                           f"{A(f'hf{m}')}[1]", lam, A(f"errfb{m}"))
            k_b = h.p["g_b"] / (h.p["g_l"] + h.p["g_b"] + h.p["g_a"])
            lines.each(indent, None, rules.hidden_error, (B, h.n), f"{A(f'hf{m}')}[0]",
                       f"{A(f'hf{m}')}[1]", f"{A(f'ht{m}')}[1]", lam, repr(float(k_b)), A(f"err{m}"))

    def _updates(self, lines, indent):
        """The weight and bias changes (mini-batch means), then Dale's law and symmetric feedback."""
        proto = self.subject
        seg, L = proto.seg, len(proto.seg.hidden)
        changed = [seg.forward[L]]
        self._update(lines, indent, seg.forward[L], seg.out, "b_basal", f"err{L}", f"pspf{L}", L)
        for m, h in enumerate(seg.hidden):
            if proto.learns_feedback:
                self._update(lines, indent, seg.feedback[m], h, None, f"errfb{m}", "fbpspf", L + 1 + m)
                changed.append(seg.feedback[m])
            self._update(lines, indent, seg.forward[m], h, "b_basal", f"err{m}", f"pspf{m}", m)
            changed.append(seg.forward[m])
        self._keep_signs(lines, indent, changed)
        if proto.rule.feedback == "symmetric":
            fb = seg.feedback[0]
            lines.sync(indent)
            lines.each(indent, None, rules.copy_transposed, fb.store.get(fb.owner, "wt").shape,
                       lines.array(seg.forward[L].owner, "wt"), lines.array(fb.owner, "wt"))
            self._keep_signs(lines, indent, [fb])

    def _update(self, lines, indent, j, post, bias, err, pspf, gain_index):
        """The rule's change of projection ``j``'s weights and of ``post``'s biases (``bias``: their variable)."""
        own = self.subject.owner
        wt, state = lines.array(j.owner, "wt"), lines.array(post.owner, "state")
        row_bias = -1 if bias is None else post.var_names.index(bias)
        args = (lines.array(own, err), lines.array(own, pspf), lines.array(own, "active"))
        gain = f"{lines.array(own, 'gains')}[{gain_index}]"
        if not lines.cuda and lines.out.parallel:  # the rows shared out over the threads, in a helper of its own
            f = lines.out.function(f"update_w{j.index}", (), parallel=True)
            wt, state = f.array(j.owner, "wt"), f.array(post.owner, "state")
            err, pspf, active = (f.array(own, k) for k in (err, pspf, "active"))
            f.emit(1, f"g = {f.out.use(rules.update_gain)}({active}, {f.array(own, 'gains')}[{gain_index}])")
            f.emit(1, "if g != 0.0:")
            f.emit(2, f"for block in prange({f.out.use(rules.update_blocks)}({wt})):")
            f.emit(3, f"{f.out.use(rules.update_rows)}(block, {wt}, {err}, {pspf}, {active}, g)")
            f.emit(2, f"{f.out.use(rules.update_biases)}({state}, {row_bias}, {err}, {active}, g)")
            lines.out.add_function(f)
            lines.emit(f.call(), indent)
            return
        if not lines.cuda:
            lines.each(indent, rules.apply_update, None, (), wt, state, row_bias, *args, gain)
            return
        lines.emit(f"g = {lines.out.use(rules.update_gain)}({args[2]}, {gain})", indent)
        lines.each(indent, None, rules.update_weight_cell, j.store.get(j.owner, "wt").shape, wt, *args, "g")
        if row_bias >= 0:
            lines.each(indent, None, rules.update_bias_cell, (post.n,), state, row_bias, args[0], args[2], "g")

    def _keep_signs(self, lines, indent, projections):
        """Dale's law: clip the weights just changed to their projection's sign."""
        signed = [j for j in projections if j.sign]
        if signed:
            lines.sync(indent)
        for j in signed:
            lines.flat(indent, rules.keep_sign, rules.keep_sign_cell, j.owner, "wt", j.sign)


# -- compiled helpers of the stages: per element (copy b, neuron i) -----------------------------------

@njit(cache=True, inline="always")
def show_image(b, i, ph, examples, images, rates):
    """Copy ``b`` shows image ``examples[ph, b]`` (rates in Hz; none if -1): pixel ``i``."""
    ex = examples[ph, b]
    rates[0, b, i] = images[ex, i] if ex >= 0 else 0.0


@njit(cache=True, inline="always")
def teach(b, i, ph, kind, examples, targets, out_state, row_exc, row_inh):
    """Teaching ``g_exc = t``, ``g_inh = 1 - t`` of output ``i`` in a target phase, off otherwise."""
    ex = examples[ph, b]
    teaching = ex >= 0 and kind == TARGET
    out_state[row_exc, b, i] = targets[ex, i] if teaching else 0.0
    out_state[row_inh, b, i] = 1.0 - targets[ex, i] if teaching else 0.0


@njit(cache=True, inline="always")
def mark_active(b, ph, examples, active):
    """``active[b]``: whether copy ``b`` shows an example in phase ``ph``."""
    active[b] = 1 if examples[ph, b] >= 0 else 0


@njit(cache=True, inline="always")
def zero_state_row(b, i, state, row):
    """``state[row, b, i] = 0`` (e.g. the somatic potentials before a test image)."""
    state[row, b, i] = 0.0


@njit(cache=True, inline="always")
def copy_output(b, i, outputs, means):
    """The mean output potential of copy ``b``, neuron ``i`` into the round's row."""
    outputs[b, i] = means[b, i]
