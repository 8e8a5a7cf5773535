"""Export of results to the field's formats: SONATA spike and report files, Neo objects.

Both are optional: SONATA files are written with h5py alone (read them with
``libsonata``, bmtk or any HDF5 tool); :func:`to_neo` needs ``neo`` (and
``quantities``), ``pip install "compsim[export]"``. Results with a batch axis
export one copy (``copy``, default 0). Times are in ms.

SONATA layout (SONATA developer guide, "Spike file" and "Frame oriented
node/element recordings")::

    spikes.h5            /spikes/<population>/timestamps (float64, units "ms"), node_ids (uint64);
                         attribute sorting = by_time (enum none/by_id/by_time)
    <monitor>_<var>.h5   /report/<population>/data (samples, neurons) float32, attribute units
                         /report/<population>/mapping/node_ids (uint64), index_pointers (uint64),
                         element_ids (uint32, all 0: one element per neuron), time = (start, stop, step) ms

A population's node ids are compsim's neuron indices.
"""
from pathlib import Path

import h5py
import numpy as np

from compsim.checks import check_count

_SORTING = h5py.enum_dtype({"none": 0, "by_id": 1, "by_time": 2}, basetype="i1")


def _one_copy_spikes(train, copy):
    return train.of_copy(copy) if train.batch > 1 else train


def _one_copy_values(values, copy):
    return values[:, copy] if values.ndim == 3 else values


def _check_copy(results, copy):
    batch = int(results.attrs.get("batch", 1))
    check_count("copy", copy, lo=0)
    if copy >= batch:
        raise ValueError(f"parameter 'copy' must be in 0..{batch - 1}, got {copy}")


def to_sonata(results, directory, *, copy=0):
    """Write the spikes (``spikes.h5``) and one report per recorded state variable into ``directory``.

    Two spike monitors of one population are an error (SONATA has one spike
    list per population). Returns the list of files written.
    """
    _check_copy(results, copy)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    if results.spikes:
        populations = [m.population for m in results.spikes.values()]
        doubled = {p for p in populations if populations.count(p) > 1}
        if doubled:
            raise ValueError(f"to_sonata: populations {sorted(doubled)} have several spike monitors; "
                             "SONATA holds one spike list per population")
        path = directory / "spikes.h5"
        with h5py.File(path, "w") as f:
            for train in results.spikes.values():
                train = _one_copy_spikes(train, copy)
                g = f.create_group(f"spikes/{train.population}")
                g.attrs.create("sorting", 2, dtype=_SORTING)
                g.create_dataset("timestamps", data=train.t.astype(np.float64)).attrs["units"] = "ms"
                g.create_dataset("node_ids", data=train.i.astype(np.uint64))
        paths.append(path)
    dt = float(results.attrs["dt_ms"])
    for name, trace in results.state.items():
        step = trace.every * dt
        t = trace.t
        start = float(t[0]) if t.size else 0.0
        for var in trace.vars:
            path = directory / f"{name}_{var}.h5"
            with h5py.File(path, "w") as f:
                g = f.create_group(f"report/{trace.population}")
                data = g.create_dataset("data", data=_one_copy_values(trace[var], copy).astype(np.float32))
                data.attrs["units"] = trace.units.get(var, "")
                m = g.create_group("mapping")
                m.create_dataset("node_ids", data=trace.neurons.astype(np.uint64))
                m.create_dataset("index_pointers", data=np.arange(trace.neurons.size + 1, dtype=np.uint64))
                m.create_dataset("element_ids", data=np.zeros(trace.neurons.size, dtype=np.uint32))
                m.create_dataset("time", data=np.array([start, start + t.size * step, step])).attrs["units"] = "ms"
            paths.append(path)
    return paths


def _neo_unit(unit):
    """A compsim unit string as a ``quantities`` unit ("1": dimensionless)."""
    import quantities as pq

    return pq.dimensionless if unit in ("", "1") else pq.Quantity(1.0, unit).units


def to_neo(results, *, copy=0):
    """A ``neo.Block`` with one ``Segment``: a ``SpikeTrain`` per neuron of every spike monitor and an
    ``AnalogSignal`` (samples x recorded neurons) per recorded state variable, with units.

    Spike trains carry the annotations ``population``, ``monitor`` and
    ``neuron``; their ``t_stop`` is the simulated time. Signals carry
    ``population``, ``monitor`` and ``neurons``.
    """
    import neo
    import quantities as pq

    _check_copy(results, copy)
    t_end = float(results.attrs.get("t_end_ms") or 0.0)
    segment = neo.Segment(name="compsim run", description="complete" if results.attrs.get("complete") else "incomplete")
    for name, train in results.spikes.items():
        train = _one_copy_spikes(train, copy)
        stop = max(t_end, float(train.t.max()) + float(results.attrs["dt_ms"]) if train.count() else 0.0)
        for neuron, times in enumerate(train.per_neuron()):
            segment.spiketrains.append(neo.SpikeTrain(times * pq.ms, t_start=0.0 * pq.ms, t_stop=stop * pq.ms,
                                                      name=f"{train.population}[{neuron}]", population=train.population,
                                                      monitor=name, neuron=neuron))
    dt = float(results.attrs["dt_ms"])
    for name, trace in results.state.items():
        t0 = float(trace.t[0]) if trace.n_samples else 0.0
        for var in trace.vars:
            segment.analogsignals.append(neo.AnalogSignal(
                _one_copy_values(trace[var], copy), units=_neo_unit(trace.units.get(var, "")),
                sampling_period=trace.every * dt * pq.ms, t_start=t0 * pq.ms, name=f"{trace.population}.{var}",
                population=trace.population, monitor=name, neurons=trace.neurons.tolist()))
    block = neo.Block(name="compsim", seed=results.attrs.get("seed"), dt_ms=dt)
    block.segments.append(segment)
    return block
