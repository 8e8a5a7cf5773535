"""The stages every neuron model contributes: its fused update loop, and the collection of its spikes.

Source, delivery and monitor stages live beside their owners
(:mod:`compsim.sources`, :mod:`compsim.projection`, :mod:`compsim.monitors`).
"""
import numpy as np

from .. import rng
from . import kernels
from .cpu import COPY_STOP_ARRAY, divergence_lines
from .plan import Stage


class ModelUpdate(Stage):
    """Phase ``populations``: one fused loop over (copy, neuron) of a neuron model.

    Multi-threaded populations split the neurons among threads, or the copies
    when the network runs a batch (each copy is then computed exactly as alone).
    Per neuron: gather the synaptic inputs from the incoming projections
    (each projection writes its own lines, :meth:`compsim.projection.Projection.emit_input`),
    derive, let sampling monitors read the state at ``t``, update, count
    spikes and events, and watch for non-finite states. Each copy's constants
    are read into a named tuple ``c`` before its neuron loop.
    """

    phase = "populations"

    def describe(self):
        return f"update {self.subject.name} ({type(self.subject).__name__})"

    def _lines(self, f, key, per_neuron=False):
        """The update's lines, for the writer of a CPU helper function or the CUDA kernel (``f``):
        ``head`` (once), ``copy`` (once per copy ``b``), ``body`` (per neuron ``i``), ``tail`` (after the
        neurons; monitors' bookkeeping), and the names of the evolved variables. ``per_neuron``: no
        per-copy passes over the neurons (each CUDA thread updates one neuron)."""
        pop = self.subject
        net, own = pop.network, pop.owner
        derive, update = pop.check_kernels(net.method)
        fields = pop.constant_names(net.dt, net.method)
        const = f.out.named_tuple(f"{type(pop).__name__}Constants", fields)
        st, cnt, par = f.array(own, "state"), f.array(own, "cnt"), f.array(own, "par")
        roles = [v.role for v in pop.state_vars]
        values = [f"s{r}" for r in range(len(roles))]
        inputs = [f"x{q}" for q in range(len(pop.ports))]
        counts = ["count"] + [f"event{e}" for e in range(len(pop.events))]
        head, copy, body, tail = [], [], [], []
        copy.append(f"key = {key}")
        copy.append(f"c = {const}({', '.join(f'{par}[b, {j}]' for j in range(len(fields)))},)")
        copy += [f"{v}_ = {st}[{r}, b]" for r, v in enumerate(values)]
        copy += [f"{x}_ = {cnt}[{e}, b]" for e, x in enumerate(counts)]
        body += [f"{v} = {v}_[i]" for r, v in enumerate(values) if roles[r] != "derived"]
        incoming = [j for j in net.projections if j.post is pop]
        for q, x in enumerate(inputs):
            projs = [j for j in incoming if j.port_index == q]
            if not projs:
                body.append(f"{x} = 0.0")
            for n, j in enumerate(projs):
                lines = j.emit_input(f, x, first=n == 0, per_neuron=per_neuron)
                head += lines["head"]
                copy += lines["copy"]
                body += lines["body"]
        arguments = []  # the kernels' inputs: lone ports, then port groups reduced to one value
        for k, (_, ports, how) in enumerate(pop.kernel_inputs):
            if how is None:
                arguments.append(inputs[ports[0]])
                continue
            body.append(f"grp{k} = {inputs[ports[0]]}")
            for q in ports[1:]:
                better = f"abs({inputs[q]}) > abs(grp{k})" if how == "absmax" else f"{inputs[q]} > grp{k}"
                body.append(f"grp{k} = {inputs[q]} if {better} else grp{k}")
            arguments.append(f"grp{k}")
        derived = [v for r, v in enumerate(values) if roles[r] == "derived"]
        if derived:
            name = f.out.use(derive, f"derive{pop.index}")
            given = [v for r, v in enumerate(values) if roles[r] != "derived"]
            body.append(f"{', '.join(derived)}, = {name}(c, {', '.join(given + arguments)})")
            body += [f"{v}_[i] = {v}" for v in derived]
        for m in net.monitors:
            if m.population is pop and m.samples_state:
                lines = m.emit_sample(f, values, inputs)
                head += lines["head"]
                copy += lines["copy"]
                body += lines["body"]
                tail += lines["tail"]
        name = f.out.use(update, f"update{pop.index}")
        evolved = [v for r, v in enumerate(values) if roles[r] == "state"]
        returned = (["expected"] + counts[1:]) if self.events_mode else counts
        body.append(f"{', '.join(evolved + returned)} = {name}(i, step, key, c, {', '.join(values + arguments)})")
        if self.events_mode:  # integrate the intensity; neurons reaching their threshold count exactly after the loop
            copy += [f"acc_ = {f.array(own, 'spike_acc')}[b]", f"thr_ = {f.array(own, 'spike_thr')}[b]"]
            body.append(f"count = {f.out.use(rng.integrate_intensity)}(acc_, thr_, i, expected)")
        body += [f"{v}_[i] = {v}" for v in evolved]
        body += [f"{x}_[i] = {x}" for x in counts]
        return head, copy, body, tail, evolved

    @property
    def events_mode(self):
        """Spike mode ``'poisson_events'``: the update returns the expected count, the engine draws."""
        return self.subject.spike_mode == "poisson_events"

    def _copy_lines(self, out, parallel, own_helper):
        """The step function ``f`` being written, and the lines of one copy ``b``: its update, spike counts and
        the index of its first non-finite neuron (or -1) into ``first_bad[b]``. ``own_helper``: the lines
        go into a serial helper of their own (threaded copies, or the copy-major loop)."""
        pop = self.subject
        own = pop.owner
        f = out.function(f"step_pop{pop.index}", ("step", "dt", "keys"), parallel=parallel, refcounts=False)
        st, _, _, first_bad = (f.array(own, k) for k in ("state", "cnt", "par", "first_bad"))
        head, copy, body, tail, evolved = self._lines(f, "keys[b]")
        # x - x is 0 unless x is NaN or inf: one reduction (prange-safe) over the evolved variables
        body.append(f"nonfinite += 1 if {' + '.join(f'({v} - {v})' for v in evolved)} != 0.0 else 0")
        find_bad = out.use(kernels.first_nonfinite)
        own_head = [f"n = {st}.shape[2]", *head] if own_helper else []
        per_copy = [*own_head, *copy, "nonfinite = 0",
                    f"for i in {'range' if own_helper else f.loop}(n):", *("    " + line for line in body)]
        if self.events_mode:
            per_copy.append(pop.emit_poisson_events(f, "acc_", "thr_", "count_"))
        per_copy.append(f"{first_bad}[b] = {find_bad}({st}, b) if nonfinite > 0 else -1")
        return f, head, tail, per_copy

    def per_copy(self):
        return True  # monitors sampling the state are stages of their own (not per copy)

    def emit_copy(self, out):
        """A call of the copy's helper; a non-finite state stops the copy, recording (step, population, cell)."""
        pop = self.subject
        f, _, _, per_copy = self._copy_lines(out, False, own_helper=True)
        helper = f.copy_helper(per_copy, ("step", "dt", "keys"))
        st, first_bad = out.array(pop.owner, "state"), out.array(pop.owner, "first_bad")
        stop = out.array(*COPY_STOP_ARRAY)
        out.comment(f"population {pop.index}: {pop.name} ({type(pop).__name__})")
        out.emit(helper.call("b", "step", "dt", f"keys[{pop.index}]"))
        out.emit(f"if {first_bad}[b] >= 0:")
        out.emit(f"{stop}[b, 0], {stop}[b, 1], {stop}[b, 2] = step, {pop.index}, b * {st}.shape[2] + {first_bad}[b]", 1)
        out.emit("return", 1)

    def emit(self, out):
        pop = self.subject
        threaded_copies = pop.owner in out.parallel and pop.batch > 1  # else a threaded neuron loop, if any
        f, head, tail, per_copy = self._copy_lines(out, pop.owner in out.parallel, own_helper=threaded_copies)
        st, first_bad = f.array(pop.owner, "state"), f.array(pop.owner, "first_bad")
        f.emit(1, f"n = {st}.shape[2]")
        f.emit_all(1, head)
        f.emit_copies(f"{st}.shape[1]", per_copy, ("step", "dt", "keys"), threaded_copies)
        f.emit_all(1, tail)
        f.emit(1, f"for b in range({st}.shape[1]):")
        f.emit(2, f"if {first_bad}[b] >= 0:")
        f.emit(3, f"return b * n + {first_bad}[b]")
        f.emit(1, "return -1")
        out.add_function(f)
        out.comment(f"population {pop.index}: {pop.name} ({type(pop).__name__})")
        out.emit(f"bad = {f.call('step', 'dt', f'keys[{pop.index}]')}")
        out.emit("if bad >= 0:")
        for line in divergence_lines(pop.index, "bad"):
            out.emit(line, 1)

    def emit_cuda(self, out):
        """One thread per neuron and copy; a diverged cell goes into ``watch`` (the lowest wins)."""
        pop = self.subject
        own = pop.owner
        head, copy, body, tail, evolved = self._lines(out, f"keys[{pop.index}, b]", per_neuron=True)
        for alias in (f"derive{pop.index}", f"update{pop.index}"):
            if alias in out.imports:
                out.takes_constants(alias)
        st = out.array(own, "state")
        out.comment(f"population {pop.index}: {pop.name} ({type(pop).__name__})")
        out.emit(f"n = {st}.shape[2]")
        out.grid_loop("cell", f"{st}.shape[1] * n")
        out.emit_all(["b = cell // n", "i = cell - b * n", *head, *copy, *body], 1)
        out.emit(f"if {' + '.join(f'({v} - {v})' for v in evolved)} != 0.0:", 1)
        out.emit(f"cuda.atomic.min(watch, {pop.index}, cell)", 2)
        if self.events_mode:
            out.barrier()
            out.grid_loop("b", f"{st}.shape[1]")
            out.emit(f"key = keys[{pop.index}, b]", 1)
            acc, thr, cnt = (out.array(own, k) for k in ("spike_acc", "spike_thr", "cnt"))
            out.emit(pop.emit_poisson_events(out, f"{acc}[b]", f"{thr}[b]", f"{cnt}[0, b]"), 1)
        if tail:  # thread 0 recomputes the head (e.g. the monitor's fill position) for the tail
            out.tails += head + tail
        out.end_stage()


