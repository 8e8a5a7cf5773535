"""CUDA backend (NVIDIA's numba-cuda): the network's stage plan as one cooperative kernel per chunk.

``Network(..., backend="cuda")`` runs the same stage plan (:mod:`compsim.engine.plan`) as the CPU
backend (:mod:`compsim.engine.cpu`), with the same model kernels, compiled for the device:

* **One launch per chunk.** Every thread of a cooperative grid runs the loop over the chunk's
  steps; a stage shares its work out over the threads (a grid-stride loop over copy x neuron,
  copy x target, synapses, or copies) and a grid-wide barrier ends it, so each stage sees the
  previous one complete, as the CPU's sequential order does (stages of the phases in
  :data:`INDEPENDENT_PHASES` share one barrier). Python runs once per chunk, never per step.
* **The same kernels.** Neuron updates, derivations, random draws (:mod:`compsim.rng`, the
  counter-based stream keyed by seed, stream, neuron and step) and the bookkeeping kernels are the
  CPU's Numba functions, compiled as device functions; each thread updates one neuron of one copy.
* **Order-preserving delivery.** Spike lists are in ascending order, and every target sums its inputs
  itself in the order the CPU's event-driven kernels add them: no float atomics, so a run is deterministic. Dense and graded projections gather over the
  spike list (:func:`compsim.engine.kernels.gather_dense`, :func:`~compsim.engine.kernels.gather_graded`);
  sparse ones are event-driven in two passes (:meth:`compsim.projection.SparseDelivery.emit_cuda`: the
  spikes' synapses are listed at their targets with an integer atomic counter, then each target sorts
  its few events and adds them, :func:`~compsim.engine.kernels.sum_events`), so the work follows the
  synapses of the spiking neurons. STDP changes each synapse copy by copy, as the CPU does
  (:func:`compsim.plasticity.stdp.stdp_synapse`).
* **Spike collection** is order-preserving: one thread per copy for small populations, four parallel
  passes for large ones (:meth:`compsim.engine.stages.CollectSpikes.emit_cuda`). Urbanczik-Senn runs a
  thread per trace, neuron and synapse; k-winners-take-all a thread per copy; nudging and graded sparse
  delivery a thread per target; the two-phase protocol of the segregated-dendrite experiment a thread per
  element (image, window sums, errors, a thread per weight summing its copies in order), its phase ends in
  passes between barriers (:mod:`compsim.protocols.two_phase`). Replayed spike trains clear the counts a
  thread per neuron and count a thread per copy.
* **Monitors.** Spike monitors record a spike per thread at the CPU's buffer positions; event monitors
  list the events as spikes are listed, then record a thread per event; rate monitors count a thread per
  copy; weight monitors sample a thread per synapse; state and average monitors sample inside the parallel
  update. Thread 0 then advances the fill positions (and stops the chunk when a buffer is nearly full).
* **State on the device.** The store's arrays are copied to the device when a run starts and back
  when it ends (the host holds the truth between runs: read and write state, save checkpoints as
  on the CPU); during a run only the monitors' buffers (after each chunk, into page-locked host
  memory, drained into the writer while the next chunk runs: :class:`DeviceState`) and the arrays a
  stage replaces between chunks (e.g. a Poisson source's rates) cross.

Parity: on a GPU, multiply-adds are contracted into fused ones and ``exp``/``log`` may round
differently, so float64 states should agree with the CPU's to about 1e-12 relative until a spike
differs; the random draws are integer arithmetic and identical. numba-cuda's simulator
(``NUMBA_ENABLE_CUDASIM=1``) runs the kernel as Python threads calling the CPU-compiled kernels and
reproduces the CPU backend bit for bit, float64 and float32 (``tests/test_cuda_backend.py``), except
graded dense delivery, which the CPU sums in BLAS order (equal to rounding). The simulator supports
grid barriers in one block only and runs :data:`SIMULATOR_THREADS` threads.

Without a GPU, :func:`compile_ptx` compiles a network's kernel for a device (NVIDIA's NVVM) to show that
it and every kernel it calls compile there (``tests/test_cuda_ptx.py``).
"""
import importlib.util
from contextlib import contextmanager
from types import SimpleNamespace

import numpy as np
from numba import njit

from .cpu import STOP_NONE, STOP_REASON, load_module
from .codewriter import ModuleWriter

