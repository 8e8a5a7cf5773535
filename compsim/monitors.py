"""Monitors: what is recorded, and the per-chunk buffers the compiled loop fills.

Recording happens inside the compiled loop into buffers owned by the
network's state store; after each chunk the monitor hands the filled part to
the writer (HDF5 or memory) and resets its fill position: never a per-step
Python call or write. Every monitor is a stage of phase ``monitors``
(:mod:`compsim.engine.plan`).

* :class:`StateMonitor` samples variables (state rows or synaptic ports) of a
  subset of neurons every ``every`` steps, at the start of the step (after the
  synaptic inputs of the step are gathered, before the state update): the
  sample at time ``t`` is the state at ``t``, as Brian2's ``StateMonitor``.
  It writes its lines into the population's fused loop.
* :class:`SpikeMonitor` stores (step, copy, neuron, count) of every spike;
  :class:`EventMonitor` the same for a model's named event (e.g. a plateau).
* :class:`RateMonitor` stores the number of spikes per step and copy.
* :class:`WeightMonitor` samples a projection's weights (shared by the copies), written
  like a state monitor with the variable ``w`` and the synapse indices as "neurons".
* :class:`AverageMonitor` keeps per-neuron running sums for protocols (not written).
"""
import numpy as np

from .checks import check_count, index_array
from .engine import kernels
from .engine.plan import Stage
from .engine.stages import emit_list_cuda

STATE, PORT = 0, 1


class Monitor(Stage):
    """Common parts: a name, a population, an owner tag in the store, and a phase."""

    phase = "monitors"
    samples_state = False  # True: writes lines into the population's update loop (emit_sample)
    kind = None

    def __init__(self, population, name):
        super().__init__(population)
        self.population, self.name = population, name
        self.index = self.owner = None

    def attach(self, index):
        self.index, self.owner = index, f"m{index}"

    @property
    def store(self):
        return self.population.network.store

    def stages(self):
        return [self]

    def describe(self):
        return f"{self.kind} monitor {self.name}"

    def emit(self, out):
        """Recording monitors that sample inside the population loop add nothing to the step loop."""

    # CUDA backend: each recording monitor has a parallel form (sampling monitors write their lines into the
    # population's update); a monitor without one is recorded by thread 0 (correct, not parallel)
    emit_cuda = Stage.emit_serially

    def after_chunk(self, network, writer):
        self.drain(writer, network.dt)

    def allocate(self, chunk_steps, dtype):
        """Size the per-chunk buffers for chunks of ``chunk_steps`` steps."""

    def register(self, writer):
        """Declare this monitor to ``writer``."""

    def drain(self, writer, dt):
        """Hand the filled part of the buffers to ``writer`` and reset them."""


def _resolve_rows(population, variables, owner):
    recordable = population.recordable()
    if not recordable:
        raise ValueError(f"{owner}: {type(population).__name__} has no state variables to record")
    variables = [variables] if isinstance(variables, str) else list(variables)
    if not variables or len(set(variables)) != len(variables):
        raise ValueError(f"{owner}: parameter 'variables' must name each variable once, got {variables}")
    rows = []
    for v in variables:
        if v not in recordable:
            raise ValueError(f"{owner}: unknown variable '{v}'; recordable variables are {sorted(recordable)}")
        rows.append((STATE, population.var_names.index(v)) if v in population.var_names
                    else (PORT, population.port_names.index(v)))
    return variables, rows, {v: recordable[v] for v in variables}


def _sample(rows, values, inputs):
    return [inputs[row] if kind == PORT else values[row] for kind, row in rows]


