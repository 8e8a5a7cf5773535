"""In-memory recording, and the input checks shared by every writer.

:class:`Writer` validates the calls the engine makes (monitor declarations,
appended chunks, run metadata) and delegates storage to a subclass:
:class:`MemoryWriter` keeps the chunks in lists,
:class:`compsim.io.hdf5.H5Writer` streams them to a file. Both return the
same :class:`compsim.results.Results` from ``results()``.
"""
from __future__ import annotations

import json
import math
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata as _metadata

import numpy as np

from compsim._version import __version__
from compsim.checks import check_count, check_positive
from compsim.results import PopulationRate, Results, SpikeTrain, StateTrace

#: Root attributes set by the writer; metadata may not use these names.
RESERVED_ATTRS = ("t_end_ms", "complete", "created", "compsim_version", "numba_version",
                  "numpy_version", "h5py_version", "python_version", "json_attrs")


def _dist_version(dist):
    try:
        return _metadata.version(dist)
    except _metadata.PackageNotFoundError:
        return "not installed"


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"object of type {type(obj).__name__} is not JSON-serialisable")


def _to_json(value, name):
    """Encode ``value`` as JSON (numpy scalars and arrays allowed); ValueError names ``name``."""
    try:
        return json.dumps(value, default=_json_default, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be JSON-serialisable: {exc}") from None


def _root_attrs(metadata):
    """Check the run metadata and build the root attributes.

    Returns
    -------
    attrs : dict
        Root attributes as Python values (``network`` excluded).
    network : dict
        The network description, normalised by a JSON round trip.
    json_keys : list of str
        Attributes that are stored as JSON strings (dicts, lists, None).
    """
    if not isinstance(metadata, dict):
        raise ValueError(f"parameter 'metadata' must be a dict, got {type(metadata).__name__}")
    missing = [k for k in ("dt_ms", "seed", "network") if k not in metadata]
    if missing:
        raise ValueError(f"parameter 'metadata' lacks required keys {missing}")
    reserved = [k for k in metadata if k in RESERVED_ATTRS]
    if reserved:
        raise ValueError(f"parameter 'metadata' may not set {reserved}: the writer sets them")
    if not isinstance(metadata["network"], dict):
        raise ValueError("metadata['network'] must be a dict, "
                         f"got {type(metadata['network']).__name__}")
    network = json.loads(_to_json(metadata["network"], "metadata['network']"))
    attrs = {"dt_ms": check_positive("dt_ms", metadata["dt_ms"], "ms", owner="metadata"),
             "t_end_ms": 0.0, "complete": False,
             "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
             "compsim_version": __version__,
             "numba_version": _dist_version("numba"),
             "numpy_version": np.__version__,
             "h5py_version": _dist_version("h5py"),
             "python_version": platform.python_version()}
    json_keys = []
    for key, value in metadata.items():
        if key in ("dt_ms", "network"):
            continue
        if not isinstance(key, str) or not key or "/" in key:
            raise ValueError(f"metadata key {key!r} must be a non-empty str without '/'")
        if value is None or isinstance(value, (dict, list, tuple)):
            attrs[key] = json.loads(_to_json(value, f"metadata[{key!r}]"))
            json_keys.append(key)
        elif isinstance(value, (str, bool, int, float, np.generic)):
            attrs[key] = value.item() if isinstance(value, np.generic) else value
        elif isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            attrs[key] = value.copy()
        else:
            raise ValueError(f"metadata[{key!r}] must be a number, str, bool, numeric array, "
                             f"None, list or dict, got {type(value).__name__}")
    return attrs, network, json_keys


def _check_name(name, what):
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"parameter '{what}' must be a non-empty str without '/', got {name!r}")
    return name


def _vector(name, value, dtype):
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise ValueError(f"parameter '{name}' must be one-dimensional, got shape {arr.shape}")
    if np.dtype(dtype).kind in "iu" and arr.size and arr.dtype.kind not in "iu":
        raise ValueError(f"parameter '{name}' must hold integers, got dtype {arr.dtype}")
    return arr.astype(dtype, copy=False)


@dataclass
class MonitorSpec:
    """A declared monitor: ``kind`` is "state", "spikes" or "rate".

    ``variables``, ``units``, ``neurons``, ``every`` and ``dtype`` are set
    for state monitors, ``n`` (population size) for the others.
    """

    kind: str
    name: str
    population: str
    variables: tuple = ()
    units: dict | None = None
    neurons: np.ndarray | None = None
    every: int = 1
    dtype: np.dtype | None = None
    n: int = 0


