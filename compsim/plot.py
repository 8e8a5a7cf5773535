"""Figures of recorded results: voltage traces, spike rasters, population rates.

Every function takes either a monitor object (:class:`~compsim.results.StateTrace`,
:class:`~compsim.results.SpikeTrain`, :class:`~compsim.results.PopulationRate`)
or a :class:`~compsim.results.Results` plus a monitor name, e.g.
``raster(res.spikes["hid_spikes"])`` or ``raster(res, "hid_spikes")``. The
name may be left out when the results hold a single monitor of the needed
kind. Every function returns the Figure it drew into, takes a time
``window`` (only that part is read from a file) and draws the results' time
markers (a protocol's image or phase starts) and, for a run that did not
finish, where it ended. Nothing here calls ``plt.show``; :func:`summary_figures`
does not use pyplot at all, so it works with any backend.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from compsim.checks import check_choice, check_number
from compsim.results import PopulationRate, Results, SpikeTrain, StateTrace

DPI = 150
N_DEFAULT_NEURONS = 10  # traces drawn when no neurons are given (spread over the recorded ones)
MAX_MARKER_LABELS = 12  # more markers than this in view: lines without labels
FORMATS = ("png", "pdf", "svg")


@dataclass
class _Context:
    """What the Results around a monitor say: simulated time, whether the run finished, time markers."""

    t_end: float | None = None
    complete: bool = True
    markers: list = field(default_factory=list)


def _pick(source, name, kinds):
    """Return (monitor, _Context) from a monitor or from Results plus a name.

    ``kinds`` maps a Results attribute ("state", "spikes", "rates") to the
    accepted monitor class, in order of preference.
    """
    classes = tuple(kinds.values())
    if isinstance(source, classes):
        if name is not None:
            raise ValueError("parameter 'name' is only used with a Results object")
        return source, _Context()
    if not isinstance(source, Results):
        accepted = ", ".join(c.__name__ for c in classes)
        raise TypeError(f"expected Results or one of {accepted}, got {type(source).__name__}")
    context = _Context(source.attrs.get("t_end_ms") or None, bool(source.attrs.get("complete", True)),
                       list(source.markers))
    if name is not None:
        if not isinstance(name, str):
            raise TypeError(f"parameter 'name' must be a monitor name (str), got {type(name).__name__}; "
                            "pass ax and other options by keyword")
        for attr in kinds:
            if name in getattr(source, attr):
                return getattr(source, attr)[name], context
        known = [m for attr in kinds for m in getattr(source, attr)]
        raise ValueError(f"parameter 'name': no {'/'.join(kinds)} monitor named {name!r}; available: {known}")
    for attr in kinds:
        found = getattr(source, attr)
        if len(found) == 1:
            return next(iter(found.values())), context
        if len(found) > 1:
            raise ValueError(f"parameter 'name' is required: the results hold several {attr} "
                             f"monitors {list(found)}")
    raise ValueError(f"the results hold no {'/'.join(kinds)} monitor")


def _window(window):
    """``(start_ms, stop_ms)`` from ``window`` (None: everything; either end may be None)."""
    if window is None:
        return None, None
    try:
        start, stop = window
    except (TypeError, ValueError):
        raise ValueError(f"parameter 'window' must be (start_ms, stop_ms), got {window!r}") from None
    start = None if start is None else check_number("window[0]", start, lo=0.0, unit="ms")
    stop = None if stop is None else check_number("window[1]", stop, lo=0.0, unit="ms")
    if start is not None and stop is not None and stop <= start:
        raise ValueError(f"parameter 'window' must have stop > start, got {window!r}")
    return start, stop


def _new_figure(nrows=1, height_ratios=None):
    """A new pyplot figure, 7 in wide, with one row of axes per panel (shared time axis)."""
    import matplotlib.pyplot as plt

    height = 1.2 + 1.8 * nrows if nrows > 1 else 4
    fig, axes = plt.subplots(nrows, 1, sharex=True, squeeze=False, figsize=(7, height),
                             gridspec_kw={"height_ratios": height_ratios} if height_ratios else None)
    return fig, list(axes[:, 0])


def _axes(ax, count, what):
    """``count`` Axes from the user's ``ax`` (one Axes or a sequence)."""
    axes = list(np.atleast_1d(ax).ravel())
    if len(axes) != count:
        raise ValueError(f"parameter 'ax' must hold {count} Axes ({what}), got {len(axes)}")
    return axes