class StateMonitor(Monitor):
    """Record ``variables`` of ``neurons`` of ``population`` every ``every`` steps, in every copy."""

    kind = "state"
    samples_state = True

    def __init__(self, population, variables, every, neurons, name):
        super().__init__(population, name)
        owner = f"record({population.name})"
        self.every = check_count("every", every, owner=owner)
        self.variables, self.rows, self.units = _resolve_rows(population, variables, owner)
        idx = np.arange(population.n)[neurons] if isinstance(neurons, slice) else np.arange(population.n)
        if neurons is not None and not isinstance(neurons, slice):
            idx = index_array("neurons", neurons, population.n, owner)
            if np.unique(idx).size != idx.size:
                raise ValueError(f"{owner}: parameter 'neurons' contains duplicates")
        if idx.size == 0:
            raise ValueError(f"{owner}: parameter 'neurons' selects no neuron")
        self.neurons = idx.astype(np.int64)

    def attach(self, index):
        super().attach(index)
        col = np.full(self.population.n, -1, dtype=np.int64)
        col[self.neurons] = np.arange(self.neurons.size)
        self.store.adopt(self.owner, "column", col, kind="scratch", doc=f"column of each neuron in '{self.name}'")
        self.store.adopt(self.owner, "every", np.array([self.every], dtype=np.int64), kind="scratch",
                         doc=f"sampling interval of '{self.name}' (steps)")
        self.store.declare(self.owner, "fill", (1,), np.int64, kind="record", doc=f"fill position of '{self.name}'")

    def allocate(self, chunk_steps, dtype):
        slots = chunk_steps // self.every + 2
        batch = self.population.batch
        self.store.declare(self.owner, "values", (slots, len(self.rows), batch, self.neurons.size), dtype,
                           kind="record", doc=f"samples of state monitor '{self.name}'")
        self.store.declare(self.owner, "steps", (slots,), np.int64, kind="record", doc=f"sample steps of '{self.name}'")

    def emit_sample(self, f, values, inputs):
        tag = self.owner
        every, fill = f.array(tag, "every"), f.array(tag, "fill")
        col, buf, steps = f.array(tag, "column"), f.array(tag, "values"), f.array(tag, "steps")
        body = [f"if rec_{tag}:", f"    col = {col}[i]", "    if col >= 0:"]
        body += [f"        {buf}[pos_{tag}, {k}, b, col] = {x}" for k, x in enumerate(_sample(self.rows, values, inputs))]
        return {"head": [f"rec_{tag} = step % {every}[0] == 0", f"pos_{tag} = {fill}[0]"], "copy": [], "body": body,
                "tail": [f"if rec_{tag}:", f"    {steps}[pos_{tag}] = step", f"    {fill}[0] = pos_{tag} + 1"]}

    def register(self, writer):
        writer.add_state_monitor(self.name, self.population.name, self.variables, self.units, self.neurons,
                                 self.every, self.population.network.dtype, batch=self.population.batch)

    def drain(self, writer, dt):
        _drain_samples(self, writer, dt, self.population.batch)


class _EventRecorder(Monitor):
    """Buffers of (step, copy, neuron, count) records that grow when a chunk fills them."""

    kind = "spikes"

    def attach(self, index):
        super().attach(index)
        self.store.declare(self.owner, "fill", (1,), np.int64, kind="record", doc=f"fill position of '{self.name}'")
        self.store.declare(self.owner, "capacity", (1,), np.int64, kind="record", doc=f"capacity of '{self.name}'")

    def allocate(self, chunk_steps, dtype, capacity=None):
        n = self.population.n * self.population.batch
        cap = capacity or max(4 * n, int(n * chunk_steps * 0.01))
        for field, kind in (("step", np.int64), ("copy", np.int32), ("neuron", np.int32), ("count", np.int32)):
            self.store.declare(self.owner, field, (cap,), kind, kind="record", doc=f"spike records of '{self.name}'")
        self.store.get(self.owner, "capacity")[0] = cap

    def buffers(self, out):
        return ", ".join(out.array(self.owner, f) for f in ("step", "copy", "neuron", "count"))

    def emit_records_cuda(self, out, listed, number, counts):
        """CUDA backend: a thread per listed neuron (``listed[b, :number[b]]``, count in ``counts`` (B, n)) records
        at its place in the CPU's order, copy by copy."""
        out.emit(f"first = {out.array(self.owner, 'fill')}[0]")
        out.emit(f"for b in range({number}.shape[0]):")
        out.emit(f"for k in range(tid, {number}[b], nthreads):", 1)
        out.emit(f"{out.use(kernels.record_spike)}(first + k, step, b, {listed}[b, k], {counts}, "
                 f"{self.buffers(out)})", 2)
        out.emit(f"first += {number}[b]", 1)

    def advance_lines_cuda(self, out, number):
        """Thread 0's lines after the records: advance the fill position, stop the chunk when the buffers could not
        take another step of records (one per neuron and copy), as the CPU loop does."""
        fill, capacity = out.array(self.owner, "fill"), out.array(self.owner, "capacity")
        per_step = self.population.n * self.population.batch
        return [f"for b in range({number}.shape[0]):", f"    {fill}[0] += {number}[b]",
                f"if {fill}[0] > {capacity}[0] - {per_step}:", f"    {out.STOP}"]

    def register(self, writer):
        writer.add_spike_monitor(self.name, self.population.name, self.population.n, batch=self.population.batch)

    def drain(self, writer, dt):
        get = self.store.get
        fill, capacity = get(self.owner, "fill"), int(get(self.owner, "capacity")[0])
        pos = int(fill[0])
        if pos:
            cnt = get(self.owner, "count")[:pos]
            copies = np.repeat(get(self.owner, "copy")[:pos], cnt) if self.population.batch > 1 else None
            writer.append_spikes(self.name, np.repeat(get(self.owner, "step")[:pos], cnt) * dt,
                                 np.repeat(get(self.owner, "neuron")[:pos], cnt), copies)
        full = pos > capacity - self.population.n * self.population.batch
        fill[0] = 0
        if full:  # the loop stopped early to drain: grow for the next chunk
            self.allocate(0, None, capacity=2 * capacity)


