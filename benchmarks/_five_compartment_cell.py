"""The five-compartment neuron with a calcium plateau of the "Dendrites" benchmark, defined once.

Both workers import this module: ``_compsim_five_compartment.py`` builds the
population with :func:`build_compsim`, ``_brian2_five_compartment.py`` writes the
same neuron as Brian2 equations from :data:`CELL` (the same numbers).

Morphology (potentials mV, conductances nS, capacitances pF, times ms)::

    soma     C_m 200, g_l 10,  E_l -65, HHSodium(20000 nS, 50 mV, V_T -58), HHPotassium(6000 nS, -90 mV, V_T -58)
    basal    parent soma,  g_c 40,  C_m 80,  g_l 4,   E_l -65, Synapse ampa (0 mV, 2 ms)
    trunk    parent soma,  g_c 100, C_m 100, g_l 5,   E_l -65
    oblique  parent trunk, g_c 30,  C_m 50,  g_l 2.5, E_l -65, Synapse ampa (0 mV, 2 ms)
    tuft     parent trunk, g_c 50,  C_m 100, g_l 5,   E_l -65, Synapse ampa (0 mV, 2 ms),
             CalciumPlateau(threshold -40 mV, duration 30 ms, g 10 nS, E 50 mV, refractory 50 ms)

A spike when the soma exceeds -20 mV, refractory 3 ms, no reset (Hodgkin-Huxley
soma). Initial state: every potential at its E_l, gates and timers 0.

Inputs (:data:`INPUTS`): per input site one ``PoissonSource`` of ``N_SOURCES``
independent trains at ``rate`` Hz, each neuron receiving ``k`` distinct trains of
it (``FixedInDegree(k)``), every spike adding ``w`` nS to the site's ``ampa``
conductance. Tuned so that the somata fire a few Hz and the tufts produce a
plateau now and then (``python benchmarks/_five_compartment_cell.py`` prints
both rates for a small compsim population and checks the plateau's timing).
"""

DT_MS = 0.1
THRESHOLD = ("soma", -20.0)
REFRACTORY_MS = 3.0

E_L = -65.0
NA = dict(g_max=20000.0, E=50.0, V_T=-58.0)
K = dict(g_max=6000.0, E=-90.0, V_T=-58.0)
AMPA = dict(E=0.0, tau=2.0)
PLATEAU = dict(threshold=-40.0, duration=30.0, g=10.0, E=50.0, refractory=50.0)

# name -> parent, g_c (nS), C_m (pF), g_l (nS), mechanisms; parents before children
CELL = {
    "soma": dict(parent=None, g_c=None, C_m=200.0, g_l=10.0, mechanisms=("na", "k")),
    "basal": dict(parent="soma", g_c=40.0, C_m=80.0, g_l=4.0, mechanisms=("ampa",)),
    "trunk": dict(parent="soma", g_c=100.0, C_m=100.0, g_l=5.0, mechanisms=()),
    "oblique": dict(parent="trunk", g_c=30.0, C_m=50.0, g_l=2.5, mechanisms=("ampa",)),
    "tuft": dict(parent="trunk", g_c=50.0, C_m=100.0, g_l=5.0, mechanisms=("ampa", "plateau")),
}

# Poisson inputs: site -> number of distinct trains per neuron k, rate (Hz) of each, weight (nS)
N_SOURCES = 1000
INPUTS = {
    "basal": dict(k=20, rate=5.0, w=6.0),
    "oblique": dict(k=20, rate=5.0, w=6.0),
    "tuft": dict(k=20, rate=5.0, w=6.0),
}