#: threads of the one block the CUDA simulator runs (it supports grid barriers in one block only)
SIMULATOR_THREADS = 2
#: threads per block on a GPU
BLOCK_THREADS = 256
#: phases whose stages write arrays no other stage of the phase reads (each collects, delivers into or
#: records from its own arrays), so that one barrier at the phase's end separates them from what follows
INDEPENDENT_PHASES = ("spikes", "delivery", "monitors")
#: no cell has diverged (the watch array's empty value)
NO_CELL = np.iinfo(np.int64).max


def simulated():
    """Whether numba's CUDA simulator is on (``NUMBA_ENABLE_CUDASIM=1`` when numba was imported)."""
    from numba.core import config

    return bool(config.ENABLE_CUDASIM)


_SIMULATOR_KERNELS = {}


def simulator_kernel(function):
    """Simulator only: a model kernel (it takes the generated module's constants tuple ``c``) compiled without
    Numba's disk cache. The simulator calls it from Python, so Numba compiles it for that tuple type; a
    cached entry would name the generated module, which another process (another cache directory) cannot
    import when it reads the kernel's cache index."""
    if function not in _SIMULATOR_KERNELS:
        _SIMULATOR_KERNELS[function] = njit(cache=False)(function.py_func)
    return _SIMULATOR_KERNELS[function]


def simulator_array(array):
    """The NumPy array behind an array inside a simulated kernel (the simulator runs the kernel as Python, and the
    model kernels it calls are the CPU's Numba functions, which take NumPy arrays)."""
    inner = vars(array).get("_item", array)
    return vars(inner).get("_ary", inner)


def availability():
    """``(available, detail)``: whether ``backend='cuda'`` can run here, and the device or what is missing."""
    if simulated():
        return True, "numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1): correct results, slow; no GPU used"
    if importlib.util.find_spec("numba_cuda") is None:
        return False, "the numba-cuda package is not installed (pip install 'compsim[cuda]')"
    try:
        from numba import cuda

        if not cuda.is_available():
            return False, "numba-cuda is installed, but finds no usable NVIDIA GPU and driver"
        name = cuda.get_current_device().name
        return True, f"{name.decode() if isinstance(name, bytes) else name} (numba-cuda)"
    except Exception as exc:  # a broken driver or toolkit: say what numba says
        return False, f"numba-cuda cannot use the GPU: {exc}"


def require():
    """Raise a clear error when the CUDA backend cannot run here."""
    ok, detail = availability()
    if not ok:
        raise RuntimeError(f"Network: backend 'cuda' is not available: {detail}. "
                           "Set NUMBA_ENABLE_CUDASIM=1 to run it on numba's CUDA simulator, or use backend='cpu'")