def _decorate(axes, context, start, stop, markers):
    """Time limits, marker lines (labelled when few), and the end of an unfinished run."""
    end = stop if stop is not None else context.t_end
    for a in axes:
        a.set_xlim(start or 0.0, end if end else None)
    lo, hi = axes[0].get_xlim()
    shown = [(t, label) for t, label in context.markers if lo <= t <= hi] if markers else []
    for a in axes:
        if shown:
            a.vlines([t for t, _ in shown], 0, 1, transform=a.get_xaxis_transform(), colors="0.55", lw=0.6,
                     linestyles=":", zorder=0.5)
        if not context.complete and context.t_end is not None and lo <= context.t_end <= hi:
            a.axvline(context.t_end, color="C3", lw=1, ls="--")
    if 0 < len(shown) <= MAX_MARKER_LABELS:
        for t, label in shown:
            axes[0].annotate(label, (t, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -2),
                             textcoords="offset points", fontsize="x-small", color="0.35", va="top", rotation=90)


def _title(text, context, copy, batch):
    suffix = "" if context.complete else f" [incomplete run: ends at {context.t_end or 0:g} ms]"
    return f"{text}{_copy_label(copy, batch)}{suffix}"


def voltage_traces(source, name=None, *, neurons=None, vars=None, window=None, markers=True, ax=None, copy=0):
    """Plot recorded state variables over time, one panel per variable (e.g. per compartment).

    Parameters
    ----------
    source : StateTrace or Results
        The trace, or results holding it (then give ``name``).
    name : str, optional
        State monitor name when ``source`` is a Results object.
    neurons : sequence of int, optional
        Population indices to plot; they must have been recorded (default:
        up to 10 recorded neurons, spread over them; the title says how many).
    vars : str or sequence of str, optional
        Variables to plot (default: all recorded variables).
    window : (start_ms, stop_ms), optional
        Time window; only that part is read from a file.
    markers : bool
        Draw the results' time markers (e.g. image or phase starts).
    ax : matplotlib Axes or sequence of Axes, optional
        One Axes per variable; by default a new figure is created.
    copy : int
        Batch copy to draw when the monitor has a batch axis (default 0); the title names it.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn into (also when ``ax`` is given).
    """
    trace, context = _pick(source, name, {"state": StateTrace})
    variables = trace.vars if vars is None else [vars] if isinstance(vars, str) else list(vars)
    unknown = [v for v in variables if v not in trace.vars]
    if not variables or unknown:
        raise ValueError(f"parameter 'vars' must name recorded variables {trace.vars}, got {variables}")
    if neurons is None:
        count = min(N_DEFAULT_NEURONS, trace.neurons.size)
        neurons = trace.neurons[np.linspace(0, trace.neurons.size - 1, count).round().astype(int)] if count else []
    start, stop = _window(window)
    part = trace.window(start, stop, neurons=neurons)
    axes = _new_figure(len(variables))[1] if ax is None else _axes(ax, len(variables), "one per variable")
    batch = 1
    for a, var in zip(axes, variables):
        values = part[var]
        batch = values.shape[1] if values.ndim == 3 else 1
        values = _one_copy(values, copy, 3)
        for k, nid in enumerate(part.neurons):
            a.plot(part.t, values[:, k], lw=1, label=f"neuron {nid}")
        unit = trace.units.get(var, "")
        a.set_ylabel(f"{var} ({unit})" if unit not in ("", "1") else var)  # "1": dimensionless, no unit
    axes[-1].set_xlabel("time (ms)")
    _decorate(axes, context, start, stop, markers)
    shown = f"{part.neurons.size} of {trace.neurons.size} recorded neurons"
    axes[0].set_title(_title(f"population {trace.population}: {', '.join(variables)} ({shown})", context, copy, batch))
    if part.neurons.size <= 10:
        axes[0].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig = axes[0].figure
    if ax is None:
        fig.tight_layout()
    return fig


