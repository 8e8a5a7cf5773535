"""compsim network -> Brian2 network, built from a :class:`~compsim.validate.capture.Capture`.

Nothing is written twice: every model population becomes a ``NeuronGroup``
from its model's :meth:`brian2_model` dict, every projection a ``Synapses``
object with the same (pre, post) pairs, weights and delay, every spike source
a ``SpikeGeneratorGroup`` that replays exactly the spikes compsim drew.

The ``brian2_model()`` dict of a model (see ``models/lif.py``,
``models/segregated.py``)::

    equations   Brian2 equations with units; each port of the model (e.g. ge,
                basal) appears as a plain name, defined here
    threshold   threshold condition or None
    reset       reset statements or None
    refractory  refractory period (Quantity) or False
    namespace   parameters as Brian2 quantities
    units       compsim variable / port name -> Brian2 unit of compsim's numbers
                (mV, nS, ..., or 1); default 1
    variables   optional: compsim name (variable or port) -> Brian2 name to compare
                it with (default: the same name)
    initial     optional: f(values, dt_ms) -> {Brian2 variable: Quantity array},
                the Brian2 state for compsim's state ``values`` (dict of arrays
                in compsim units); the default sets every non-derived compsim
                variable of the same name
    noise       optional: {TimedArray name: draw index k}: frozen noise,
                ``name(t, i)`` is the uniform compsim draws for neuron i at step t/dt
    before_threshold  optional: statements run after the state update and before
                the threshold of every step (e.g. drawing a spike count)
    spike_count optional: name of a variable holding the number of spikes a
                neuron emits in its (single) Brian2 spike event; synapses then
                add ``w * count`` (compsim's Poisson-count spiking)
    methods     optional: compsim method -> Brian2 method

How projections map (per postsynaptic group, per projection ``r``)::

    cs_r : unit,  cs_r_post = w * p_pre : unit (summed)  graded (rate) projection, Instantaneous
    dcs_r/dt = -cs_r/tau : unit                           Exponential(tau)
    dcs_r/dt = -cs_r/tau_decay, dcs_r_rise/dt = -cs_r_rise/tau_rise
                                                          DoubleExponential
    port = cs_a + (cs_b - cs_b_rise)*c_b + ... : unit     sum over projections
    on_pre: cs_r_post += w  (and cs_r_rise_post += w),    delay = delay_steps * dt

A projection's trace is a per-postsynaptic-neuron variable: the kernels are
linear, so the sum of per-synapse traces that a Brian2 ``(summed)`` variable
would carry equals one trace per neuron that each spike increments by its
weight, at the cost of one state variable per neuron instead of per synapse.
Brian2's default schedule (groups, thresholds, synapses) gives compsim's
timing: a jump emitted in step s is seen by the state update of step
s + 1 + delay_steps. Delayed jumps in flight when the validation starts (a
network that ran before) are added at the start of the step they are due.

Brian2 is imported inside the functions only: ``import compsim`` never
imports it.
"""
import copy
import time
from dataclasses import dataclass, field

import numpy as np

METHODS = {"euler": "euler", "exponential_euler": "exponential_euler", "exact": "exponential_euler"}


def require_brian2():
    """Import Brian2 or explain how to install it."""
    try:
        import brian2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "compsim.validate needs Brian2: pip install 'compsim[validate]' (Brian2 2.9 needs NumPy < 2.4)"
        ) from exc
    return brian2


def model_spec(population, perturb=None):
    """The model's ``brian2_model()`` dict with defaults filled in; ``perturb`` {param: factor} scales parameters."""
    if not callable(getattr(population, "brian2_model", None)):
        raise NotImplementedError(
            f"{type(population).__name__} '{population.name}' has no brian2_model(): add one (see "
            "compsim.validate.bridge) to validate it against Brian2"
        )
    if perturb:
        population = copy.copy(population)
        population.p = dict(population.p)
        for name, factor in perturb.items():
            if name not in population.p:
                raise ValueError(f"perturb: {type(population).__name__} has no parameter '{name}'; "
                                 f"parameters: {sorted(population.p)}")
            population.p[name] = population.p[name] * float(factor)
    spec = dict(population.brian2_model())
    for key in ("equations", "namespace"):
        if key not in spec:
            raise ValueError(f"{type(population).__name__}.brian2_model() lacks '{key}'")
    spec.setdefault("threshold", None)
    spec.setdefault("reset", None)
    spec.setdefault("refractory", False)
    spec.setdefault("units", {})
    spec.setdefault("variables", {})
    spec.setdefault("initial", None)
    spec.setdefault("noise", {})
    spec["methods"] = {**METHODS, **spec.get("methods", {})}
    return spec