class SpikeMonitor(_EventRecorder):
    """Record every spike of ``population`` (Poisson counts > 1 are stored as repeated spikes)."""

    def emit(self, out):
        own, tag = self.population.owner, self.owner
        record = out.use(kernels.record_spikes)
        spk, nsp, cnt = out.array(own, "spk"), out.array(own, "nsp"), out.array(own, "cnt")
        fill, capacity = out.array(tag, "fill"), out.array(tag, "capacity")
        out.emit(f"{fill}[0] = {record}(step, {spk}, {nsp}, {cnt}[0], {self.buffers(out)}, {fill}[0])")
        out.emit(f"if {fill}[0] > {capacity}[0] - {spk}.size:")
        out.emit("stop = True", 1)

    def emit_cuda(self, out):
        """A thread per spike, each at its place in the CPU's order (copy by copy, ascending neurons); after the
        phase's barrier thread 0 advances the fill position and stops the chunk when the buffers are nearly full."""
        own = self.population.owner
        spk, nsp, cnt = out.array(own, "spk"), out.array(own, "nsp"), out.array(own, "cnt")
        out.comment(f"record the spikes of {self.population.name}")
        self.emit_records_cuda(out, spk, nsp, f"{cnt}[0]")
        out.tails += self.advance_lines_cuda(out, nsp)
        out.end_stage()


class EventMonitor(_EventRecorder):
    """Record every occurrence of the named ``event`` of ``population`` (e.g. ``"plateau"``)."""

    def __init__(self, population, event, name):
        super().__init__(population, name)
        if event not in population.event_names:
            raise ValueError(f"record_events({population.name}): unknown event '{event}'; "
                             f"{type(population).__name__} declares {population.event_names or 'no events'}")
        self.event = event

    def describe(self):
        return f"event monitor {self.name} ({self.event})"

    def emit(self, out):
        own, tag = self.population.owner, self.owner
        record = out.use(kernels.record_events)
        cnt = out.array(own, "cnt")
        fill, capacity = out.array(tag, "fill"), out.array(tag, "capacity")
        row = 1 + self.population.event_names.index(self.event)
        out.emit(f"{fill}[0] = {record}(step, {cnt}[{row}], {self.buffers(out)}, {fill}[0], {capacity}[0])")
        out.emit(f"if {fill}[0] > {capacity}[0] - {cnt}[0].size:")
        out.emit("stop = True", 1)

    def emit_cuda(self, out):
        """The occurrences are listed in order as spikes are (:func:`compsim.engine.stages.emit_list_cuda`), then a
        thread per occurrence records it; then thread 0 advances the fill position."""
        pop, tag = self.population, self.owner
        store = self.store
        if not store.has(tag, "listed"):
            store.declare(tag, "listed", (pop.batch, pop.n), np.int32, kind="scratch",
                          doc=f"CUDA: this step's occurrences of '{self.event}' (neurons), per copy")
            store.declare(tag, "number", (pop.batch,), np.int64, kind="scratch",
                          doc=f"CUDA: the number of this step's occurrences of '{self.event}', per copy")
        cnt, listed, number = out.array(pop.owner, "cnt"), out.array(tag, "listed"), out.array(tag, "number")
        row = 1 + pop.event_names.index(self.event)

        def record(out):
            self.emit_records_cuda(out, listed, number, f"{cnt}[{row}]")

        def advance(out):
            out.emit("if tid == 0:")
            out.emit_all(self.advance_lines_cuda(out, number), 1)
        out.comment(f"record the {self.event} events of {pop.name}")
        emit_list_cuda(out, tag, pop, lambda b: f"{cnt}[{row}, {b}]", listed, number, then=(record, advance))


