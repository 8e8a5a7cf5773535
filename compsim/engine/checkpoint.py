"""Checkpoints: everything needed to continue a run, saved to and restored from HDF5.

A checkpoint holds every ``state`` and ``weights`` array of the network's
store (population state, synaptic traces, delay rings, source cursors,
running averages, weights), the step counter, what sources keep outside the
store (configured rates), and a description of the network's *structure*
with its hash. Restoring into a network whose structure differs (another
population size, name, model, projection, delay, batch size, seed, dt, ...)
raises a ValueError naming the first difference. Random numbers are a pure
function of (seed, stream, neuron, step), so a run continued from a
checkpoint, in this process or a fresh one, is bit-identical to an
uninterrupted one.

File layout (plain HDF5)::

    /            attrs: format = "compsim-checkpoint", compsim_version, step (int),
                        t_ms (float), structure (JSON), structure_hash (sha256 hex)
    /arrays/<key>       every state and weights array, e.g. p0_state (n_vars, B, n)
    /sources/<population>/<item>   e.g. rates (S, copies, n) of a PoissonSource
"""
import hashlib
import json
from pathlib import Path

import h5py

from .._version import __version__

FORMAT = "compsim-checkpoint"


def structure(network):
    """JSON-serialisable description of what a checkpoint must match."""
    return {
        "dt_ms": network.dt,
        "method": network.method,
        "dtype": str(network.dtype),
        "seed": network.seed,
        "batch": network.batch,
        "first_copy": network.first_copy,
        "populations": [{"name": p.name, "model": type(p).__name__, "n": p.n, "state_vars": p.var_names,
                         "ports": p.port_names, "events": p.event_names} for p in network.populations],
        "projections": [{"pre": j.pre.name, "post": j.post.name, "target": j.target, "kind": j.kind,
                         "n_synapses": int(j.n_synapses), "delay_steps": j.delay_steps,
                         "synapse": j.synapse.describe(), **({"sign": j.sign} if j.sign else {}),
                         **({"same_step": True} if j.same_step else {})}
                        for j in network.projections],
        "arrays": {key: [list(a.shape), str(a.dtype)] for key, a in network.store.items("state", "weights")},
    }


def structure_hash(description):
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()


def save(network, path):
    """Write the checkpoint of ``network`` to ``path`` (overwritten)."""
    description = structure(network)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["compsim_version"] = __version__
        f.attrs["step"] = network.step
        f.attrs["t_ms"] = network.t
        f.attrs["structure"] = json.dumps(description)
        f.attrs["structure_hash"] = structure_hash(description)
        arrays = f.create_group("arrays")
        for key, array in network.store.items("state", "weights"):
            arrays.create_dataset(key, data=array)
        sources = f.create_group("sources")
        for p in network.populations:
            items = p.checkpoint_items()
            if items:
                g = sources.create_group(p.name)
                for name, value in items.items():
                    g.create_dataset(name, data=value)


def restore(network, path):
    """Load the checkpoint at ``path`` into ``network`` (same structure), in place."""
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"restore_checkpoint: cannot open {path} ({exc})") from None
    with f:
        if f.attrs.get("format") != FORMAT:
            raise ValueError(f"restore_checkpoint: {path} is not a compsim checkpoint")
        saved = json.loads(f.attrs["structure"])
        mine = structure(network)
        if structure_hash(saved) != structure_hash(mine):
            raise ValueError(f"restore_checkpoint: {path} was saved by a network of another structure: "
                             f"{first_difference(saved, mine)}")
        for key, array in network.store.items("state", "weights"):
            array[...] = f["arrays"][key][()]
        for p in network.populations:
            if p.name in f["sources"]:
                p.restore_items({name: ds[()] for name, ds in f["sources"][p.name].items()})
        network.step = int(f.attrs["step"])


def first_difference(saved, mine, where="network"):
    """Text naming the first place where two structure descriptions differ."""
    if isinstance(saved, dict) and isinstance(mine, dict):
        for key in list(saved) + [k for k in mine if k not in saved]:
            if key not in mine:
                return f"{where}.{key} is in the checkpoint, not in this network"
            if key not in saved:
                return f"{where}.{key} is in this network, not in the checkpoint"
            if saved[key] != mine[key]:
                return first_difference(saved[key], mine[key], f"{where}.{key}")
    if isinstance(saved, list) and isinstance(mine, list):
        if len(saved) != len(mine):
            return f"{where} has {len(saved)} entries in the checkpoint, {len(mine)} in this network"
        for k, (a, b) in enumerate(zip(saved, mine)):
            if a != b:
                label = a.get("name", k) if isinstance(a, dict) else k
                return first_difference(a, b, f"{where}[{label!r}]" if isinstance(label, str) else f"{where}[{k}]")
    return f"{where}: checkpoint {saved!r}, this network {mine!r}"