def unit_name(unit):
    """Name of the Brian2 base unit of ``unit`` for an equation (``volt``, ``siemens``, ``1``)."""
    b2 = require_brian2()
    from brian2.units.fundamentalunits import DIMENSIONLESS

    dim = b2.get_dimensions(unit)
    return "1" if dim is DIMENSIONLESS else repr(b2.get_unit(dim))


def unit_value(unit):
    """SI value of one compsim unit (mV -> 1e-3)."""
    return float(unit)


def trace_names(proj):
    """Brian2 names of a projection's trace variables (decay first, as in compsim's trace array)."""
    base = f"cs_{proj.index}"
    return [base] if proj.synapse.n_traces == 1 else [base, f"{base}_rise"]


@dataclass
class Replica:
    """The Brian2 network and what it records."""

    network: object
    dt_s: float
    groups: dict  # population name -> (group, layers)
    state_monitors: dict  # population name -> (StateMonitor, {compsim var: (Brian2 var, SI value of unit)})
    spike_monitors: dict  # population name -> (SpikeMonitor, name of its spike-count variable or None)
    methods: dict  # population name -> Brian2 method
    target: str
    build_s: float = 0.0
    timings: dict = field(default_factory=dict)


def build(cap, *, method=None, target="numpy", perturb=None):
    """Build the Brian2 replica of a captured compsim network.

    ``method``: Brian2 integration method for every group (default: the
    model's equivalent of compsim's method). ``target``: Brian2 code
    generation target (``numpy`` or ``cython``). ``perturb``:
    {population: {parameter: factor}} applied to the Brian2 side only (to
    check that a validation detects a wrong parameter).
    """
    b2 = require_brian2()
    t_start = time.perf_counter()
    if target not in ("numpy", "cython"):
        raise ValueError(f"validate: parameter 'target' must be 'numpy' or 'cython', got {target!r}")
    if b2.get_device().__class__.__name__ != "RuntimeDevice":
        raise RuntimeError("validate: Brian2's device must be the runtime device (not cpp_standalone)")
    perturb = dict(perturb or {})
    names = {p.name for p in cap.populations}
    unknown = set(perturb) - names
    if unknown:
        raise ValueError(f"perturb: unknown population(s) {sorted(unknown)}; populations are {sorted(names)}")
    dt = cap.dt * b2.ms
    objects, groups, specs, methods = [], {}, {}, {}
    state_monitors, spike_monitors = {}, {}
    pending = []  # (step offset, variable, group, values) of jumps in flight
    for pop in cap.populations:
        if pop.kind == "model":
            spec = specs[pop.name] = model_spec(pop.population, perturb.get(pop.name))
            group, m = _neuron_group(b2, cap, pop, spec, dt, method)
            groups[pop.name] = (group, 1)
            methods[pop.name] = m
        elif pop.kind == "activity":  # fixed graded activities (ActivitySource)
            name = pop.population.activity
            group = b2.NeuronGroup(pop.n, f"{name} : 1", dt=dt)
            setattr(group, name, pop.values[name])
            groups[pop.name] = (group, 1)
        else:
            groups[pop.name] = _generator(b2, cap, pop, dt)
        objects.append(groups[pop.name][0])
    for proj in cap.projections:
        objects.append(_synapses(b2, cap, proj, groups, specs, dt))
        post, _ = groups[proj.post]
        unit = specs[proj.post]["units"].get(proj.target, 1)
        if proj.activity is not None:  # a (summed) variable, recomputed every step
            continue
        for name, k in zip(trace_names(proj), range(proj.trace.shape[0])):
            setattr(post, name, proj.trace[k] * unit)
            for s in range(proj.delay_steps + 1):
                slot = proj.ring[(cap.step0 + s) % proj.ring.shape[0]]
                if np.any(slot != 0.0):
                    pending.append((s, name, post, slot * unit_value(unit)))
    if pending:
        objects.append(_pending_jumps(b2, pending, dt))
    for pop in cap.populations:
        group, _ = groups[pop.name]
        if pop.name in cap.record:
            spec = specs[pop.name]
            wanted = {v: (spec["variables"].get(v, v), unit_value(spec["units"].get(v, 1)))
                      for v in cap.record[pop.name]}
            graded = {j.target for j in cap.projections if j.post == pop.name and j.activity is not None}
            for v, (b2name, _) in wanted.items():
                if v in graded:
                    raise ValueError(f"validate: port '{pop.name}.{v}' is fed by graded projections, whose Brian2 "
                                     "(summed) value a monitor sees one step late; compare the state it drives")
                if b2name is None or b2name not in group.variables:
                    raise ValueError(f"validate: '{pop.name}.{v}' has no Brian2 counterpart in "
                                     f"{type(pop.population).__name__}.brian2_model()")
            mon = b2.StateMonitor(group, [b for b, _ in wanted.values()], record=cap.neurons[pop.name], dt=dt)
            state_monitors[pop.name] = (mon, wanted)
            objects.append(mon)
        if pop.kind == "model" and pop.spiking and specs[pop.name]["threshold"] is not None:
            count = specs[pop.name].get("spike_count")
            mon = b2.SpikeMonitor(group, variables=[count]) if count else b2.SpikeMonitor(group)
            spike_monitors[pop.name] = (mon, count)
            objects.append(spike_monitors[pop.name][0])
    net = b2.Network(*objects)
    return Replica(net, float(dt), groups, state_monitors, spike_monitors, methods, target,
                   build_s=time.perf_counter() - t_start)


