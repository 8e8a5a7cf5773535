"""The bursting two-compartment neuron of Naud & Sprekeler (2018), "Sparse bursts optimize information
transmission in a multiplexed neural code", PNAS 115:E6329-E6338.

A soma (adaptive integrate-and-fire) and an apical dendrite with a sigmoidal,
calcium-like nonlinearity; the dendrite drives the soma only through that
nonlinearity, and each somatic spike drives the dendrite by a rectangular
backpropagation current. Units: mV, pA, pF, ms::

    C_s dV_s/dt = -(C_s / tau_s)(V_s - E_L) + g_s f(V_d) + I_s + w_s
    C_d dV_d/dt = -(C_d / tau_d)(V_d - E_L) + g_d f(V_d) + c_d K(t - t_hat) + I_d + w_d
    tau_ws dw_s/dt = -w_s                              (w_s += b_ws at each spike)
    tau_wd dw_d/dt = -w_d + a_wd (V_d - E_L)
    f(V) = 1 / (1 + exp(-(V - E_d) / D_d))
    K(s) = 1 for bap_delay <= s < bap_delay + bap_duration after the last spike t_hat, else 0

A spike when ``V_s > V_th``; then ``V_s = E_L``, held for ``t_ref``. ``I_s``,
``I_d`` are the synaptic ports (``soma``, ``dend``: currents, exponential
kernels) plus background noise, an Ornstein-Uhlenbeck current per compartment::

    dI_noise/dt = (mu - I_noise) / tau_noise + sigma sqrt(2 / tau_noise) xi(t)

(compsim's counter-based normal draws; ``sigma = 0`` makes the neuron deterministic).

Parameters: the reference implementation of Payeur et al. (2021), Auryn
``NaudGroup`` (github.com/apayeur/auryn), and the Brian2 ports of the EPFL
Neuronal Dynamics project, which agree: C_s = 370 pF, tau_s = 16 ms,
C_d = 170 pF, tau_d = 7 ms, g_s = 1300 pA, g_d = 1200 pA, E_d = -38 mV,
D_d = 6 mV, c_d = 2600 pA for 0.5-2.5 ms after a spike, tau_ws = 100 ms,
b_ws = -200 pA, tau_wd = 30 ms, a_wd = -13 nS, E_L = -70 mV, V_th = -50 mV,
t_ref = 3 ms; noise tau 2 ms, sigma 450 pA, mu_s = 70 pA, mu_d = -270 pA (the
Brian2 ports; Auryn's ``NaudGroup`` uses a dynamic threshold instead of the
absolute refractory period and starts the backpropagation current at the spike).

**Events and bursts** (Naud & Sprekeler's definitions): a spike more than
``burst_isi`` (16 ms) after the previous one starts an *event*; the second
spike of an event makes it a *burst*. The kernel counts both as named events
``event`` and ``burst``; the burst fraction is bursts / events.

Integration: forward Euler (``method="euler"``), as the reference implementations.
"""
import numpy as np
from numba import njit

from compsim.fastmath import exp
from compsim.model import Event, Model, Param, Port, Var
from compsim.rng import normal


