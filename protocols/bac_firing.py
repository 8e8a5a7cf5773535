"""BAC firing (backpropagating action-potential-activated calcium spike firing), after Larkum, Zhu & Sakmann
(1999), Nature 398:338-341, Figure 1.

A reduced layer-5 pyramidal cell of three compartments (:func:`bac_cell`):
a Hodgkin-Huxley soma, a passive apical trunk and a distal tuft with an
excitatory synaptic conductance (``tuft.epsp``, 5 ms) and a calcium-like
plateau (:class:`compsim.models.channels.CalciumPlateau`: threshold -40 mV,
30 ms, 10 nS towards +50 mV). Stimuli as in the paper's Figure 1:

* **distal input alone**: one EPSP in the tuft (conductance jump of 20 nS at
  ``distal_ms``): the tuft depolarises by ~14 mV, the soma by a few mV;
* **somatic spike alone**: a 3-ms current step of 1.5 nA into the soma at
  ``somatic_ms`` gives one action potential, which backpropagates through the
  trunk and reaches the tuft attenuated (~20 mV);
* **both within a few ms**: the backpropagating action potential and the EPSP
  sum above the plateau threshold in the tuft; the plateau depolarises the
  soma for tens of ms, which answers with a burst of action potentials.

The parameters are chosen to give the three regimes of the paper (not fitted to
its recordings); the window of coincidence is ~5 ms on either side (the bAP is
brief), as in the paper. Integration: ``exact`` (the tree solved implicitly),
dt = 0.025 ms.

    python -m compsim.protocols.bac_firing [--figure docs/bac_firing.png]
"""
import argparse
import sys
from dataclasses import dataclass

import numpy as np

import compsim as cs
from compsim.models import Compartment, Morphology, channels

DT = 0.025
SOMATIC_STEP_PA, SOMATIC_STEP_MS = 1500.0, 3.0
DISTAL_WEIGHT_NS = 20.0


def bac_cell():
    """Soma (HH, 200 pF), trunk (100 pF, 100 nS to the soma), tuft (100 pF, 50 nS to the trunk)."""
    return Morphology(
        soma=Compartment(C_m=200.0, g_l=10.0, E_l=-65.0, channels=[
            channels.HHSodium(g_max=20000.0, E=50.0, V_T=-58.0), channels.HHPotassium(g_max=6000.0, E=-90.0, V_T=-58.0)]),
        trunk=Compartment(parent="soma", g_c=100.0, C_m=100.0, g_l=5.0, E_l=-65.0),
        tuft=Compartment(parent="trunk", g_c=50.0, C_m=100.0, g_l=5.0, E_l=-65.0, channels=[
            channels.Synapse("epsp", E=0.0, tau=5.0),
            channels.CalciumPlateau(threshold=-40.0, duration=30.0, g=10.0, E=50.0, refractory=50.0)]))


@dataclass
class Trial:
    """One stimulus condition: somatic spike count, number of plateaus, time (ms) and potentials (mV)."""

    label: str
    spikes: int
    plateaus: int
    t: np.ndarray
    soma: np.ndarray
    tuft: np.ndarray


def run_trial(distal_ms=None, somatic_ms=None, *, duration=200.0, label=""):
    """The cell's response to a distal EPSP at ``distal_ms`` and/or a somatic current step at ``somatic_ms``."""
    net = cs.Network(dt=DT, method="exact")
    times = [] if distal_ms is None else [distal_ms]
    distal = net.add(cs.SpikeTrainSource(1, [0] * len(times), times), name="distal")
    pyr = net.add(bac_cell().population(1, threshold=("soma", -20.0), refractory=2.0, currents=["soma"]), name="pyr")
    net.connect(distal, pyr, "tuft.epsp", DISTAL_WEIGHT_NS)
    net.record(pyr, ["soma.v", "tuft.v"], name="v")
    net.record_spikes(pyr, name="spikes")
    net.record_events(pyr, "tuft.plateau", name="plateaus")
    if somatic_ms is not None:
        net.run(somatic_ms)
        pyr["soma.I_ext"] = SOMATIC_STEP_PA
        net.run(SOMATIC_STEP_MS)
        pyr["soma.I_ext"] = 0.0
        res = net.run(duration - somatic_ms - SOMATIC_STEP_MS)
    else:
        res = net.run(duration)
    v = res.state["v"]
    return Trial(label, res.spikes["spikes"].count(), res.spikes["plateaus"].count(), np.asarray(v.t),
                 v["soma.v"][:, 0], v["tuft.v"][:, 0])


def protocol(interval_ms=5.0, onset_ms=50.0):
    """The paper's three conditions, plus the pair ``40 ms`` apart: list of :class:`Trial`."""
    return [run_trial(distal_ms=onset_ms, label="distal input alone"),
            run_trial(somatic_ms=onset_ms, label="somatic spike alone"),
            run_trial(distal_ms=onset_ms + interval_ms, somatic_ms=onset_ms,
                      label=f"both, EPSP {interval_ms:g} ms after"),
            run_trial(distal_ms=onset_ms + 40.0, somatic_ms=onset_ms, label="both, EPSP 40 ms after")]


def figure(trials, path):
    """Somatic (black) and distal (red) potentials per condition, as in Larkum et al. 1999, Figure 1."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.2 * len(trials), 3.4))
    axes = fig.subplots(1, len(trials), sharey=True)
    for ax, trial in zip(axes, trials):
        ax.plot(trial.t, trial.soma, color="k", lw=1, label="soma")
        ax.plot(trial.t, trial.tuft, color="C3", lw=1, label="distal tuft")
        ax.set_title(f"{trial.label}\n{trial.spikes} AP, {trial.plateaus} plateau", fontsize="small")
        ax.set_xlabel("time (ms)")
        ax.set_xlim(30.0, 150.0)
    axes[0].set_ylabel("membrane potential (mV)")
    axes[0].legend(fontsize="small", loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(prog="bac_firing", description=__doc__.splitlines()[0])
    ap.add_argument("--interval", type=float, default=5.0, help="EPSP after the somatic step onset (ms)")
    ap.add_argument("--figure", default=None, help="write the figure here (PNG/PDF/SVG)")
    args = ap.parse_args(argv)
    trials = protocol(args.interval)
    for trial in trials:
        print(f"{trial.label:28s} somatic APs {trial.spikes}, plateaus {trial.plateaus}, "
              f"peak soma {trial.soma.max():6.1f} mV, peak tuft {trial.tuft.max():6.1f} mV")
    if args.figure:
        print(f"figure: {figure(trials, args.figure)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