class RateMonitor(Monitor):
    """Record the population's spike count in every step, per copy."""

    kind = "rate"

    def attach(self, index):
        super().attach(index)
        self.store.declare(self.owner, "fill", (1,), np.int64, kind="record", doc=f"fill position of '{self.name}'")

    def allocate(self, chunk_steps, dtype):
        batch = self.population.batch
        self.store.declare(self.owner, "counts", (chunk_steps + 1, batch), np.int64, kind="record",
                           doc=f"spikes per step of '{self.name}'")
        self.store.declare(self.owner, "steps", (chunk_steps + 1,), np.int64, kind="record",
                           doc=f"steps of '{self.name}'")

    def emit(self, out):
        own, tag = self.population.owner, self.owner
        count = out.use(kernels.count_spikes)
        spk, nsp, cnt = out.array(own, "spk"), out.array(own, "nsp"), out.array(own, "cnt")
        fill, counts, steps = out.array(tag, "fill"), out.array(tag, "counts"), out.array(tag, "steps")
        out.emit(f"{count}({spk}, {nsp}, {cnt}[0], {counts}, {fill}[0])")
        out.emit(f"{steps}[{fill}[0]] = step")
        out.emit(f"{fill}[0] += 1")

    def emit_cuda(self, out):
        """A thread per copy counts its spikes; after the phase's barrier thread 0 advances the fill position."""
        own, tag = self.population.owner, self.owner
        spk, nsp, cnt = out.array(own, "spk"), out.array(own, "nsp"), out.array(own, "cnt")
        fill, counts, steps = out.array(tag, "fill"), out.array(tag, "counts"), out.array(tag, "steps")
        out.comment(f"count the spikes of {self.population.name}")
        out.grid_loop("b", f"{nsp}.shape[0]")
        out.emit(f"{counts}[{fill}[0], b] = {out.use(kernels.count_copy)}(b, {spk}, {nsp}, {cnt}[0])", 1)
        out.tails += [f"{steps}[{fill}[0]] = step", f"{fill}[0] += 1"]
        out.end_stage()

    def register(self, writer):
        writer.add_rate_monitor(self.name, self.population.name, self.population.n, batch=self.population.batch)

    def drain(self, writer, dt):
        fill = self.store.get(self.owner, "fill")
        pos = int(fill[0])
        if pos:
            counts = self.store.get(self.owner, "counts")[:pos]
            writer.append_rate(self.name, self.store.get(self.owner, "steps")[:pos] * dt,
                               (counts[:, 0] if self.population.batch == 1 else counts).copy())
        fill[0] = 0


class AverageMonitor(Monitor):
    """Running sums of ``variables`` of every neuron and copy, for phase averages (not written to files).

    The compiled loop adds each step's value (sampled like a state monitor, at
    the start of the step) to ``sums``; :meth:`mean` divides by the number of
    steps since the last :meth:`reset`. This is how a protocol averages, e.g.,
    somatic potentials over the last 20 ms of a phase without per-step Python.
    The sums are part of the network state (checkpoints keep them).
    """

    kind = "average"
    samples_state = True

    def __init__(self, population, variables, name):
        super().__init__(population, name)
        self.variables, self.rows, self.units = _resolve_rows(population, variables, f"average({population.name})")

    def attach(self, index):
        super().attach(index)
        pop = self.population
        self.store.declare(self.owner, "sums", (len(self.rows), pop.batch, pop.n), np.float64, kind="state",
                           doc=f"running sums of '{self.name}'")
        self.store.declare(self.owner, "count", (1,), np.int64, kind="state", doc=f"steps summed by '{self.name}'")

    def emit_sample(self, f, values, inputs):
        sums, count = f.array(self.owner, "sums"), f.array(self.owner, "count")
        tag = self.owner
        samples = _sample(self.rows, values, inputs)
        return {"head": [], "copy": [f"sum_{tag}_{k} = {sums}[{k}, b]" for k in range(len(samples))],
                "body": [f"sum_{tag}_{k}[i] += {x}" for k, x in enumerate(samples)],
                "tail": [f"{count}[0] += 1"]}

    def reset(self):
        """Start a new averaging window."""
        self.store.get(self.owner, "sums")[...] = 0.0
        self.store.get(self.owner, "count")[0] = 0

    @property
    def steps(self):
        """Number of steps summed since the last reset."""
        return int(self.store.get(self.owner, "count")[0])

    def mean(self, variable):
        """Mean of ``variable`` per neuron over the steps since the last reset: (n,), or (batch, n) when batch > 1."""
        if self.steps == 0:
            raise ValueError(f"average monitor '{self.name}': no step has been summed since the last reset")
        sums = self.store.get(self.owner, "sums")[self.variables.index(variable)] / self.steps
        return sums[0] if self.population.batch == 1 else sums


