"""The writer base class: the input checks shared by every writer.

:class:`Writer` validates the calls the engine makes (monitor declarations,
appended chunks, run metadata) and delegates storage to a subclass:
:class:`compsim.io.memory.MemoryWriter` keeps the chunks in memory,
:class:`compsim.io.hdf5.H5Writer` streams them to a file. Both return the
same :class:`compsim.results.Results` from ``results()``.

With a batch of B > 1 copies, state samples are (S, B, K) arrays, spikes
carry a copy index and rate counts are (S, B); with B = 1 there is no batch
axis (S, K), (S,).
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

#: Longest marker label (bytes of UTF-8; the file stores them in fixed-length fields).
MARKER_LABEL_BYTES = 64
#: Root attributes set by the writer; metadata may not use these names.
RESERVED_ATTRS = ("t_end_ms", "complete", "created", "compsim_version", "numba_version",
                  "numpy_version", "h5py_version", "hdf5_version", "python_version", "json_attrs")


def _dist_version(dist):
    try:
        return _metadata.version(dist)
    except _metadata.PackageNotFoundError:
        return "not installed"


def _hdf5_version():
    try:
        import h5py
    except ImportError:
        return "not installed"
    return h5py.version.hdf5_version


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
             "hdf5_version": _hdf5_version(),
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
    for state monitors, ``n`` (population size) for the others; ``batch``
    is the number of copies (1: no batch axis in the data).
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
    batch: int = 1


class Writer:
    """Base class of the writers: checks every call, then calls a storage hook.

    Subclasses implement ``_create(spec)``, ``_write_state(spec, t, values)``,
    ``_write_spikes(spec, t, i)``, ``_write_rate(spec, t, counts)``, ``_write_marks(t, labels)``,
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

    def add_state_monitor(self, name, population, variables, units, neurons, every, dtype, batch=1):
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
        batch : int
            Number of batch copies; values are (S, batch, K) when batch > 1.
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
                                   check_count("every", every), dtype, batch=check_count("batch", batch)))

    def add_spike_monitor(self, name, population, n, batch=1):
        """Declare a spike monitor for a population of ``n`` neurons in ``batch`` copies."""
        self._register(MonitorSpec("spikes", name, population, n=check_count("n", n), batch=check_count("batch", batch)))

    def add_rate_monitor(self, name, population, n, batch=1):
        """Declare a population-rate monitor (spike count per step and copy) for ``n`` neurons."""
        self._register(MonitorSpec("rate", name, population, n=check_count("n", n), batch=check_count("batch", batch)))

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
        """Append S samples: times ``t_ms`` (ms, shape (S,)) and ``values[var]`` of shape (S, K) or (S, B, K)."""
        spec = self._spec(name, "state")
        t = _vector("t_ms", t_ms, np.float64)
        if not isinstance(values, dict) or set(values) != set(spec.variables):
            got = list(values) if isinstance(values, dict) else type(values).__name__
            raise ValueError(f"parameter 'values' must have exactly the keys {list(spec.variables)}, got {got}")
        shape = (t.size, spec.neurons.size) if spec.batch == 1 else (t.size, spec.batch, spec.neurons.size)
        out = {}
        for var in spec.variables:
            arr = np.asarray(values[var])
            if arr.shape != shape:
                raise ValueError(f"values[{var!r}] for monitor {name!r} must have shape {shape} "
                                 f"(samples{', copies' if spec.batch > 1 else ''}, neurons), got {arr.shape}")
            out[var] = arr.astype(spec.dtype, copy=False)
        self._write_state(spec, t, out)

    def append_spikes(self, name, t_ms, i, copy=None):
        """Append M spikes: times ``t_ms`` (ms, shape (M,)), neuron indices ``i`` and, with batch > 1,
        the copy index ``copy`` of each (shape (M,))."""
        spec = self._spec(name, "spikes")
        t = _vector("t_ms", t_ms, np.float64)
        idx = _vector("i", i, np.int64)
        if idx.size != t.size:
            raise ValueError(f"parameters 't_ms' and 'i' must have the same length, got {t.size} and {idx.size}")
        if idx.size and (idx.min() < 0 or idx.max() >= spec.n):
            raise ValueError(f"parameter 'i' must hold indices in 0..{spec.n - 1} for monitor {name!r}, "
                             f"got range {idx.min()}..{idx.max()}")
        if (copy is None) != (spec.batch == 1):
            raise ValueError(f"parameter 'copy' must be given exactly when the monitor has batch > 1 "
                             f"(monitor {name!r}: batch {spec.batch})")
        if copy is not None:
            copy = _vector("copy", copy, np.int64)
            if copy.size != t.size or (copy.size and (copy.min() < 0 or copy.max() >= spec.batch)):
                raise ValueError(f"parameter 'copy' must hold {t.size} indices in 0..{spec.batch - 1}")
        self._write_spikes(spec, t, idx, copy)

    def append_rate(self, name, t_ms, counts):
        """Append S steps: step times ``t_ms`` (ms, shape (S,)) and spike ``counts`` ((S,), or (S, B) with batch B > 1)."""
        spec = self._spec(name, "rate")
        t = _vector("t_ms", t_ms, np.float64)
        c = np.asarray(counts)
        shape = (t.size,) if spec.batch == 1 else (t.size, spec.batch)
        if c.shape != shape or (c.size and c.dtype.kind not in "iu"):
            raise ValueError(f"parameter 'counts' must be integers of shape {shape}, got {c.dtype} {c.shape}")
        c = c.astype(np.int64)
        if c.size and c.min() < 0:
            raise ValueError(f"parameter 'counts' must be >= 0, got {c.min()}")
        self._write_rate(spec, t, c)

    def mark(self, t_ms, labels):
        """Append time markers (e.g. a protocol's phase or image boundaries): times ``t_ms`` (ms) and their labels."""
        t = _vector("t_ms", t_ms, np.float64)
        labels = [str(label) for label in np.atleast_1d(labels)]
        if len(labels) != t.size:
            raise ValueError(f"parameter 'labels' must hold one label per time ({t.size}), got {len(labels)}")
        too_long = [label for label in labels if len(label.encode()) > MARKER_LABEL_BYTES]
        if too_long:
            raise ValueError(f"parameter 'labels': at most {MARKER_LABEL_BYTES} bytes (UTF-8) each, got {too_long[0]!r}")
        self._write_marks(t, labels)

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