class Writer:
    """Base class of the writers: checks every call, then calls a storage hook.

    Subclasses implement ``_create(spec)``, ``_write_state(spec, t, values)``,
    ``_write_spikes(spec, t, i)``, ``_write_rate(spec, t, counts)``,
    ``_flush()``, ``_close()`` and ``results()``. ``self.attrs`` holds the
    root attributes as Python values and ``self.network`` the network dict.

    Parameters
    ----------
    metadata : dict
        Must contain ``dt_ms`` (float, ms), ``seed`` (int or None) and
        ``network`` (JSON-serialisable dict). Other entries become root
        attributes; dicts, lists and None are stored as JSON.
    """

    def __init__(self, metadata):
        self.attrs, self.network, self._json_keys = _root_attrs(metadata)
        self._specs = {}
        self._closed = False

    # -- declarations -----------------------------------------------------
    def _register(self, spec):
        if self._closed:
            raise RuntimeError("the writer is closed; no monitors can be added")
        _check_name(spec.name, "name")
        if spec.name in self._specs:
            raise ValueError(f"parameter 'name': a monitor named {spec.name!r} already exists")
        if not isinstance(spec.population, str) or not spec.population:
            raise ValueError(f"parameter 'population' must be a non-empty str, got {spec.population!r}")
        self._create(spec)
        self._specs[spec.name] = spec

    def add_state_monitor(self, name, population, variables, units, neurons, every, dtype):
        """Declare a state monitor.

        Parameters
        ----------
        name : str
            Unique monitor name.
        population : str
            Recorded population.
        variables : list of str
            Recorded state variables (e.g. ``["v_soma", "v_basal"]``).
        units : dict of str to str
            Unit of every variable (e.g. ``{"v_soma": "mV"}``).
        neurons : array_like of int, shape (K,)
            Population indices of the recorded neurons (K >= 1).
        every : int
            Sampling interval in steps (>= 1).
        dtype : numpy dtype
            Storage type of the values (e.g. ``np.float32``).
        """
        if isinstance(variables, str) or not variables:
            raise ValueError(f"parameter 'variables' must be a non-empty list of str, got {variables!r}")
        variables = tuple(variables)
        for var in variables:
            _check_name(var, "variables")
            if var in ("t", "neurons"):
                raise ValueError(f"parameter 'variables': {var!r} is reserved for the time/index datasets")
        if len(set(variables)) != len(variables):
            raise ValueError(f"parameter 'variables' has duplicates: {list(variables)}")
        if not isinstance(units, dict) or any(not isinstance(units.get(v), str) for v in variables):
            raise ValueError(f"parameter 'units' must map every variable {list(variables)} "
                             f"to a unit string, got {units!r}")
        neurons = _vector("neurons", neurons, np.int64)
        if neurons.size == 0 or neurons.min() < 0:
            raise ValueError("parameter 'neurons' must be a non-empty array of indices >= 0")
        dtype = np.dtype(dtype)
        if dtype.kind not in "biuf":
            raise ValueError(f"parameter 'dtype' must be a numeric type, got {dtype}")
        self._register(MonitorSpec("state", name, population, variables,
                                   {v: units[v] for v in variables}, neurons.copy(),
                                   check_count("every", every), dtype))

    def add_spike_monitor(self, name, population, n):
        """Declare a spike monitor for a population of ``n`` neurons."""
        self._register(MonitorSpec("spikes", name, population, n=check_count("n", n)))

    def add_rate_monitor(self, name, population, n):
        """Declare a population-rate monitor (spike count per step) for ``n`` neurons."""
        self._register(MonitorSpec("rate", name, population, n=check_count("n", n)))

    # -- data ---------------------------------------------------------------
    def _spec(self, name, kind):
        if self._closed:
            raise RuntimeError("the writer is closed; no data can be appended")
        spec = self._specs.get(name)
        if spec is None:
            raise ValueError(f"parameter 'name': no monitor named {name!r}; declared: {list(self._specs)}")
        if spec.kind != kind:
            raise ValueError(f"parameter 'name': monitor {name!r} records {spec.kind}, not {kind}")
        return spec

    def append_state(self, name, t_ms, values):
        """Append S samples: times ``t_ms`` (ms, shape (S,)) and ``values[var]`` of shape (S, K)."""
        spec = self._spec(name, "state")
        t = _vector("t_ms", t_ms, np.float64)
        if not isinstance(values, dict) or set(values) != set(spec.variables):
            got = list(values) if isinstance(values, dict) else type(values).__name__
            raise ValueError(f"parameter 'values' must have exactly the keys {list(spec.variables)}, got {got}")
        shape = (t.size, spec.neurons.size)
        out = {}
        for var in spec.variables:
            arr = np.asarray(values[var])
            if arr.shape != shape:
                raise ValueError(f"values[{var!r}] for monitor {name!r} must have shape {shape} "
                                 f"(samples, neurons), got {arr.shape}")
            out[var] = arr.astype(spec.dtype, copy=False)
        self._write_state(spec, t, out)

    def append_spikes(self, name, t_ms, i):
        """Append M spikes: times ``t_ms`` (ms, shape (M,)) and neuron indices ``i`` (shape (M,))."""
        spec = self._spec(name, "spikes")
        t = _vector("t_ms", t_ms, np.float64)
        idx = _vector("i", i, np.int64)
        if idx.size != t.size:
            raise ValueError(f"parameters 't_ms' and 'i' must have the same length, got {t.size} and {idx.size}")
        if idx.size and (idx.min() < 0 or idx.max() >= spec.n):
            raise ValueError(f"parameter 'i' must hold indices in 0..{spec.n - 1} for monitor {name!r}, "
                             f"got range {idx.min()}..{idx.max()}")
        self._write_spikes(spec, t, idx)

    def append_rate(self, name, t_ms, counts):
        """Append S steps: step times ``t_ms`` (ms, shape (S,)) and spike ``counts`` (shape (S,))."""
        spec = self._spec(name, "rate")
        t = _vector("t_ms", t_ms, np.float64)
        c = _vector("counts", counts, np.int64)
        if c.size != t.size:
            raise ValueError(f"parameters 't_ms' and 'counts' must have the same length, got {t.size} and {c.size}")
        if c.size and c.min() < 0:
            raise ValueError(f"parameter 'counts' must be >= 0, got {c.min()}")
        self._write_rate(spec, t, c)

    # -- run state ----------------------------------------------------------
    def _set_t_end(self, t_end_ms):
        try:
            t_end = float(t_end_ms)
        except (TypeError, ValueError):
            raise ValueError(f"parameter 't_end_ms' must be a number, got {t_end_ms!r}") from None
        if not (math.isfinite(t_end) and t_end >= 0):
            raise ValueError(f"parameter 't_end_ms' must be a finite number >= 0, got {t_end}")
        self.attrs["t_end_ms"] = t_end

    def flush(self, t_end_ms):
        """Record that ``t_end_ms`` ms have been simulated and make the data durable."""
        if self._closed:
            raise RuntimeError("the writer is closed")
        self._set_t_end(t_end_ms)
        self._flush()

    def close(self, t_end_ms, complete=True):
        """Release resources at ``t_end_ms`` ms; ``complete`` marks whether the run finished.

        A run stopped by an error is closed with ``complete=False``. A second call does nothing.
        """
        if self._closed:
            return
        self._set_t_end(t_end_ms)
        self.attrs["complete"] = bool(complete)
        self._closed = True
        self._close()