class CollectSpikes(Stage):
    """Phase ``spikes``: compact each copy's spike counts into the list of spiking neurons.

    A population that feeds a ``same_step`` projection collects right after its own update
    instead, so that the projection can deliver within the step (:mod:`compsim.engine.plan`).
    In spike mode ``'poisson_events'`` the update has listed the spiking neurons already
    (:func:`compsim.rng.poisson_events`), and this stage keeps their place in the schedule.
    """

    phase = "spikes"
    verb = "collect"

    def __init__(self, subject):
        super().__init__(subject)
        net = subject.network
        if net is not None and any(j.same_step for j in net.projections if j.pre is subject):
            self.phase, self.follows = subject.update_phase, subject

    def emit(self, out):
        own = self.subject.owner
        if self.subject.spike_mode == "poisson_events":
            out.comment(f"spikes of {self.subject.name}: listed by its update (poisson_events)")
            return
        collect = out.use(kernels.collect_spikes)
        out.emit(f"{collect}({out.array(own, 'cnt')}, {out.array(own, 'spk')}, {out.array(own, 'nsp')})")

    def per_copy(self):
        return True

    def emit_copy(self, out):
        own = self.subject.owner
        if self.subject.spike_mode == "poisson_events":
            self.emit(out)
            return
        collect = out.use(kernels.collect_copy)
        out.emit(f"{out.array(own, 'nsp')}[b] = {collect}({out.array(own, 'cnt')}[0, b], {out.array(own, 'spk')}[b])")

    def emit_cuda(self, out):
        """In ascending neuron order: up to :data:`~compsim.engine.kernels.CHUNK_NEURONS` neurons, one thread per
        copy (:func:`~compsim.engine.kernels.collect_copy`); more, in four passes, each over all threads:

        1. each chunk of neurons counts its spikes (:func:`~compsim.engine.kernels.count_chunk`);
        2. the counts become offsets within groups of chunks (:func:`~compsim.engine.kernels.offsets_in_place`);
        3. the groups' totals become offsets, their sum the number of spikes (one thread per copy);
        4. each chunk lists its spikes from its offset (:func:`~compsim.engine.kernels.list_chunk`).
        """
        pop = self.subject
        if pop.spike_mode == "poisson_events":
            return
        own = pop.owner
        cnt = out.array(own, "cnt")
        emit_list_cuda(out, own, pop, lambda b: f"{cnt}[0, {b}]", out.array(own, "spk"), out.array(own, "nsp"))