def raster(source, name=None, *, neurons=None, window=None, rate_panel=False, bin_ms=5.0, markers=True, ax=None,
           max_points=200_000, copy=0):
    """Spike raster: neuron index against spike time in ms, optionally with the population rate beneath.

    Parameters
    ----------
    source : SpikeTrain or Results
        The spikes, or results holding them (then give ``name``).
    name : str, optional
        Spike monitor name when ``source`` is a Results object.
    neurons : sequence of int, optional
        Neurons to draw (default: all).
    window : (start_ms, stop_ms), optional
        Time window; only that part is read from a file.
    rate_panel : bool
        Add a panel beneath with the population rate of the drawn neurons (``bin_ms`` bins).
    markers : bool
        Draw the results' time markers (e.g. image or phase starts).
    ax : matplotlib Axes (two with ``rate_panel``), optional
        Axes to draw into; by default a new figure is created.
    max_points : int
        At most this many spikes are drawn; larger trains are thinned to
        every k-th spike, which the title reports.
    copy : int
        Batch copy to draw when the monitor has a batch axis (default 0); the title names it.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn into (also when ``ax`` is given).
    """
    train, context = _pick(source, name, {"spikes": SpikeTrain})
    if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 1:
        raise ValueError(f"parameter 'max_points' must be an integer >= 1, got {max_points!r}")
    start, stop = _window(window)
    batch = train.batch
    part = train.window(start, stop, neurons=neurons)
    if batch > 1:
        part = part.of_copy(copy)
    n_drawn = train.n if neurons is None else np.unique(np.atleast_1d(neurons)).size
    step = max(1, math.ceil(part.count() / max_points))
    shown = math.ceil(part.count() / step)
    panels = 2 if rate_panel else 1
    if ax is None:
        fig, axes = _new_figure(panels, [3, 1] if rate_panel else None)
        if rate_panel:
            fig.set_size_inches(7, 5.5)
    else:
        axes = _axes(ax, panels, "raster and rate panel" if rate_panel else "the raster")
    if n_drawn <= 100:  # one tick per spike, tall enough to see the rows
        style = {"marker": "|", "markersize": 4}
    else:  # dots whose size shrinks with the number of spikes, so dense rasters keep contrast
        style = {"marker": ".", "markeredgewidth": 0,
                 "markersize": float(np.clip(np.sqrt(2e4 / max(shown, 1)), 0.5, 3.0))}
    axes[0].plot(part.t[::step], part.i[::step], linestyle="none", color="k", rasterized=shown > 10_000, **style)
    drawn = np.atleast_1d(neurons) if neurons is not None else np.array([0, train.n - 1])
    axes[0].set_ylim(drawn.min() - 0.5, drawn.max() + 0.5)
    axes[0].set_ylabel("neuron index")
    if rate_panel:
        left, rate = part.binned_rate(bin_ms, stop if stop is not None else context.t_end)
        rate = rate * train.n / n_drawn  # per drawn neuron
        _draw_rate(axes[1], left[left >= (start or 0.0)], rate[left >= (start or 0.0)], bin_ms, stop or context.t_end)
        axes[1].set_ylabel("rate (Hz)")
    axes[-1].set_xlabel("time (ms)")
    _decorate(axes, context, start, stop, markers)
    thinned = f", 1 in {step} shown" if step > 1 else ""
    axes[0].set_title(_title(f"population {train.population}: {part.count()} spikes from {n_drawn} neurons{thinned}",
                             context, copy, batch))
    if ax is None:
        axes[0].figure.tight_layout()
    return axes[0].figure


def _draw_rate(ax, left, rate, bin_ms, end):
    """Stairs of a binned rate (Hz) with bins starting at ``left``."""
    if not left.size:
        return
    right = min(left[-1] + bin_ms, end) if end else left[-1] + bin_ms
    edges = np.append(left, right)
    ax.stairs(rate, edges, color="C0", fill=True, alpha=0.35)
    ax.stairs(rate, edges, color="C0", lw=1)
    ax.set_ylim(bottom=0)