class CudaChunkWriter(ModuleWriter):
    """What stages write into for this backend (their ``emit_cuda``): arguments, imports, and the step body.

    Code is written for one thread: ``tid`` and ``nthreads`` give its place in the grid;
    :meth:`grid_loop` shares a range out over the threads and :meth:`barrier` ends a stage.
    Offers the ``array``/``use``/``out`` interface the CPU writer's helper functions offer, so
    that projections and monitors write their per-neuron lines for both backends.
    """

    parallel = frozenset()
    #: the line that ends the chunk after this step (the CPU loop's ``stop = True``: a monitor's buffers are nearly
    #: full), unless it ends for another reason already
    STOP = "status[STOP_REASON] = STOP_BUFFER_FULL if status[STOP_REASON] == STOP_NONE else status[STOP_REASON]"

    def __init__(self, store):
        super().__init__(store)
        self.tails = []  # lines for thread 0 after the current stage's barrier (e.g. monitor fill positions)
        self.passes = []  # lines for every thread after that barrier, pass by pass (later passes of a stage)
        self.pending = False  # a stage has ended: the next needs a barrier first (begin_stage)
        self.phase = None

    @property
    def out(self):
        return self

    def takes_constants(self, alias):
        """Kernel ``alias`` takes a model's constants; under the simulator it is called from Python
        (:func:`simulator_kernel`)."""
        if simulated():
            self.preamble.append(f"{alias} = simulator_kernel({alias})")

    def emit(self, text, indent=0):
        self.lines.append("    " * indent + text)

    def emit_all(self, lines, indent=0):
        for text in lines:
            self.emit(text, indent)

    def comment(self, text):
        self.emit(f"# {text}")

    def grid_loop(self, var, count):
        """Open ``for var in range(tid, count, nthreads):`` (its body: the next lines, written with indent 1)."""
        self.emit(f"for {var} in range(tid, {count}, nthreads):")

    def barrier(self):
        """Every thread waits for all; then thread 0 runs the stage's tail lines (and all wait)."""
        self.emit("grid.sync()")
        self.pending = False
        if self.tails:
            self.emit("if tid == 0:")
            self.emit_all(self.tails, 1)
            self.emit("grid.sync()")
            self.tails = []
        passes, self.passes = self.passes, []
        for lines in passes:
            self.lines.extend(lines)
            self.emit("grid.sync()")

    def serial(self, emit):
        """Thread 0 runs the lines ``emit(self)`` writes for the CPU's loop: short bookkeeping (recording,
        replaying a spike list) that calls the CPU's kernels on whole arrays. The CPU loop's request to end the
        chunk early (``stop = True``: a monitor's buffers are nearly full) becomes the status the kernel stops on."""
        start = len(self.lines)
        emit(self)
        body = self.lines[start:]
        del self.lines[start:]
        if not body:
            return
        self.emit("if tid == 0:")
        for line in body:
            self.lines.append("    " + line.replace("stop = True", self.STOP))
        self.end_stage()

    def after_barrier(self, *emits):
        """Later passes of a stage that need the previous pass complete everywhere: the lines ``emits[k](self)``
        writes run on every thread after the barrier that ends this stage (and the stages of its phase that share
        it) and ``k`` barriers more; each pass ends with a barrier. Passes of the same rank of a phase's stages run
        together."""
        for k, emit in enumerate(emits):
            start = len(self.lines)
            emit(self)
            if len(self.passes) <= k:
                self.passes.append([])
            self.passes[k].extend(self.lines[start:])
            del self.lines[start:]

    def end_stage(self):
        """End a stage: a barrier before the next stage, unless both are of a phase whose stages are independent
        (:data:`INDEPENDENT_PHASES`), where the barrier waits for the phase's end."""
        self.pending = True

    def begin_stage(self, phase):
        """Before a stage of ``phase``: the barrier the previous stage asked for, if it is needed."""
        if self.pending and not (phase == self.phase and phase in INDEPENDENT_PHASES):
            self.barrier()
        if phase is not None and phase != self.phase:
            self.comment(f"--- {phase}")
        self.phase = phase

    def simulator_prologue(self):
        """Under the simulator: unwrap the array arguments (:func:`simulator_array`); nothing on a GPU."""
        if not simulated():
            return []
        names = ["status", "keys", "watch", *self.args]
        return [f"    {', '.join(names)} = ({', '.join(f'simulator_array({a})' for a in names)})"]

    def module_text(self):
        header = [
            '"""Chunk kernel generated by compsim.engine.cuda from the network\'s stage plan; do not edit."""',
            "from collections import namedtuple  # noqa: F401",
            "from numba import cuda",
            "from compsim.engine.cpu import (STEPS_DONE, STOP_REASON, BAD_POPULATION, BAD_CELL, BAD_STEP,  # noqa: F401",
            "                                STOP_NONE, STOP_BUFFER_FULL, STOP_NONFINITE)",
            "from compsim.engine.cuda import NO_CELL, simulator_array, simulator_kernel  # noqa: F401",
            *sorted(self.imports.values()),
            "",
            *self.preamble,
            "",
            "",
            "@cuda.jit(cache=True)  # on disk, beside this module (its name hashes the kernels it calls)",
            f"def run_chunk(n_steps, step0, dt, status, keys, watch, {', '.join(self.args)}):",
            "    grid = cuda.cg.this_grid()",
            "    tid = cuda.grid(1)",
            "    nthreads = cuda.gridsize(1)",
            *self.simulator_prologue(),
            "    for s in range(n_steps):",
            "        step = step0 + s",
        ]
        footer = [
            "        # --- end of the step: report a diverged cell (the lowest copy * n + neuron) and stop",
            "        if tid == 0:",
            "            for p in range(watch.shape[0]):",
            "                if watch[p] != NO_CELL and status[STOP_REASON] != STOP_NONFINITE:",
            "                    status[STOP_REASON] = STOP_NONFINITE",
            "                    status[BAD_POPULATION] = p",
            "                    status[BAD_CELL] = watch[p]",
            "                    status[BAD_STEP] = step",
            "        grid.sync()",
            "        if status[STOP_REASON] != STOP_NONE:",
            "            if tid == 0:",
            "                status[STEPS_DONE] = s + 1",
            "            return",
            "    if tid == 0:",
            "        status[STEPS_DONE] = n_steps",
            "",
        ]
        return "\n".join(header + ["        " + line for line in self.lines] + footer)


