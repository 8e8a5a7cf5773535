"""Two-compartment neuron of Urbanczik & Senn (2014), "Learning by the dendritic prediction of somatic
spiking", Neuron 81:521-528; parameters as NEST's ``pp_cond_exp_mc_urbanczik``.

Equations (potentials in mV, conductances in nS, currents in pA, capacitances in pF, time in ms)::

    C_d dV_d/dt = -g_L,d (V_d - E_L) + I_d                                (dendrite)
    C_s dU/dt   = -g_L,s (U - E_L) + g_D (V_d - U) + g_N (U_T - U)         (soma)
    phi(U)      = phi_max / (1 + k exp(beta (theta - U)))                 (rate, Hz)

``I_d`` is the dendritic port (the synaptic current: the projections'
exponentially decaying traces, ``tau_syn``), ``g_D`` couples dendrite to soma
(NEST's ``g_sp``; nothing flows back, NEST's ``g_ps = 0``). ``g_N (U_T - U)``
is the teacher's somatic nudging: ``g_N`` and the target potential ``U_T`` are
state variables (``g_nudge``, ``u_target``), set by the user or, step by step,
by :class:`compsim.protocols.nudging.SomaticNudging`; ``g_N = 0`` (default)
switches the teacher off. It stands for the paper's excitatory and
inhibitory teaching conductances ``g_E (E_E - U) + g_I (E_I - U)`` with
``g_E + g_I = g_N`` and equilibrium ``U_T``.

The soma spikes at random with rate ``phi(U)``: one spike with probability
``phi(U) dt`` per step (Bernoulli; ``phi_max dt`` must be <= 1). There is no
reset: the soma is a rate neuron with stochastic output, as in the paper.
The *dendritic prediction* of the somatic potential is
``V*_w = (g_L,s E_L + g_D V_d) / (g_L,s + g_D)`` (:meth:`UrbanczikNeuron.prediction`).

Integration: ``exponential_euler`` / ``exact`` advances V_d, then U, exactly
with the inputs frozen over the step; ``euler`` is forward Euler.
"""
import numpy as np
from numba import njit

from compsim.fastmath import exp
from compsim.model import Model, Param, Port, Var
from compsim.rng import bernoulli_spike


class UrbanczikNeuron(Model):
    """Two-compartment (soma + dendrite) rate neuron with Poisson output; see the module docstring.

    State: ``v_soma`` (U), ``v_dend`` (V_d), ``u_target`` (teacher's target U_T, mV),
    ``g_nudge`` (teacher conductance g_N, nS). Port: ``dendrite`` (pA).
    """

    params = (
        Param("C_s", 300.0, "pF", "somatic capacitance", lo=0.0, lo_open=True),
        Param("g_L_s", 30.0, "nS", "somatic leak conductance", lo=0.0, lo_open=True),
        Param("C_d", 300.0, "pF", "dendritic capacitance", lo=0.0, lo_open=True),
        Param("g_L_d", 30.0, "nS", "dendritic leak conductance", lo=0.0, lo_open=True),
        Param("g_D", 600.0, "nS", "dendrite-to-soma coupling conductance (NEST g_sp)", lo=0.0),
        Param("E_L", -70.0, "mV", "leak reversal potential"),
        Param("phi_max", 150.0, "Hz", "maximal rate (NEST 0.15 /ms)", lo=0.0),
        Param("k", 0.5, "1", "rate function: phi_max / (1 + k exp(beta (theta - U)))", lo=0.0, lo_open=True),
        Param("beta", 1.0 / 3.0, "1/mV", "rate function slope", lo=0.0, lo_open=True),
        Param("theta", -55.0, "mV", "rate function midpoint (with k = 1)"),
        Param("tau_syn", 3.0, "ms", "decay time of the default dendritic synaptic current", lo=0.0, lo_open=True,
              per_copy=False),
    )
    state_vars = (
        Var("v_soma", "mV", "somatic potential U", init=lambda p: p["E_L"]),
        Var("v_dend", "mV", "dendritic potential V_d", init=lambda p: p["E_L"]),
        Var("u_target", "mV", "teacher's target somatic potential U_T", role="param", init=lambda p: p["E_L"]),
        Var("g_nudge", "nS", "teacher's nudging conductance g_N (0: no teacher)", role="param"),
    )
    ports = (Port("dendrite", "pA", "dendritic synaptic current", ("exponential", "tau_syn")),)

    def validate(self, dt):
        if float(np.max(self.p["phi_max"])) * dt / 1000.0 > 1.0:
            raise ValueError(f"UrbanczikNeuron '{self.name}': phi_max * dt must be <= 1 (got {np.max(self.p['phi_max'])} "
                             f"Hz * {dt} ms); lower dt")

    def rate(self, u):
        """``phi(U)`` in Hz for potentials ``u`` (mV)."""
        p = self.p
        return p["phi_max"] / (1.0 + p["k"] * np.exp(p["beta"] * (p["theta"] - np.asarray(u))))

    def prediction(self, v_dend):
        """The dendritic prediction ``V*_w = (g_L,s E_L + g_D V_d) / (g_L,s + g_D)`` (mV)."""
        p = self.p
        return (p["g_L_s"] * p["E_L"] + p["g_D"] * np.asarray(v_dend)) / (p["g_L_s"] + p["g_D"])

    def constants(self, p, dt, method):
        """``euler`` (1: forward Euler), ``decay_d = exp(-dt g_L,d / C_d)``, ``dt_cs = dt / C_s``,
        ``dt_cd = dt / C_d``, ``phi_dt = phi_max dt`` (expected spikes per step at the maximal rate)."""
        return {"euler": float(method == "euler"), "decay_d": float(np.exp(-dt * p["g_L_d"] / p["C_d"])),
                "dt_cs": dt / p["C_s"], "dt_cd": dt / p["C_d"], "phi_dt": p["phi_max"] * dt / 1000.0}

    def kernels(self, method):
        return None, urbanczik_update


@njit(cache=True, inline="always")
def urbanczik_update(i, step, key, c, v_soma, v_dend, u_target, g_nudge, dendrite):
    """One step: dendrite, then soma (with the new V_d), then a Bernoulli spike: ``(U, V_d, count)``."""
    if c.euler != 0.0:
        vd = v_dend + c.dt_cd * (-c.g_L_d * (v_dend - c.E_L) + dendrite)
        u = v_soma + c.dt_cs * (-c.g_L_s * (v_soma - c.E_L) + c.g_D * (vd - v_soma) + g_nudge * (u_target - v_soma))
    else:
        vd_inf = c.E_L + dendrite / c.g_L_d
        vd = vd_inf + (v_dend - vd_inf) * c.decay_d
        g_tot = c.g_L_s + c.g_D + g_nudge
        u_inf = (c.g_L_s * c.E_L + c.g_D * vd + g_nudge * u_target) / g_tot
        u = u_inf + (v_soma - u_inf) * exp(-c.dt_cs * g_tot)
    rate = c.phi_dt / (1.0 + c.k * exp(c.beta * (c.theta - u)))
    return u, vd, bernoulli_spike(rate, key, i, step)
