"""In-memory recording: the same interface and results as the HDF5 writer, kept in growable arrays."""
from __future__ import annotations

import json

import numpy as np

from compsim.io.writer import Writer
from compsim.results import PopulationRate, Results, SpikeTrain, StateTrace


class _Growable:
    """An array that grows along its first axis with amortised O(1) appends (capacity doubling)."""

    def __init__(self, dtype, width=()):
        self.data = np.zeros((16, *width), dtype=dtype)
        self.size = 0

    def append(self, values):
        need = self.size + len(values)
        if need > len(self.data):
            grown = np.zeros((max(need, 2 * len(self.data)),) + self.data.shape[1:], self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : need] = values
        self.size = need

    def view(self):
        """Read-only view of the filled part (later appends never change it)."""
        out = self.data[: self.size]
        out.flags.writeable = False
        return out


class MemoryWriter(Writer):
    """Keeps everything appended in memory; same interface as :class:`compsim.io.hdf5.H5Writer`.

    Buffers grow by doubling, so appending is amortised O(1) and
    :meth:`results` costs O(1) whatever the history: protocols that run the
    network thousands of times and read results after each run stay linear.

    Parameters
    ----------
    metadata : dict
        Run metadata, see :class:`Writer`.
    """

    def __init__(self, metadata):
        super().__init__(metadata)
        self._buffers = {}
        self._marks = []

    def _create(self, spec):
        copies = () if spec.batch == 1 else (spec.batch,)
        bufs = {"t": _Growable(np.float64)}
        if spec.kind == "state":
            bufs.update({v: _Growable(spec.dtype, (*copies, spec.neurons.size)) for v in spec.variables})
        elif spec.kind == "spikes":
            bufs["second"] = _Growable(np.int64)
            bufs["copy"] = _Growable(np.int64)
        else:
            bufs["second"] = _Growable(np.int64, copies)
        self._buffers[spec.name] = bufs

    def _write_state(self, spec, t, values):
        bufs = self._buffers[spec.name]
        for v, a in values.items():
            bufs[v].append(a)
        bufs["t"].append(t)

    def _write_spikes(self, spec, t, i, copy):
        bufs = self._buffers[spec.name]
        bufs["second"].append(i)
        bufs["copy"].append(np.zeros(t.size, np.int64) if copy is None else copy)
        bufs["t"].append(t)

    def _write_rate(self, spec, t, counts):
        self._buffers[spec.name]["second"].append(counts)
        self._buffers[spec.name]["t"].append(t)

    def _write_marks(self, t, labels):
        self._marks.extend(zip(t.tolist(), labels))

    def _flush(self):
        pass

    def _close(self):
        pass

    def results(self):
        """Return a :class:`Results` with everything appended so far (read-only views of the buffers)."""
        res = Results(attrs=dict(self.attrs), network=json.loads(json.dumps(self.network)), markers=list(self._marks))
        for name, spec in self._specs.items():
            bufs = self._buffers[name]
            t = bufs["t"].view()
            if spec.kind == "state":
                values = {v: bufs[v].view() for v in spec.variables}
                res.state[name] = StateTrace(name, spec.population, t, spec.neurons.copy(),
                                             values, dict(spec.units), spec.every)
            elif spec.kind == "spikes":
                res.spikes[name] = SpikeTrain(name, spec.population, spec.n, t, bufs["second"].view(),
                                              bufs["copy"].view(), spec.batch)
            else:
                res.rates[name] = PopulationRate(name, spec.population, spec.n, t, bufs["second"].view(),
                                                 self.attrs["dt_ms"])
        return res