def generate(plan, store):
    """Source text of the chunk kernel module for ``plan`` and the store keys of its array arguments."""
    out = CudaChunkWriter(store)
    for _, stages in plan:
        for stage in stages:
            emit = getattr(stage, "emit_cuda", None)
            if emit is None:
                raise ValueError(f"backend 'cuda' cannot run '{stage.describe()}' ({type(stage).__name__}) yet; "
                                 "run this network with backend='cpu'")
            out.begin_stage(stage.phase)
            emit(out)
    out.begin_stage(None)
    return out.module_text(), list(out.args)


def load(text):
    """Import the generated module ``text`` (cached on disk like the CPU's) and return its kernel."""
    return load_module(text, "compsim_cuda").run_chunk


def compile_ptx(network, cc=(9, 0)):
    """PTX of ``network``'s chunk kernel for compute capability ``cc``, compiled without a GPU.

    A check that the generated kernel and every kernel it calls compile for the device (types, supported
    functions) before GPU time is booked: it needs NVIDIA's NVVM (``pip install "compsim[cuda]"``), not a GPU
    or driver, and numba's real CUDA target (``NUMBA_ENABLE_CUDASIM`` unset). Any network can be checked, whatever
    its backend; it is prepared (:meth:`compsim.Network.prepare`) but not run. Returns the PTX text.
    """
    if simulated():
        raise RuntimeError("compile_ptx: numba's CUDA simulator is on (NUMBA_ENABLE_CUDASIM=1); "
                           "unset it to compile for a device")
    from numba import cuda, typeof, types

    text, args = generate(network.prepare(), network.store)
    kernel = load(text)
    watch = np.zeros(1, dtype=np.int64)
    signature = (types.int64, types.int64, types.float64, typeof(network._status), typeof(network.stream_keys()),
                 typeof(watch), *[typeof(network.store[key]) for key in args])
    with _device_functions_for(cc):
        ptx, _ = cuda.compile_ptx(kernel.py_func, signature, cc=cc)
    return ptx


@contextmanager
def _device_functions_for(cc):
    """numba-cuda compiles the device functions a kernel calls for the current device's compute capability; with no
    device, tell it ``cc`` for the time of one compilation."""
    from numba.cuda import dispatcher

    current = dispatcher.get_current_device
    dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=tuple(cc))
    try:
        yield
    finally:
        dispatcher.get_current_device = current


