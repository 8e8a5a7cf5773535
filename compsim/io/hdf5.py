"""Streaming HDF5 writer and reader for simulation results.

File layout (plain groups, datasets and attributes; readable with any HDF5
tool such as ``h5dump``, h5py, MATLAB or HDFView; no pickled objects)::

    /                  attrs: dt_ms (float, ms), seed (int, or JSON "null"),
                              t_end_ms (float, ms simulated; written when the file
                              is closed: while a run writes, and in the file of a
                              killed run, the dataset /t_end_ms holds it),
                              complete (int8: 1 once the run finished, 0 otherwise),
                              created (ISO 8601 UTC time), compsim_version,
                              numba_version, numpy_version, h5py_version,
                              hdf5_version (of the library that wrote the file),
                              python_version (str), network (JSON str),
                              json_attrs (JSON list naming the other attributes
                              stored as JSON strings), plus extra metadata
    /monitors/<name>/  attrs: kind ("state" | "spikes" | "rate"), population (str), batch (int, B)
                              state:        every (int, steps), variables (JSON list),
                                            units (JSON dict variable -> unit)
                              spikes, rate: n (int, population size)
                              rate:         dt_ms (float)
    /t_end_ms          dataset (1,): ms simulated so far, updated at every flush
    /markers/          t (float64, ms, (M,)), label (fixed-length UTF-8 strings of 64 bytes, (M,)):
                       time markers such as a protocol's phase or image boundaries
    every dataset of samples or times has an attribute units ("ms" for t)
        state:   t (float64, ms, (S,)), neurons (int64, (K,)),
                 <variable> (S, K) for each variable, in the monitor's dtype;
                 (S, B, K) when the network runs B > 1 copies (batch axis)
        spikes:  t (float64, ms, (M,)), i (int32, (M,)); with B > 1 also
                 copy (int32, (M,)): the batch copy of each spike
        rate:    t (float64, ms, (S,)), counts (int32, (S,)), or (S, B) with B > 1

Reading: :func:`load` reads the metadata and returns results whose arrays
are read when first used, and whose ``window(start_ms, stop_ms, neurons=...)``
reads only those rows and columns (:class:`H5Column`); ``load(path, lazy=False)``
reads everything at once.

A file can be continued (``H5Writer(path, metadata, append=True)``, used by
``Network.run(..., append=True)`` after a checkpoint restore): the monitors
must match those in the file, and new data are appended to them.

Monitors are listed in creation order. Every growable dataset is chunked
(about 16k elements per chunk), has an unlimited first dimension and is
compressed with gzip level 1 after the shuffle filter. Each ``append_*``
call resizes and writes; :meth:`H5Writer.flush` updates the dataset
``/t_end_ms`` (attributes cannot change while writing) and flushes the file.
Data are written in HDF5's single-writer/multiple-reader (SWMR) mode, in
which the file is consistent at every instant: a writer killed at any
moment, even in the middle of an append, leaves a file holding everything up
to the last flush, with ``complete`` = 0. Such a file is still marked as
open by a SWMR writer: :func:`read` opens it in SWMR-read mode; other tools
may need ``h5clear -s FILE`` first. On a normal close the final
``t_end_ms`` and ``complete`` = 1 are written as root attributes. The file
uses the HDF5 1.10 format (``libver=("v110", "v110")``: the oldest format
with SWMR, and no newer one), readable by HDF5 1.10 and later tools (h5dump,
HDFView, MATLAB, h5py on any HDF5 >= 1.10); ``libver="latest"`` would write
the format of the bundled library (HDF5 2.0), which 1.10-1.14 cannot read.
"""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from compsim.io.writer import MARKER_LABEL_BYTES, Writer
from compsim.results import ArrayColumn, Column, PopulationRate, Results, SpikeTrain, StateTrace

#: Target number of elements per chunk of a growable dataset. Each flush rewrites the
#: last, partly filled chunk, so chunks are kept small enough for frequent flushes.
CHUNK_ELEMENTS = 16384
_LIBVER = ("v110", "v110")  # the oldest format with SWMR; also the newest: files stay readable by HDF5 1.10+
_LABEL = h5py.string_dtype("utf-8", MARKER_LABEL_BYTES)  # marker labels, fixed length: every tool reads them
_COMPRESSION = {"compression": "gzip", "compression_opts": 1, "shuffle": True}