def _neuron_group(b2, cap, pop, spec, dt, method):
    model = pop.population
    lines = [spec["equations"]]
    namespace = dict(spec["namespace"])
    incoming = [j for j in cap.projections if j.post == pop.name]
    for port in model.ports:
        unit = spec["units"].get(port.name, 1)
        uname = unit_name(unit)
        terms = []
        for proj in (j for j in incoming if j.target == port.name):
            tnames = trace_names(proj)
            instantaneous = not hasattr(proj.synapse, "taus")
            if (proj.activity is not None) != instantaneous:
                raise NotImplementedError(f"validate: projection {proj.pre} -> {proj.post} combines "
                                          f"{'graded' if proj.activity else 'spike'} transmission with "
                                          f"{type(proj.synapse).__name__}(); Brian2 replicas exist for graded + "
                                          "Instantaneous and spikes + filtering kernels")
            if proj.activity is not None:  # graded: set by the synapses' (summed) variable
                lines.append(f"{tnames[0]} : {uname}")
                terms.append(tnames[0])
                continue
            for name, tau in zip(tnames, proj.synapse.taus):
                lines.append(f"d{name}/dt = -{name} / tau_{name} : {uname}")
                namespace[f"tau_{name}"] = tau * b2.ms
            if len(tnames) == 2:
                namespace[f"coef_{tnames[0]}"] = float(proj.synapse.output_coefficient())
                terms.append(f"({tnames[0]} - {tnames[1]}) * coef_{tnames[0]}")
            else:
                terms.append(tnames[0])
        bname = spec["variables"].get(port.name, port.name)  # e.g. soma.ge -> soma_ge
        lines.append(f"{bname} = {' + '.join(terms)} : {uname}" if terms else f"{bname} : {uname} (constant)")
    for name, k in spec["noise"].items():
        namespace[name] = b2.TimedArray(cap.uniforms(pop.name, k), dt=dt)
    m = method or spec["methods"].get(cap.method, cap.method)
    reset = spec["reset"]
    if reset is None and spec["threshold"] is not None:
        reset = ""  # spiking without reset (stochastic somas): no Brian2 warning
    group = b2.NeuronGroup(pop.n, "\n".join(lines), threshold=spec["threshold"], reset=reset,
                           refractory=spec["refractory"], method=m, namespace=namespace, dt=dt)
    if spec.get("before_threshold"):  # Brian2's schedule: groups, thresholds, synapses, resets
        group.run_regularly(spec["before_threshold"], when="before_thresholds", dt=dt)
    values = pop.values
    roles = {v.name: v.role for v in model.state_vars}
    for name, role in roles.items():
        if role != "derived" and spec["variables"].get(name, name) == name and name in group.variables \
                and not group.variables[name].read_only:  # a Brian2 subexpression follows from the others
            setattr(group, name, values[name] * spec["units"].get(name, 1))
    if spec["initial"] is not None:
        for name, value in spec["initial"](values, cap.dt).items():
            setattr(group, name, value)
    return group, m


