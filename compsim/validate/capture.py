"""The compsim side of a validation: a private copy of the network, its initial state, one recorded run.

:func:`capture` never touches the user's network. It deep-copies it (or
calls the user's builder), drops the copy's own monitors, snapshots
everything Brian2 needs to start from the same point (state arrays, synaptic
traces, spikes still in flight in the delay rings, the step counter, the
random stream keys), adds a spike monitor to every spiking population and
state monitors on the compared variables, and runs the copy. The result is a
:class:`Capture`: the snapshot plus what compsim recorded.
"""
import copy
from dataclasses import dataclass, field

import numpy as np

from ..model import Model
from ..network import Network
from ..rng import uniform_block

#: neurons recorded per population when the caller does not choose
DEFAULT_RECORDED = 256


@dataclass
class PopulationSnapshot:
    """One population of the copied network, as it was before the validation run."""

    name: str
    index: int
    kind: str
    n: int
    population: object  # the copy's population object (model parameters, brian2_model())
    values: dict  # variable name -> (n,) float64 array, state before the run
    key: int  # random stream key (compsim.rng)

    @property
    def spiking(self):
        return self.population.spiking


@dataclass
class ProjectionSnapshot:
    """One projection: synapses in storage order, weights, kernel, delay, current traces and pending jumps."""

    index: int
    pre: str
    post: str
    target: str
    synapse: object
    kind: str
    pre_idx: np.ndarray
    post_idx: np.ndarray
    weights: np.ndarray
    delay_steps: int
    trace: np.ndarray  # (n_traces, n_post)
    ring: np.ndarray  # (delay_steps + 1, n_post)
    activity: str | None = None  # graded projections: the presynaptic variable transmitted (e.g. "p")


@dataclass
class Capture:
    """Snapshot of the copied network before the run, and what compsim recorded during it."""

    dt: float
    method: str
    seed: int
    dtype: str
    step0: int
    n_steps: int
    populations: list
    projections: list
    record: dict  # population name -> list of variables
    neurons: dict  # population name -> recorded neuron indices
    traces: dict = field(default_factory=dict)  # (pop, var) -> (n_steps, K) array
    spikes: dict = field(default_factory=dict)  # pop -> (steps relative to step0, neuron indices)
    units: dict = field(default_factory=dict)  # (pop, var) -> unit string
    run_s: float = 0.0

    def population(self, name):
        return next(p for p in self.populations if p.name == name)

    def uniforms(self, name, k=0):
        """The uniforms compsim drew (draw index ``k``) for population ``name``: array (n_steps, n)."""
        pop = self.population(name)
        return uniform_block(np.uint64(pop.key), pop.n, self.step0, self.n_steps, k)


def copy_network(net):
    """A deep copy of ``net`` without its compiled program, writers or monitors (the original is untouched)."""
    if not isinstance(net, Network):
        raise ValueError(f"expected a compsim Network, got {type(net).__name__}")
    if net.batch != 1:
        raise ValueError(f"validate: the network runs batch = {net.batch} copies; validate a single-copy network "
                         "(Network(batch=1, first_copy=b) reproduces copy b)")
    saved = {k: net.__dict__[k] for k in ("_program", "_writer", "_memory", "monitors")}
    try:
        net._program = net._writer = net._memory = None
        net.monitors = []
        clone = copy.deepcopy(net)
    finally:
        net.__dict__.update(saved)
    return clone