class NaudSprekelerNeuron(Model):
    """Two-compartment bursting neuron (module docstring). State: ``v_s``, ``v_d`` (mV), ``w_s``, ``w_d``
    (pA), ``noise_s``, ``noise_d`` (pA), ``refractory`` and ``since_spike`` (steps), ``in_event`` (spikes of
    the current event). Ports ``soma``, ``dend`` (pA). Events ``event``, ``burst``."""

    params = (
        Param("C_s", 370.0, "pF", "somatic capacitance", lo=0.0, lo_open=True),
        Param("tau_s", 16.0, "ms", "somatic membrane time constant", lo=0.0, lo_open=True),
        Param("C_d", 170.0, "pF", "dendritic capacitance", lo=0.0, lo_open=True),
        Param("tau_d", 7.0, "ms", "dendritic membrane time constant", lo=0.0, lo_open=True),
        Param("E_L", -70.0, "mV", "leak reversal potential"),
        Param("g_s", 1300.0, "pA", "current from the dendritic nonlinearity into the soma", lo=0.0),
        Param("g_d", 1200.0, "pA", "regenerative current of the dendritic nonlinearity", lo=0.0),
        Param("E_d", -38.0, "mV", "half-activation of the dendritic nonlinearity"),
        Param("D_d", 6.0, "mV", "slope of the dendritic nonlinearity", lo=0.0, lo_open=True),
        Param("c_d", 2600.0, "pA", "backpropagation current after a spike", lo=0.0),
        Param("bap_delay", 0.5, "ms", "backpropagation current starts this long after a spike", lo=0.0),
        Param("bap_duration", 2.0, "ms", "and lasts this long", lo=0.0),
        Param("tau_ws", 100.0, "ms", "somatic adaptation time constant", lo=0.0, lo_open=True),
        Param("b_ws", -200.0, "pA", "somatic adaptation jump per spike"),
        Param("tau_wd", 30.0, "ms", "dendritic adaptation time constant", lo=0.0, lo_open=True),
        Param("a_wd", -13.0, "nS", "dendritic subthreshold adaptation"),
        Param("V_th", -50.0, "mV", "spike threshold"),
        Param("t_ref", 3.0, "ms", "absolute refractory period (V_s held at E_L)", lo=0.0),
        Param("tau_noise", 2.0, "ms", "time constant of the background noise", lo=0.0, lo_open=True),
        Param("mu_s", 70.0, "pA", "mean somatic background current"),
        Param("sigma_s", 450.0, "pA", "standard deviation of the somatic background current", lo=0.0),
        Param("mu_d", -270.0, "pA", "mean dendritic background current"),
        Param("sigma_d", 450.0, "pA", "standard deviation of the dendritic background current", lo=0.0),
        Param("burst_isi", 16.0, "ms", "a spike this soon after the previous one continues an event", lo=0.0),
        Param("tau_syn_s", 5.0, "ms", "default synaptic kernel of the somatic port", lo=0.0, lo_open=True,
              per_copy=False),
        Param("tau_syn_d", 5.0, "ms", "default synaptic kernel of the dendritic port", lo=0.0, lo_open=True,
              per_copy=False),
    )
    state_vars = (
        Var("v_s", "mV", "somatic potential", init=lambda p: p["E_L"]),
        Var("v_d", "mV", "dendritic potential", init=lambda p: p["E_L"]),
        Var("w_s", "pA", "somatic adaptation current"),
        Var("w_d", "pA", "dendritic adaptation current"),
        Var("noise_s", "pA", "somatic background current", init=lambda p: p["mu_s"]),
        Var("noise_d", "pA", "dendritic background current", init=lambda p: p["mu_d"]),
        Var("refractory", "steps", "steps left in the refractory period (0: free)"),
        Var("since_spike", "steps", "steps since the last spike", init=1e9),
        Var("in_event", "1", "spikes of the current event so far"),
    )
    ports = (Port("soma", "pA", "somatic synaptic current", ("exponential", "tau_syn_s")),
             Port("dend", "pA", "dendritic synaptic current", ("exponential", "tau_syn_d")))
    events = (Event("event", "a spike that starts an event (isolated spike or burst)"),
              Event("burst", "the second spike of an event"))

    def kernels(self, method):
        if method != "euler":
            raise ValueError(f"NaudSprekelerNeuron '{self.name}': integrates with forward Euler, as its reference "
                             f"implementations; build the network with method='euler', not {method!r}")
        return None, naud_sprekeler_update

    def constants(self, p, dt, method):
        steps = lambda ms: float(np.floor(ms / dt + 1e-3))  # noqa: E731 - Brian2's timestep(ms, dt)
        return {"dt": dt, "n_ref": max(steps(p["t_ref"]) - 1.0, 0.0), "bap_on": steps(p["bap_delay"]),
                "bap_off": steps(p["bap_delay"] + p["bap_duration"]), "burst_steps": steps(p["burst_isi"]),
                "noise_step": float(np.sqrt(2.0 * dt / p["tau_noise"]))}

    def brian2_model(self):
        """Brian2 equivalent for :mod:`compsim.validate`: the same equations with forward Euler and compsim's
        normal draws as frozen noise (two uniforms per compartment, Box-Muller as :func:`compsim.rng.normal`)."""
        from brian2 import mV, ms, nS, pA, pF

        units = {"pF": pF, "ms": ms, "mV": mV, "pA": pA, "nS": nS, "1": 1}
        namespace = {q.name: self.p[q.name] * units[q.unit] for q in self.params}
        equations = """
        f_d = 1 / (1 + exp(-(v_d - E_d) / D_d)) : 1
        since = timestep(t - lastspike, dt) : 1
        K = int(since >= timestep(bap_delay, dt)) * int(since < timestep(bap_delay + bap_duration, dt)) : 1
        z_s = sqrt(-2 * log(1 - u_s1(t, i))) * cos(2 * pi * u_s2(t, i)) : 1
        z_d = sqrt(-2 * log(1 - u_d1(t, i))) * cos(2 * pi * u_d2(t, i)) : 1
        dv_s/dt = (-(C_s / tau_s) * (v_s - E_L) + g_s * f_d + noise_s + soma + w_s) / C_s : volt (unless refractory)
        dv_d/dt = (-(C_d / tau_d) * (v_d - E_L) + g_d * f_d + c_d * K + noise_d + dend + w_d) / C_d : volt
        dw_s/dt = -w_s / tau_ws : amp
        dw_d/dt = (-w_d + a_wd * (v_d - E_L)) / tau_wd : amp
        dnoise_s/dt = (mu_s - noise_s) / tau_noise + sigma_s * sqrt(2 / (tau_noise * dt)) * z_s : amp
        dnoise_d/dt = (mu_d - noise_d) / tau_noise + sigma_d * sqrt(2 / (tau_noise * dt)) * z_d : amp
        """
        return {"equations": equations, "threshold": "v_s > V_th", "reset": "v_s = E_L; w_s += b_ws",
                "refractory": self.p["t_ref"] * ms, "namespace": namespace,
                "units": {"v_s": mV, "v_d": mV, "w_s": pA, "w_d": pA, "noise_s": pA, "noise_d": pA, "soma": pA,
                          "dend": pA},
                "noise": {"u_s1": 0, "u_s2": 1, "u_d1": 2, "u_d2": 3}}


