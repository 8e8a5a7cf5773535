"""``against_brian2``: run a network in compsim and in Brian2 from the same state with the same inputs, and compare."""
import inspect
import time

import numpy as np

from .. import __version__
from ..network import Network
from . import bridge, compare
from .capture import capture
from .report import SpikeComparison, TraceComparison, ValidationReport

#: observed minus expected convergence order that still passes
ORDER_SLACK = 0.3
#: errors below ROUNDOFF * max |value| at every dt are rounding: no order to observe
ROUNDOFF = 1e-12
#: orders of the methods (compsim's are both first order: inputs frozen over a step)
ORDERS = {"euler": 1, "exponential_euler": 1, "milstein": 1, "heun": 2, "rk2": 2, "rk4": 4, "linear": np.inf,
          "exact": np.inf, "independent": np.inf}


def against_brian2(net, duration, record=None, *, neurons=None, method=None, target="numpy", rtol="auto",
                   spikes="auto", rate_tol=0.05, refine=None, perturb=None, window_steps=1):
    """Simulate ``net`` with compsim and with Brian2 and compare them.

    Parameters
    ----------
    net : compsim.Network or callable
        The network, or a function building it (``build()``; with ``refine``,
        ``build(dt=...)``). A network is deep-copied first: it is never run
        or modified, it may already have monitors and may have run before
        (the validation starts from its current state and time). Every
        spiking population gets a spike monitor in the copy.
    duration : float
        Simulated time (ms).
    record : dict, optional
        ``{population: variable or [variables]}`` to compare (state
        variables or ports). Default: every state and derived variable of
        every model population.
    neurons : dict, optional
        ``{population: indices}`` of the recorded neurons; default all, or
        256 spread over larger populations.
    method : str, optional
        Brian2 integration method (default: the model's equivalent of the
        network's method, so both engines integrate alike). With another
        method, errors are expected to shrink with dt: see ``refine``.
    target : {'numpy', 'cython'}
        Brian2 code generation target.
    rtol : float, None or 'auto'
        Largest relative trace error before the first spike divergence
        ('auto': 1e-9 for float64 networks, 1e-4 for float32, with the
        same method; None with different methods).
    spikes : {'identical', 'rate', None, 'auto'}
        Spike criterion ('auto': identical with the same method, else None).
    rate_tol : float
        Largest relative difference of population rates for ``spikes='rate'``.
    refine : sequence of int, optional
        With different methods: dt divisors of a convergence study (e.g.
        ``(1, 2, 4)``, the default then if ``net`` is a builder taking ``dt``);
        the report gives the error at each dt and the observed order.
    perturb : dict, optional
        ``{population: {parameter: factor}}`` applied to the Brian2 model
        only: shows that the comparison catches a wrong parameter.
    window_steps : int
        Coincidence window (steps) of the Gamma factor.

    Returns
    -------
    ValidationReport

    Notes
    -----
    Memory: the frozen noise of a stochastic population is held as an array
    of n_steps x n float64 numbers, and each recorded variable as two arrays
    of n_steps x K; validate large or long networks on a subset of neurons
    (``neurons``) and durations of seconds, not minutes.
    """
    if not (isinstance(net, Network) or callable(net)):
        raise ValueError(f"against_brian2: 'net' must be a Network or a function returning one, got {type(net).__name__}")
    if spikes not in ("auto", "identical", "rate", None):
        raise ValueError(f"against_brian2: 'spikes' must be 'identical', 'rate', None or 'auto', got {spikes!r}")
    if refine and (isinstance(net, Network) or "dt" not in _parameters(net)):
        raise ValueError("against_brian2: 'refine' needs a function build(dt=...) that builds the network "
                         "for a given time step")
    b2 = bridge.require_brian2()
    t_start = time.perf_counter()
    cap = capture(net, duration, record, neurons)
    replica, b2_traces, b2_spikes = bridge.build_and_run(cap, method=method, target=target, perturb=perturb)
    report = _report(cap, replica, b2_traces, b2_spikes, window_steps)
    native = {name: _native_method(cap, name, perturb) for name in replica.methods}
    same = all(replica.methods[name] == native[name] for name in replica.methods)
    float32 = cap.dtype == "float32"
    report.tolerances = {
        "rtol": (1e-4 if float32 else 1e-9) if rtol == "auto" and same else (None if rtol == "auto" else rtol),
        "spikes": ("identical" if same else None) if spikes == "auto" else spikes,
        "rate_tol": float(rate_tol),
        "min_order": None,
    }
    report.attrs.update(
        compsim_version=__version__, brian2_version=b2.__version__, target=target, same_method=same,
        perturb={k: dict(v) for k, v in (perturb or {}).items()} or None,
        timings={"compsim_run_s": cap.run_s, "brian2_build_s": replica.build_s,
                 "brian2_run_s": replica.timings.get("run_s", 0.0)},
    )
    if not same:
        builder = None if isinstance(net, Network) else net
        if refine is None and builder is not None and "dt" in _parameters(builder):
            refine = (1, 2, 4)
        if refine:
            b2_method = sorted(set(replica.methods.values()))[0] if len(set(replica.methods.values())) == 1 \
                else ", ".join(sorted(set(replica.methods.values())))
            report.convergence = _convergence(report, builder, duration, record, neurons, method, target, perturb,
                                              refine, cap, b2_method)
            report.tolerances["min_order"] = report.convergence["expected_order"] - ORDER_SLACK
    report.attrs["timings"]["total_s"] = time.perf_counter() - t_start
    return report


