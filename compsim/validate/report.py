"""The validation report: per-variable and per-population agreement, tolerance checks, HDF5 file, figure.

File layout written by :meth:`ValidationReport.save` (read back by :func:`load_report`)::

    /                       attrs: json (run attributes, tolerances, convergence), passed (bool)
    /traces/<pop>/<var>/    t (S,) ms, neurons (K,), compsim (S, K), brian2 (S, K);
                            attrs: unit, json (errors over the run and before the first divergence)
    /spikes/<pop>/          compsim_step, compsim_i, brian2_step, brian2_i (steps from the start);
                            attrs: n, json (counts, divergence, Gamma, rates)
"""
import json
import math
import sys
from dataclasses import dataclass, field

import numpy as np


@dataclass(eq=False)
class TraceComparison:
    """One variable of one population, recorded by both engines (arrays (S, K), compsim units)."""

    population: str
    variable: str
    unit: str
    t: np.ndarray
    neurons: np.ndarray
    compsim: np.ndarray
    brian2: np.ndarray
    errors: dict  # over the whole run
    errors_before_divergence: dict  # up to the first spike divergence of the network

    @property
    def label(self):
        return f"{self.population}.{self.variable}"


@dataclass(eq=False)
class SpikeComparison:
    """Spike trains of one population in both engines (steps counted from the start of the validation)."""

    population: str
    n: int
    compsim: tuple  # (steps, neuron indices)
    brian2: tuple
    measures: dict


class _Text(str):
    """A string that shows as itself at the interactive prompt."""

    def __repr__(self):
        return str(self)