def compsim_cell():
    """The neuron as a compsim :class:`~compsim.models.Morphology`."""
    from compsim.models import Compartment, Morphology, channels

    def mechanisms(names):
        make = {"na": lambda: channels.HHSodium(**NA), "k": lambda: channels.HHPotassium(**K),
                "ampa": lambda: channels.Synapse("ampa", **AMPA),
                "plateau": lambda: channels.CalciumPlateau(**PLATEAU)}
        return [make[m]() for m in names]

    comps = {}
    for name, c in CELL.items():
        kw = dict(C_m=c["C_m"], g_l=c["g_l"], E_l=E_L, channels=mechanisms(c["mechanisms"]))
        if c["parent"] is not None:
            kw.update(parent=c["parent"], g_c=c["g_c"])
        comps[name] = Compartment(**kw)
    return Morphology(**comps)


def build_compsim(n, *, seed=1, method="exponential_euler", **network_options):
    """``(net, population)``: ``n`` neurons with their Poisson inputs; spikes and plateaus recorded
    (monitors ``"spikes"`` and ``"plateaus"``). Extra keywords go to :class:`compsim.Network`."""
    import compsim as cs

    net = cs.Network(dt=DT_MS, seed=seed, method=method, **network_options)
    pop = net.add(compsim_cell().population(n, threshold=THRESHOLD, refractory=REFRACTORY_MS), name="cells")
    for site, inp in INPUTS.items():
        src = net.add(cs.PoissonSource(N_SOURCES, inp["rate"]), name=f"poisson_{site}")
        net.connect(src, pop, f"{site}.ampa", inp["w"], connectivity=cs.FixedInDegree(inp["k"]))
    net.record_spikes(pop, name="spikes")
    net.record_events(pop, "tuft.plateau", name="plateaus")
    return net, pop


def check_plateau_timing():
    """compsim's plateau against its docs: it starts in the step after which tuft.v exceeds the threshold
    (the event of that step), its conductance is on for ``duration``, and the next one starts
    ``duration + refractory`` later. A single neuron with a current held in the tuft."""
    import numpy as np

    import compsim as cs

    dt, dur, refr, thr = DT_MS, PLATEAU["duration"], PLATEAU["refractory"], PLATEAU["threshold"]
    for method in ("exponential_euler", "exact"):
        net = cs.Network(dt=dt, method=method)
        pop = net.add(compsim_cell().population(1, threshold=THRESHOLD, refractory=REFRACTORY_MS, currents=["tuft"]),
                      name="c")
        pop["tuft.I_ext"] = 2000.0  # pA: tuft far above threshold, plateaus whenever allowed
        net.record_events(pop, "tuft.plateau", name="ev")
        net.record(pop, ["tuft.v", "tuft.plateau", "tuft.plateau_refractory"], name="tr")
        res = net.run(300.0)
        onsets = np.asarray(res.spikes["ev"].t)
        tr = res.state["tr"]
        v, left = tr["tuft.v"][:, 0], tr["tuft.plateau"][:, 0]
        t = np.asarray(tr.t)
        first = int(np.argmax(v > thr))  # first recorded step above threshold
        gaps = np.diff(onsets)
        on_steps = [np.count_nonzero((left > 0) & (t >= a) & (t < b)) for a, b in zip(onsets[:-1], onsets[1:])]
        print(f"[{method}] first sample above threshold at t = {t[first]:.1f} ms, onsets {onsets[:4]} ..., "
              f"gaps {np.unique(np.round(gaps, 9))} ms (want {dur + refr}), plateau on for "
              f"{set(on_steps)} steps per plateau (want {round(dur / dt)}), max left {left.max()}")
        assert np.allclose(gaps, dur + refr, atol=1e-9), gaps
        assert set(on_steps) == {round(dur / dt)}, on_steps


if __name__ == "__main__":
    import sys
    import time

    check_plateau_timing()
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    for method in ("exponential_euler", "exact"):
        net, pop = build_compsim(n, seed=1, method=method)
        t0 = time.perf_counter()
        res = net.run(1000.0)
        print(f"[{method}] n={n}: {res.spikes['spikes'].count() / n:.2f} spikes/s/neuron, "
              f"{res.spikes['plateaus'].count() / n:.2f} plateaus/s/neuron ({time.perf_counter() - t0:.1f} s)")
