"""CPU backend: turns a network's stage plan into one Numba-compiled chunk loop, cached on disk.

The loop over the steps of a chunk runs inside one Numba function written for
the network's *structure* (which stages, in which order; see
:mod:`compsim.engine.plan` for the schedule). Sizes, parameters, weights,
seeds and buffers are arguments, so the same structure reuses the compiled
code across seeds, sizes and runs. The generated module is written once to a
cache directory (``$COMPSIM_CACHE_DIR``, default ``~/.cache/compsim``) under
a name derived from a hash of its text and of every module whose kernels it
inlines, and compiled with ``cache=True``: a second process loads the machine
code from disk instead of compiling.

``run_chunk(n_steps, step0, dt, status, keys, *arrays)`` reports through the
``status`` array, indexed by the names below (importable by generated code).
"""
import hashlib
import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
from numba import njit

from .codewriter import ModuleWriter

# fields of the status array the chunk loop fills
STEPS_DONE, STOP_REASON, BAD_POPULATION, BAD_CELL, BAD_STEP = range(5)
STATUS_SIZE = 5
# values of status[STOP_REASON]
STOP_NONE, STOP_BUFFER_FULL, STOP_NONFINITE = range(3)
#: decorator option of the serial generated functions: their array arguments do not overlap (:mod:`.noalias`)
_NO_ALIAS = ", pipeline_class=NoAliasCompiler"
#: the store array of the copy-major loop's stops (:func:`declare_copy_stop`)
COPY_STOP_ARRAY = ("engine", "copy_stop")

COPY_MAJOR = """Copy-major loop. With a batch and threads, the copies are independent between the steps at which
something shared by all copies changes (a weight update at a protocol's phase end). When every stage can work on
one copy at a time, the chunk runs as segments of steps between such events: in a segment each thread takes its
copies through every step (one parallel launch per segment, not several per step), then the shared work runs.
Each copy computes exactly what it computes step by step (the same operations in the same order), so the results
are bit-identical to the step-major loop's."""


def cache_dir():
    """Directory holding generated modules and Numba's cache of their machine code."""
    return Path(os.environ.get("COMPSIM_CACHE_DIR", Path.home() / ".cache" / "compsim")) / "kernels"


class _Function:
    """A compiled helper function of the chunk module, e.g. one population's step."""

    def __init__(self, out, name, fixed_args, parallel, refcounts):
        self.out, self.name, self.fixed_args, self.parallel, self.refcounts = out, name, fixed_args, parallel, refcounts
        self.args = []
        self.lines = []

    def array(self, owner, field):
        """Name of store array ``owner.field`` inside this function (also passed through by the chunk loop)."""
        name = self.out.array(owner, field)
        if name not in self.args:
            self.args.append(name)
        return name

    def emit(self, indent, text):
        self.lines.append("    " * indent + text)

    def emit_all(self, indent, lines):
        for text in lines:
            self.emit(indent, text)

    def emit_copies(self, n_copies, lines, passed, threaded):
        """``for b in range(n_copies):`` with the per-copy ``lines`` (indented relative to the loop body).

        ``threaded``: the copies are shared out over the threads (``prange``), each copy's ``lines`` in a
        serial helper ``<name>_copy(b, *passed, *arrays)`` compiled without Numba's runtime, so that the
        threads take their copies' array views without updating reference counts they share (a parallel
        loop itself needs the runtime)."""
        if not threaded:
            self.emit(1, f"for b in range({n_copies}):")
            self.emit_all(2, lines)
            return
        one_copy = self.copy_helper(lines, passed)
        self.emit(1, f"for b in prange({n_copies}):")
        self.emit(2, one_copy.call("int64(b)", *passed))  # b is unsigned in the parallel body: one signature

    def copy_helper(self, lines, passed):
        """Add the serial helper ``<name>_copy(b, *passed, *arrays)`` running the per-copy ``lines`` for copy ``b``
        (compiled without Numba's runtime, and into its caller); returns it, for its :meth:`call`."""
        one_copy = _Function(self.out, f"{self.name}_copy", ("b", *passed), parallel=False, refcounts=False)
        one_copy.args = list(self.args)
        one_copy.emit_all(1, lines)
        self.out.add_function(one_copy)
        return one_copy

    @property
    def loop(self):
        return "prange" if self.parallel else "range"

    def text(self):
        runtime = self.refcounts or self.parallel  # parallel loops allocate (stated: callees inherit run_chunk's)
        # serial: into its caller, on the store's no-overlap promise; Numba decides for the bodies of parallel loops
        serial = "" if self.parallel else f"{_NO_ALIAS}, forceinline=True"
        options = f"cache=True, parallel={self.parallel}, nogil=True, error_model=\"numpy\", _nrt={runtime}{serial}"
        head = [f"@njit({options})",
                f"def {self.name}({', '.join([*self.fixed_args, *self.args])}):"]
        return "\n".join(head + self.lines)

    def call(self, *fixed_values):
        return f"{self.name}({', '.join([*fixed_values, *self.args])})"


