"""The model contract: what a population declares, and the kernels a neuron model supplies.

Anything added to a :class:`~compsim.Network` is a :class:`Population`: ``n``
units that declare

* ``params``: scalar parameters (:class:`Param`: name, default, unit, range,
  and whether it may take one value per batch copy, ``per_copy``);
* ``state_vars``: per-neuron variables (:class:`Var`, one row of the state
  array each);
* ``ports``: synaptic inputs that projections target (:class:`Port`);
* ``events``: named per-neuron events besides the spike (:class:`Event`,
  e.g. a dendritic plateau), counted by the update kernel;
* ``port_groups`` (models only): ports whose inputs reach the kernels as one
  value, their maximum (:class:`PortGroup`, e.g. the dendritic segments of an
  active-dendrite neuron, of which the best-matching one gates the soma);

and contributes *stages* to the network's per-step plan
(:mod:`compsim.engine.plan`). Spike sources are populations with their own
stages (:mod:`compsim.sources`).

A neuron model is a :class:`Model`: it adds two pure scalar kernels, compiled
by Numba and inlined into the generated loop (they take and return scalars
only, so they also compile unchanged as CUDA device functions):

``derive(c, *values, *inputs) -> derived values``   (optional)
    the variables with role ``"derived"`` (e.g. dendritic potentials) from
    this step's synaptic inputs; receives the non-derived values only.
``update(i, step, key, c, *values, *inputs) -> (*new state values, count, *event counts)``
    advances neuron ``i`` by one step ``dt``: the new values of the variables
    with role ``"state"``, the spike count of the step and one count per
    declared event.

The kernels' argument names must be the declared names (checked when the
network is built; an error names the model and the argument). ``values``
are the neuron's variables in declaration order, ``inputs`` the summed
synaptic input of each port at the start of the step (the ports of a
:class:`PortGroup` replaced by the group's one value, after the other ports); ``key`` is the random
stream key of the neuron's population and batch copy (:mod:`compsim.rng`).
``c`` is a named tuple of float64 constants, generated from the declarations:
one field per parameter (``c.g_l``) plus the derived constants the model
returns from :meth:`Model.constants` for ``dt`` and the integration method
(``c.dt_c``). No index bookkeeping: add a parameter, use ``c.<name>``.

The engine, not the kernel, watches for non-finite values: a state that
becomes NaN or infinite stops the run with the population, neuron, copy and
time (:class:`compsim.SimulationDiverged`).
"""
import inspect
from dataclasses import dataclass

import numpy as np

from . import rng
from .checks import check_array, check_choice, check_count, check_number
from .units import magnitude

METHODS = ("euler", "exponential_euler", "exact")
KERNEL_FIXED_ARGS = ("i", "step", "key", "c")


@dataclass(frozen=True)
class Param:
    """A scalar model parameter with its unit, default, allowed range and whether it may vary per copy."""

    name: str
    default: float
    unit: str
    doc: str
    lo: float | None = None
    lo_open: bool = False
    hi: float | None = None
    per_copy: bool = True


@dataclass(frozen=True)
class Var:
    """A per-neuron variable (one row of the state array).

    ``role``: ``"state"`` (evolved by the update kernel), ``"derived"``
    (recomputed each step from inputs; read-only for the user) or
    ``"param"`` (per-neuron parameter such as a bias, read by the kernels and
    set by the user or a protocol). ``init`` is the initial value (or a
    function of the parameter dict).
    """

    name: str
    unit: str
    doc: str
    init: float = 0.0
    role: str = "state"


@dataclass(frozen=True)
class Port:
    """A synaptic input of a model that projections can target.

    ``default_synapse`` names the parameter(s) giving the default synaptic
    kernel: ``("exponential", "tau_e")`` or
    ``("double_exponential", "tau_rise", "tau_decay")``.
    """

    name: str
    unit: str
    doc: str
    default_synapse: tuple
    conductance: bool = None  # weights are conductances (>= 0, Dale's law); None: exactly when the unit is nS

    @property
    def is_conductance(self):
        """Whether the weights onto this port are conductances (never negative: the port's reversal potential,
        not the weight's sign, makes the input excitatory or inhibitory)."""
        return self.unit == "nS" if self.conductance is None else self.conductance


