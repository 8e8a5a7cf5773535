"""Brian2 worker of the five-compartment benchmark (one measurement per process).

Run as a subprocess by ``benchmarks/five_compartment.py``; by hand::

    python benchmarks/_brian2_five_compartment.py --n 1000 --mode cpp_standalone
    python benchmarks/_brian2_five_compartment.py --n 1000 --mode runtime [--cold]

The population of ``_five_compartment_cell.py`` (the same numbers, imported from
there) written as Brian2 equations, one ``NeuronGroup`` with one potential per
compartment, named as compsim's ``CompartmentalNeuron.brian2_model()`` names
them (``soma_v``, ``soma_m``, ``tuft_ampa``, ``tuft_plateau``), integrated by
``exponential_euler`` (compsim's ``method="exponential_euler"`` is the same scheme).

The calcium plateau, which ``brian2_model()`` does not translate (it has an
event), follows compsim's :class:`~compsim.models.channels.CalciumPlateau`
step by step:

* its conductance ``g * int(tuft_plateau > 0 ms) * (E - tuft_v)`` in the
  tuft's equation, ``tuft_plateau`` (time left) taken at the start of the step;
* after the state update (``run_regularly``, ``when="before_thresholds"``) both
  timers count down by ``dt`` and end at exactly 0 on their last step
  (``x = int(x > 1.5 dt) * (x - dt)``, as compsim's kernel);
* a custom event ``plateau`` when ``tuft_v > threshold`` (the potential after
  the step) and the refractory timer is 0; ``run_on_event`` then sets
  ``tuft_plateau = duration`` and ``tuft_plateau_refractory = duration + refractory``.

Inputs: per site a ``PoissonGroup`` of ``N_SOURCES`` trains and ``Synapses``
adding ``w`` to ``<site>_ampa`` (a jump emitted in step s acts from step s + 1,
compsim's timing), each neuron drawing ``k`` distinct trains (numpy, seeded by
``brian2.seed``; compsim draws its own, so the two engines are compared
statistically). Spikes: ``soma_v > -20 mV``, refractory 3 ms, no reset.
The command line, phases and caches are those of ``_brian2_common.py``
(standalone project: ``~/.cache/compsim-bench/brian2_standalone_five_compartment_<N>``).
"""

import time

_T_START = time.perf_counter()  # first statement: total_s starts here
_CPU_START = time.process_time()

import sys  # noqa: E402

import numpy as np  # noqa: E402

import _brian2_common  # noqa: E402
import _five_compartment_cell as cell  # noqa: E402


def equations():
    """``(equations text, namespace)`` of the neuron, built from ``cell.CELL`` (names as brian2_model())."""
    from brian2 import mV, ms, nS, pF

    ns = {"E_l": cell.E_L * mV,
          "soma_na_g_max": cell.NA["g_max"] * nS, "soma_na_E": cell.NA["E"] * mV, "soma_na_V_T": cell.NA["V_T"] * mV,
          "soma_k_g_max": cell.K["g_max"] * nS, "soma_k_E": cell.K["E"] * mV, "soma_k_V_T": cell.K["V_T"] * mV,
          "ampa_E": cell.AMPA["E"] * mV, "ampa_tau": cell.AMPA["tau"] * ms,
          "plateau_threshold": cell.PLATEAU["threshold"] * mV, "plateau_duration": cell.PLATEAU["duration"] * ms,
          "plateau_g": cell.PLATEAU["g"] * nS, "plateau_E": cell.PLATEAU["E"] * mV,
          "plateau_refractory_period": cell.PLATEAU["refractory"] * ms}
    children = {c: [d for d, p in cell.CELL.items() if p["parent"] == c] for c in cell.CELL}
    v_lines, lines = [], []
    for c, p in cell.CELL.items():
        ns[f"{c}_C_m"], ns[f"{c}_g_l"] = p["C_m"] * pF, p["g_l"] * nS
        terms = [f"{c}_g_l * (E_l - {c}_v)"]
        if p["parent"] is not None:
            ns[f"{c}_g_c"] = p["g_c"] * nS
            terms.append(f"{c}_g_c * ({p['parent']}_v - {c}_v)")
        terms += [f"{d}_g_c * ({d}_v - {c}_v)" for d in children[c]]
        for m in p["mechanisms"]:
            u = f"(({c}_v - {c}_{m}_V_T) / mV)"
            if m == "na":
                lines += [f"d{c}_m/dt = (1.28 / exprel((13 - {u}) / 4) / ms) * (1 - {c}_m) - "
                          f"(1.4 / exprel(({u} - 40) / 5) / ms) * {c}_m : 1",
                          f"d{c}_h/dt = (0.128 * exp((17 - {u}) / 18) / ms) * (1 - {c}_h) - "
                          f"(4 / (1 + exp((40 - {u}) / 5)) / ms) * {c}_h : 1"]
                terms.append(f"{c}_na_g_max * {c}_m**3 * {c}_h * ({c}_na_E - {c}_v)")
            elif m == "k":
                lines.append(f"d{c}_n/dt = (0.16 / exprel((15 - {u}) / 5) / ms) * (1 - {c}_n) - "
                             f"(0.5 * exp((10 - {u}) / 40) / ms) * {c}_n : 1")
                terms.append(f"{c}_k_g_max * {c}_n**4 * ({c}_k_E - {c}_v)")
            elif m == "ampa":
                lines.append(f"d{c}_ampa/dt = -{c}_ampa / ampa_tau : siemens")
                terms.append(f"{c}_ampa * (ampa_E - {c}_v)")
            elif m == "plateau":
                lines += [f"{c}_plateau : second", f"{c}_plateau_refractory : second"]
                terms.append(f"plateau_g * int({c}_plateau > 0*ms) * (plateau_E - {c}_v)")
            else:
                raise ValueError(f"unknown mechanism {m!r}")
        v_lines.append(f"d{c}_v/dt = ({' + '.join(terms)}) / {c}_C_m : volt")
    return "\n".join(v_lines + lines), ns