class ChunkWriter(ModuleWriter):
    """What stages write into: arguments, imports, helper functions and the step-loop body.

    ``parallel``: owners (e.g. ``"p3"``) whose per-neuron loops are multi-threaded.

    ``copy_major``: the loop runs *copy by copy* (:data:`COPY_MAJOR`): stages write, with
    ``emit_copy``, the lines of one step of copy ``b``, and with :meth:`emit_global` the lines that run
    between segments, for all copies at once (e.g. a weight update shared by the copies).
    """

    def __init__(self, store, parallel=frozenset(), copy_major=False):
        super().__init__(store)
        self.parallel = parallel
        self.copy_major = copy_major
        self.functions = []
        self.global_lines = {"before": [], "after": []}

    def function(self, name, fixed_args, parallel=False, refcounts=True):
        """Start a helper function; add it with :meth:`add_function` when written.

        ``refcounts=False`` compiles a serial helper (and what it calls) without Numba's runtime: no
        atomic reference-count updates for each array view taken per copy and step, but nothing in it
        may allocate an array. (Threaded helpers keep the runtime: their parallel loops allocate.)
        A serial helper is compiled into its caller (called per step, a call would pass every array's
        pointers, shape and strides on the stack); a threaded one is a parallel launch of its own."""
        return _Function(self, name, fixed_args, parallel, refcounts)

    def add_function(self, function):
        self.functions.append(function.text())

    def emit(self, text, indent=0):
        """A line of the step loop body (``step``, ``s``, ``dt``, ``keys``, ``status`` are in scope)."""
        self.lines.append("    " * (2 + indent) + text)

    def comment(self, text):
        self.emit(f"# {text}")

    def emit_global(self, when, text, indent=0):
        """Copy-major loop: a line run for all copies ``"before"`` or ``"after"`` each segment of steps (``s`` is
        the segment's first step in the chunk, ``s1`` one past its last; lines before may lower ``s1``)."""
        self.global_lines[when].append("    " * (2 + indent) + text)

    def global_writer(self, when):
        """A writer whose :meth:`emit` is :meth:`emit_global` ``(when, ...)`` (for code shared with the step loop)."""
        return _GlobalWriter(self, when)

    def module_text(self):
        if self.copy_major:
            return self._copy_major_text()
        header = [
            *self._head(),
            f"@njit(cache=True, nogil=True, _nrt=False{_NO_ALIAS})",  # no reference counts (kernels needing it say so)
            f"def run_chunk(n_steps, step0, dt, status, keys, {', '.join(self.args)}):",
            "    status[STOP_REASON] = STOP_NONE",
            "    for s in range(n_steps):",
            "        step = step0 + s",
            "        stop = False",
        ]
        footer = [
            "        if stop or status[STOP_REASON] != STOP_NONE:",
            "            if status[STOP_REASON] == STOP_NONE:",
            "                status[STOP_REASON] = STOP_BUFFER_FULL",
            "            status[STEPS_DONE] = s + 1",
            "            return",
            "    status[STEPS_DONE] = n_steps",
            "",
        ]
        return "\n".join(header + self.lines + footer)

    def _head(self):
        return [
            '"""Chunk loop generated by compsim.engine.cpu from the network\'s stage plan; do not edit."""',
            "from collections import namedtuple  # noqa: F401",
            "from numba import njit, prange  # noqa: F401",
            "from numpy import int64  # noqa: F401",
            "from compsim.engine.noalias import NoAliasCompiler  # noqa: F401",
            "from compsim.engine.cpu import (STEPS_DONE, STOP_REASON, BAD_POPULATION, BAD_CELL, BAD_STEP,  # noqa: F401",
            "                                STOP_NONE, STOP_BUFFER_FULL, STOP_NONFINITE)",
            *sorted(self.imports.values()),
            "",
            *self.preamble,
            "",
            "",
            *[text + "\n\n" for text in self.functions],
        ]

    def _copy_major_text(self):
        """``run_chunk`` as segments of steps; in each, the copies are shared out over the threads and each
        thread takes its copies through every step of the segment (``copy_steps``)."""
        stop = self.array(*COPY_STOP_ARRAY)
        self.use(first_copy_stop)
        args = ", ".join(self.args)
        return "\n".join(self._head() + [
            f"@njit(cache=True, nogil=True, error_model=\"numpy\", _nrt=False{_NO_ALIAS})",
            f"def copy_steps(b, s0, s1, step0, dt, keys, {args}):",
            f"    {stop}[b, 0] = -1",
            "    for s in range(s0, s1):",
            "        step = step0 + s",
            *self.lines,
            "",
            "",
            "@njit(cache=True, parallel=True, nogil=True, _nrt=True)",
            f"def copy_segment(s0, s1, step0, dt, keys, {args}):",
            "    for b in prange(keys.shape[1]):",
            f"        copy_steps(int64(b), s0, s1, step0, dt, keys, {args})",  # b is unsigned in the parallel body
            "",
            "",
            f"@njit(cache=True, nogil=True, _nrt=False{_NO_ALIAS})",  # no reference counts (kernels needing it say so)
            f"def run_chunk(n_steps, step0, dt, status, keys, {args}):",
            "    status[STOP_REASON] = STOP_NONE",
            "    s = int64(0)",  # not the literal 0, which would compile copy_segment a second time
            "    while s < n_steps:",
            "        s1 = n_steps",
            *self.global_lines["before"],
            f"        copy_segment(s, s1, step0, dt, keys, {args})",
            f"        if first_copy_stop({stop}, status, step0):",
            "            return",
            *self.global_lines["after"],
            "        s = s1",
            "    status[STEPS_DONE] = n_steps",
            "",
        ])