def population_rate(source, name=None, *, bin_ms=5.0, window=None, markers=True, ax=None, copy=0):
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
    window : (start_ms, stop_ms), optional
        Time window; only that part is read from a file.
    markers : bool
        Draw the results' time markers (e.g. image or phase starts).
    ax : matplotlib Axes, optional
        Axes to draw into; by default a new figure is created.
    copy : int
        Batch copy to draw when the monitor has a batch axis (default 0); the title names it.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn into (also when ``ax`` is given).
    """
    mon, context = _pick(source, name, {"rates": PopulationRate, "spikes": SpikeTrain})
    start, stop = _window(window)
    mon = mon.window(start, stop)
    batch = mon.counts.shape[1] if isinstance(mon, PopulationRate) and mon.counts.ndim == 2 else getattr(mon, "batch", 1)
    if isinstance(mon, SpikeTrain) and batch > 1:
        mon = mon.of_copy(copy)
    if isinstance(mon, PopulationRate):
        left, rate = mon.rate_hz(bin_ms)
        rate = _one_copy(rate, copy, 2)
        end = mon.t[-1] + mon.dt if mon.t.size else None
    else:
        left, rate = mon.binned_rate(bin_ms, stop if stop is not None else context.t_end)
        keep = left >= (start or 0.0)
        left, rate = left[keep], rate[keep]
        end = stop if stop is not None else context.t_end
    ax = _new_figure()[1][0] if ax is None else _axes(ax, 1, "the rate")[0]
    _draw_rate(ax, left, rate, bin_ms, end)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("rate (Hz)")
    if context.t_end is None:  # a bare monitor: its data say where it ends
        context = _Context(end, context.complete, context.markers)
    _decorate([ax], context, start, stop, markers)
    ax.set_title(_title(f"population {mon.population}: firing rate ({bin_ms:g} ms bins, n = {mon.n})",
                        context, copy, batch))
    if len(ax.figure.axes) == 1:
        ax.figure.tight_layout()
    return ax.figure


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


def _file_name(prefix, name, kind, fmt):
    """``<prefix><name>_<kind>.<fmt>``, without doubling a kind the monitor's name ends with (``hid_rate.png``)."""
    stem = name if name.endswith(f"_{kind}") else f"{name}_{kind}"
    return f"{prefix}{stem}.{fmt}"


def summary_figures(results, outdir, prefix="", copy=0, *, neurons=None, window=None, fmt="png"):
    """Write figures of every monitor.

    One traces figure per state monitor (``<prefix><name>_traces.<fmt>``),
    one raster with the population rate beneath per spike monitor
    (``<prefix><name>_raster.<fmt>``) and one rate figure per rate monitor
    (``<prefix><name>.<fmt>`` for a monitor named ``*_rate``), at 150 dpi for PNG.

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
    neurons : sequence of int, optional
        Neurons to draw in traces (those recorded) and rasters.
    window : (start_ms, stop_ms), optional
        Time window of every figure.
    fmt : {'png', 'pdf', 'svg'}
        File format.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    if not isinstance(results, Results):
        raise TypeError(f"parameter 'results' must be a Results object, got {type(results).__name__}")
    check_choice("fmt", fmt, FORMATS)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, trace in results.state.items():
        nvars = len(trace.vars)
        fig = Figure(figsize=(7, 1.2 + 1.8 * nvars))
        recorded = None if neurons is None else [n for n in np.atleast_1d(neurons) if n in set(trace.neurons.tolist())]
        voltage_traces(results, name, ax=fig.subplots(nvars, 1, sharex=True, squeeze=False)[:, 0], copy=copy,
                       neurons=recorded or None, window=window)
        paths.append(_save(fig, outdir / _file_name(prefix, name, "traces", fmt)))
    for name in results.spikes:
        fig = Figure(figsize=(7, 5.5))
        raster(results, name, ax=fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]}),
               copy=copy, neurons=neurons, window=window, rate_panel=True)
        paths.append(_save(fig, outdir / _file_name(prefix, name, "raster", fmt)))
    for name in results.rates:
        fig = Figure(figsize=(7, 3))
        population_rate(results, name, ax=fig.subplots(), copy=copy, window=window)
        paths.append(_save(fig, outdir / _file_name(prefix, name, "rate", fmt)))
    return paths