def in_degree_pairs(n_pre, n_post, k):
    """``(i, j)``: each of the ``n_post`` neurons gets ``k`` distinct partners among ``n_pre`` (numpy's global RNG)."""
    pre = np.empty((n_post, k), dtype=np.int64)
    for start in range(0, n_post, 1000):  # in blocks: a (1000, n_pre) array of draws at a time
        stop = min(start + 1000, n_post)
        pre[start:stop] = np.random.rand(stop - start, n_pre).argpartition(k, axis=1)[:, :k]
    return pre.ravel(), np.repeat(np.arange(n_post), k)


def build(b2, n):
    """The population with its inputs: ``(objects, spike monitor, synapses, extra)``."""
    from brian2 import Hz, mV, ms, nS

    eqs, ns = equations()
    thr_comp, thr = cell.THRESHOLD
    G = b2.NeuronGroup(n, eqs, threshold=f"{thr_comp}_v > {thr}*mV", refractory=cell.REFRACTORY_MS * ms,
                       events={"plateau": "tuft_v > plateau_threshold and tuft_plateau_refractory <= 0*ms"},
                       method="exponential_euler", namespace=ns, name="cells")
    G.run_regularly("tuft_plateau = int(tuft_plateau > 1.5*dt) * (tuft_plateau - dt)\n"
                    "tuft_plateau_refractory = int(tuft_plateau_refractory > 1.5*dt) * (tuft_plateau_refractory - dt)",
                    when="before_thresholds", name="plateau_timers")
    G.run_on_event("plateau", "tuft_plateau = plateau_duration\n"
                              "tuft_plateau_refractory = plateau_duration + plateau_refractory_period")
    for c in cell.CELL:
        setattr(G, f"{c}_v", cell.E_L * mV)  # gates and timers start at 0
    objects, synapses = [G], []
    for site, inp in cell.INPUTS.items():
        P = b2.PoissonGroup(cell.N_SOURCES, rates=inp["rate"] * Hz, name=f"poisson_{site}")
        S = b2.Synapses(P, G, on_pre=f"{site}_ampa_post += w_{site}", namespace={f"w_{site}": inp["w"] * nS},
                        name=f"syn_{site}")
        i, j = in_degree_pairs(cell.N_SOURCES, n, inp["k"])
        S.connect(i=i, j=j)
        objects += [P, S]
        synapses.append(S)
    spikes = b2.SpikeMonitor(G, record=False, name="spikemon")
    plateaus = b2.EventMonitor(G, "plateau", record=False, name="plateaumon")
    objects += [spikes, plateaus]

    def extra(size, dur_s):
        def sem(counts):
            rates = np.asarray(counts, dtype=np.float64) / dur_s
            return float(rates.std(ddof=1) / np.sqrt(size))
        n_pl = int(plateaus.num_events)
        return {"plateaus": n_pl, "plateau_rate_hz": n_pl / size / dur_s,
                "rate_sem_hz": sem(spikes.count[:]), "plateau_rate_sem_hz": sem(plateaus.count[:]),
                "method": "exponential_euler"}

    return objects, spikes, synapses, extra


if __name__ == "__main__":
    sys.exit(_brian2_common.main("five_compartment", build, t_start=_T_START, cpu_start=_CPU_START,
                                 project_prefix="brian2_standalone_five_compartment",
                                 description=__doc__.split("\n")[0]))