def resolve_record(net, record, neurons):
    """Normalise ``record`` ({pop: var or [vars]}, default: state and derived variables of every model)
    and ``neurons`` ({pop: indices}, default: all, or DEFAULT_RECORDED spread over larger populations)."""
    pops = {p.name: p for p in net.populations}
    if record is None:
        record = {p.name: [v.name for v in p.state_vars if v.role in ("state", "derived")]
                  for p in net.populations if isinstance(p, Model)}
    out = {}
    for name, variables in dict(record).items():
        if name not in pops:
            raise ValueError(f"validate: record names an unknown population '{name}'; populations are {sorted(pops)}")
        if not isinstance(pops[name], Model):
            raise ValueError(f"validate: '{name}' is a spike source: it has no state to compare (its spikes are replayed)")
        variables = [variables] if isinstance(variables, str) else list(variables)
        known = pops[name].recordable()
        for v in variables:
            if v not in known:
                raise ValueError(f"validate: '{name}' has no variable '{v}'; recordable: {sorted(known)}")
        if variables:
            out[name] = variables
    chosen = {}
    neurons = dict(neurons or {})
    for name in out:
        n = pops[name].n
        if name in neurons and neurons[name] is not None:
            idx = np.arange(n)[neurons[name]] if isinstance(neurons[name], slice) else neurons[name]
            idx = np.unique(np.asarray(idx, dtype=np.int64).ravel())
            if idx.size == 0 or idx.min() < 0 or idx.max() >= n:
                raise ValueError(f"validate: neurons of '{name}' must be indices in [0, {n - 1}]")
        elif n <= DEFAULT_RECORDED:
            idx = np.arange(n)
        else:
            idx = np.unique(np.linspace(0, n - 1, DEFAULT_RECORDED).round().astype(np.int64))
        chosen[name] = idx
    return out, chosen


def snapshot(net, record, neurons, n_steps):
    """The state of ``net`` (a private copy, not yet run further) that a Brian2 replica starts from."""
    pops = []
    keys = net.stream_keys()
    for p in net.populations:
        values = {v.name: np.array(p[v.name], dtype=np.float64) for v in p.state_vars}
        kind = "model" if isinstance(p, Model) else "activity" if p.activity is not None else "source"
        pops.append(PopulationSnapshot(p.name, p.index, kind, p.n, p, values, int(keys[p.index, 0])))
    projs = []
    for j in net.projections:
        pre_idx, post_idx = j.synapse_indices()
        projs.append(ProjectionSnapshot(
            j.index, j.pre.name, j.post.name, j.target, j.synapse, j.kind, np.asarray(pre_idx, dtype=np.int64),
            np.asarray(post_idx, dtype=np.int64), j.synapse_weights(), int(j.delay_steps),
            np.array(j.trace[:, 0], dtype=np.float64), np.array(j.ring[:, 0], dtype=np.float64),
            j.pre.activity if j.graded else None))
    return Capture(net.dt, net.method, net.seed, str(net.dtype), int(net.step), int(n_steps), pops, projs,
                   record, neurons)


def capture(source, duration, record=None, neurons=None):
    """Copy (or build) the network, snapshot it, run it for ``duration`` ms with monitors; returns a Capture.

    ``source``: a :class:`compsim.Network` (copied; it may have run before)
    or a callable returning one (called once).
    """
    net = source() if callable(source) and not isinstance(source, Network) else source
    if not isinstance(net, Network):
        raise ValueError(f"validate: expected a compsim Network or a function returning one, got {type(net).__name__}")
    net = copy_network(net)
    n_steps = int(round(duration / net.dt))
    if n_steps < 1:
        raise ValueError(f"validate: parameter 'duration' must be at least one step (dt = {net.dt} ms), got {duration}")
    record, chosen = resolve_record(net, record, neurons)
    cap = snapshot(net, record, chosen, n_steps)
    pops = {p.name: p for p in net.populations}
    spike_mons = {p.name: net.record_spikes(p, name=f"_validate_spikes_{p.name}")
                  for p in net.populations if p.spiking}
    state_mons = {name: net.record(pops[name], variables, neurons=chosen[name], name=f"_validate_state_{name}")
                  for name, variables in record.items()}
    t0 = net.timings["run_s"]
    res = net.run(n_steps * net.dt)
    cap.run_s = net.timings["run_s"] - t0
    step0 = cap.step0
    for name, mon in spike_mons.items():
        tr = res.spikes[mon.name]
        steps = np.rint(tr.t / net.dt).astype(np.int64) - step0
        cap.spikes[name] = (steps, np.asarray(tr.i, dtype=np.int64))
    for name, mon in state_mons.items():
        tr = res.state[mon.name]
        for v in record[name]:
            cap.traces[(name, v)] = np.asarray(tr[v], dtype=np.float64)
            cap.units[(name, v)] = tr.units.get(v, "")
    return cap