@njit(cache=True, inline="always")
def naud_sprekeler_update(i, step, key, c, v_s, v_d, w_s, w_d, noise_s, noise_d, refractory, since_spike, in_event,
                          soma, dend):
    """One forward-Euler step: ``(v_s, v_d, w_s, w_d, noise_s, noise_d, refractory, since_spike, in_event, count,
    event, burst)``."""
    f_d = 1.0 / (1.0 + exp(-(v_d - c.E_d) / c.D_d))
    bap = c.c_d if (since_spike >= c.bap_on and since_spike < c.bap_off) else 0.0
    dv_s = (-(c.C_s / c.tau_s) * (v_s - c.E_L) + c.g_s * f_d + noise_s + soma + w_s) / c.C_s
    dv_d = (-(c.C_d / c.tau_d) * (v_d - c.E_L) + c.g_d * f_d + bap + noise_d + dend + w_d) / c.C_d
    free = refractory <= 0.0
    vs_new = v_s + c.dt * dv_s if free else v_s
    vd_new = v_d + c.dt * dv_d
    ws_new = w_s - c.dt * w_s / c.tau_ws
    wd_new = w_d + c.dt * (-w_d + c.a_wd * (v_d - c.E_L)) / c.tau_wd
    ns_new = noise_s + c.dt * (c.mu_s - noise_s) / c.tau_noise + c.sigma_s * c.noise_step * normal(key, i, step, 0)
    nd_new = noise_d + c.dt * (c.mu_d - noise_d) / c.tau_noise + c.sigma_d * c.noise_step * normal(key, i, step, 2)
    spike = free and vs_new > c.V_th
    starts = spike and since_spike >= c.burst_steps  # more than burst_isi after the previous spike
    event_count = (1.0 if starts else in_event + 1.0) if spike else in_event
    return (c.E_L if spike else vs_new, vd_new, ws_new + c.b_ws if spike else ws_new, wd_new, ns_new, nd_new,
            c.n_ref if spike else (refractory if free else refractory - 1.0),
            1.0 if spike else since_spike + 1.0, event_count,
            1 if spike else 0, 1 if starts else 0, 1 if (spike and not starts and event_count == 2.0) else 0)