@dataclass(frozen=True)
class PortGroup:
    """Ports whose summed inputs reach the kernels as one value named ``name``: the largest
    (``how="max"``) or the one of largest magnitude, its sign kept (``how="absmax"``); ties go to the
    first port of the group. Monitors still record each port on its own."""

    name: str
    ports: tuple
    how: str = "max"

    def __post_init__(self):
        check_choice("how", self.how, ("max", "absmax"), owner=f"PortGroup '{self.name}'")
        if not self.ports:
            raise ValueError(f"PortGroup '{self.name}': parameter 'ports' must name at least one port")


@dataclass(frozen=True)
class Event:
    """A named per-neuron event the update kernel counts besides spikes (e.g. ``"plateau"``)."""

    name: str
    doc: str


class Population:
    """Something that can be added to a :class:`~compsim.Network`: ``n`` units with state.

    Subclasses set ``params``, ``state_vars``, ``ports`` and ``events``
    (tuples of :class:`Param`, :class:`Var`, :class:`Port`, :class:`Event`)
    and return their per-step work from :meth:`stages`.

    Parameters given as a sequence take one value per batch copy (only
    those declared ``per_copy``); the network checks the length.
    """

    params: tuple = ()
    state_vars: tuple = ()
    ports: tuple = ()
    events: tuple = ()
    spiking = True  # False for populations that emit no spikes (rate or steady-state models)
    activity = None  # rate populations: the state variable their projections transmit (graded), e.g. "p"
    update_phase = "populations"  # the phase of the stage that produces this step's spikes (sources: "sources")
    spike_mode = None  # stochastic spiking: 'bernoulli', 'poisson' or 'poisson_events' (check_spike_mode)
    dale = None  # Dale's law: 'excitatory' or 'inhibitory', set by Network.add(..., dale=...)

    def __init__(self, n, *, name=None, **params):
        owner = type(self).__name__
        self.n = check_count("n", n, owner=owner)
        self.name = name
        known = {p.name: p for p in self.params}
        unknown = set(params) - set(known)
        if unknown:
            raise ValueError(f"{owner}: unknown parameter(s) {sorted(unknown)}; known parameters are {sorted(known)}")
        self.p = {}
        for spec in self.params:
            value = params.get(spec.name, spec.default)
            self.p[spec.name] = _check_param(spec, value, owner)
        self.network = None
        self.index = None
        self.owner = None

    # -- called by the network --------------------------------------------------
    def _bind(self, network, index, name):
        """Join ``network`` as population ``index``: check per-copy parameters, declare the arrays."""
        if hasattr(self, "kernels") and not isinstance(self, Model):
            raise ValueError(f"{type(self).__name__}: a model with kernels must derive from compsim.model.Model "
                             "(see the model contract in compsim/model.py)")
        self.network, self.index, self.name, self.owner = network, index, name, f"p{index}"
        batch = network.batch
        for spec in self.params:
            value = self.p[spec.name]
            if isinstance(value, np.ndarray) and value.size != batch:
                raise ValueError(
                    f"{type(self).__name__} '{name}': parameter '{spec.name}' has {value.size} per-copy values, "
                    f"the network has batch = {batch} copies"
                )
        self.validate(network.dt)
        self._declare(network.store, batch, network.dtype)

    def _declare(self, store, batch, dtype):
        """Declare this population's arrays in the network's state store."""
        store.declare(self.owner, "cnt", (1 + len(self.events), batch, self.n), np.int32, kind="scratch",
                      doc=f"spike and event counts of '{self.name}' in the current step")
        store.declare(self.owner, "spk", (batch, self.n), np.int32, kind="scratch",
                      doc=f"indices of the neurons of '{self.name}' that spiked in the current step")
        store.declare(self.owner, "nsp", (batch,), np.int64, kind="scratch",
                      doc=f"number of spiking neurons of '{self.name}' in the current step")
        if self.spike_mode == "poisson_events":
            for name, doc in (("spike_acc", "intensity integrated since the last spike"),
                              ("spike_thr", "exponential distance to the next spike (0: not drawn yet)")):
                store.declare(self.owner, name, (batch, self.n), np.float64, kind="state",
                              doc=f"{doc}, '{self.name}' (spike mode poisson_events)")
            store.declare(self.owner, "spike_draw", (batch, self.n), np.float64, kind="scratch",
                          doc=f"threshold draws of the neurons of '{self.name}' reaching their threshold")
        if self.state_vars:
            state = store.declare(self.owner, "state", (len(self.state_vars), batch, self.n), dtype, kind="state",
                                  doc=f"state variables of '{self.name}'")
            for r, var in enumerate(self.state_vars):
                value = var.init(self.p) if callable(var.init) else var.init
                state[r] = np.reshape(value, (-1, 1)) if np.ndim(value) else value  # per-copy: one row each

    def emit_poisson_events(self, f, acc, thr, counts):
        """The line that ends copy ``b``'s step in spike mode ``'poisson_events'``: the neurons flagged by
        :func:`compsim.rng.integrate_intensity` get their exact counts, and the spiking ones become this
        step's spike list (:func:`compsim.rng.poisson_events`). ``f``: the generated function being written."""
        own = self.owner
        return (f"{f.array(own, 'nsp')}[b] = {f.out.use(rng.poisson_events)}(step, key, {acc}, {thr}, {counts}, "
                f"{f.array(own, 'spk')}[b], {f.array(own, 'spike_draw')}[b])")

    def validate(self, dt):
        """Check parameters against the time step ``dt`` (ms); override to add checks."""

    def check_input(self, pre, target, weights, owner):
        """Check a new projection from ``pre`` into port ``target`` with ``weights`` (e.g. Dale's law);
        raise ValueError naming ``owner`` (the projection) to refuse it. Accepts everything by default."""

    def stages(self):
        """The per-step work of this population (:class:`compsim.engine.plan.Stage` objects)."""
        from .engine.stages import CollectSpikes

        return [CollectSpikes(self)]

    def checkpoint_items(self):
        """Arrays a checkpoint must keep besides those in the state store (name -> array)."""
        return {}

    def restore_items(self, items):
        """Take back what :meth:`checkpoint_items` saved."""

    def copy_params(self, b):
        """The parameters of batch copy ``b`` as plain floats."""
        return {k: float(v[b]) if isinstance(v, np.ndarray) else v for k, v in self.p.items()}

    # -- introspection ------------------------------------------------------------
    @property
    def var_names(self):
        return [v.name for v in self.state_vars]

    @property
    def port_names(self):
        return [p.name for p in self.ports]

    @property
    def event_names(self):
        return [e.name for e in self.events]

    @property
    def batch(self):
        return 1 if self.network is None else self.network.batch

    def recordable(self):
        """Names and units of the variables a state monitor can record."""
        out = {v.name: v.unit for v in self.state_vars}
        out.update({p.name: p.unit for p in self.ports})
        return out

    def port(self, name):
        for k, p in enumerate(self.ports):
            if p.name == name:
                return k, p
        raise ValueError(
            f"{type(self).__name__} '{self.name}': unknown compartment or port '{name}'; "
            f"valid targets are {self.port_names}"
        )

    def describe(self):
        """JSON-serialisable description: model, size, parameters with units."""
        def value(v):
            return v.tolist() if isinstance(v, np.ndarray) else v

        return {
            "model": type(self).__name__,
            "n": self.n,
            "params": {s.name: {"value": value(self.p[s.name]), "unit": s.unit} for s in self.params},
            "state_vars": {v.name: v.unit for v in self.state_vars},
            "ports": {p.name: p.unit for p in self.ports},
            "events": self.event_names,
        }

    # -- state access -------------------------------------------------------------
    @property
    def state(self):
        """The state array ``(n_vars, batch, n)`` owned by the network's store (None before ``add``)."""
        if self.network is None or not self.state_vars:
            return None
        return self.network.store.get(self.owner, "state")

    def _row(self, name):
        for r, var in enumerate(self.state_vars):
            if var.name == name:
                return r, var
        raise ValueError(
            f"{type(self).__name__} '{self.name}': unknown state variable '{name}'; known: {self.var_names}"
        )

    def __getitem__(self, name):
        """Current values of state variable ``name``: a view of shape (n,), or (batch, n) when batch > 1."""
        self._require_bound()
        rows = self.state[self._row(name)[0]]
        return rows[0] if self.batch == 1 else rows

    def __setitem__(self, name, value):
        """Set ``name`` from a scalar, an (n,) array (every copy) or a (batch, n) array."""
        self._require_bound()
        r, var = self._row(name)
        if var.role == "derived":
            raise ValueError(f"'{name}' of '{self.name}' is derived from inputs each step and cannot be set")
        owner = f"{type(self).__name__} '{self.name}'"
        shape = (self.batch, self.n) if np.ndim(value) == 2 else (self.n,)
        self.state[r] = check_array(name, value, shape, owner=owner, unit=var.unit)

    def set(self, **values):
        """Set several state variables at once, e.g. ``pop.set(v=-60.0)``."""
        for k, v in values.items():
            self[k] = v

    def _require_bound(self):
        if self.network is None or not self.state_vars:
            raise RuntimeError(f"{type(self).__name__} must be added to a Network before its state is accessed")


