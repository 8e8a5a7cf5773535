"""Monitors: what is recorded, and the per-chunk buffers the compiled loop fills.

Recording happens inside the compiled loop into preallocated buffers; after
each chunk the network hands the filled part to the writer (HDF5 or memory)
and resets the fill position: never a per-step Python call or write.

* :class:`StateMonitor` samples variables (state rows or synaptic ports) of a
  subset of neurons every ``every`` steps, at the start of the step (after the
  synaptic inputs of the step are gathered, before the state update): the
  sample at time ``t`` is the state at ``t``, as Brian2's ``StateMonitor``.
* :class:`SpikeMonitor` stores (step, neuron, count) of every spike event.
* :class:`RateMonitor` stores the number of spikes per step.
"""
import numpy as np

from .checks import check_count, index_array

STATE, PORT = 0, 1


class StateMonitor:
    """Record ``variables`` of ``neurons`` of ``population`` every ``every`` steps."""

    kind = "state"

    def __init__(self, population, variables, every, neurons, name):
        owner = f"record({population.name})"
        if isinstance(variables, str):
            variables = [variables]
        self.population, self.name = population, name
        self.every = check_count("every", every, owner=owner)
        recordable = population.recordable()
        if not recordable:
            raise ValueError(f"{owner}: {type(population).__name__} has no state variables to record")
        self.variables = list(variables)
        if not self.variables or len(set(self.variables)) != len(self.variables):
            raise ValueError(f"{owner}: parameter 'variables' must name each variable once, got {self.variables}")
        self.rows = []
        for v in self.variables:
            if v not in recordable:
                raise ValueError(f"{owner}: unknown variable '{v}'; recordable variables are {sorted(recordable)}")
            if v in population.var_names:
                self.rows.append((STATE, population.var_names.index(v)))
            else:
                self.rows.append((PORT, population.port_names.index(v)))
        self.units = {v: recordable[v] for v in self.variables}
        idx = np.arange(population.n)[neurons] if isinstance(neurons, slice) else np.arange(population.n)
        if neurons is not None and not isinstance(neurons, slice):
            idx = index_array("neurons", neurons, population.n, owner)
            if np.unique(idx).size != idx.size:
                raise ValueError(f"{owner}: parameter 'neurons' contains duplicates")
        if idx.size == 0:
            raise ValueError(f"{owner}: parameter 'neurons' selects no neuron")
        self.neurons = idx.astype(np.int64)
        self.col = np.full(population.n, -1, dtype=np.int64)
        self.col[self.neurons] = np.arange(self.neurons.size)
        self.ctl = np.zeros(2, dtype=np.int64)  # [fill position, every]
        self.ctl[1] = self.every

    def allocate(self, chunk_steps, dtype):
        slots = chunk_steps // self.every + 2
        self.buf = np.zeros((slots, len(self.rows), self.neurons.size), dtype=dtype)
        self.tbuf = np.zeros(slots, dtype=np.int64)

    def register(self, writer):
        writer.add_state_monitor(self.name, self.population.name, self.variables, self.units, self.neurons,
                                 self.every, self.population.network.dtype)

    def drain(self, writer, dt):
        pos = int(self.ctl[0])
        if pos:
            values = {v: self.buf[:pos, k, :].copy() for k, v in enumerate(self.variables)}
            writer.append_state(self.name, self.tbuf[:pos] * dt, values)
        self.ctl[0] = 0


class SpikeMonitor:
    """Record every spike of ``population`` (Poisson counts > 1 are stored as repeated spikes)."""

    kind = "spikes"

    def __init__(self, population, name):
        self.population, self.name = population, name
        self.ctl = np.zeros(2, dtype=np.int64)  # [fill position, capacity]

    def allocate(self, chunk_steps, dtype, capacity=None):
        n = self.population.n
        cap = capacity or max(4 * n, int(n * chunk_steps * 0.01))
        self.buf_step = np.zeros(cap, dtype=np.int64)
        self.buf_idx = np.zeros(cap, dtype=np.int32)
        self.buf_cnt = np.zeros(cap, dtype=np.int32)
        self.ctl[1] = cap

    def register(self, writer):
        writer.add_spike_monitor(self.name, self.population.name, self.population.n)

    def drain(self, writer, dt):
        pos = int(self.ctl[0])
        if pos:
            cnt = self.buf_cnt[:pos]
            writer.append_spikes(self.name, np.repeat(self.buf_step[:pos], cnt) * dt, np.repeat(self.buf_idx[:pos], cnt))
        full = pos > self.ctl[1] - self.population.n
        self.ctl[0] = 0
        if full:  # the loop stopped early to drain: grow for the next chunk
            self.allocate(0, None, capacity=2 * int(self.ctl[1]))


class RateMonitor:
    """Record the population's spike count in every step."""

    kind = "rate"

    def __init__(self, population, name):
        self.population, self.name = population, name
        self.ctl = np.zeros(1, dtype=np.int64)  # [fill position]

    def allocate(self, chunk_steps, dtype):
        self.buf = np.zeros(chunk_steps + 1, dtype=np.int64)
        self.tbuf = np.zeros(chunk_steps + 1, dtype=np.int64)

    def register(self, writer):
        writer.add_rate_monitor(self.name, self.population.name, self.population.n)

    def drain(self, writer, dt):
        pos = int(self.ctl[0])
        if pos:
            writer.append_rate(self.name, self.tbuf[:pos] * dt, self.buf[:pos].copy())
        self.ctl[0] = 0


class AverageMonitor:
    """Running sums of ``variables`` of every neuron, for phase averages (not written to files).

    The compiled loop adds each step's value (sampled like a state monitor, at
    the start of the step) to ``sums``; :meth:`mean` divides by the number of
    steps since the last :meth:`reset`. This is how a protocol averages, e.g.,
    somatic potentials over the last 20 ms of a phase without per-step Python.
    """

    kind = "average"

    def __init__(self, population, variables, name):
        self.population, self.name = population, name
        probe = StateMonitor(population, variables, 1, None, name)  # validates names, resolves rows
        self.variables, self.rows, self.units = probe.variables, probe.rows, probe.units
        self.sums = np.zeros((len(self.rows), population.n))
        self.ctl = np.zeros(1, dtype=np.int64)  # [steps summed]

    def reset(self):
        """Start a new averaging window."""
        self.sums[:] = 0.0
        self.ctl[0] = 0

    @property
    def steps(self):
        """Number of steps summed since the last reset."""
        return int(self.ctl[0])

    def mean(self, variable):
        """Mean of ``variable`` per neuron over the steps since the last reset, shape (n,)."""
        if self.ctl[0] == 0:
            raise ValueError(f"average monitor '{self.name}': no step has been summed since the last reset")
        return self.sums[self.variables.index(variable)] / self.ctl[0]

    def allocate(self, chunk_steps, dtype):
        """Nothing to size per chunk: the sums live across chunks."""

    def register(self, writer):
        """Averages are read by protocols, not written to files."""

    def drain(self, writer, dt):
        """Nothing to drain."""