def emit_list_cuda(out, owner, pop, counts, listed, number, then=()):
    """CUDA backend: list, copy by copy and in ascending order, the neurons of ``pop`` with a non-zero count in
    the row ``counts(b)`` (the text of copy ``b``'s row, e.g. ``cnt[0, b]``) into ``listed[b]``, their number
    into ``number[b]`` (see :meth:`CollectSpikes.emit_cuda`); ``then``: later passes of the stage, after the
    list is complete. The scratch arrays of the large form are ``owner``'s."""
    if pop.n <= kernels.CHUNK_NEURONS:
        out.grid_loop("b", f"{number}.shape[0]")
        out.emit(f"{number}[b] = {out.use(kernels.collect_copy)}({counts('b')}, {listed}[b])", 1)
        out.after_barrier(*then)
        out.end_stage()
        return
    chunks = -(-pop.n // kernels.CHUNK_NEURONS)
    groups = -(-chunks // kernels.GROUP_CHUNKS)
    store = pop.network.store
    if not store.has(owner, "chunk_spikes"):
        store.declare(owner, "chunk_spikes", (pop.batch, chunks), np.int64, kind="scratch",
                      doc="CUDA listing: non-zero counts per chunk of neurons, then their offsets")
        store.declare(owner, "group_spikes", (pop.batch, groups), np.int64, kind="scratch",
                      doc="CUDA listing: non-zero counts per group of chunks, then their offsets")
    chunk, group = out.array(owner, "chunk_spikes"), out.array(owner, "group_spikes")
    offsets = out.use(kernels.offsets_in_place)
    out.comment(f"list {pop.name}: count by chunks")
    out.grid_loop("cell", f"{pop.batch * chunks}")
    out.emit(f"{chunk}[cell // {chunks}, cell % {chunks}] = "
             f"{out.use(kernels.count_chunk)}({counts(f'cell // {chunks}')}, cell % {chunks})", 1)

    def chunk_offsets(out):
        out.grid_loop("cell", f"{pop.batch * groups}")
        out.emit_all([f"b, g = cell // {groups}, cell % {groups}",
                      f"{group}[b, g] = {offsets}({chunk}[b], g * {kernels.GROUP_CHUNKS}, "
                      f"min((g + 1) * {kernels.GROUP_CHUNKS}, {chunks}))"], 1)

    def group_offsets(out):
        out.grid_loop("b", f"{pop.batch}")
        out.emit(f"{number}[b] = {offsets}({group}[b], 0, {groups})", 1)

    def list_chunks(out):
        out.grid_loop("cell", f"{pop.batch * chunks}")
        out.emit_all([f"b, c = cell // {chunks}, cell % {chunks}",
                      f"{out.use(kernels.list_chunk)}({counts('b')}, c, {chunk}[b, c] + "
                      f"{group}[b, c // {kernels.GROUP_CHUNKS}], {listed}[b])"], 1)
    out.after_barrier(chunk_offsets, group_offsets, list_chunks, *then)
    out.end_stage()
