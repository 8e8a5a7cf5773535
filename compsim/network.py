"""The network: assembles populations, projections and monitors, and runs them chunk by chunk.

Python runs once per chunk of steps (default 1,000): it lets the stages
prepare per-chunk inputs (time-varying source rates), calls the compiled
chunk loop (:mod:`compsim.engine.cpu`, built from the stage plan of
:mod:`compsim.engine.plan`, where the per-step schedule is documented), lets
the monitors drain into the writer, flushes the HDF5 file and reports
progress. Nothing happens in Python per step.

Every array that changes during a run belongs to the network's state store
(:mod:`compsim.engine.state`); checkpoints (:mod:`compsim.engine.checkpoint`)
save and restore it.

Units: time in ms, rates in Hz, and each model's documented units for its
state (mV / nS / pA for :class:`~compsim.models.CobaLIF`).
"""
import contextlib
import json
import sys
import time
from pathlib import Path

import numba
import numpy as np

from .checks import check_choice, check_count, check_number, check_positive
from .engine import checkpoint, cpu
from .engine import cuda as cuda_backend
from .engine.plan import build_plan, describe_plan
from .engine.state import StateStore
from .io.hdf5 import H5Writer
from .interrupts import deferred_signals
from .io.memory import MemoryWriter
from .model import Model, Population, check_method
from .monitors import AverageMonitor, EventMonitor, RateMonitor, SpikeMonitor, StateMonitor, WeightMonitor
from .projection import DALE, Projection
from .rng import stream_key

_PROJECTION_STREAM = 1 << 20  # stream ids of projections follow those of populations
_COPY_SHIFT = 32  # the batch copy enters a population's stream id above bit 32 (copy 0: unchanged)
#: how Numba refuses an array allocation in code compiled without its runtime (the chunk loop's)
_ALLOCATION_REFUSED = "Only accept returning of array passed into the function as argument"
PARALLEL_MIN_NEURONS = 16384  # parallel="auto" threads the loops of populations at least this large
MAX_STEPS = 10**12  # a run longer than this many steps is an input error (dt far too small)


class SimulationDiverged(RuntimeError):
    """A state variable became NaN or infinite; names the population, neuron, copy and time."""

    def __init__(self, population, neuron, t_ms, step, copy=0):
        self.population, self.neuron, self.t_ms, self.step, self.copy = population, neuron, t_ms, step, copy
        where = f"neuron {neuron}" + (f" of batch copy {copy}" if copy else "")
        super().__init__(
            f"simulation diverged: population '{population}', {where} has a non-finite state "
            f"at t = {t_ms:g} ms (step {step}); reduce dt, check parameters and weights"
        )