def _parameters(fn):
    try:
        return inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}


def _native_method(cap, name, perturb):
    spec = bridge.model_spec(cap.population(name).population, (perturb or {}).get(name))
    return spec["methods"].get(cap.method, cap.method)


def _report(cap, replica, b2_traces, b2_spikes, window_steps):
    dt = cap.dt
    attrs = {
        "dt_ms": dt, "n_steps": cap.n_steps, "duration_ms": cap.n_steps * dt, "t0_ms": cap.step0 * dt,
        "step0": cap.step0, "seed": cap.seed, "dtype": cap.dtype, "compsim_method": cap.method,
        "brian2_methods": dict(replica.methods),
    }
    report = ValidationReport(attrs)
    for name in replica.spike_monitors:
        pop = cap.population(name)
        a, b = cap.spikes[name], b2_spikes[name]
        report.spikes[name] = SpikeComparison(name, pop.n, a, b,
                                              compare.spike_agreement(a, b, pop.n, cap.n_steps, dt, window_steps))
    div = report.first_divergence_ms
    until = None if div is None else int(round(div / dt)) + 1  # samples up to the diverging step are unaffected
    t = (cap.step0 + np.arange(cap.n_steps)) * dt
    for (name, var), a in cap.traces.items():
        b = b2_traces[(name, var)]
        idx = cap.neurons[name]
        report.traces[(name, var)] = TraceComparison(
            name, var, cap.units.get((name, var), ""), t, idx, a, b,
            compare.trace_errors(a, b, dt, idx), compare.trace_errors(a, b, dt, idx, until_step=until))
    return report


def _convergence(report, builder, duration, record, neurons, method, target, perturb, refine, cap0, b2_method):
    """Errors between the engines at dt / f for each f in ``refine``, at the coarse sample times."""
    factors = sorted({int(f) for f in refine})
    if factors[0] < 1:
        raise ValueError(f"against_brian2: 'refine' must hold integers >= 1, got {refine}")
    dt0 = cap0.dt
    errors = {tr.label: [] for tr in report.traces.values()}
    scale = {tr.label: float(np.nanmax(np.abs(tr.brian2))) if tr.brian2.size else 0.0 for tr in report.traces.values()}
    for f in factors:
        if f == 1:
            rep = report
        else:
            cap = capture(lambda f=f: builder(dt=dt0 / f), duration, record, neurons)
            replica, b2_traces, b2_spikes = bridge.build_and_run(cap, method=method, target=target, perturb=perturb)
            rep = _report(cap, replica, b2_traces, b2_spikes, 1)
        div = rep.first_divergence_ms
        until = None if div is None else int(round(div / rep.attrs["dt_ms"])) + 1
        for tr in rep.traces.values():
            a, b = tr.compsim[:until][::f], tr.brian2[:until][::f]
            errors[tr.label].append(float(np.abs(a - b).max()) if a.size else float("nan"))
    b2_order = ORDERS.get(b2_method, 1)
    expected = int(min(1, b2_order))
    # variables on which both methods agree to rounding at every dt (e.g. traces both integrate exactly)
    roundoff = [label for label, e in errors.items() if max(e) <= ROUNDOFF * max(scale[label], 1e-300)]
    return {
        "compsim_method": cap0.method, "brian2_method": b2_method, "factors": factors,
        "dt_ms": [dt0 / f for f in factors], "errors": errors,
        "order": {label: None if label in roundoff else compare.convergence_order([dt0 / f for f in factors], e)
                  for label, e in errors.items()},
        "expected_order": expected, "roundoff": roundoff,
    }
