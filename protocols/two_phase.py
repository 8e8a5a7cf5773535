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
from compsim.engine.kernels import copy_into
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
    emit_cuda = Stage.emit_serially  # CUDA backend: thread 0 runs the protocol (not parallel yet)

    def describe(self):
        return f"{self.verb} (two-phase protocol)"


class PhaseStart(_ProtocolStage):
    """Phase ``sources``: at the first step of a phase, show each copy its image, switch the teaching
    conductances on (target phase) or off, and clear the state (test phase)."""

    phase = "sources"
    verb = "start phases"

    def emit(self, out):
        proto = self.subject
        seg, own = proto.seg, proto.owner
        a = {k: out.array(own, k) for k in ("clock", "phase_end", "phase_kind", "phase_example", "images", "targets",
                                             "active")}
        rates = out.array(seg.inp.owner, "rates")
        o_state = out.array(seg.out.owner, "state")
        rows = seg.out.var_names
        begin = out.use(begin_phase)
        zero, zero_row = out.use(rules.zero), out.use(zero_state_row)
        out.comment("two-phase protocol: start of a phase")
        out.emit(f"if {a['clock']}[1] == 0 and {a['clock']}[0] < {a['phase_end']}.shape[0]:")
        out.emit(f"ph = {a['clock']}[0]", 1)
        out.emit(f"{begin}(ph, {a['phase_kind']}[ph], {a['phase_example']}, {a['images']}, {a['targets']}, {rates}, "
                 f"{o_state}, {rows.index('g_exc')}, {rows.index('g_inh')}, {a['active']})", 1)
        out.emit(f"if {a['phase_kind']}[ph] == {TEST}:", 1)
        for pop in (*seg.hidden, seg.out):
            out.emit(f"{zero_row}({out.array(pop.owner, 'state')}, {pop.var_names.index('v_soma')})", 2)
        for j in proto.net.projections:
            out.emit(f"{zero}({out.array(j.owner, 'trace')})", 2)
            out.emit(f"{zero}({out.array(j.owner, 'ring')})", 2)
        for name in [f"pre{m}" for m in range(len(seg.forward))] + (["fbpre"] if proto.learns_feedback else []):
            out.emit(f"{zero}({out.array(own, name)})", 2)
        out.emit(f"{a['clock']}[1] = 1", 1)


