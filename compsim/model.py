"""Declarative description of neuron models: parameters, state variables, synaptic ports.

A model is a small class that *declares* what it has and points to two pure
per-neuron kernels compiled by Numba (the design of Jaxley's channels and
Brian2's equations, reduced to what a compiled time-stepper needs). Kernels
take and return scalars only, never arrays, so that they inline into the
generated loop without reference counting and compile unchanged as CUDA
device functions:

``derive(par, *values, *inputs) -> derived values``
    optional; the variables with role ``"derived"`` (e.g. dendritic
    potentials) from this step's synaptic inputs, before recording; it
    receives the non-derived values only.
``update(i, step, key, par, *values, *inputs) -> (*new state values, count)``
    advances neuron ``i`` by one step ``dt``; returns the new values of the
    variables with role ``"state"`` and the neuron's spike count for the
    step, or -1 when its state became non-finite.

``values`` are the neuron's variables in declaration order, ``inputs`` the
summed synaptic input of each port at the start of the step, in declaration
order; ``par`` is a tuple of float64 constants precomputed for ``dt`` and
the integration method (index it with constants; it is read into registers
once per step); ``key`` is the population's random stream key
(:mod:`compsim.rng`). The population's state is a 2-D array (n_vars, n) in
the network's dtype: struct of arrays, one contiguous row per variable.
"""
from dataclasses import dataclass

import numpy as np

from .checks import check_array, check_choice, check_count, check_number

METHODS = ("euler", "exponential_euler", "exact")


@dataclass(frozen=True)
class Param:
    """A scalar model parameter with its unit, default and allowed range."""

    name: str
    default: float
    unit: str
    doc: str
    lo: float | None = None
    lo_open: bool = False
    hi: float | None = None


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


class Population:
    """Something that can be added to a :class:`~compsim.Network`: ``n`` units with state.

    Subclasses set ``params``, ``state_vars`` and ``ports`` (tuples of
    :class:`Param`, :class:`Var`, :class:`Port`).
    """

    params: tuple = ()
    state_vars: tuple = ()
    ports: tuple = ()
    kind = "model"
    spiking = True  # False for populations that emit no spikes (rate or steady-state models)

    def __init__(self, n, *, name=None, **params):
        self.n = check_count("n", n, owner=type(self).__name__)
        self.name = name
        known = {p.name: p for p in self.params}
        unknown = set(params) - set(known)
        if unknown:
            raise ValueError(
                f"{type(self).__name__}: unknown parameter(s) {sorted(unknown)}; known parameters are {sorted(known)}"
            )
        self.p = {}
        for spec in self.params:
            value = params.get(spec.name, spec.default)
            self.p[spec.name] = check_number(
                spec.name, value, lo=spec.lo, lo_open=spec.lo_open, hi=spec.hi, unit=spec.unit,
                owner=type(self).__name__,
            )
        self.network = None
        self.index = None
        self.state = None

    # -- called by the network --------------------------------------------------
    def _bind(self, network, index, name):
        self.network = network
        self.index = index
        self.name = name
        dtype = network.dtype
        self.state = np.empty((len(self.state_vars), self.n), dtype=dtype)
        for r, var in enumerate(self.state_vars):
            self.state[r] = var.init(self.p) if callable(var.init) else var.init
        self.validate(network.dt)

    def validate(self, dt):
        """Check parameters against the time step ``dt`` (ms); override to add checks."""

    # -- introspection ------------------------------------------------------------
    @property
    def var_names(self):
        return [v.name for v in self.state_vars]

    @property
    def port_names(self):
        return [p.name for p in self.ports]

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
        return {
            "model": type(self).__name__,
            "kind": self.kind,
            "n": self.n,
            "params": {s.name: {"value": self.p[s.name], "unit": s.unit} for s in self.params},
            "state_vars": {v.name: v.unit for v in self.state_vars},
            "ports": {p.name: p.unit for p in self.ports},
        }

    # -- state access -------------------------------------------------------------
    def _row(self, name):
        for r, var in enumerate(self.state_vars):
            if var.name == name:
                return r, var
        raise ValueError(
            f"{type(self).__name__} '{self.name}': unknown state variable '{name}'; known: {self.var_names}"
        )

    def __getitem__(self, name):
        """Current values of state variable ``name`` (a view; shape (n,))."""
        self._require_bound()
        return self.state[self._row(name)[0]]

    def __setitem__(self, name, value):
        self._require_bound()
        r, var = self._row(name)
        if var.role == "derived":
            raise ValueError(f"'{name}' of '{self.name}' is derived from inputs each step and cannot be set")
        self.state[r] = check_array(name, value, (self.n,), owner=f"{type(self).__name__} '{self.name}'")

    def set(self, **values):
        """Set several state variables at once, e.g. ``pop.set(v=-60.0)``."""
        for k, v in values.items():
            self[k] = v

    def _require_bound(self):
        if self.state is None:
            raise RuntimeError(f"{type(self).__name__} must be added to a Network before its state is accessed")

    # -- kernels ------------------------------------------------------------------
    def constants(self, dt, method):
        """The kernels' constants ``par`` (a float64 vector, passed to kernels as a tuple) for ``dt`` and ``method``."""
        raise NotImplementedError

    def kernels(self, method):
        """``(derive, update)`` kernel references as ``"module:function"`` strings (derive may be None)."""
        raise NotImplementedError


def check_method(method):
    """Validate an integration method name."""
    return check_choice("method", method, METHODS)


def check_spike_mode(mode, owner):
    """Per-step spike generation: 'bernoulli' (rand < rate*dt) or 'poisson' (Poisson counts)."""
    return check_choice("spike_mode", mode, ("bernoulli", "poisson"), owner=owner)