class Model(Population):
    """A neuron model: a population whose state the kernels ``derive`` / ``update`` advance each step.

    Subclasses implement :meth:`kernels` (function objects) and, if the kernels
    need more than the parameters, :meth:`constants`.
    """

    port_groups: tuple = ()

    @property
    def kernel_inputs(self):
        """The kernels' input arguments: ``(name, port indices, how)`` for each lone port (how ``None``),
        in declaration order, then for each :class:`PortGroup`."""
        grouped = {name for g in self.port_groups for name in g.ports}
        index = {p.name: q for q, p in enumerate(self.ports)}
        unknown = grouped - set(index)
        if unknown:
            raise ValueError(f"{type(self).__name__}: port group(s) name unknown port(s) {sorted(unknown)}; "
                             f"ports are {self.port_names}")
        lone = [(p.name, (q,), None) for q, p in enumerate(self.ports) if p.name not in grouped]
        return lone + [(g.name, tuple(index[n] for n in g.ports), g.how) for g in self.port_groups]

    def kernels(self, method):
        """``(derive, update)`` kernels (Numba functions) for ``method``; derive may be None."""
        raise NotImplementedError(f"{type(self).__name__} must define kernels(method)")

    def constants(self, p, dt, method):
        """Derived named constants for one copy's parameters ``p`` (dict), ``dt`` (ms) and ``method``.

        Returns a dict name -> float; the kernels read them, with the
        parameters, as fields of ``c``.
        """
        return {}

    def _declare(self, store, batch, dtype):
        super()._declare(store, batch, dtype)
        store.declare(self.owner, "first_bad", (batch,), np.int64, kind="scratch",
                      doc=f"first neuron of each copy of '{self.name}' with a non-finite state (-1: none)")

    def stages(self):
        from .engine.stages import ModelUpdate

        return [ModelUpdate(self)] + super().stages()

    def constant_names(self, dt, method):
        """Field names of the kernels' constant tuple ``c``."""
        return tuple(self._constants_of_copy(0, dt, method))

    def constant_table(self, dt, method):
        """Array (batch, n_constants) of float64: row b holds copy b's constants."""
        rows = [list(self._constants_of_copy(b, dt, method).values()) for b in range(self.batch)]
        return np.asarray(rows, dtype=np.float64)

    def _constants_of_copy(self, b, dt, method):
        p = self.copy_params(b)
        derived = self.constants(p, dt, method)
        clash = set(derived) & set(p)
        if clash:
            raise ValueError(f"{type(self).__name__}.constants: names {sorted(clash)} are parameters already")
        return {**p, **{k: float(v) for k, v in derived.items()}}

    def check_kernels(self, method):
        """Check the kernels' argument names against the declarations; returns ``(derive, update)``."""
        derive, update = self.kernels(method)
        inputs = [self.identifier(name) for name, _, _ in self.kernel_inputs]
        given = [self.identifier(v.name) for v in self.state_vars if v.role != "derived"] + inputs
        every = [self.identifier(name) for name in self.var_names] + inputs
        if derive is not None:
            _check_signature(self, "derive", derive, ("c",) + tuple(given))
        elif any(v.role == "derived" for v in self.state_vars):
            raise ValueError(f"{type(self).__name__}: declares derived variables but kernels() gives no derive kernel")
        _check_signature(self, "update", update, KERNEL_FIXED_ARGS + tuple(every))
        return derive, update

    def identifier(self, name):
        """The kernels' argument name for variable or port ``name`` (the name itself; models whose names are
        not Python identifiers, such as ``soma.v``, override this)."""
        return name

    def expected_returns(self):
        """What the update kernel returns, by name (for error messages)."""
        return [v.name for v in self.state_vars if v.role == "state"] + ["count"] + self.event_names