class _Growable:
    """An array that grows along its first axis with amortised O(1) appends (capacity doubling)."""

    def __init__(self, dtype, width=None):
        self.data = np.zeros((16,) if width is None else (16, width), dtype=dtype)
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

    def _create(self, spec):
        bufs = {"t": _Growable(np.float64)}
        if spec.kind == "state":
            bufs.update({v: _Growable(spec.dtype, spec.neurons.size) for v in spec.variables})
        else:
            bufs["second"] = _Growable(np.int64)
        self._buffers[spec.name] = bufs

    def _write_state(self, spec, t, values):
        bufs = self._buffers[spec.name]
        for v, a in values.items():
            bufs[v].append(a)
        bufs["t"].append(t)

    def _write_spikes(self, spec, t, i):
        self._buffers[spec.name]["second"].append(i)
        self._buffers[spec.name]["t"].append(t)

    _write_rate = _write_spikes

    def _flush(self):
        pass

    def _close(self):
        pass

    def results(self):
        """Return a :class:`Results` with everything appended so far (read-only views of the buffers)."""
        res = Results(attrs=dict(self.attrs), network=json.loads(json.dumps(self.network)))
        for name, spec in self._specs.items():
            bufs = self._buffers[name]
            t = bufs["t"].view()
            if spec.kind == "state":
                values = {v: bufs[v].view() for v in spec.variables}
                res.state[name] = StateTrace(name, spec.population, t, spec.neurons.copy(),
                                             values, dict(spec.units), spec.every)
            elif spec.kind == "spikes":
                res.spikes[name] = SpikeTrain(name, spec.population, spec.n, t, bufs["second"].view())
            else:
                res.rates[name] = PopulationRate(name, spec.population, spec.n, t, bufs["second"].view(),
                                                 self.attrs["dt_ms"])
        return res