@dataclass(eq=False)
class ValidationReport:
    """Outcome of :func:`compsim.validate.against_brian2`.

    ``traces``: {(population, variable): TraceComparison}; ``spikes``:
    {population: SpikeComparison}; ``convergence``: None, or the errors at
    refined time steps when the two engines integrate with different
    methods; ``tolerances``: what :meth:`failures` checks.
    """

    attrs: dict
    traces: dict = field(default_factory=dict)
    spikes: dict = field(default_factory=dict)
    convergence: dict | None = None
    tolerances: dict = field(default_factory=dict)

    # -- verdict ------------------------------------------------------------------
    @property
    def first_divergence_ms(self):
        """Earliest time (ms from the start) at which some population's spikes differ; None if none."""
        times = [s.measures["first_divergence_ms"] for s in self.spikes.values()
                 if s.measures["first_divergence_ms"] is not None]
        return min(times) if times else None

    def failures(self, **tolerances):
        """Descriptions of every exceeded tolerance (empty: agreement). Keywords override ``self.tolerances``.

        ``rtol``: max relative error of every trace before the first spike
        divergence (None: not checked); ``spikes``: ``"identical"`` (same
        spike trains), ``"rate"`` (population rates within ``rate_tol``) or
        None; ``min_order``: minimum observed convergence order when methods differ.
        """
        tol = {**self.tolerances, **tolerances}
        out = []
        rtol = tol.get("rtol")
        if rtol is not None:
            for tr in self.traces.values():
                e = tr.errors_before_divergence
                if not e["max_rel_err"] <= rtol:
                    out.append(f"{tr.label}: max relative error {e['max_rel_err']:.3g} > rtol {rtol:g} "
                               f"(at {_fmt_ms(e['t_worst_ms'])}, neuron {e['neuron_worst']})")
        mode = tol.get("spikes")
        for sp in self.spikes.values():
            m = sp.measures
            if mode == "identical" and not m["identical"]:
                out.append(f"{sp.population}: spike trains differ from {_fmt_ms(m['first_divergence_ms'])} on "
                           f"({m['count_compsim']} compsim vs {m['count_brian2']} Brian2 spikes)")
            elif mode == "rate" and not m["rate_rel_diff"] <= tol.get("rate_tol", 0.05):
                out.append(f"{sp.population}: rates differ by {100 * m['rate_rel_diff']:.2f} % "
                           f"> {100 * tol.get('rate_tol', 0.05):g} % ({m['rate_compsim_hz']:.3f} vs "
                           f"{m['rate_brian2_hz']:.3f} Hz)")
        if self.convergence is not None and tol.get("min_order") is not None:
            for label, order in self.convergence["order"].items():
                if label in self.convergence.get("roundoff", ()):
                    continue
                if order is None or not order >= tol["min_order"]:
                    shown = "undetermined" if order is None else f"{order:.2f}"
                    out.append(f"{label}: observed convergence order {shown} < {tol['min_order']:g}")
        return out

    @property
    def passed(self):
        """True when no tolerance is exceeded."""
        return not self.failures()

    # -- text ---------------------------------------------------------------------
    def summary(self):
        """Table of errors and spike agreement, tolerances and verdict (a string)."""
        a = self.attrs
        lines = [
            f"compsim {a.get('compsim_version', '?')} vs Brian2 {a.get('brian2_version', '?')} ({a.get('target')} target): "
            f"{a.get('n_steps')} steps of {a.get('dt_ms')} ms ({a.get('duration_ms'):g} ms) from t = {a.get('t0_ms'):g} ms",
            f"methods: compsim {a.get('compsim_method')}; Brian2 "
            + ", ".join(f"{k}: {v}" for k, v in (a.get("brian2_methods") or {}).items()),
        ]
        if a.get("perturb"):
            lines.append(f"Brian2 parameters perturbed: {a['perturb']}")
        if self.traces:
            lines.append(f"  {'trace':<24} {'max abs err':>12} {'max rel err':>12}  {'worst at':<24} "
                         f"{'rel err before div.':>19}")
            for tr in self.traces.values():
                e, p = tr.errors, tr.errors_before_divergence
                where = f"{_fmt_ms(e['t_worst_ms'])} (#{e['neuron_worst']})"
                lines.append(f"  {tr.label + ' [' + tr.unit + ']':<24} {e['max_abs_err']:>12.3g} "
                             f"{e['max_rel_err']:>12.3g}  {where:<24} {p['max_rel_err']:>19.3g}")
        if self.spikes:
            lines.append(f"  {'spikes':<12} {'compsim':>8} {'Brian2':>8} {'diff':>6} {'identical':>9} "
                         f"{'first divergence':>16} {'Gamma':>6} {'rate (Hz)':>9} {'rate diff':>9}")
            for sp in self.spikes.values():
                m = sp.measures
                gamma = "-" if m["gamma"] is None else f"{m['gamma']:.3f}"
                div = "-" if m["first_divergence_ms"] is None else _fmt_ms(m["first_divergence_ms"])
                lines.append(f"  {sp.population:<12} {m['count_compsim']:>8} {m['count_brian2']:>8} "
                             f"{m['count_diff']:>6} {'yes' if m['identical'] else 'NO':>9} {div:>16} {gamma:>6} "
                             f"{m['rate_brian2_hz']:>9.3f} {100 * m['rate_rel_diff']:>8.2f}%")
        if self.convergence is not None:
            c = self.convergence
            lines.append(f"convergence (compsim {c['compsim_method']} vs Brian2 {c['brian2_method']}; "
                         f"expected order {c['expected_order']}):")
            lines.append(f"  {'dt (ms)':<24} " + " ".join(f"{d:>10.4g}" for d in c["dt_ms"]) + "   order")
            for label, errs in c["errors"].items():
                order = c["order"][label]
                shown = "rounding" if label in c.get("roundoff", ()) else "-" if order is None else f"{order:.2f}"
                lines.append(f"  {label:<24} " + " ".join(f"{x:>10.3g}" for x in errs) + f"   {shown}")
        t = self.tolerances
        lines.append(f"tolerances: rtol {t.get('rtol')} (traces before the first divergence), spikes "
                     f"{t.get('spikes')}" + (f" (rates within {100 * t['rate_tol']:g} %)" if t.get("spikes") == "rate"
                                             else "")
                     + (f", convergence order >= {t['min_order']}" if self.convergence is not None else ""))
        tm = a.get("timings", {})
        if tm:
            lines.append("time: " + ", ".join(f"{k} {v:.2f} s" for k, v in tm.items()))
        fails = self.failures()
        lines.append("result: PASS" if not fails else "result: FAIL")
        lines += [f"  - {f}" for f in fails]
        return _Text("\n".join(lines))

    def __repr__(self):
        return self.summary()

    # -- files --------------------------------------------------------------------
    def save(self, path):
        """Write the report with both engines' traces and spikes to an HDF5 file."""
        import h5py

        with h5py.File(path, "w") as f:
            f.attrs["json"] = json.dumps({"attrs": self.attrs, "tolerances": self.tolerances,
                                          "convergence": self.convergence}, default=_json_default)
            f.attrs["passed"] = self.passed
            for tr in self.traces.values():
                g = f.require_group("traces").require_group(tr.population).create_group(tr.variable)
                g["t"], g["neurons"] = tr.t, tr.neurons
                g.create_dataset("compsim", data=tr.compsim, compression="gzip", shuffle=True)
                g.create_dataset("brian2", data=tr.brian2, compression="gzip", shuffle=True)
                g.attrs["unit"] = tr.unit
                g.attrs["json"] = json.dumps({"errors": tr.errors, "before_divergence": tr.errors_before_divergence})
            for sp in self.spikes.values():
                g = f.require_group("spikes").create_group(sp.population)
                g["compsim_step"], g["compsim_i"] = sp.compsim
                g["brian2_step"], g["brian2_i"] = sp.brian2
                g.attrs["n"] = sp.n
                g.attrs["json"] = json.dumps(sp.measures, default=_json_default)
        return path

    def plot(self, path=None, *, max_traces=4, max_neurons=20):
        """Overlay figure: traces of the worst neuron, error over time, rasters, convergence; saved to ``path``."""
        import matplotlib

        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        traces = list(self.traces.values())[:max_traces]
        spikes = list(self.spikes.values())[:3]
        rows = len(traces) + (1 if spikes else 0) + (1 if self.convergence else 0)
        fig, axes = plt.subplots(max(rows, 1), 2, figsize=(12, 2.6 * max(rows, 1)), squeeze=False)
        r = 0
        for tr in traces:
            ax, ax_err = axes[r]
            k = int(np.flatnonzero(tr.neurons == tr.errors["neuron_worst"])[0]) if tr.errors["neuron_worst"] is not None else 0
            ax.plot(tr.t, tr.compsim[:, k], lw=1.2, label="compsim")
            ax.plot(tr.t, tr.brian2[:, k], lw=1.0, ls="--", label="Brian2")
            ax.set_ylabel(f"{tr.label} [{tr.unit}]")
            ax.set_title(f"{tr.label}, neuron {tr.neurons[k]}", fontsize=9)
            ax.legend(fontsize=8, loc="upper right")
            err = np.abs(tr.compsim - tr.brian2).max(axis=1)
            ax_err.semilogy(tr.t, np.maximum(err, 1e-18), lw=0.8, color="C3")
            ax_err.set_ylabel(f"max |error| [{tr.unit}]")
            ax_err.set_title(f"{tr.label}: max abs {tr.errors['max_abs_err']:.2g}, "
                             f"max rel {tr.errors['max_rel_err']:.2g}", fontsize=9)
            r += 1
        if spikes:
            ax, ax_txt = axes[r]
            offset = 0
            dt = self.attrs["dt_ms"]
            t0 = self.attrs["t0_ms"]
            for m, sp in enumerate(spikes):
                shown = min(sp.n, max_neurons)
                for who, (steps, idx), style in (("compsim", sp.compsim, dict(marker="|", s=30)),
                                                 ("Brian2", sp.brian2, dict(marker="o", s=8, facecolors="none"))):
                    sel = idx < shown
                    ax.scatter(t0 + steps[sel] * dt, idx[sel] + offset, color=f"C{2 * m + (who == 'Brian2')}",
                               label=f"{sp.population} {who}", linewidths=0.8, **style)
                offset += shown + 2
            div = self.first_divergence_ms
            if div is not None:
                ax.axvline(t0 + div, color="k", ls=":", lw=1, label="first divergence")
            ax.set_ylabel("neuron")
            ax.set_xlabel("t (ms)")
            ax.set_title("spikes (first neurons of each population)", fontsize=9)
            ax.legend(fontsize=7, loc="upper right", ncol=2)
            ax_txt.axis("off")
            lines = [f"{tr.label}: max abs err {tr.errors['max_abs_err']:.3g}, max rel err {tr.errors['max_rel_err']:.3g}"
                     for tr in self.traces.values()]
            for sp in self.spikes.values():
                m = sp.measures
                agree = "identical" if m["identical"] else f"diverge at {_fmt_ms(m['first_divergence_ms'])}"
                gamma = "-" if m["gamma"] is None else f"{m['gamma']:.3f}"
                lines.append(f"{sp.population}: {m['count_compsim']} vs {m['count_brian2']} spikes, {agree}, "
                             f"Gamma {gamma}, rates {100 * m['rate_rel_diff']:.2f} % apart")
            fails = self.failures()
            lines += ["", "result: PASS" if not fails else "result: FAIL"] + [f"  {f}" for f in fails[:4]]
            ax_txt.text(0.0, 0.5, "\n".join(lines), fontsize=8, va="center", family="monospace", wrap=True)
            r += 1
        if self.convergence:
            ax, ax_txt = axes[r]
            c = self.convergence
            dts = np.asarray(c["dt_ms"])
            shown = {label: e for label, e in c["errors"].items() if c["order"][label] is not None}
            for label, errs in shown.items():
                ax.loglog(dts, errs, "o-", label=f"{label} (order {c['order'][label]:.2f})")
            ref = np.asarray(list(shown.values())[0]) if shown else None
            if ref is not None and ref[0] > 0:
                ax.loglog(dts, ref[0] * (dts / dts[0]) ** c["expected_order"], "k:", label=f"order {c['expected_order']}")
            ax.set_xlabel("dt (ms)")
            ax.set_ylabel("max |compsim - Brian2|")
            ax.legend(fontsize=8)
            ax.set_title(f"compsim {c['compsim_method']} vs Brian2 {c['brian2_method']}", fontsize=9)
            ax_txt.axis("off")
        fig.suptitle(f"compsim vs Brian2: {self.attrs.get('duration_ms'):g} ms, dt = {self.attrs.get('dt_ms')} ms",
                     fontsize=11)
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=110)
            plt.close(fig)
            return path
        return fig


def load_report(path):
    """Read a report written by :meth:`ValidationReport.save`."""
    import h5py

    with h5py.File(path, "r") as f:
        meta = json.loads(f.attrs["json"])
        report = ValidationReport(meta["attrs"], convergence=meta["convergence"], tolerances=meta["tolerances"])
        for pop, g in f.get("traces", {}).items():
            for var, h in g.items():
                extra = json.loads(h.attrs["json"])
                report.traces[(pop, var)] = TraceComparison(
                    pop, var, str(h.attrs["unit"]), h["t"][()], h["neurons"][()], h["compsim"][()], h["brian2"][()],
                    extra["errors"], extra["before_divergence"])
        for pop, g in f.get("spikes", {}).items():
            report.spikes[pop] = SpikeComparison(pop, int(g.attrs["n"]), (g["compsim_step"][()], g["compsim_i"][()]),
                                                 (g["brian2_step"][()], g["brian2_i"][()]), json.loads(g.attrs["json"]))
    return report


def _fmt_ms(t):
    return "-" if t is None else f"{t:g} ms"


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in a validation report")


def print_summary(report, file=sys.stdout):
    """Print ``report.summary()``."""
    print(report.summary(), file=file)