def _growable(group, name, dtype, width=()):
    """Create an empty chunked, compressed dataset of shape (0, *width)."""
    inner = int(np.prod(width)) if width else 1
    shape = (0, *width)
    chunks = (max(1, CHUNK_ELEMENTS // inner), *width) if inner <= CHUNK_ELEMENTS else (1, *width[:-1], CHUNK_ELEMENTS)
    return group.create_dataset(name, shape=shape, maxshape=(None,) + shape[1:], dtype=dtype,
                                chunks=chunks, **_COMPRESSION)


def _create_markers(f):
    """The group of time markers: t (ms) and label (fixed-length UTF-8), growable."""
    g = f.create_group("markers")
    _growable(g, "t", np.float64).attrs["units"] = "ms"
    _growable(g, "label", _LABEL)


def _append(dataset, data):
    start = dataset.shape[0]
    if len(data):
        dataset.resize(start + len(data), axis=0)
        dataset[start:] = data


class H5Writer(Writer):
    """Write results to an HDF5 file chunk by chunk (layout in the module docstring).

    Parameters
    ----------
    path : str or os.PathLike
        Output file; an existing file is overwritten.
    metadata : dict
        ``dt_ms`` (float, ms), ``seed`` (int or None), ``network``
        (JSON-serialisable dict) and optional extra root attributes (numbers,
        str, numeric arrays; dicts, lists and None are stored as JSON).
    append : bool
        Continue an existing file: its monitors must be declared again,
        identically; the root attributes are updated.
    """

    def __init__(self, path, metadata, append=False):
        super().__init__(metadata)
        self.path = Path(path)
        self.append = bool(append)
        if self.append and not self.path.exists():
            raise ValueError(f"H5Writer: parameter 'append' needs an existing file, {self.path} does not exist")
        self._file = h5py.File(self.path, "r+" if self.append else "w", libver=_LIBVER)
        try:
            if self.append:
                if "markers" not in self._file:  # a file written before markers existed
                    _create_markers(self._file)
                self.attrs["t_end_ms"] = float(self._file["t_end_ms"][0])
                self._file.attrs["complete"] = np.int8(0)
                if "t_end_ms" in self._file.attrs:  # while writing, the end time lives in the dataset only
                    del self._file.attrs["t_end_ms"]
                self._file.flush()
                return
            for key, value in self.attrs.items():
                if key == "t_end_ms":  # written at close; until then the dataset /t_end_ms holds it
                    continue
                if key == "complete":
                    value = np.int8(value)
                elif key in self._json_keys:
                    value = json.dumps(value)
                self._file.attrs[key] = value
            self._file.attrs["json_attrs"] = json.dumps(self._json_keys)
            self._file.attrs["network"] = json.dumps(self.network)
            self._file.create_group("monitors", track_order=True)
            _create_markers(self._file)
            self._file.create_dataset("t_end_ms", data=np.zeros(1))
            self._file.flush()
        except BaseException:
            self._file.close()
            raise

    def _create(self, spec):
        if self.append:
            self._check_existing(spec)
            return
        g = self._file["monitors"].create_group(spec.name)
        g.attrs["kind"] = spec.kind
        g.attrs["population"] = spec.population
        g.attrs["batch"] = spec.batch
        copies = () if spec.batch == 1 else (spec.batch,)
        if spec.kind == "state":
            g.attrs["every"] = spec.every
            g.attrs["variables"] = json.dumps(list(spec.variables))
            g.attrs["units"] = json.dumps(spec.units)
            _growable(g, "t", np.float64).attrs["units"] = "ms"
            g.create_dataset("neurons", data=spec.neurons)
            for var in spec.variables:
                _growable(g, var, spec.dtype, (*copies, spec.neurons.size)).attrs["units"] = spec.units[var]
            return
        if spec.n > np.iinfo(np.int32).max:
            raise ValueError(f"parameter 'n' exceeds the int32 range of the file, got {spec.n}")
        g.attrs["n"] = spec.n
        _growable(g, "t", np.float64).attrs["units"] = "ms"
        if spec.kind == "spikes":
            _growable(g, "i", np.int32)
            if copies:
                _growable(g, "copy", np.int32)
        else:
            g.attrs["dt_ms"] = self.attrs["dt_ms"]
            _growable(g, "counts", np.int32, copies)

    def _check_existing(self, spec):
        """In append mode: the file must hold monitor ``spec`` as declared now."""
        g = self._file["monitors"].get(spec.name)
        if g is None:
            raise ValueError(f"cannot append to {self.path}: it has no monitor {spec.name!r} "
                             f"(it has {list(self._file['monitors'])})")
        found = (_attr(g.attrs["kind"]), _attr(g.attrs["population"]), int(g.attrs.get("batch", 1)))
        if found != (spec.kind, spec.population, spec.batch):
            raise ValueError(f"cannot append to {self.path}: monitor {spec.name!r} is {found} in the file, "
                             f"{(spec.kind, spec.population, spec.batch)} now (kind, population, batch)")
        if spec.kind == "state" and (json.loads(_attr(g.attrs["variables"])) != list(spec.variables)
                                     or not np.array_equal(g["neurons"][()], spec.neurons)
                                     or int(g.attrs["every"]) != spec.every):
            raise ValueError(f"cannot append to {self.path}: state monitor {spec.name!r} records other "
                             "variables, neurons or sampling interval in the file")

    def _swmr(self):
        """Enter SWMR mode before the first data write (all datasets exist by then).

        In SWMR mode HDF5 orders its metadata writes so that the file is
        consistent at every instant: a writer killed even in the middle of an
        append leaves a file holding everything up to the last flush.
        """
        if not self._file.swmr_mode:
            self._file.swmr_mode = True

    def _write_state(self, spec, t, values):
        self._swmr()
        g = self._file["monitors"][spec.name]
        for var, arr in values.items():
            _append(g[var], arr)
        _append(g["t"], t)

    def _write_spikes(self, spec, t, i, copy):
        self._swmr()
        g = self._file["monitors"][spec.name]
        _append(g["i"], i.astype(np.int32))
        if copy is not None:
            _append(g["copy"], copy.astype(np.int32))
        _append(g["t"], t)

    def _write_rate(self, spec, t, counts):
        if counts.size and counts.max() > np.iinfo(np.int32).max:
            raise ValueError(f"parameter 'counts' exceeds the int32 range of the file, max {counts.max()}")
        self._swmr()
        g = self._file["monitors"][spec.name]
        _append(g["counts"], counts.astype(np.int32))
        _append(g["t"], t)

    def _write_marks(self, t, labels):
        self._swmr()
        _append(self._file["markers/label"], np.array([label.encode() for label in labels], dtype=_LABEL))
        _append(self._file["markers/t"], t)

    def _flush(self):
        # attributes cannot change in SWMR mode: the running end time is a dataset
        self._file["t_end_ms"][0] = self.attrs["t_end_ms"]
        self._file.flush()

    def _close(self):
        self._file["t_end_ms"][0] = self.attrs["t_end_ms"]
        self._file.close()
        with h5py.File(self.path, "r+") as f:  # out of SWMR mode: final attributes
            f.attrs["t_end_ms"] = self.attrs["t_end_ms"]
            f.attrs["complete"] = np.int8(self.attrs["complete"])

    def results(self):
        """The file's contents: after close, read on demand (:func:`load`); while open, read now."""
        if self._closed:
            return load(self.path)
        self._file.flush()
        return read(self._file)


def _attr(value):
    """Convert an h5py attribute value to a plain Python value."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _open(path):
    """Open a results file for reading; a file whose SWMR writer was killed (or is still writing) in SWMR-read mode."""
    try:
        return h5py.File(path, "r")
    except OSError:
        try:
            return h5py.File(path, "r", swmr=True)
        except OSError as exc:
            raise OSError(f"cannot open {path} as an HDF5 results file ({exc}); "
                          "a writer killed before its first flush leaves no readable file") from exc


class H5Column(Column):
    """A dataset of a results file, read on demand; the file is opened for each read (no handle stays open).

    ``length``: rows to expose (the common length of a monitor's datasets, for a file whose writer was killed).
    """

    def __init__(self, path, dataset, length, shape, dtype):
        super().__init__((length, *shape[1:]), dtype)
        self.path, self.dataset = Path(path), dataset

    def read(self, rows=slice(None), cols=None):
        start, stop, step = rows.indices(len(self))
        if stop <= start:
            return np.zeros((0, *self.shape[1:]), self.dtype)[..., cols if cols is not None else slice(None)]
        with _open(self.path) as f:
            d = f[self.dataset]
            if cols is None:
                return d[start:stop:step]
            # h5py selects increasing, unique indices along one axis: read those, then reorder in memory
            unique, inverse = np.unique(np.asarray(cols, dtype=np.int64), return_inverse=True)
            return d[start:stop:step, ..., unique][..., inverse]


def _attrs(f):
    """Root attributes (JSON decoded) and network description of an open results file."""
    raw = {k: _attr(v) for k, v in f.attrs.items()}
    json_keys = json.loads(raw.pop("json_attrs", "[]"))
    network = json.loads(raw.pop("network", "{}"))
    attrs = {k: json.loads(v) if k in json_keys else v for k, v in raw.items()}
    attrs["complete"] = bool(attrs.get("complete", False))
    if "t_end_ms" in f and not attrs["complete"]:  # progress of an unfinished run
        attrs["t_end_ms"] = float(f["t_end_ms"][0])
    return attrs, network


def read_metadata(path):
    """Root attributes, network description and, per monitor, its attributes and dataset shapes.

    Reads no recorded data (a file of any size answers at once); for ``compsim info``.
    Returns ``(attrs, network, monitors)``.
    """
    with _open(path) as f:
        attrs, network = _attrs(f)
        monitors = {}
        for name, g in f.get("monitors", {}).items():
            monitors[name] = {"kind": _attr(g.attrs["kind"]), "population": _attr(g.attrs["population"]),
                              "datasets": {k: d.shape for k, d in g.items()}}
    return attrs, network, monitors


def _read(f, path=None):
    """Results of an open file: columns that read from ``path`` on demand, or (``path`` None) read now."""
    attrs, network = _attrs(f)
    res = Results(attrs=attrs, network=network)
    if "markers" in f:
        g = f["markers"]
        length = min(g["t"].shape[0], g["label"].shape[0])
        res.markers = list(zip(g["t"][:length].tolist(), [label.decode() for label in g["label"][:length]]))

    def col(dataset, length):
        if path is None:
            return ArrayColumn(dataset[:length])
        return H5Column(path, dataset.name, length, dataset.shape, dataset.dtype)

    for name, g in f.get("monitors", {}).items():
        kind = _attr(g.attrs["kind"])
        population = _attr(g.attrs["population"])
        if kind == "state":
            variables = [v for v in json.loads(_attr(g.attrs["variables"])) if v in g]
            length = min([g["t"].shape[0]] + [g[v].shape[0] for v in variables])
            res.state[name] = StateTrace(
                name, population, col(g["t"], length), g["neurons"][()].astype(np.int64),
                {v: col(g[v], length) for v in variables}, json.loads(_attr(g.attrs["units"])),
                int(g.attrs["every"]))
            continue
        second = "i" if kind == "spikes" else "counts"
        batch = int(g.attrs.get("batch", 1))
        length = min(g["t"].shape[0], g[second].shape[0], *([g["copy"].shape[0]] if "copy" in g else []))
        t, other = col(g["t"], length), col(g[second], length)
        if kind == "spikes":
            copy = col(g["copy"], length) if "copy" in g else None
            res.spikes[name] = SpikeTrain(name, population, int(g.attrs["n"]), t, other, copy, batch)
        else:
            res.rates[name] = PopulationRate(name, population, int(g.attrs["n"]), t, other,
                                             float(g.attrs["dt_ms"]))
    return res


def load(path, lazy=True):
    """Open an HDF5 results file written by :class:`H5Writer` (also one whose writer was killed).

    Everything up to the last flush is available; ``attrs["complete"]`` is
    False for an unfinished run.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.h5`` file.
    lazy : bool
        True (default): read the metadata now and each recorded array when
        it is first used; ``window(start_ms, stop_ms, neurons=...)`` of a
        monitor (or of the results) reads only that part, so files larger
        than memory can be inspected. False: read everything now.

    Returns
    -------
    compsim.results.Results
    """
    with _open(path) as f:
        return _read(f, Path(path) if lazy else None)


def read(source):
    """Read everything from an HDF5 results file (a path or an open ``h5py.File``) into memory."""
    if isinstance(source, h5py.File):
        return _read(source)
    return load(source, lazy=False)
