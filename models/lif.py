"""Conductance-based leaky integrate-and-fire neuron (Vogels & Abbott 2005; Brette et al. 2007, COBA).

Equations (v in mV, conductances in nS, current in pA, time in ms)::

    C_m dv/dt = g_l (E_l - v) + g_e (E_e - v) + g_i (E_i - v) + I      (unless refractory)
    C_m = g_l * tau_m                                                   (pF)

``g_e``, ``g_i`` and ``I`` are the synaptic ports: the summed, exponentially
decaying traces of the projections that target them (``tau_e``, ``tau_i``,
``tau_I`` by default; a projection may choose another kernel).

Spike when ``v > v_th`` (outside the refractory period); then ``v = v_reset``
and ``v`` is held for ``t_ref``: with ``n_ref = floor(t_ref / dt + 1e-3)``
(Brian2's ``timestep(t_ref, dt)``), a spike in step s clamps v in steps
s+1 .. s+n_ref-1 and the neuron integrates again from step s+n_ref, exactly
as Brian2's ``refractory``; conductances keep evolving.

Integration: ``euler`` (forward Euler, Brian2 ``method='euler'``) or
``exponential_euler`` / ``exact`` (the equation is linear in v with the
conductances frozen over the step: ``v <- v_inf + (v - v_inf) exp(-dt g_tot / C_m)``,
Brian2 ``method='exponential_euler'``).
"""
import numpy as np
from numba import njit

from compsim.fastmath import exp
from compsim.model import Model, Param, Port, Var


class CobaLIF(Model):
    """Conductance-based LIF neuron, the network neuron of the COBA benchmark.

    State variables: ``v`` (mV), ``refractory`` (steps left in the refractory
    period). Ports: ``ge``, ``gi`` (nS), ``I`` (pA).
    """

    params = (
        Param("g_l", 10.0, "nS", "leak conductance", lo=0.0, lo_open=True),
        Param("tau_m", 20.0, "ms", "membrane time constant C_m / g_l", lo=0.0, lo_open=True),
        Param("E_l", -60.0, "mV", "leak reversal (resting) potential"),
        Param("E_e", 0.0, "mV", "excitatory reversal potential"),
        Param("E_i", -80.0, "mV", "inhibitory reversal potential"),
        Param("v_th", -50.0, "mV", "spike threshold"),
        Param("v_reset", -60.0, "mV", "reset potential"),
        Param("t_ref", 5.0, "ms", "absolute refractory period", lo=0.0),
        Param("tau_e", 5.0, "ms", "default decay time of excitatory conductance", lo=0.0, lo_open=True,
              per_copy=False),
        Param("tau_i", 10.0, "ms", "default decay time of inhibitory conductance", lo=0.0, lo_open=True,
              per_copy=False),
        Param("tau_I", 5.0, "ms", "default decay time of synaptic current", lo=0.0, lo_open=True, per_copy=False),
    )
    state_vars = (
        Var("v", "mV", "membrane potential", init=lambda p: p["E_l"]),
        Var("refractory", "steps", "steps left in the refractory period (0: free)"),
    )
    ports = (
        Port("ge", "nS", "excitatory conductance", ("exponential", "tau_e")),
        Port("gi", "nS", "inhibitory conductance", ("exponential", "tau_i")),
        Port("I", "pA", "synaptic current", ("exponential", "tau_I")),
    )

    def refractory_steps(self, dt, t_ref=None):
        """Steps a spike blocks the neuron, spike step included (Brian2's ``timestep(t_ref, dt)``)."""
        t_ref = self.p["t_ref"] if t_ref is None else t_ref
        return np.floor(np.asarray(t_ref) / dt + 1e-3).astype(np.int64)

    def constants(self, p, dt, method):
        """``euler`` (1 for forward Euler), ``dt_c = dt / C_m`` (ms/pF), ``n_ref`` (steps clamped after a spike)."""
        return {"euler": float(method == "euler"), "dt_c": dt / (p["g_l"] * p["tau_m"]),
                "n_ref": max(int(self.refractory_steps(dt, p["t_ref"])) - 1, 0)}

    def kernels(self, method):
        return None, coba_lif_update

    def brian2_model(self):
        """Brian2 equivalent of this model, for :mod:`compsim.validate` (imports Brian2).

        Same equations, threshold, reset and refractoriness; ``v`` in volt,
        conductances in siemens, current in amp. The ports ``ge``, ``gi``, ``I``
        appear as plain names that the validation bridge defines (sums of the
        projections' traces). ``ref_steps`` is compsim's ``refractory``
        counter written with Brian2's ``lastspike``.
        """
        from brian2 import mV, ms, nS, pA, pF, second

        p = self.p
        equations = """
        dv/dt = (g_l*(E_l - v) + ge*(E_e - v) + gi*(E_i - v) + I) / C_m : volt (unless refractory)
        ref_steps = clip(timestep(t_ref, dt) - timestep(t - lastspike, dt), 0, timestep(t_ref, dt)) : 1
        """
        namespace = {
            "g_l": p["g_l"] * nS, "C_m": p["g_l"] * p["tau_m"] * pF,
            "E_l": p["E_l"] * mV, "E_e": p["E_e"] * mV, "E_i": p["E_i"] * mV,
            "v_th": p["v_th"] * mV, "v_reset": p["v_reset"] * mV, "t_ref": p["t_ref"] * ms,
        }
        refractory_steps = self.refractory_steps

        def initial(values, dt):
            # steps left r > 0 <=> last spike (r - n_ref) steps before the start
            r = np.asarray(values["refractory"], dtype=np.float64)
            n_ref = int(refractory_steps(dt))
            last = np.where(r > 0, (r - n_ref) * dt * 1e-3, -1e4)
            return {"v": np.asarray(values["v"], dtype=np.float64) * mV, "lastspike": last * second}

        return {
            "equations": equations,
            "threshold": "v > v_th",
            "reset": "v = v_reset",
            "refractory": p["t_ref"] * ms,
            "namespace": namespace,
            "units": {"v": mV, "refractory": 1, "ge": nS, "gi": nS, "I": pA},
            "variables": {"refractory": "ref_steps"},
            "initial": initial,
            "methods": {"euler": "euler", "exponential_euler": "exponential_euler", "exact": "exponential_euler"},
        }


@njit(cache=True, inline="always")
def coba_lif_update(i, step, key, c, v, refractory, ge, gi, I):
    """One step of one neuron: returns ``(v, refractory, count)``.

    Written without early returns (selects instead of branches) so that the
    loop over neurons vectorises: the new potential is computed for every
    neuron and kept only outside the refractory period.
    """
    if c.euler != 0.0:
        v_new = v + c.dt_c * (c.g_l * (c.E_l - v) + ge * (c.E_e - v) + gi * (c.E_i - v) + I)
    else:
        g_tot = c.g_l + ge + gi
        v_inf = (c.g_l * c.E_l + ge * c.E_e + gi * c.E_i + I) / g_tot
        v_new = v_inf + (v - v_inf) * exp(-c.dt_c * g_tot)
    free = refractory <= 0.0
    spike = free and v_new > c.v_th
    v_out = c.v_reset if spike else (v_new if free else v)
    r_out = c.n_ref if spike else (refractory if free else refractory - 1.0)
    return v_out, r_out, 1 if spike else 0
