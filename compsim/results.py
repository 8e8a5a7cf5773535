"""Containers for recorded simulation output.

The same classes are produced by in-memory recording
(:class:`compsim.io.memory.MemoryWriter`) and by :func:`compsim.load`, which
reads a file written by :class:`compsim.io.hdf5.H5Writer` (the file layout is
documented in :mod:`compsim.io.hdf5`). Times are in ms, rates in Hz.

Recorded arrays are held as :class:`Column` objects. A file's columns are
read on demand (lazily): opening a results file reads its metadata only, an
attribute such as ``trace.t`` reads that one dataset the first time it is
used, and ``window(start_ms, stop_ms, neurons=...)`` reads just the rows
(and neuron columns) asked for, so a file larger than memory can be inspected.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from compsim.checks import check_positive, index_array


def _span(t):
    """The time range of a time column (or array), e.g. ``'0-99.9 ms'``; reads its first and last rows only."""
    t = column(t)
    if not len(t):
        return "empty"
    return f"{t.read(slice(0, 1))[0]:g}-{t.read(slice(len(t) - 1, len(t)))[0]:g} ms"


class Column:
    """A recorded array whose first axis is time (samples, steps or spikes), read on demand.

    Subclasses implement :meth:`read`; :class:`ArrayColumn` holds an array in
    memory, :class:`compsim.io.hdf5.H5Column` a dataset of a file.
    """

    def __init__(self, shape, dtype):
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self._array = None

    def __len__(self):
        return self.shape[0]

    def read(self, rows=slice(None), cols=None):
        """Rows ``rows`` (a slice) and, for sample arrays, neuron columns ``cols`` (last axis) as an array."""
        raise NotImplementedError

    def array(self):
        """The whole array (read once, then kept)."""
        if self._array is None:
            self._array = self.read()
        return self._array

    def search(self, value):
        """First row whose value is >= ``value`` in a non-decreasing 1-D column (bisection: O(log n) reads)."""
        lo, hi = 0, len(self)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.read(slice(mid, mid + 1))[0] < value:
                lo = mid + 1
            else:
                hi = mid
        return lo


class ArrayColumn(Column):
    """A column held in memory."""

    def __init__(self, values):
        values = np.asarray(values)
        super().__init__(values.shape, values.dtype)
        self._array = values

    def read(self, rows=slice(None), cols=None):
        out = self._array[rows]
        return out if cols is None else out[..., cols]

    def search(self, value):
        return int(np.searchsorted(self._array, value, side="left"))


def column(values):
    """``values`` as a :class:`Column` (arrays are wrapped, columns returned as they are)."""
    return values if isinstance(values, Column) else ArrayColumn(values)


def _rows(t, start_ms, stop_ms):
    """Slice of the rows of the sorted time column ``t`` with ``start_ms <= t < stop_ms`` (None: open end)."""
    if start_ms is not None and stop_ms is not None and stop_ms < start_ms:
        raise ValueError(f"parameter 'stop_ms' must be >= 'start_ms' ({start_ms} ms), got {stop_ms} ms")
    first = 0 if start_ms is None else t.search(float(start_ms))
    last = len(t) if stop_ms is None else t.search(float(stop_ms))
    return slice(first, max(first, last))


class _Values(Mapping):
    """Recorded variables of a state monitor: variable name -> array, each read when first used."""

    def __init__(self, columns, monitor):
        self._columns, self._monitor = columns, monitor

    def __getitem__(self, var):
        try:
            return self._columns[var].array()
        except KeyError:
            raise KeyError(f"state monitor {self._monitor!r} has no variable {var!r}; "
                           f"recorded variables: {list(self._columns)}") from None

    def __iter__(self):
        return iter(self._columns)

    def __len__(self):
        return len(self._columns)


class StateTrace:
    """State variables of some neurons of one population, sampled every ``every`` steps.

    Attributes
    ----------
    name : str
        Monitor name.
    population : str
        Name of the recorded population.
    t : numpy.ndarray of float64, shape (S,)
        Sample times in ms.
    neurons : numpy.ndarray of int64, shape (K,)
        Population indices of the recorded neurons; column ``k`` of every
        value array belongs to neuron ``neurons[k]``.
    values : mapping of str to numpy.ndarray, shape (S, K), or (S, B, K) for a batch of B > 1 copies
        Recorded values per variable, in the units given by ``units``
        (each read from its file when first used).
    units : dict of str to str
        Unit of each variable (e.g. ``"mV"``; ``"1"``: dimensionless).
    every : int
        Sampling interval in simulation steps.

    ``t`` and the arrays of ``values`` may be arrays or :class:`Column` objects.
    """

    def __init__(self, name, population, t, neurons, values, units, every):
        self.name, self.population = name, population
        self._t = column(t)
        self.neurons = np.asarray(neurons, dtype=np.int64)
        self._columns = {var: column(v) for var, v in values.items()}
        self.units, self.every = dict(units), int(every)

    @property
    def t(self):
        return self._t.array()

    @property
    def values(self):
        return _Values(self._columns, self.name)

    def __getitem__(self, var):
        return self.values[var]

    @property
    def vars(self):
        """list of str: names of the recorded variables."""
        return list(self._columns)

    @property
    def n_samples(self):
        """Number of samples S (read from the metadata only)."""
        return len(self._t)

    def window(self, start_ms=None, stop_ms=None, neurons=None):
        """The samples with ``start_ms <= t < stop_ms`` of neurons ``neurons`` (population indices, all recorded
        ones by default), read from the file alone, as an in-memory :class:`StateTrace`."""
        rows = _rows(self._t, start_ms, stop_ms)
        cols = None
        if neurons is not None:
            position = {int(nid): k for k, nid in enumerate(self.neurons)}
            wanted = np.atleast_1d(np.asarray(neurons, dtype=np.int64))
            missing = [int(nid) for nid in wanted if int(nid) not in position]
            if missing:
                raise ValueError(f"parameter 'neurons': neurons {missing[:10]} were not recorded by monitor "
                                 f"{self.name!r} (recorded: {self.neurons.size} neurons)")
            cols = np.array([position[int(nid)] for nid in wanted], dtype=np.int64)
        values = {var: c.read(rows, cols) for var, c in self._columns.items()}
        return StateTrace(self.name, self.population, self._t.read(rows),
                          self.neurons if cols is None else self.neurons[cols], values, self.units, self.every)

    def __repr__(self):
        return (f"StateTrace({self.name!r}, population={self.population!r}, vars={self.vars}, "
                f"{self.neurons.size} neurons, {self.n_samples} samples every {self.every} steps, "
                f"{_span(self._t)})")


class SpikeTrain:
    """All spikes of one population.

    Attributes
    ----------
    name : str
        Monitor name.
    population : str
        Name of the recorded population.
    n : int
        Population size.
    t : numpy.ndarray of float64, shape (M,)
        Spike times in ms, in the order they were recorded (non-decreasing).
    i : numpy.ndarray of int64, shape (M,)
        Index of the spiking neuron, in ``0 .. n-1``.
    copy : numpy.ndarray of int64, shape (M,)
        Batch copy of each spike (all 0 for a single-copy network).
    batch : int
        Number of copies B; :meth:`of_copy` selects one. Counts and rates
        are over all copies (B * n neurons).

    ``t``, ``i`` and ``copy`` may be arrays or :class:`Column` objects.
    """

    def __init__(self, name, population, n, t, i, copy=None, batch=1):
        self.name, self.population, self.n, self.batch = name, population, int(n), int(batch)
        self._t, self._i = column(t), column(i)
        self._copy = None if copy is None else column(copy)

    @property
    def t(self):
        return self._t.array()

    @property
    def i(self):
        return self._i.array().astype(np.int64, copy=False)

    @property
    def copy(self):
        if self._copy is None:
            return np.zeros(len(self._t), dtype=np.int64)
        return self._copy.array().astype(np.int64, copy=False)

    def window(self, start_ms=None, stop_ms=None, neurons=None):
        """The spikes with ``start_ms <= t < stop_ms`` of neurons ``neurons`` (all by default), read from the
        file alone, as an in-memory :class:`SpikeTrain`."""
        rows = _rows(self._t, start_ms, stop_ms)
        t, i = self._t.read(rows), self._i.read(rows).astype(np.int64)
        copy = None if self._copy is None else self._copy.read(rows).astype(np.int64)
        if neurons is not None:
            keep = np.isin(i, index_array("neurons", neurons, self.n, owner=f"spike monitor {self.name!r}"))
            t, i, copy = t[keep], i[keep], None if copy is None else copy[keep]
        return SpikeTrain(self.name, self.population, self.n, t, i, copy, self.batch)

    def of_copy(self, b):
        """The spikes of batch copy ``b`` alone, as a single-copy :class:`SpikeTrain`."""
        if not 0 <= int(b) < self.batch:
            raise ValueError(f"parameter 'b' must be a copy index in 0..{self.batch - 1}, got {b}")
        keep = self.copy == b
        return SpikeTrain(self.name, self.population, self.n, self.t[keep], self.i[keep])

    def count(self):
        """Total number of spikes (int)."""
        return len(self._t)

    def rate_hz(self, duration_ms):
        """Mean firing rate per neuron in Hz over a recording of ``duration_ms`` ms."""
        return self.count() / (self.n * self.batch * check_positive("duration_ms", duration_ms) * 1e-3)

    def per_neuron(self, duration_ms=None):
        """Spike times of each neuron.

        Parameters
        ----------
        duration_ms : float, optional
            If given, keep only spikes with ``t < duration_ms`` (ms).

        Returns
        -------
        list of numpy.ndarray
            ``n`` sorted arrays of spike times in ms, one per neuron.
        """
        if self.batch > 1:
            raise ValueError(f"spike monitor {self.name!r} holds {self.batch} copies: use .of_copy(b).per_neuron()")
        t, i = self.t, self.i
        if duration_ms is not None:
            keep = t < check_positive("duration_ms", duration_ms)
            t, i = t[keep], i[keep]
        if self.n == 0:
            return []
        order = np.lexsort((t, i))
        counts = np.bincount(i, minlength=self.n)
        return np.split(t[order], np.cumsum(counts)[:-1])

    def isi_cv(self):
        """Mean coefficient of variation of the inter-spike intervals.

        The CV of a neuron is ``std(ISI) / mean(ISI)`` (population standard
        deviation); it is averaged over neurons with at least 3 spikes.

        Returns
        -------
        float
            The mean CV, or nan if no neuron fired 3 spikes.
        """
        cvs = []
        for times in self.per_neuron():
            if times.size >= 3:
                isi = np.diff(times)
                if isi.mean() > 0:
                    cvs.append(isi.std() / isi.mean())
        return float(np.mean(cvs)) if cvs else float("nan")

    def binned_rate(self, bin_ms, duration_ms=None):
        """Population rate from a histogram of the spike times.

        Parameters
        ----------
        bin_ms : float
            Bin width in ms.
        duration_ms : float, optional
            Recording length in ms; bins cover ``[0, duration_ms)`` and the
            last bin may be shorter. Default: whole bins up to the last spike.

        Returns
        -------
        t_bins : numpy.ndarray of float64
            Left edge of each bin in ms.
        rate : numpy.ndarray of float64
            Mean rate per neuron in each bin, in Hz.
        """
        bin_ms = check_positive("bin_ms", bin_ms)
        if duration_ms is None:
            if self.t.size == 0:
                return np.zeros(0), np.zeros(0)
            duration_ms = (math.floor(self.t.max() / bin_ms) + 1) * bin_ms
        duration_ms = check_positive("duration_ms", duration_ms)
        left = np.arange(math.ceil(duration_ms / bin_ms - 1e-9)) * bin_ms
        right = np.minimum(left + bin_ms, duration_ms)
        counts = np.histogram(self.t, np.append(left, right[-1]))[0]
        return left, counts / (self.n * self.batch * (right - left) * 1e-3)

    def __repr__(self):
        return (f"SpikeTrain({self.name!r}, population={self.population!r}, n={self.n}, "
                f"{self.count()} spikes, {_span(self._t)})")


class PopulationRate:
    """Number of spikes of a population in every simulation step.

    Attributes
    ----------
    name : str
        Monitor name.
    population : str
        Name of the recorded population.
    n : int
        Population size.
    t : numpy.ndarray of float64, shape (S,)
        Start time of each step in ms.
    counts : numpy.ndarray of int64, shape (S,), or (S, B) for a batch of B > 1 copies
        Spikes emitted by the whole population in each step (and copy).
    dt : float
        Step length in ms.

    ``t`` and ``counts`` may be arrays or :class:`Column` objects.
    """

    def __init__(self, name, population, n, t, counts, dt):
        self.name, self.population, self.n, self.dt = name, population, int(n), float(dt)
        self._t, self._counts = column(t), column(counts)

    @property
    def t(self):
        return self._t.array()

    @property
    def counts(self):
        return self._counts.array().astype(np.int64, copy=False)

    def window(self, start_ms=None, stop_ms=None):
        """The steps with ``start_ms <= t < stop_ms``, read from the file alone, as an in-memory :class:`PopulationRate`."""
        rows = _rows(self._t, start_ms, stop_ms)
        return PopulationRate(self.name, self.population, self.n, self._t.read(rows),
                              self._counts.read(rows).astype(np.int64), self.dt)

    def rate_hz(self, bin_ms=None):
        """Mean rate per neuron in Hz, summing the counts over bins of ``bin_ms``.

        Parameters
        ----------
        bin_ms : float, optional
            Bin width in ms, rounded to a whole number of steps (default: one
            step). The last bin may be shorter.

        Returns
        -------
        t_bins : numpy.ndarray of float64
            Start time of each bin in ms.
        rate : numpy.ndarray of float64
            Rate in Hz, shape (bins,) or (bins, B).
        """
        steps = 1
        if bin_ms is not None:
            steps = round(check_positive("bin_ms", bin_ms) / self.dt)
            if steps < 1:
                raise ValueError(f"parameter 'bin_ms' must be at least one step "
                                 f"(dt = {self.dt:g} ms), got {bin_ms}")
        starts = np.arange(0, self.t.size, steps)
        if starts.size == 0:
            return np.zeros(0), np.zeros(0)
        summed = np.add.reduceat(self.counts, starts)
        width_ms = np.diff(np.append(starts, self.t.size)) * self.dt
        width_ms = width_ms.reshape((-1,) + (1,) * (summed.ndim - 1))
        return self.t[starts], summed / (self.n * width_ms * 1e-3)

    def __repr__(self):
        return (f"PopulationRate({self.name!r}, population={self.population!r}, n={self.n}, "
                f"{len(self._t)} steps, {_span(self._t)})")


@dataclass(eq=False, repr=False)
class Results:
    """Everything recorded in one simulation run.

    Attributes
    ----------
    attrs : dict
        Run metadata: ``dt_ms``, ``seed``, ``t_end_ms`` (simulated time
        written so far, ms), ``complete`` (False if the run did not finish),
        ``created`` (ISO time), ``*_version`` strings and any extra metadata.
    network : dict
        Description of the simulated network (populations, models,
        parameters with units, projections).
    state, spikes, rates : dict
        Monitors by name: :class:`StateTrace`, :class:`SpikeTrain` and
        :class:`PopulationRate` objects.
    markers : list of (float, str)
        Time markers (ms, label) set by protocols or :meth:`compsim.Network.mark`,
        e.g. the start of each image or phase; plots draw them.
    """

    attrs: dict
    network: dict
    state: dict = field(default_factory=dict)
    spikes: dict = field(default_factory=dict)
    rates: dict = field(default_factory=dict)
    markers: list = field(default_factory=list)

    def monitors(self):
        """dict of all monitors (state, spikes, rates) by name."""
        return {**self.state, **self.spikes, **self.rates}

    def __getitem__(self, name):
        try:
            return self.monitors()[name]
        except KeyError:
            raise KeyError(f"no monitor named {name!r}; monitors: {list(self.monitors())}") from None

    def window(self, start_ms=None, stop_ms=None):
        """Every monitor cut to ``start_ms <= t < stop_ms``, read from the file alone, as in-memory :class:`Results`."""
        inside = [(t, label) for t, label in self.markers
                  if (start_ms is None or t >= start_ms) and (stop_ms is None or t < stop_ms)]
        return Results(dict(self.attrs), self.network,
                       {k: m.window(start_ms, stop_ms) for k, m in self.state.items()},
                       {k: m.window(start_ms, stop_ms) for k, m in self.spikes.items()},
                       {k: m.window(start_ms, stop_ms) for k, m in self.rates.items()}, inside)

    def to_sonata(self, directory, *, copy=0):
        """Write SONATA spike and report files into ``directory`` (:func:`compsim.io.export.to_sonata`)."""
        from compsim.io.export import to_sonata

        return to_sonata(self, directory, copy=copy)

    def to_neo(self, *, copy=0):
        """The results as a ``neo.Block`` of spike trains and analog signals with units (:func:`compsim.io.export.to_neo`)."""
        from compsim.io.export import to_neo

        return to_neo(self, copy=copy)

    def by_population(self, population):
        """dict of the monitors (any kind) recording ``population``, by name."""
        return {name: m for name, m in self.monitors().items() if m.population == population}

    def summary(self):
        """Human-readable multi-line description of the run and its monitors (reads no recorded data)."""
        a = self.attrs
        status = "complete" if a.get("complete") else "INCOMPLETE"
        lines = [f"Results: dt = {a.get('dt_ms')} ms, t_end = {a.get('t_end_ms')} ms, "
                 f"seed = {a.get('seed')}, {status}"]
        for tr in self.state.values():
            units = ", ".join(f"{v} [{tr.units.get(v, '')}]" for v in tr.vars)
            lines.append(f"  state   {tr.name!r} on {tr.population!r}: {units}; {tr.neurons.size} neurons, "
                         f"{tr.n_samples} samples every {tr.every} steps, {_span(tr._t)}")
        for sp in self.spikes.values():
            lines.append(f"  spikes  {sp.name!r} on {sp.population!r}: n = {sp.n}, "
                         f"{sp.count()} spikes, {_span(sp._t)}")
        for r in self.rates.values():
            lines.append(f"  rate    {r.name!r} on {r.population!r}: n = {r.n}, {len(r._t)} steps, {_span(r._t)}")
        if len(lines) == 1:
            lines.append("  (no monitors)")
        return "\n".join(lines)

    __repr__ = summary