def _generator(b2, cap, pop, dt):
    """SpikeGeneratorGroup replaying the source's spikes; k spikes in one step use k layers of n neurons."""
    steps, idx = cap.spikes.get(pop.name, (np.zeros(0, np.int64), np.zeros(0, np.int64)))
    layer = np.zeros(idx.size, dtype=np.int64)
    if idx.size:
        key = steps * pop.n + idx
        order = np.argsort(key, kind="stable")
        sk = key[order]
        start = np.r_[0, np.flatnonzero(np.diff(sk)) + 1]
        rank = np.arange(sk.size) - np.repeat(start, np.diff(np.r_[start, sk.size]))
        layer[order] = rank
    layers = int(layer.max()) + 1 if idx.size else 1
    group = b2.SpikeGeneratorGroup(pop.n * layers, idx + layer * pop.n, steps * dt, dt=dt, sorted=False)
    return group, layers


def _synapses(b2, cap, proj, groups, specs, dt):
    pre, layers = groups[proj.pre]
    post, _ = groups[proj.post]
    unit = specs[proj.post]["units"].get(proj.target, 1)
    uname = unit_name(unit)
    if proj.activity is not None:  # graded: the weighted sum of the presynaptic activities, every step
        if proj.delay_steps:
            raise NotImplementedError(f"validate: graded projection {proj.pre} -> {proj.post} has a delay; Brian2's "
                                      "(summed) variables have none")
        model = f"w : {uname}\n{trace_names(proj)[0]}_post = w * {proj.activity}_pre : {uname} (summed)"
        # the presynaptic activity may be a subexpression: its constants come from the presynaptic group
        syn = b2.Synapses(pre, post, model=model, dt=dt, namespace=dict(pre.namespace or {}))
    else:
        count = specs[proj.pre].get("spike_count") if proj.pre in specs else None
        jump = f"w * {count}_pre" if count else "w"
        on_pre = "\n".join(f"{name}_post += {jump}" for name in trace_names(proj))
        kwargs = {"delay": proj.delay_steps * dt} if proj.delay_steps else {}
        syn = b2.Synapses(pre, post, model=f"w : {uname}", on_pre=on_pre, dt=dt, namespace={}, **kwargs)
    n_pre = cap.population(proj.pre).n
    i = np.concatenate([proj.pre_idx + k * n_pre for k in range(layers)])
    j = np.tile(proj.post_idx, layers)
    if i.size:
        syn.connect(i=i, j=j)
        syn.w = np.tile(proj.weights, layers) * unit
    return syn


def _pending_jumps(b2, pending, dt):
    """Adds the jumps that were in compsim's delay rings at the start of the step they are due."""
    def add(t):
        k = int(round(float(t / dt)))
        for s, name, group, values in pending:
            if s == k:
                setattr(group, name + "_", getattr(group, name + "_")[:] + values)
    return b2.NetworkOperation(add, dt=dt, when="start", order=-1)


def run(replica, n_steps):
    """Run the replica for ``n_steps`` steps; returns (traces, spikes) in compsim's units and layout."""
    b2 = require_brian2()
    t0 = time.perf_counter()
    with np.errstate(all="ignore"):  # 0/0 of exponential Euler in refractory neurons is computed, not written
        replica.network.run(n_steps * replica.dt_s * b2.second, namespace={})
    replica.timings["run_s"] = time.perf_counter() - t0
    traces = {}
    for name, (mon, wanted) in replica.state_monitors.items():
        for v, (b2name, scale) in wanted.items():
            traces[(name, v)] = np.asarray(getattr(mon, b2name + "_"), dtype=np.float64).T / scale
    spikes = {}
    for name, (mon, count) in replica.spike_monitors.items():
        steps = np.rint(np.asarray(mon.t_) / replica.dt_s).astype(np.int64)
        idx = np.asarray(mon.i[:], dtype=np.int64)
        if count:  # one event per neuron and step, carrying the spike count
            counts = np.rint(np.asarray(getattr(mon, count))).astype(np.int64)
            steps, idx = np.repeat(steps, counts), np.repeat(idx, counts)
        spikes[name] = (steps, idx)
    return traces, spikes


def build_and_run(cap, *, method=None, target="numpy", perturb=None):
    """Build and run the Brian2 replica of ``cap`` with Brian2's code generation ``target``."""
    b2 = require_brian2()
    saved = b2.prefs.codegen.target
    b2.prefs.codegen.target = target
    try:
        replica = build(cap, method=method, target=target, perturb=perturb)
        traces, spikes = run(replica, cap.n_steps)
    finally:
        b2.prefs.codegen.target = saved
    return replica, traces, spikes