class Network:
    """A spiking network simulated with a fixed time step.

    Parameters
    ----------
    dt : float
        Time step (ms), > 0.
    seed : int
        Seed of every random stream (spikes, connectivity); same seed, same results.
    batch : int
        Number of independent copies simulated together (B >= 1). The copies
        share weights and connectivity; each has its own state, inputs and
        random streams (trials, training examples, parameter sweeps).
    first_copy : int
        Index of the first copy's random streams: copy ``b`` of this network
        draws the numbers of copy ``first_copy + b``. ``Network(batch=1,
        first_copy=b)`` reproduces copy ``b`` of a batched run exactly.
    method : {'exponential_euler', 'exact', 'euler'}
        Integration of the (conditionally) linear dynamics; ``exact`` is an
        alias of ``exponential_euler``, which is exact for linear dynamics
        with inputs constant over a step.
    dtype : {'float64', 'float32'}
        Precision of state, traces and weights.
    chunk_steps : int
        Steps per compiled call (Python runs between chunks only).
    parallel : {'auto', True, False}
        Compile the per-neuron loops with ``prange`` (multi-threaded).
        'auto' does so for the populations of at least 16,384 neurons (all
        copies together); with a batch, threads share out the copies.
    threads : int or None
        Numba threads to use (None: Numba's default, all cores).
    backend : {'cpu', 'cuda'}
        Where the chunk loop runs: the Numba-compiled CPU loop, or one CUDA kernel per chunk on an
        NVIDIA GPU (:mod:`compsim.engine.cuda`; needs ``pip install "compsim[cuda]"``, or numba's
        simulator with ``NUMBA_ENABLE_CUDASIM=1``). The state lives on the GPU during a run and is
        copied back when the run ends, so scripts read and write it as on the CPU.
    """

    def __init__(self, dt=0.1, seed=0, *, batch=1, first_copy=0, method="exponential_euler", dtype="float64",
                 chunk_steps=1000, parallel="auto", threads=None, backend="cpu"):
        self.dt = check_positive("dt", dt, "ms", owner="Network")
        self.seed = check_count("seed", seed, lo=0, owner="Network")
        if self.seed >= 2**63:
            raise ValueError(f"Network: parameter 'seed' must be < 2**63, got {self.seed}")
        self.batch = check_count("batch", batch, owner="Network")
        self.first_copy = check_count("first_copy", first_copy, lo=0, owner="Network")
        if self.first_copy + self.batch > 2**30:
            raise ValueError(f"Network: first_copy + batch must be <= 2**30, got {self.first_copy + self.batch}")
        self.method = check_method(method)
        self.dtype = np.dtype(check_choice("dtype", _dtype_name(dtype), ("float64", "float32"), owner="Network"))
        self.chunk_steps = check_count("chunk_steps", chunk_steps, owner="Network")
        self.parallel = check_choice("parallel", parallel, ("auto", True, False), owner="Network")
        self.threads = None if threads is None else check_count("threads", threads, owner="Network")
        self.backend = check_choice("backend", backend, ("cpu", "cuda"), owner="Network")
        if self.backend == "cuda":
            cuda_backend.require()
        self._device = None  # the CUDA backend's device arrays
        self.populations, self.projections, self.monitors, self.protocols = [], [], [], []
        self.store = StateStore()
        self.step = 0
        self.timings = {"build_s": 0.0, "compile_s": 0.0, "run_s": 0.0}
        self._program = None
        self._status = cpu.new_status()
        self._writer = None
        self._memory = None
        self._marks = ([], [])  # time markers waiting for the next run's writer: times (ms), labels
        self._allocated_steps = 0

    # -- assembly -------------------------------------------------------------------
    @property
    def t(self):
        """Current simulation time (ms), ``step * dt`` rounded to 1e-10 ms (no 0.30000000000000004)."""
        return round(self.step * self.dt, 10)

    def add(self, population, name=None, *, dale=None):
        """Add a population (neuron model or spike source); returns it.

        ``dale``: ``"excitatory"`` or ``"inhibitory"`` fixes the sign of the weights of every projection
        from this population (Dale's law, :mod:`compsim.projection`: excitatory >= 0; inhibitory <= 0,
        but >= 0 onto conductance ports); None (default): no constraint. Kept as ``population.dale``.
        """
        if not isinstance(population, Population):
            raise ValueError(f"Network.add: expected a population (model or source), got {type(population).__name__}")
        check_choice("dale", dale, (None, *DALE), owner="Network.add")
        if population.network is not None:
            raise ValueError(f"Network.add: '{population.name}' already belongs to a network")
        name = name or population.name or f"{type(population).__name__.lower()}{len(self.populations)}"
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"Network.add: parameter 'name' must be an identifier (letters, digits, _), got {name!r}")
        if any(p.name == name for p in self.populations):
            raise ValueError(f"Network.add: a population named '{name}' exists already")
        try:
            population._bind(self, len(self.populations), name)
        except BaseException:
            population.network = None
            raise
        population.dale = dale
        self.populations.append(population)
        self._changed()
        return population

    def connect(self, pre, post, target, weights=1.0, *, connectivity=None, delay=0.0, synapse=None,
                plasticity=None, normalise=None, same_step=False):
        """Connect ``pre`` to port ``target`` of ``post``.

        Parameters
        ----------
        pre, post : Population
            Populations of this network.
        target : str
            Port (compartment or conductance) of ``post``, e.g. ``"basal"``, ``"apical"``, ``"ge"``.
        weights : float or array
            Dense (``connectivity=None``): scalar or array of shape (n_post, n_pre).
            Sparse: scalar, or for ``Explicit`` one weight per given (pre, post) pair, in
            the order given; random rules take a scalar (set individual weights
            afterwards with ``projection.set_weights``, ordered as ``projection.synapse_indices()``).
            In the port's unit (nS for conductances, pA for currents, potential for dendrites).
            The weights are shared by all batch copies.
        connectivity : None, FixedProbability, FixedInDegree or Explicit
            None: all-to-all dense matrix (BLAS for dense traffic).
        delay : float
            Transmission delay (ms), a multiple of dt; 0 = effect in the next step.
        synapse : Exponential or DoubleExponential, optional
            Synaptic kernel; default: the one the post model declares for the port.
        plasticity : compsim.plasticity.Rule, optional
            A learning rule for this projection's weights (e.g. ``cs.plasticity.PairSTDP(...)``).
        normalise : float, optional
            Dendritic normalisation with excitability ``s = normalise`` (:mod:`compsim.normalisation`):
            each weight given becomes ``s v_ij / n_i``, ``n_i`` the number of non-zero weights onto
            postsynaptic neuron ``i`` in this projection; applied here and by every ``set_weights``
            (a plasticity rule then changes the normalised weights).
        same_step : bool
            False (default, Brian2's schedule): spikes of step t act from step t + 1 on. True: they act in
            step t itself, delivered right after ``pre`` is updated; ``pre`` must be a spike source or a
            population added before ``post``, with delay 0. This is the layer-by-layer order of
            feed-forward codes such as Guerguiev et al.'s (each layer sees this step's spikes of the one below).
        """
        for role, p in (("pre", pre), ("post", post)):
            if not isinstance(p, Population):
                raise ValueError(f"Network.connect: parameter '{role}' must be a population, got {type(p).__name__}")
            if p.network is not self:
                raise ValueError(f"Network.connect: '{role}' population is not part of this network (add it first)")
        index = len(self.projections)
        key = np.uint64(stream_key(self.seed, _PROJECTION_STREAM + index))
        proj = Projection(self, index, pre, post, target, weights, connectivity, delay, synapse, key, plasticity,
                          normalise, same_step)
        self.projections.append(proj)
        self._changed()
        return proj

    def add_protocol(self, protocol):
        """Let ``protocol`` drive the network from inside the compiled loop (e.g. the two-phase training of
        :mod:`compsim.protocols.two_phase`): it declares its arrays with ``attach(index)`` and contributes
        stages; its stages run before those of populations, projections and monitors of the same phase."""
        protocol.attach(len(self.protocols))
        self.protocols.append(protocol)
        self._changed()
        return protocol

    def record(self, population, variables, *, every=1, neurons=None, name=None):
        """Record state ``variables`` of ``neurons`` (slice/array, default all) every ``every`` steps."""
        self._check_member(population, "record")
        mon = StateMonitor(population, variables, every, neurons, self._monitor_name(name, population, "state"))
        return self._add_monitor(mon)

    def record_spikes(self, population, *, name=None):
        """Record every spike of ``population``."""
        self._check_member(population, "record_spikes")
        return self._add_monitor(SpikeMonitor(population, self._monitor_name(name, population, "spikes")))

    def record_events(self, population, event, *, name=None):
        """Record every occurrence of a model's named ``event`` (e.g. ``"plateau"``), like spikes."""
        self._check_member(population, "record_events")
        return self._add_monitor(EventMonitor(population, event, self._monitor_name(name, population, event)))

    def record_weights(self, projection, *, every=1, synapses=None, name=None):
        """Record the weights of ``projection`` every ``every`` steps (``synapses``: indices in the order of
        ``projection.synapse_indices()``, default all); written like a state monitor with variable ``w``."""
        if projection not in self.projections:
            raise ValueError("Network.record_weights: the projection is not part of this network")
        label = f"{projection.pre.name}_{projection.post.name}_{projection.target}"
        name = name or f"{label}_weights"
        self._monitor_name(name, projection.post, "weights")
        return self._add_monitor(WeightMonitor(projection, every, synapses, name))

    def record_rate(self, population, *, name=None):
        """Record the population's spike count per step (population rate)."""
        self._check_member(population, "record_rate")
        return self._add_monitor(RateMonitor(population, self._monitor_name(name, population, "rate")))

    def average(self, population, variables, *, name=None):
        """Accumulate per-neuron running means of ``variables`` (see :class:`~compsim.monitors.AverageMonitor`)."""
        self._check_member(population, "average")
        if not isinstance(population, Model):
            raise ValueError(f"Network.average: '{population.name}' has no state variables")
        return self._add_monitor(AverageMonitor(population, variables, self._monitor_name(name, population, "average")))

    def set_synaptic_input(self, population, port, values):
        """Set the current value of a port's synaptic input (e.g. initial conductances, in the port's unit).

        ``values``: (n,) for every copy, or (batch, n). The value is given to the
        first projection that targets the port; the others are zeroed.
        """
        population.port(port)
        projs = [j for j in self.projections if j.post is population and j.target == port]
        if not projs:
            raise ValueError(f"set_synaptic_input: no projection targets '{population.name}.{port}'")
        projs[0].set_input(values)
        for j in projs[1:]:
            j.trace[...] = 0.0

    def clear_synaptic_input(self):
        """Zero every projection's traces and pending delayed spikes (e.g. between trials)."""
        for j in self.projections:
            j.clear()

    def reset_state(self):
        """Back to the initial state: every population, trace, delay ring, source cursor and average as they
        were when the network was first built (initial conditions set by the user included), and step 0.

        Weights are kept (learning survives a reset); recordings are not touched.
        """
        self.store.reset()
        self.step = 0

    def save_checkpoint(self, path):
        """Save everything needed to continue the run to the HDF5 file ``path`` (see :mod:`compsim.engine.checkpoint`)."""
        checkpoint.save(self, path)

    def restore_checkpoint(self, path):
        """Continue from a checkpoint saved by a network of the same structure; ValueError naming any mismatch."""
        checkpoint.restore(self, path)

    def describe(self):
        """JSON-serialisable description of the whole network."""
        return {
            "dt_ms": self.dt,
            "seed": self.seed,
            "batch": self.batch,
            "first_copy": self.first_copy,
            "method": self.method,
            "dtype": str(self.dtype),
            "backend": self.backend,
            "populations": {p.name: p.describe() for p in self.populations},
            "projections": [j.describe() for j in self.projections],
            "monitors": {m.name: {"kind": m.kind, "population": m.population.name} for m in self.monitors},
        }

    def __repr__(self):
        pops = ", ".join(f"{p.name}: {type(p).__name__}({p.n})" for p in self.populations)
        copies = f", batch={self.batch}" if self.batch > 1 else ""
        return f"Network(dt={self.dt} ms, t={self.t:g} ms{copies}, {len(self.projections)} projections; {pops})"

    def _check_member(self, population, what):
        if population.network is not self:
            raise ValueError(f"Network.{what}: population is not part of this network")

    def _monitor_name(self, name, population, kind):
        name = name or f"{population.name}_{kind}"
        if not isinstance(name, str) or "/" in name:
            raise ValueError(f"parameter 'name' of a monitor must be a str without '/', got {name!r}")
        if any(m.name == name for m in self.monitors):
            raise ValueError(f"a monitor named '{name}' exists already; pass name=...")
        return name

    def _add_monitor(self, mon):
        recorded = not isinstance(mon, AverageMonitor)  # averages are not written, so may come later
        if recorded and (self._writer is not None or self._memory is not None):
            raise ValueError("add recording monitors before the first run")
        mon.attach(len(self.monitors))
        self.monitors.append(mon)
        self._changed()
        return mon

    def _changed(self):
        self._program = None

    # -- compilation ----------------------------------------------------------------
    def plan(self):
        """The per-step stage plan: list of ``(phase, [stages])`` (see :mod:`compsim.engine.plan`)."""
        return build_plan(self)

    @property
    def schedule(self):
        """The stage plan as text, one phase per line."""
        return describe_plan(self.plan())

    def stream_keys(self):
        """Random stream keys, array (n_populations, batch) of uint64: population k, copy b."""
        keys = [[stream_key(self.seed, p.index + ((self.first_copy + b) << _COPY_SHIFT)) for b in range(self.batch)]
                for p in self.populations]
        return np.array(keys or [[0] * self.batch], dtype=np.uint64)

    def prepare(self):
        """Check the populations' parameters, tabulate their constants and allocate the monitors' buffers; return
        the stage plan. The first step of :meth:`build` (and of :func:`compsim.engine.cuda.compile_ptx`)."""
        for p in self.populations:
            p.validate(self.dt)
            if isinstance(p, Model):
                self.store.adopt(p.owner, "par", p.constant_table(self.dt, self.method), kind="scratch",
                                 doc=f"constants of '{p.name}' per copy")
        self._allocate_monitors(self.chunk_steps)
        return self.plan()

    def build(self):
        """Generate and compile (or load from cache) the chunk loop; called by :meth:`run`."""
        t0 = time.perf_counter()
        plan = self.prepare()
        if self.parallel == "auto":  # thread only the loops that are worth a thread-pool launch per step
            parallel = {p.owner for p in self.populations if p.n * self.batch >= PARALLEL_MIN_NEURONS}
        else:
            parallel = {p.owner for p in self.populations} if self.parallel else set()
        if self.backend == "cuda":
            text, args = cuda_backend.generate(plan, self.store)
        else:
            copy_major = cpu.runs_copy_major(plan, self.batch, parallel)
            if copy_major:
                cpu.declare_copy_stop(self.store, self.batch)
            text, args = cpu.generate(plan, self.store, frozenset(parallel), copy_major)
        self._keys = self.stream_keys()
        t1 = time.perf_counter()
        fn = cuda_backend.load(text) if self.backend == "cuda" else cpu.load(text)
        self._device = cuda_backend.DeviceState(self, fn, args) if self.backend == "cuda" else None
        self._program = (fn, args, text, [s for _, stages in plan for s in stages])
        if self.step == 0 and not self.store.has_initial:
            self.store.remember_initial()
        self._compile_check()
        self.timings["build_s"] += t1 - t0
        self.timings["compile_s"] += time.perf_counter() - t1

    def _compile_check(self):
        """Compile (or load) the loop with a zero-step call; a kernel returning the wrong values gets a clear error."""
        from numba.core.errors import TypingError

        try:
            self._call(0)
        except TypingError as exc:
            self._program = None
            models = [p for p in self.populations if isinstance(p, Model)]
            if _ALLOCATION_REFUSED in str(exc):  # Numba's words for an array allocated without its runtime
                check = ("the loop runs without Numba's runtime, so model kernels (derive, update) and stages may "
                         "not allocate arrays (np.zeros, np.empty, array arithmetic): compute with scalars, or give "
                         "a stage's kernel that must allocate @njit(_nrt=True); check:\n  "
                         + "\n  ".join(f"{type(p).__name__} '{p.name}'" for p in models))
            else:
                check = "check what the model kernels return:\n  " + "\n  ".join(
                    f"{type(p).__name__} '{p.name}': update kernel must return ({', '.join(p.expected_returns())})"
                    for p in models)
            raise ValueError(f"the generated loop does not compile; {check}\nNumba says: {str(exc).strip()[:2000]}"
                             ) from exc

    def _allocate_monitors(self, chunk):
        for m in self.monitors:
            m.allocate(chunk, self.dtype)
        self._allocated_steps = chunk

    @property
    def source(self):
        """Text of the generated chunk loop (after :meth:`build`)."""
        if self._program is None:
            self.build()
        return self._program[2]

    def _call(self, n_steps):
        """Run ``n_steps`` steps (a chunk) and return ``(steps done, stop reason)``."""
        if self._device is not None:
            self._device.call(n_steps, self.step, self.dt, self._status, self._keys)
            return self._stopped()
        self._launch(n_steps)
        return self._finish()

    def _launch(self, n_steps):
        """Start a chunk: the CPU runs it; the CUDA backend starts it on the device and returns."""
        fn, args, _, _ = self._program
        if self._device is not None:
            self._device.launch(n_steps, self.step, self.dt, self._status, self._keys)
        else:
            store = self.store
            fn(n_steps, self.step, self.dt, self._status, self._keys, *[store[a] for a in args])

    def _finish(self):
        """Wait for the chunk :meth:`_launch` started; returns ``(steps done, stop reason)``."""
        if self._device is not None:
            self._device.finish(self._status)
        return self._stopped()

    def _stopped(self):
        return int(self._status[cpu.STEPS_DONE]), int(self._status[cpu.STOP_REASON])

    def _drain(self, stages, writer):
        """Hand the chunk's recordings to ``writer`` (monitors empty their buffers) and flush it."""
        for stage in stages:
            stage.after_chunk(self, writer)
        writer.flush(self.t)
        if self._device is not None:
            self._device.after_drain()

    # -- running --------------------------------------------------------------------
    def run(self, duration, *, output=None, progress=False, chunk_steps=None, append=False):
        """Advance the network by ``duration`` ms and return what has been recorded.

        ``output``: path of an HDF5 file to stream this run's recordings to
        (flushed after every chunk, closed at the end); with ``append=True`` the
        run continues that file (e.g. after :meth:`restore_checkpoint`). Without
        ``output``, recordings go to the file of an open :meth:`recording`
        block, or to memory, where they accumulate over runs.

        Returns a :class:`compsim.results.Results` with everything recorded so
        far in that destination; for ``output``, a handle on the closed file
        that reads each array when it is first used (:func:`compsim.load`), so
        a recording larger than memory stays on disk.
        """
        duration = check_number("duration", duration, lo=0.0, unit="ms", owner="Network.run")
        n_total = round(duration / self.dt)
        if n_total > MAX_STEPS:
            raise ValueError(f"Network.run: {duration} ms at dt = {self.dt} ms is {n_total:.3g} steps, more than "
                             f"the limit of {MAX_STEPS:.0e}; use a larger dt or a shorter run")
        if abs(n_total * self.dt - duration) > 1e-6 * max(self.dt, duration):
            raise ValueError(f"Network.run: parameter 'duration' must be a multiple of dt = {self.dt} ms, got {duration} ms")
        chunk = self.chunk_steps if chunk_steps is None else check_count("chunk_steps", chunk_steps, owner="Network.run")
        if self._program is None:
            if progress:
                sys.stderr.write("compsim: compiling the chunk loop (once per network structure, then loaded "
                                 "from the cache) ...")
                sys.stderr.flush()
            self.build()
            if progress:
                sys.stderr.write(f" {self.timings['build_s'] + self.timings['compile_s']:.1f} s\n")
        if chunk > self._allocated_steps:  # larger chunks than the buffers were sized for
            self._allocate_monitors(chunk)
        if output is not None:
            with self.recording(output, append=append) as writer:
                self._run_steps(n_total, chunk, writer, progress)
            return writer.results()
        if append:
            raise ValueError("Network.run: 'append=True' needs 'output' (the HDF5 file to continue)")
        if self._writer is not None:
            self._run_steps(n_total, chunk, self._writer, progress)
            return self._writer.results()
        writer = self._memory_writer()
        writer.attrs["complete"] = False  # in memory, "complete" says the last run finished
        self._run_steps(n_total, chunk, writer, progress)
        writer.attrs["complete"] = True
        return writer.results()

    def mark(self, labels, t_ms=None):
        """Mark times with labels (e.g. the start of a stimulus or phase): the next run's recording keeps them
        (``Results.markers``, ``/markers`` in the file) and plots draw them.

        ``labels``: a str, or a sequence of str with ``t_ms`` (ms) of the same length; ``t_ms``
        defaults to now (:attr:`t`).
        """
        labels = [labels] if isinstance(labels, str) else [str(label) for label in labels]
        times = np.full(len(labels), self.t) if t_ms is None else np.atleast_1d(np.asarray(t_ms, dtype=np.float64))
        if times.shape != (len(labels),) or not np.all(np.isfinite(times)) or (times < 0).any():
            raise ValueError(f"Network.mark: parameter 't_ms' must hold {len(labels)} finite times >= 0 ms "
                             f"(one per label), got {t_ms!r}")
        self._marks[0].extend(times.tolist())
        self._marks[1].extend(labels)

    @contextlib.contextmanager
    def recording(self, path, append=False):
        """Stream every run inside the block into one HDF5 file at ``path`` (``append``: continue it)."""
        if self._writer is not None:
            raise RuntimeError("a recording block is open already")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        writer = H5Writer(path, self._metadata(), append=append)
        finished = False
        try:
            self._register(writer)
            self._writer = writer
            yield writer
            finished = True
        finally:  # an error (e.g. divergence) leaves the file closed but marked incomplete
            self._writer = None
            writer.close(self.t, complete=finished)

    def results(self):
        """Everything recorded in memory so far (runs without ``output``)."""
        return self._memory_writer().results()

    def _memory_writer(self):
        if self._memory is None:
            writer = MemoryWriter(self._metadata())
            self._register(writer)
            self._memory = writer
        return self._memory

    def _metadata(self):
        return {"dt_ms": self.dt, "seed": self.seed, "batch": self.batch, "method": self.method,
                "dtype": str(self.dtype), "network": json.loads(json.dumps(self.describe()))}

    def _register(self, writer):
        for m in self.monitors:
            m.register(writer)

    def _run_steps(self, n_total, chunk, writer, progress):
        if self.threads is not None:
            numba.set_num_threads(min(self.threads, numba.config.NUMBA_NUM_THREADS))
        stages = self._program[3]
        end = self.step + n_total
        for stage in stages:
            stage.before_run(self, end)
        if self._marks[1]:
            writer.mark(*self._marks)
            self._marks = ([], [])
        start_wall = time.perf_counter()
        t_start = self.t
        # Ctrl-C / SIGTERM stop the run between two chunks
        with deferred_signals() as signals, self._on_device():
            pending = False  # the CUDA backend: the last chunk's recordings, drained while the next chunk runs
            while self.step < end:
                n = min(chunk, end - self.step)
                for stage in stages:
                    stage.before_chunk(self, self.step, n)
                t0 = time.perf_counter()
                self._launch(n)
                if pending:
                    self._drain(stages, writer)
                done, stop = self._finish()
                self.timings["run_s"] += time.perf_counter() - t0
                self.step += done
                pending = self._device is not None and self.step < end and stop == cpu.STOP_NONE \
                    and signals.signum is None
                if not pending:
                    self._drain(stages, writer)
                if stop == cpu.STOP_NONFINITE:
                    self._diverged()
                if progress:
                    _report_progress(self.t - t_start, n_total * self.dt, time.perf_counter() - start_wall)
                signals.raise_if_signalled()
        if progress:
            sys.stderr.write("\n")

    @contextlib.contextmanager
    def _on_device(self):
        """The CUDA backend: the state goes to the device for the run and comes back when it ends (however)."""
        if self._device is None:
            yield
            return
        self._device.begin_run()
        try:
            yield
        finally:
            self._device.end_run()

    def _diverged(self):
        status = self._status
        pop = self.populations[int(status[cpu.BAD_POPULATION])]
        copy, neuron = divmod(int(status[cpu.BAD_CELL]), pop.n)
        step = int(status[cpu.BAD_STEP])
        raise SimulationDiverged(pop.name, neuron, round(step * self.dt, 10), step, copy)


def _dtype_name(dtype):
    try:
        return str(np.dtype(dtype))
    except TypeError:
        return repr(dtype)


def _report_progress(done_ms, total_ms, elapsed_s):
    frac = done_ms / total_ms if total_ms else 1.0
    eta = elapsed_s * (1 - frac) / frac if frac > 0 else float("nan")
    sys.stderr.write(f"\rcompsim: {100 * frac:5.1f}% | {done_ms:9.1f} / {total_ms:.1f} ms | "
                     f"{elapsed_s:6.1f} s elapsed | ETA {eta:6.1f} s")
    sys.stderr.flush()