class _GlobalWriter:
    """:class:`ChunkWriter` with :meth:`emit` writing the lines run between segments of a copy-major loop."""

    def __init__(self, out, when):
        self.out, self.when = out, when
        self.store, self.parallel = out.store, out.parallel

    def emit(self, text, indent=0):
        self.out.emit_global(self.when, text, indent)

    def comment(self, text):
        self.emit(f"# {text}")

    def array(self, owner, field):
        return self.out.array(owner, field)

    def use(self, function, alias=None):
        return self.out.use(function, alias)

    def function(self, name, fixed_args, parallel=False, refcounts=True):
        return self.out.function(name, fixed_args, parallel, refcounts)

    def add_function(self, function):
        self.out.add_function(function)


def runs_copy_major(plan, batch, parallel):
    """Whether the chunk loop runs copy-major (:data:`COPY_MAJOR`): threads, a batch, and stages that each work
    on one copy at a time (``Stage.per_copy()``; monitors and per-step rules on shared weights do not)."""
    return batch > 1 and bool(parallel) and all(stage.per_copy() for _, stages in plan for stage in stages)


def declare_copy_stop(store, batch):
    """The copy-major loop's record of where each copy stopped: (step, population, cell), step -1 if it did not."""
    if not store.has(*COPY_STOP_ARRAY):
        store.declare(*COPY_STOP_ARRAY, (batch, 3), np.int64, kind="scratch",
                      doc="copy-major loop: step, population and cell where each copy stopped (step -1: none)")


def generate(plan, store, parallel, copy_major=False):
    """Source text of the chunk module for ``plan`` and the store keys of ``run_chunk``'s array arguments."""
    out = ChunkWriter(store, parallel, copy_major)
    for phase, stages in plan:
        out.comment(f"--- {phase}")
        for stage in stages:
            if copy_major:
                stage.emit_copy(out)
            else:
                stage.emit(out)
    return out.module_text(), list(out.args)


@njit(cache=True)
def first_copy_stop(copy_stop, status, step0):
    """After a copy-major segment: if a copy stopped (a non-finite state), report the earliest (step, population,
    cell) in ``status`` and return True (the copies that did not stop have run on to the segment's end)."""
    first = -1
    for b in range(copy_stop.shape[0]):  # the earliest step, then the first population, then the first copy
        stopped = copy_stop[b, 0] >= 0
        if stopped and (first < 0 or (copy_stop[b, 0], copy_stop[b, 1]) < (copy_stop[first, 0], copy_stop[first, 1])):
            first = b
    if first < 0:
        return False
    step, population, cell = copy_stop[first, 0], copy_stop[first, 1], copy_stop[first, 2]
    status[STOP_REASON] = STOP_NONFINITE
    status[BAD_STEP], status[BAD_POPULATION], status[BAD_CELL] = step, population, cell
    status[STEPS_DONE] = step - step0 + 1
    return True


def divergence_lines(population_index, cell):
    """Lines recording that cell ``cell`` (copy * n + neuron) of a population diverged; the first report wins."""
    return ["if status[STOP_REASON] != STOP_NONFINITE:", "    status[STOP_REASON] = STOP_NONFINITE",
            f"    status[BAD_POPULATION] = {population_index}", f"    status[BAD_CELL] = {cell}",
            "    status[BAD_STEP] = step"]


def new_status():
    return np.zeros(STATUS_SIZE, dtype=np.int64)


def _dependency_sources(text):
    """Source of every module (compsim's or a user's model) the generated text imports from.

    Numba's cache of a function is not invalidated when a function it calls
    changes, so the kernels' sources are part of the generated module's name.
    """
    parts = []
    for line in text.splitlines():
        external = line.startswith(("from numba ", "from numpy ", "from collections "))
        if line.startswith("from ") and " import " in line and not external:
            module = importlib.import_module(line.split()[1])
            if getattr(module, "__file__", None):
                parts.append(Path(module.__file__).read_bytes())
    return b"".join(parts)


def load(text):
    """Write the chunk module ``text`` to the cache (once) and import its ``run_chunk``."""
    return load_module(text, "compsim_chunk").run_chunk


def load_module(text, prefix):
    """Write generated module ``text`` to the cache (once) as ``<prefix>_<hash>`` and import it.

    Also used for generated model kernels (:mod:`compsim.models.morphology`): the chunk module then
    imports them by that name like any other kernel module.
    """
    digest = hashlib.sha1(text.encode() + _dependency_sources(text)).hexdigest()[:16]
    name = f"{prefix}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.py"
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