def _drain_samples(monitor, writer, dt, batch):
    """Hand the filled rows of a sampling monitor's ``values`` (slots, n_vars, batch, K) to ``writer``."""
    store, owner = monitor.store, monitor.owner
    fill = store.get(owner, "fill")
    pos = int(fill[0])
    if pos:
        buf = store.get(owner, "values")
        values = {v: (buf[:pos, k, 0] if batch == 1 else buf[:pos, k]).copy() for k, v in enumerate(monitor.variables)}
        writer.append_state(monitor.name, store.get(owner, "steps")[:pos] * dt, values)
    fill[0] = 0


class WeightMonitor(Monitor):
    """Record the weights of ``projection`` (the given ``synapses``, default all) every ``every`` steps.

    Synapse ``k`` is entry ``k`` of ``projection.synapse_indices()``; the weights are
    shared by all copies, so there is no batch axis. Samples are taken in phase
    ``monitors``, after the step's plasticity: the sample at time ``t`` holds the
    weights that act from step ``t + 1`` on.
    """

    kind = "state"
    variables = ["w"]

    def __init__(self, projection, every, synapses, name):
        super().__init__(projection.post, name)
        self.projection = projection
        label = f"record_weights({projection.pre.name} -> {projection.post.name}.{projection.target})"
        self.every = check_count("every", every, owner=label)
        n = projection.n_synapses
        self.synapses = np.arange(n) if synapses is None else index_array("synapses", synapses, n, label)
        if self.synapses.size == 0:
            raise ValueError(f"{label}: parameter 'synapses' selects no synapse")

    def describe(self):
        j = self.projection
        return f"weight monitor {self.name} ({j.pre.name} -> {j.post.name}.{j.target})"

    def attach(self, index):
        super().attach(index)
        self.store.adopt(self.owner, "synapses", self.synapses.astype(np.int64), kind="scratch",
                         doc=f"synapses sampled by '{self.name}'")
        self.store.adopt(self.owner, "every", np.array([self.every], dtype=np.int64), kind="scratch",
                         doc=f"sampling interval of '{self.name}' (steps)")
        self.store.declare(self.owner, "fill", (1,), np.int64, kind="record", doc=f"fill position of '{self.name}'")

    def allocate(self, chunk_steps, dtype):
        slots = chunk_steps // self.every + 2
        self.store.declare(self.owner, "values", (slots, 1, 1, self.synapses.size), dtype, kind="record",
                           doc=f"samples of weight monitor '{self.name}'")
        self.store.declare(self.owner, "steps", (slots,), np.int64, kind="record", doc=f"sample steps of '{self.name}'")

    def emit(self, out):
        weights, args = self._arrays(out)
        out.emit(f"{out.use(kernels.sample_weights)}(step, {weights}.reshape({weights}.size), {args})")

    def emit_cuda(self, out):
        """Every ``every`` steps a thread per sampled synapse; after the phase's barrier thread 0 advances the fill
        position."""
        weights, _ = self._arrays(out)
        synapses, every, values, steps, fill = (out.array(self.owner, f) for f in self._FIELDS)
        out.comment(f"sample the weights of {self.projection.pre.name} -> {self.projection.post.name}")
        out.emit(f"if step % {every}[0] == 0:")
        out.emit(f"for k in range(tid, {synapses}.size, nthreads):", 1)
        out.emit(f"{out.use(kernels.sample_weight)}(k, {weights}.reshape({weights}.size), {synapses}, "
                 f"{values}[{fill}[0], 0, 0])", 2)
        out.tails += [f"if step % {every}[0] == 0:", f"    {steps}[{fill}[0]] = step", f"    {fill}[0] += 1"]
        out.end_stage()

    _FIELDS = ("synapses", "every", "values", "steps", "fill")

    def _arrays(self, out):
        """The projection's weights (dense: W transposed; sparse: storage order) and the monitor's arrays."""
        j = self.projection
        return out.array(j.owner, "wt" if j.kind == "dense" else "w"), ", ".join(
            out.array(self.owner, f) for f in self._FIELDS)

    def register(self, writer):
        j = self.projection
        unit = j.post.port(j.target)[1].unit
        writer.add_state_monitor(self.name, f"{j.pre.name}->{j.post.name}.{j.target}", self.variables, {"w": unit},
                                 self.synapses, self.every, j.post.network.dtype)

    def drain(self, writer, dt):
        _drain_samples(self, writer, dt, 1)
