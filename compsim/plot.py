"""Figures of recorded results: voltage traces, spike rasters, population rates.

Every function takes either a monitor object (:class:`~compsim.results.StateTrace`,
:class:`~compsim.results.SpikeTrain`, :class:`~compsim.results.PopulationRate`)
or a :class:`~compsim.results.Results` plus a monitor name, e.g.
``raster(res.spikes["hid_spikes"])`` or ``raster(res, "hid_spikes")``. The
name may be left out when the results hold a single monitor of the needed
kind. Nothing here calls ``plt.show``; :func:`summary_figures` does not use
pyplot at all, so it works with any backend.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from compsim.results import PopulationRate, Results, SpikeTrain, StateTrace

DPI = 150
N_DEFAULT_NEURONS = 5


def _pick(source, name, kinds):
    """Return (monitor, t_end_ms or None) from a monitor or from Results plus a name.

    ``kinds`` maps a Results attribute ("state", "spikes", "rates") to the
    accepted monitor class, in order of preference.
    """
    classes = tuple(kinds.values())
    if isinstance(source, classes):
        if name is not None:
            raise ValueError("parameter 'name' is only used with a Results object")
        return source, None
    if not isinstance(source, Results):
        accepted = ", ".join(c.__name__ for c in classes)
        raise TypeError(f"expected Results or one of {accepted}, got {type(source).__name__}")
    t_end = source.attrs.get("t_end_ms") or None
    if name is not None:
        if not isinstance(name, str):
            raise TypeError(f"parameter 'name' must be a monitor name (str), got {type(name).__name__}; "
                            "pass ax and other options by keyword")
        for attr in kinds:
            if name in getattr(source, attr):
                return getattr(source, attr)[name], t_end
        known = [m for attr in kinds for m in getattr(source, attr)]
        raise ValueError(f"parameter 'name': no {'/'.join(kinds)} monitor named {name!r}; available: {known}")
    for attr in kinds:
        found = getattr(source, attr)
        if len(found) == 1:
            return next(iter(found.values())), t_end
        if len(found) > 1:
            raise ValueError(f"parameter 'name' is required: the results hold several {attr} "
                             f"monitors {list(found)}")
    raise ValueError(f"the results hold no {'/'.join(kinds)} monitor")


def _new_axes(nrows=1):
    """Axes of a new pyplot figure: one row per panel, 7 in wide."""
    import matplotlib.pyplot as plt

    height = 1.2 + 1.8 * nrows if nrows > 1 else 4
    fig, axes = plt.subplots(nrows, 1, sharex=True, squeeze=False, figsize=(7, height))
    return list(axes[:, 0])


def voltage_traces(source, name=None, *, neurons=None, vars=None, ax=None, copy=0):
    """Plot recorded state variables over time, one panel per variable (e.g. per compartment).

    Parameters
    ----------
    source : StateTrace or Results
        The trace, or results holding it (then give ``name``).
    name : str, optional
        State monitor name when ``source`` is a Results object.
    neurons : sequence of int, optional
        Population indices to plot; they must have been recorded
        (default: the first 5 recorded neurons).
    vars : str or sequence of str, optional
        Variables to plot (default: all recorded variables).
    ax : matplotlib Axes or sequence of Axes, optional
        One Axes per variable; by default a new figure is created.
    copy : int
        Batch copy to draw when the monitor has a batch axis (default 0); the title names it.

    Returns
    -------
    matplotlib.figure.Figure
    """
    trace, _ = _pick(source, name, {"state": StateTrace})
    variables = trace.vars if vars is None else [vars] if isinstance(vars, str) else list(vars)
    unknown = [v for v in variables if v not in trace.values]
    if not variables or unknown:
        raise ValueError(f"parameter 'vars' must name recorded variables {trace.vars}, got {variables}")
    column = {int(nid): k for k, nid in enumerate(trace.neurons)}
    if neurons is None:
        cols = list(range(min(N_DEFAULT_NEURONS, trace.neurons.size)))
    else:
        missing = [int(nid) for nid in np.atleast_1d(neurons) if int(nid) not in column]
        if missing:
            raise ValueError(f"parameter 'neurons': neurons {missing} were not recorded by monitor "
                             f"{trace.name!r}")
        cols = [column[int(nid)] for nid in np.atleast_1d(neurons)]
    axes = _new_axes(len(variables)) if ax is None else list(np.atleast_1d(ax).ravel())
    if len(axes) != len(variables):
        raise ValueError(f"parameter 'ax' must hold one Axes per variable ({len(variables)}), got {len(axes)}")
    for a, var in zip(axes, variables):
        values = _one_copy(trace.values[var], copy, 3)
        for k in cols:
            a.plot(trace.t, values[:, k], lw=1, label=f"neuron {trace.neurons[k]}")
        unit = trace.units.get(var, "")
        a.set_ylabel(f"{var} ({unit})" if unit not in ("", "1") else var)  # "1": dimensionless, no unit
    axes[-1].set_xlabel("time (ms)")
    batch = trace.values[variables[0]].shape[1] if trace.values[variables[0]].ndim == 3 else 1
    axes[0].set_title(f"population {trace.population}: {', '.join(variables)}{_copy_label(copy, batch)}")
    if len(cols) <= 10:
        axes[0].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig = axes[0].figure
    if ax is None:
        fig.tight_layout()
    return fig


def raster(source, name=None, *, ax=None, max_points=200_000, copy=0):
    """Spike raster: neuron index against spike time in ms.

    Parameters
    ----------
    source : SpikeTrain or Results
        The spikes, or results holding them (then give ``name``).
    name : str, optional
        Spike monitor name when ``source`` is a Results object.
    ax : matplotlib Axes, optional
        Axes to draw into; by default a new figure is created.
    max_points : int
        At most this many spikes are drawn; larger trains are thinned to
        every k-th spike, which the title reports.
    copy : int
        Batch copy to draw when the monitor has a batch axis (default 0); the title names it.

    Returns
    -------
    matplotlib Axes
    """
    train, t_end = _pick(source, name, {"spikes": SpikeTrain})
    batch = train.batch
    if batch > 1:
        train = train.of_copy(copy)
    if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 1:
        raise ValueError(f"parameter 'max_points' must be an integer >= 1, got {max_points!r}")
    step = max(1, math.ceil(train.count() / max_points))
    shown = math.ceil(train.count() / step)
    new = ax is None
    ax = _new_axes()[0] if new else ax
    if train.n <= 100:  # one tick per spike, tall enough to see the rows
        style = {"marker": "|", "markersize": 4}
    else:  # dots whose size shrinks with the number of spikes, so dense rasters keep contrast
        style = {"marker": ".", "markeredgewidth": 0,
                 "markersize": float(np.clip(np.sqrt(2e4 / max(shown, 1)), 0.5, 3.0))}
    ax.plot(train.t[::step], train.i[::step], linestyle="none", color="k",
            rasterized=shown > 10_000, **style)
    ax.set_xlim(0, t_end if t_end else None)
    ax.set_ylim(-0.5, train.n - 0.5)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron index")
    thinned = f", 1 in {step} shown" if step > 1 else ""
    ax.set_title(f"population {train.population}: {train.count()} spikes from {train.n} neurons{thinned}"
                 f"{_copy_label(copy, batch)}")
    if new:
        ax.figure.tight_layout()
    return ax


def population_rate(source, name=None, *, bin_ms=5.0, ax=None, copy=0):
    """Population firing rate in Hz (mean per neuron) against time in ms.

    Parameters
    ----------
    source : PopulationRate, SpikeTrain or Results
        Per-step spike counts or spikes, or results holding them (then give
        ``name``, or nothing if the results have one rate monitor, or no
        rate monitor and one spike monitor).
    name : str, optional
        Rate or spike monitor name when ``source`` is a Results object.
    bin_ms : float
        Bin width in ms (rounded to whole steps for a PopulationRate).
    ax : matplotlib Axes, optional
        Axes to draw into; by default a new figure is created.
    copy : int
        Batch copy to draw when the monitor has a batch axis (default 0); the title names it.

    Returns
    -------
    matplotlib Axes
    """
    mon, t_end = _pick(source, name, {"rates": PopulationRate, "spikes": SpikeTrain})
    batch = mon.counts.shape[1] if isinstance(mon, PopulationRate) and mon.counts.ndim == 2 else getattr(mon, "batch", 1)
    if isinstance(mon, SpikeTrain) and batch > 1:
        mon = mon.of_copy(copy)
    if isinstance(mon, PopulationRate):
        left, rate = mon.rate_hz(bin_ms)
        rate = _one_copy(rate, copy, 2)
        end = mon.t[-1] + mon.dt if mon.t.size else 0.0
    else:
        left, rate = mon.binned_rate(bin_ms, t_end)
        end = min(left[-1] + bin_ms, t_end or math.inf) if left.size else 0.0
    new = ax is None
    ax = _new_axes()[0] if new else ax
    if left.size:
        ax.stairs(rate, np.append(left, end), color="C0", fill=True, alpha=0.35)
        ax.stairs(rate, np.append(left, end), color="C0", lw=1)
    ax.set_xlim(0, t_end if t_end else (end or None))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("rate (Hz)")
    ax.set_title(f"population {mon.population}: firing rate ({bin_ms:g} ms bins, n = {mon.n})"
                 f"{_copy_label(copy, batch)}")
    if new:
        ax.figure.tight_layout()
    return ax


def _one_copy(values, copy, batched_ndim):
    """Copy ``copy`` of an array with a batch axis at position 1 (``batched_ndim`` dimensions), else as is."""
    if values.ndim != batched_ndim:
        return values
    if not 0 <= copy < values.shape[1]:
        raise ValueError(f"parameter 'copy' must be in 0..{values.shape[1] - 1}, got {copy}")
    return values[:, copy]


def _copy_label(copy, batch):
    return f" (copy {copy} of {batch})" if batch > 1 else ""


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    return path


def summary_figures(results, outdir, prefix="", copy=0):
    """Write PNG figures of every monitor.

    One traces figure per state monitor (``<prefix><name>_traces.png``), one
    raster per spike monitor (``<prefix><name>_raster.png``) and one rate
    figure per rate monitor, or per spike monitor of a population without a
    rate monitor (``<prefix><name>_rate.png``), at 150 dpi.

    Parameters
    ----------
    results : Results
        Recorded or loaded results.
    outdir : str or os.PathLike
        Output directory, created if missing.
    prefix : str
        Prepended to every file name.
    copy : int
        Batch copy to draw for monitors with a batch axis (default 0).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    if not isinstance(results, Results):
        raise TypeError(f"parameter 'results' must be a Results object, got {type(results).__name__}")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, trace in results.state.items():
        nvars = len(trace.vars)
        fig = Figure(figsize=(7, 1.2 + 1.8 * nvars))
        voltage_traces(results, name, ax=fig.subplots(nvars, 1, sharex=True, squeeze=False)[:, 0], copy=copy)
        paths.append(_save(fig, outdir / f"{prefix}{name}_traces.png"))
    rate_populations = {r.population for r in results.rates.values()}
    rate_sources = list(results.rates)
    for name, train in results.spikes.items():
        fig = Figure(figsize=(7, 4))
        raster(results, name, ax=fig.subplots(), copy=copy)
        paths.append(_save(fig, outdir / f"{prefix}{name}_raster.png"))
        if train.population not in rate_populations:
            rate_sources.append(name)
    for name in rate_sources:
        fig = Figure(figsize=(7, 3))
        population_rate(results, name, ax=fig.subplots(), copy=copy)
        paths.append(_save(fig, outdir / f"{prefix}{name}_rate.png"))
    return paths