class PhaseLearning(_ProtocolStage):
    """Phase ``plasticity``: filter the presynaptic spikes, sum the window averages, and at a phase's
    last step close its averages, apply the learning rules (after a target phase) and keep the outputs."""

    phase = "plasticity"
    verb = "average and learn"

    def emit(self, out):
        proto = self.subject
        seg, own = proto.seg, proto.owner
        A = lambda field: out.array(own, field)  # noqa: E731
        L = len(seg.hidden)
        lam = repr(proto.lambda_max)
        out.comment("two-phase protocol: averages and learning")
        out.emit(f"ph = {A('clock')}[0]")
        out.emit(f"if ph < {A('phase_end')}.shape[0]:")
        out.emit(f"kind = {A('phase_kind')}[ph]", 1)
        out.emit(f"end = {A('phase_end')}[ph]", 1)
        out.emit(f"win = step >= end - {A('window')}[ph]", 1)
        filtered = [(j, f"pre{m}", f"psp{m}") for m, j in enumerate(seg.forward)]
        if proto.learns_feedback:
            filtered.append((seg.feedback[0], "fbpre", "fbpsp"))
        for j, pre, psp in filtered:
            cnt = f"{out.array(j.pre.owner, 'cnt')}[0]"
            factors = out.array(j.owner, "decay")
            lag = 0 if j.same_step else 1
            if j.fir:
                spikes = f"{out.array(j.pre.owner, 'spk')}, {out.array(j.pre.owner, 'nsp')}"
                out.emit(f"{out.use(rules.presynaptic_fir)}({cnt}, {spikes}, {A(pre)}, {factors}, step, "
                         f"end - {A('window')}[ph], end, {A(psp)}, win and kind == {FORWARD}, {lag})", 1)
            else:
                out.emit(f"{out.use(rules.presynaptic_traces)}({cnt}, {A(pre)}, {factors}, {A(psp)}, "
                         f"win and kind == {FORWARD}, {lag})", 1)
        out.emit("if win:", 1)
        out.emit(f"if kind != {TEST}:", 2)
        for m, h in enumerate(seg.hidden):
            rows = h.var_names
            out.emit(f"{out.use(rules.add_hidden)}({out.array(h.owner, 'state')}, {rows.index('v_soma')}, "
                     f"{rows.index('v_apical')}, {A(f'hsum{m}')})", 3)
        o_state = out.array(seg.out.owner, "state")
        out.emit(f"{out.use(rules.add_output)}({o_state}, {seg.out.var_names.index('v_soma')}, {lam}, {A('osum')})", 2)
        close = out.use(rules.close_window)
        out.emit("if step == end - 1:", 1)
        out.emit(f"w = float({A('window')}[ph])", 2)
        out.emit(f"if kind == {TARGET}:", 2)
        out.emit(f"{close}({A('osum')}, w, {A('ot')})", 3)
        for m in range(L):
            out.emit(f"{close}({A(f'hsum{m}')}, w, {A(f'ht{m}')})", 3)
        k_d = seg.out.p["g_d"] / (seg.out.p["g_l"] + seg.out.p["g_d"])
        update = out.use(rules.apply_update)

        def keep_sign(j):  # Dale's law: clip the weights just changed to the projection's sign
            if j.sign:
                out.emit(f"{out.use(rules.keep_sign)}({out.array(j.owner, 'wt')}, {j.sign})", 3)

        out.emit(f"{out.use(rules.output_error)}({A('of')}[0], {A('ot')}[1], {lam}, {k_d!r}, {A(f'err{L}')})", 3)
        out.emit(f"{update}({out.array(seg.forward[L].owner, 'wt')}, {o_state}, {seg.out.var_names.index('b_basal')}, "
                 f"{A(f'err{L}')}, {A(f'pspf{L}')}, {A('active')}, {A('gains')}[{L}])", 3)
        keep_sign(seg.forward[L])
        for m in reversed(range(L)):
            h = seg.hidden[m]
            if proto.learns_feedback:  # the original's update_Y, before the layer's own update
                out.emit(f"{out.use(rules.feedback_error)}({A(f'hf{m}')}[0], {A(f'hf{m}')}[1], {lam}, "
                         f"{A(f'errfb{m}')})", 3)
                out.emit(f"{update}({out.array(seg.feedback[m].owner, 'wt')}, {out.array(h.owner, 'state')}, -1, "
                         f"{A(f'errfb{m}')}, {A('fbpspf')}, {A('active')}, {A('gains')}[{L + 1 + m}])", 3)
                keep_sign(seg.feedback[m])
            k_b = h.p["g_b"] / (h.p["g_l"] + h.p["g_b"] + h.p["g_a"])
            out.emit(f"{out.use(rules.hidden_error)}({A(f'hf{m}')}[0], {A(f'hf{m}')}[1], {A(f'ht{m}')}[1], {lam}, "
                     f"{float(k_b)!r}, {A(f'err{m}')})", 3)
            out.emit(f"{update}({out.array(seg.forward[m].owner, 'wt')}, {out.array(h.owner, 'state')}, "
                     f"{h.var_names.index('b_basal')}, {A(f'err{m}')}, {A(f'pspf{m}')}, {A('active')}, "
                     f"{A('gains')}[{m}])", 3)
            keep_sign(seg.forward[m])
        if proto.rule.feedback == "symmetric":
            out.emit(f"{out.use(rules.copy_transposed)}({out.array(seg.forward[L].owner, 'wt')}, "
                     f"{out.array(seg.feedback[0].owner, 'wt')})", 3)
            keep_sign(seg.feedback[0])
        out.emit("else:", 2)  # forward or test phase: keep the means and the output's guess
        out.emit(f"{close}({A('osum')}, w, {A('of')})", 3)
        out.emit(f"{out.use(copy_into)}({A('outputs')}[{A('phase_round')}[ph]], {A('of')}[0])", 3)
        out.emit(f"if kind == {FORWARD}:", 3)
        for m in range(L):
            out.emit(f"{close}({A(f'hsum{m}')}, w, {A(f'hf{m}')})", 4)
        for m in range(L + 1):
            out.emit(f"{close}({A(f'psp{m}')}, w, {A(f'pspf{m}')})", 4)
        if proto.learns_feedback:
            out.emit(f"{close}({A('fbpsp')}, w, {A('fbpspf')})", 4)
        out.emit(f"{A('clock')}[0] = ph + 1", 2)
        out.emit(f"{A('clock')}[1] = 0", 2)


# -- compiled helpers of the stages --------------------------------------------------------------

@njit(cache=True)
def begin_phase(ph, kind, examples, images, targets, rates, out_state, row_exc, row_inh, active):
    """Copy ``b`` shows image ``examples[ph, b]`` (rates in Hz; none if -1); teaching ``g_exc = t``,
    ``g_inh = 1 - t`` in a target phase, off otherwise."""
    for b in range(examples.shape[1]):
        ex = examples[ph, b]
        active[b] = 1 if ex >= 0 else 0
        row = rates[0, b]
        for i in range(row.shape[0]):
            row[i] = images[ex, i] if ex >= 0 else 0.0
        for i in range(out_state.shape[2]):
            teach = ex >= 0 and kind == TARGET
            out_state[row_exc, b, i] = targets[ex, i] if teach else 0.0
            out_state[row_inh, b, i] = 1.0 - targets[ex, i] if teach else 0.0


@njit(cache=True)
def zero_state_row(state, row):
    """``state[row] = 0`` in every copy (e.g. the somatic potentials before a test image)."""
    for b in range(state.shape[1]):
        for i in range(state.shape[2]):
            state[row, b, i] = 0.0
