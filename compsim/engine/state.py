"""The one owner of every array that changes during a run.

Populations, projections, sources and monitors do not keep arrays of their
own: they *declare* them here (:meth:`StateStore.declare`) when they join a
network, and read them back through the store. What the store holds, per
owner (``"p0"`` for population 0, ``"r2"`` for projection 2, ``"m1"`` for
monitor 1) and field:

* ``kind="state"``: the dynamical state (membrane potentials, synaptic
  traces, delay rings, source cursors, running averages). Saved by
  checkpoints, brought back by :meth:`StateStore.reset`.
* ``kind="weights"``: synaptic weights. Saved by checkpoints, *not* reset
  (learning keeps them across trials).
* ``kind="scratch"``: per-step work space (spike counts and lists, BLAS
  buffers, per-chunk source rates); neither saved nor reset.
* ``kind="record"``: monitor buffers, drained into the writer after each chunk.

The layout is struct of arrays with the batch axis before the neuron axis:
population state ``(n_vars, B, n)``, spike and event counts ``(1 + n_events, B, n)``,
projection traces ``(n_traces, B, n_post)``, delay rings ``(delay_steps + 1, B, n_post)``.
The compiled chunk loop receives these arrays by name (``p0_state``, ``r2_ring``, ...),
so a re-declared array (e.g. a monitor buffer grown between chunks) is picked up
at the next call. No two of the store's arrays share memory (:meth:`StateStore.adopt`
copies an array that would): the chunk loop is compiled on that promise
(:mod:`compsim.engine.noalias`).
"""
from dataclasses import dataclass

import numpy as np

KINDS = ("state", "weights", "scratch", "record")

#: refuse single arrays larger than this (bytes): an absurd size is an input error, not a job
MAX_ARRAY_BYTES = 16 * 2**30


@dataclass
class Slot:
    """One declared array and what it is for."""

    array: np.ndarray
    kind: str
    doc: str


class StateStore:
    """Arrays of a network, by ``(owner, field)``; see the module docstring."""

    def __init__(self):
        self._slots = {}
        self._initial = None

    @staticmethod
    def key(owner, field):
        """Name of an array in the generated code, e.g. ``p0_state``."""
        return f"{owner}_{field}"

    def declare(self, owner, field, shape, dtype, *, kind, doc, fill=0):
        """Allocate ``owner.field`` (zero-filled or ``fill``) and return it; re-declaring replaces it."""
        if kind not in KINDS:
            raise ValueError(f"StateStore.declare: kind must be one of {KINDS}, got {kind!r}")
        shape = tuple(int(s) for s in shape)
        nbytes = int(np.prod(shape, dtype=np.float64)) * np.dtype(dtype).itemsize
        if nbytes > MAX_ARRAY_BYTES:
            raise ValueError(
                f"{doc} ({owner}.{field}) would need an array of shape {shape}, {nbytes / 2**30:.1f} GiB "
                f"(limit {MAX_ARRAY_BYTES / 2**30:.0f} GiB): reduce the population, delay, batch or chunk size"
            )
        array = np.full(shape, fill, dtype=dtype)
        self._slots[self.key(owner, field)] = Slot(array, kind, doc)
        return array

    def adopt(self, owner, field, array, *, kind, doc):
        """Take ownership of an existing array (e.g. weights given by the user); a copy of it if it is not
        contiguous or shares memory with another of the store's arrays."""
        key = self.key(owner, field)
        array = np.ascontiguousarray(array)
        if self._overlapping(key, array):
            array = array.copy()
        self._slots[key] = Slot(array, kind, doc)
        return array

    def replace(self, key, array):
        """Put ``array`` (same shape and dtype) in the place of slot ``key``'s array, e.g. a page-locked copy that a
        GPU can fill asynchronously; returns it."""
        slot = self._slots[key]
        if array.shape != slot.array.shape or array.dtype != slot.array.dtype:
            raise ValueError(f"StateStore.replace: {key} is {slot.array.dtype}{slot.array.shape}, "
                             f"got {array.dtype}{array.shape}")
        overlapping = self._overlapping(key, array)
        if overlapping:
            raise ValueError(f"StateStore.replace: the array for {key} shares memory with {overlapping}")
        array[...] = slot.array
        self._slots[key] = Slot(array, slot.kind, slot.doc)
        return array

    def _overlapping(self, key, array):
        """The key of another slot whose array may share memory with ``array`` (None if none)."""
        return next((k for k, s in self._slots.items() if k != key and np.may_share_memory(s.array, array)), None)

    def __getitem__(self, key):
        return self._slots[key].array

    def has(self, owner, field):
        """Whether ``owner.field`` has been declared."""
        return self.key(owner, field) in self._slots

    def get(self, owner, field):
        return self._slots[self.key(owner, field)].array

    def items(self, *kinds):
        """``(key, array)`` of the slots of the given kinds, in declaration order."""
        return [(k, s.array) for k, s in self._slots.items() if s.kind in kinds]

    # -- initial state ------------------------------------------------------------
    @property
    def has_initial(self):
        """Whether the initial state has been remembered (at the first build)."""
        return self._initial is not None

    def remember_initial(self):
        """Keep a copy of the current ``state`` arrays as the initial state (done at the first build)."""
        self._initial = {k: a.copy() for k, a in self.items("state")}

    def reset(self):
        """Bring every ``state`` array back to the remembered initial state (nothing to do before a build)."""
        if self._initial is None:
            return
        for key, array in self.items("state"):
            array[...] = self._initial[key] if key in self._initial else 0  # declared later: from zero
