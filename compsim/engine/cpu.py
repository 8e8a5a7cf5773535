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

from .codewriter import ModuleWriter

# fields of the status array the chunk loop fills
STEPS_DONE, STOP_REASON, BAD_POPULATION, BAD_CELL, BAD_STEP = range(5)
STATUS_SIZE = 5
# values of status[STOP_REASON]
STOP_NONE, STOP_BUFFER_FULL, STOP_NONFINITE = range(3)


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
        one_copy = _Function(self.out, f"{self.name}_copy", ("b", *passed), parallel=False, refcounts=False)
        one_copy.args = list(self.args)
        one_copy.emit_all(1, lines)
        self.out.add_function(one_copy)
        self.emit(1, f"for b in prange({n_copies}):")
        self.emit(2, one_copy.call("b", *passed))

    @property
    def loop(self):
        return "prange" if self.parallel else "range"

    def text(self):
        runtime = self.refcounts or self.parallel  # parallel loops allocate (stated: callees inherit run_chunk's)
        head = [f"@njit(cache=True, parallel={self.parallel}, nogil=True, error_model=\"numpy\", _nrt={runtime})",
                f"def {self.name}({', '.join([*self.fixed_args, *self.args])}):"]
        return "\n".join(head + self.lines)

    def call(self, *fixed_values):
        return f"{self.name}({', '.join([*fixed_values, *self.args])})"


class ChunkWriter(ModuleWriter):
    """What stages write into: arguments, imports, helper functions and the step-loop body.

    ``parallel``: owners (e.g. ``"p3"``) whose per-neuron loops are multi-threaded.
    """

    def __init__(self, store, parallel=frozenset()):
        super().__init__(store)
        self.parallel = parallel
        self.functions = []

    def function(self, name, fixed_args, parallel=False, refcounts=True):
        """Start a helper function; add it with :meth:`add_function` when written.

        ``refcounts=False`` compiles a serial helper (and what it calls) without Numba's runtime: no
        atomic reference-count updates for each array view taken per copy and step, but nothing in it
        may allocate an array. (Threaded helpers keep the runtime: their parallel loops allocate.)"""
        return _Function(self, name, fixed_args, parallel, refcounts)

    def add_function(self, function):
        self.functions.append(function.text())

    def emit(self, text, indent=0):
        """A line of the step loop body (``step``, ``s``, ``dt``, ``keys``, ``status`` are in scope)."""
        self.lines.append("    " * (2 + indent) + text)

    def comment(self, text):
        self.emit(f"# {text}")

    def module_text(self):
        header = [
            '"""Chunk loop generated by compsim.engine.cpu from the network\'s stage plan; do not edit."""',
            "from collections import namedtuple  # noqa: F401",
            "from numba import njit, prange  # noqa: F401",
            "from compsim.engine.cpu import (STEPS_DONE, STOP_REASON, BAD_POPULATION, BAD_CELL, BAD_STEP,  # noqa: F401",
            "                                STOP_NONE, STOP_BUFFER_FULL, STOP_NONFINITE)",
            *sorted(self.imports.values()),
            "",
            *self.preamble,
            "",
            "",
            *[text + "\n\n" for text in self.functions],
            "@njit(cache=True, nogil=True, _nrt=False)",  # no reference counts: kernels needing the runtime say so
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


def generate(plan, store, parallel):
    """Source text of the chunk module for ``plan`` and the store keys of ``run_chunk``'s array arguments."""
    out = ChunkWriter(store, parallel)
    for phase, stages in plan:
        out.comment(f"--- {phase}")
        for stage in stages:
            stage.emit(out)
    return out.module_text(), list(out.args)


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
        if line.startswith("from ") and " import " in line and not line.startswith(("from numba ", "from collections ")):
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