class DeviceState:
    """The device copies of a network's arrays, and when they cross (module docstring).

    A run's chunks are pipelined: while chunk k + 1 runs, Python drains chunk k's recordings into the writer.
    The monitors' buffers (the store's ``record`` arrays) have two device copies, written by alternate chunks,
    and page-locked host arrays, which the device fills after each chunk (:meth:`finish`). Once drained, the
    host buffers are back in their empty state, which is copied, on a second stream and while the next chunk
    runs, into the device copy the chunk after next writes (:meth:`after_drain`).
    """

    def __init__(self, network, kernel, args):
        from numba import cuda

        self.cuda, self.network, self.kernel, self.args = cuda, network, kernel, args
        self.device = {}  # key -> device array, for all but the monitors' buffers
        self.record_sets = ({}, {})  # key -> device array: the monitors' buffers, for alternate chunks
        self.uploaded = {}  # key -> the host array last copied to the device
        self.pinned = {}  # key -> the page-locked host array of a monitor buffer
        self.records = ()
        self.active = 0  # the record set the next chunk writes
        self.stale = None  # the record set of the chunk the host holds, to empty once drained
        self.running = False
        self.stream = self.copier = self.d_status = self.keys = None
        self.watch = np.full(max(len(network.populations), 1), NO_CELL, dtype=np.int64)
        if simulated():
            self.grid = (1, SIMULATOR_THREADS)
        else:
            self.grid = None  # sized at the first launch, when the kernel is compiled

    def _upload(self, key):
        store = self.network.store
        host = store[key]
        if key in self.records:  # page-locked on the host; both device copies start empty
            if host is not self.pinned.get(key):
                host = self.pinned[key] = store.replace(key, self.cuda.pinned_array(host.shape, dtype=host.dtype))
            for records in self.record_sets:
                records[key] = self.cuda.to_device(host)
        else:
            self.device[key] = self.cuda.to_device(host)
        self.uploaded[key] = host

    def begin_run(self):
        """Copy every array to the device (the host's arrays may have changed since the last run)."""
        self.stream, self.copier = self.cuda.stream(), self.cuda.stream()
        store_records = {key for key, _ in self.network.store.items("record")}
        self.records = tuple(key for key in self.args if key in store_records)
        for key in self.args:
            self._upload(key)
        self.active, self.stale = 0, None
        self.running = True

    def end_run(self):
        """Copy every array back to the host, into the store's arrays, but the monitors' buffers (copied after
        each chunk, and drained since)."""
        self.stream.synchronize()
        self.copier.synchronize()
        store = self.network.store
        for key in self.args:
            if key not in self.records:
                self.device[key].copy_to_host(store[key])
        self.running = False

    def launch(self, n_steps, step0, dt, status, keys):
        """Start ``n_steps`` steps on the device and return; :meth:`finish` waits for them."""
        store = self.network.store
        for key in self.args:  # replaced between chunks (e.g. rates)
            if key not in self.records and store[key] is not self.uploaded[key]:
                self._upload(key)
        if any(store[key] is not self.uploaded[key] for key in self.records):  # a monitor grew its buffers (and
            for key in self.records:  # changed its capacity in place): both record sets start from the host's
                self._upload(key)
        self.copier.synchronize()  # this chunk's record set is empty
        status[:] = 0
        status[STOP_REASON] = STOP_NONE
        self.watch[:] = NO_CELL
        self.d_status, d_watch = self.cuda.to_device(status), self.cuda.to_device(self.watch)
        if self.keys is None or self.keys[0] is not keys:  # device arrays only: numba would copy a host array
            self.keys = (keys, self.cuda.to_device(keys))  # back after the kernel, and wait for it
        records = self.record_sets[self.active]
        arrays = [records[k] if k in records else self.device[k] for k in self.args]
        call = (n_steps, step0, dt, self.d_status, self.keys[1], d_watch, *arrays)
        blocks, threads = self.grid or self._grid_size(call)
        self.kernel[blocks, threads, self.stream](*call)

    def finish(self, status):
        """Wait for the chunk; ``status`` is filled as by the CPU's chunk loop, and the host's monitor buffers hold
        the chunk's recordings (page-locked: one fast copy each)."""
        self.stream.synchronize()
        self.copier.synchronize()  # the emptying copies read the host buffers: done before they are overwritten
        self.d_status.copy_to_host(status)
        store = self.network.store
        for key in self.records:
            if store[key] is not self.uploaded[key]:  # monitors grow only after a chunk stopped early, drained first
                raise RuntimeError(f"CUDA backend: monitor buffer {key} was replaced while its chunk ran")
            self.record_sets[self.active][key].copy_to_host(store[key], stream=self.stream)
        self.stream.synchronize()
        self.stale, self.active = self.active, 1 - self.active

    def after_drain(self):
        """The host's monitor buffers are drained (empty again): copy them, asynchronously, into the record set of
        the chunk they held, which the chunk after the running one writes."""
        if self.stale is None:
            return
        store = self.network.store
        for key in self.records:
            if store[key] is self.uploaded[key]:  # a grown buffer goes to both sets at the next launch
                self.record_sets[self.stale][key].copy_to_device(store[key], stream=self.copier)
        self.stale = None

    def call(self, n_steps, step0, dt, status, keys):
        """Run ``n_steps`` steps and wait (the compile check: a run of its own)."""
        if not self.running:
            self.begin_run()
            try:
                return self.call(n_steps, step0, dt, status, keys)
            finally:
                self.end_run()
        self.launch(n_steps, step0, dt, status, keys)
        self.finish(status)

    def _grid_size(self, call):
        """The largest cooperative grid of :data:`BLOCK_THREADS`-thread blocks that fits on the device (numba-cuda's
        occupancy query for the compiled kernel; one block per multiprocessor where the query is unavailable)."""
        kernel = self.kernel.compile(tuple(self.kernel.typeof_pyval(a) for a in call))  # the launch reuses it
        try:
            blocks = kernel.max_cooperative_grid_blocks(BLOCK_THREADS)
        except AttributeError:
            blocks = self.cuda.get_current_device().MULTIPROCESSOR_COUNT
        self.grid = (max(int(blocks), 1), BLOCK_THREADS)
        return self.grid