def _check_signature(model, role, kernel, expected):
    owner = f"{type(model).__name__} '{model.name}'"
    py_func = getattr(kernel, "py_func", None)
    if py_func is None or not callable(kernel):
        raise ValueError(f"{owner}: the {role} kernel must be a Numba @njit function, got {kernel!r}")
    if "." in py_func.__qualname__ or "<" in py_func.__qualname__:
        raise ValueError(f"{owner}: the {role} kernel {py_func.__qualname__} must be defined at module level "
                         f"(the generated loop imports it from {py_func.__module__})")
    names = list(inspect.signature(py_func).parameters)
    for k, want in enumerate(expected):
        got = names[k] if k < len(names) else None
        if got != want:
            where = f"argument {k + 1}"
            raise ValueError(
                f"{owner}: {role} kernel {py_func.__module__}.{py_func.__name__}: {where} is "
                f"{got!r}, expected {want!r}; the {role} kernel's arguments must be ({', '.join(expected)})"
            )
    if len(names) > len(expected):
        raise ValueError(
            f"{owner}: {role} kernel {py_func.__module__}.{py_func.__name__} has extra argument(s) "
            f"{names[len(expected):]}; expected ({', '.join(expected)})"
        )


def _check_param(spec, value, owner):
    value = magnitude(value, spec.unit, f"{owner}: parameter '{spec.name}'")
    if np.ndim(value) == 0:
        return check_number(spec.name, value, lo=spec.lo, lo_open=spec.lo_open, hi=spec.hi, unit=spec.unit,
                            owner=owner)
    if not spec.per_copy:
        raise ValueError(f"{owner}: parameter '{spec.name}' cannot take one value per copy (it is not per_copy)")
    values = np.asarray(value, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError(f"{owner}: parameter '{spec.name}' got an empty sequence of per-copy values")
    for x in values:
        check_number(spec.name, x, lo=spec.lo, lo_open=spec.lo_open, hi=spec.hi, unit=spec.unit, owner=owner)
    return values


def check_method(method):
    """Validate an integration method name."""
    return check_choice("method", method, METHODS)


def check_spike_mode(mode, owner):
    """Per-step spike generation: 'bernoulli' (rand < rate*dt), 'poisson' (Poisson counts, one uniform per
    neuron and step, inverted) or 'poisson_events' (the same Poisson counts by time rescaling, with random
    numbers drawn only at spikes: :func:`compsim.rng.poisson_events`)."""
    return check_choice("spike_mode", mode, ("bernoulli", "poisson", "poisson_events"), owner=owner)
