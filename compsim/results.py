"""Containers for recorded simulation output.

The same classes are produced by in-memory recording
(:class:`compsim.io.memory.MemoryWriter`) and by :func:`load`, which reads a
file written by :class:`compsim.io.hdf5.H5Writer` (the file layout is
documented in :mod:`compsim.io.hdf5`). Times are in ms, rates in Hz.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from compsim.checks import check_positive


def _span(t):
    """Describe the time range of a sample vector, e.g. ``'0-99.9 ms'``."""
    return f"{t[0]:g}-{t[-1]:g} ms" if t.size else "empty"


@dataclass(eq=False, repr=False)
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
    values : dict of str to numpy.ndarray, shape (S, K), or (S, B, K) for a batch of B > 1 copies
        Recorded values per variable, in the units given by ``units``.
    units : dict of str to str
        Unit of each variable (e.g. ``"mV"``).
    every : int
        Sampling interval in simulation steps.
    """

    name: str
    population: str
    t: np.ndarray
    neurons: np.ndarray
    values: dict
    units: dict
    every: int

    def __getitem__(self, var):
        try:
            return self.values[var]
        except KeyError:
            raise KeyError(f"state monitor {self.name!r} has no variable {var!r}; "
                           f"recorded variables: {self.vars}") from None

    @property
    def vars(self):
        """list of str: names of the recorded variables."""
        return list(self.values)

    def __repr__(self):
        return (f"StateTrace({self.name!r}, population={self.population!r}, vars={self.vars}, "
                f"{self.neurons.size} neurons, {self.t.size} samples every {self.every} steps, "
                f"{_span(self.t)})")


@dataclass(eq=False, repr=False)
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
    """

    name: str
    population: str
    n: int
    t: np.ndarray
    i: np.ndarray
    copy: np.ndarray | None = None
    batch: int = 1

    def __post_init__(self):
        if self.copy is None:
            self.copy = np.zeros(self.t.size, dtype=np.int64)

    def of_copy(self, b):
        """The spikes of batch copy ``b`` alone, as a single-copy :class:`SpikeTrain`."""
        if not 0 <= int(b) < self.batch:
            raise ValueError(f"parameter 'b' must be a copy index in 0..{self.batch - 1}, got {b}")
        keep = self.copy == b
        return SpikeTrain(self.name, self.population, self.n, self.t[keep], self.i[keep])

    def count(self):
        """Total number of spikes (int)."""
        return int(self.t.size)

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
                f"{self.count()} spikes, {_span(self.t)})")


@dataclass(eq=False, repr=False)
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
    """

    name: str
    population: str
    n: int
    t: np.ndarray
    counts: np.ndarray
    dt: float

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
                f"{self.t.size} steps, {int(self.counts.sum())} spikes, {_span(self.t)})")


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
    """

    attrs: dict
    network: dict
    state: dict = field(default_factory=dict)
    spikes: dict = field(default_factory=dict)
    rates: dict = field(default_factory=dict)

    def monitors(self):
        """dict of all monitors (state, spikes, rates) by name."""
        return {**self.state, **self.spikes, **self.rates}

    def __getitem__(self, name):
        try:
            return self.monitors()[name]
        except KeyError:
            raise KeyError(f"no monitor named {name!r}; monitors: {list(self.monitors())}") from None

    def by_population(self, population):
        """dict of the monitors (any kind) recording ``population``, by name."""
        return {name: m for name, m in self.monitors().items() if m.population == population}

    def summary(self):
        """Human-readable multi-line description of the run and its monitors."""
        a = self.attrs
        status = "complete" if a.get("complete") else "INCOMPLETE"
        lines = [f"Results: dt = {a.get('dt_ms')} ms, t_end = {a.get('t_end_ms')} ms, "
                 f"seed = {a.get('seed')}, {status}"]
        for tr in self.state.values():
            units = ", ".join(f"{v} [{tr.units.get(v, '')}]" for v in tr.vars)
            lines.append(f"  state   {tr.name!r} on {tr.population!r}: {units}; {tr.neurons.size} neurons, "
                         f"{tr.t.size} samples every {tr.every} steps, {_span(tr.t)}")
        for sp in self.spikes.values():
            lines.append(f"  spikes  {sp.name!r} on {sp.population!r}: n = {sp.n}, "
                         f"{sp.count()} spikes, {_span(sp.t)}")
        for r in self.rates.values():
            lines.append(f"  rate    {r.name!r} on {r.population!r}: n = {r.n}, {r.t.size} steps, "
                         f"{int(r.counts.sum())} spikes, {_span(r.t)}")
        if len(lines) == 1:
            lines.append("  (no monitors)")
        return "\n".join(lines)

    __repr__ = summary

