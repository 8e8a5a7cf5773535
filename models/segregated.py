"""Segregated-dendrite neurons of Guerguiev, Lillicrap & Richards (2017), eLife 6:e22901.

Potentials and conductances are dimensionless, as in the paper (its Table 1
gives g_l = 0.1 S, g_b = 0.6 S, V_R = 0); times are in ms, rates in Hz.

Hidden neuron (:class:`SegregatedPyramidal`), three compartments::

    V_b = basal input  + b_b          (basal dendrite: filtered presynaptic spikes, plus bias)
    V_a = apical input + b_a          (apical dendrite: filtered feedback spikes)
    tau dV/dt = -V + (g_b/g_l)(V_b - V) + (g_a/g_l)(V_a - V)          (soma)
    rate = phi_max * sigmoid(V)       spikes drawn each step with probability rate * dt
                                      (or as Poisson(rate * dt) counts)

Output neuron (:class:`OutputNeuron`), two compartments and a teaching input::

    V_b = basal input + b_b
    tau dV/dt = -V + (g_d/g_l)(V_b - V) + (g_exc/g_l)(E_e - V) + (g_inh/g_l)(E_i - V) + I_ext/g_l

``g_exc``, ``g_inh`` (teaching conductances; the paper's target phase sets
``g_exc = t``, ``g_inh = 1 - t`` for a one-hot target t) and ``I_ext`` are state
variables a protocol sets between runs.

The "basal/apical input" is the port value: the sum over projections of
``sum_j W_ij s_j(t)`` with ``s_j`` the presynaptic spike train filtered by the
synaptic kernel (default exponential with ``tau_s`` = 3 ms, jump 1 per spike,
as in the SEGDEND benchmark; the paper's difference of exponentials
``(exp(-t/tau_L) - exp(-t/tau_s)) / (tau_L - tau_s)`` is
``synapse=DoubleExponential(tau_rise=3, tau_decay=10)`` on the projection).

Integration: ``exponential_euler``/``exact`` advances V exactly with the
dendritic potentials frozen over the step (the benchmark's definition);
``euler`` is the original code's explicit update.
"""
import math

import numpy as np
from numba import njit

from compsim.model import Param, Population, Port, Var, check_spike_mode
from compsim.rng import BERNOULLI, POISSON, draw_spikes

_PHI_MAX = Param("phi_max", 200.0, "Hz", "maximum firing rate", lo=0.0)
_TAU = Param("tau", 10.0, "ms", "somatic time constant C_m / g_l", lo=0.0, lo_open=True)
_G_L = Param("g_l", 0.1, "1", "leak conductance", lo=0.0, lo_open=True)
_TAU_S = Param("tau_s", 3.0, "ms", "decay time of the default (exponential) synaptic kernel", lo=0.0, lo_open=True)

# shared layout of ``par`` for both models
_METHOD, _DT_TAU, _DECAY, _PHI_DT, _MODE, _GB_GL, _GA_GL, _E_E, _E_I, _G_L_I = range(10)


class _StochasticSoma(Population):
    """Common parts: Poisson-spiking soma with rate ``phi_max * sigmoid(V)``."""

    def __init__(self, n, *, name=None, spike_mode="bernoulli", **params):
        super().__init__(n, name=name, **params)
        self.spike_mode = check_spike_mode(spike_mode, type(self).__name__)

    def validate(self, dt):
        lam = self.p["phi_max"] * dt / 1000.0
        if self.spike_mode == "bernoulli" and lam > 1.0:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': phi_max * dt must be <= 1 for spike_mode='bernoulli' "
                f"(got {self.p['phi_max']} Hz * {dt} ms = {lam:.3g}); lower dt or use spike_mode='poisson'"
            )

    def describe(self):
        d = super().describe()
        d["spike_mode"] = self.spike_mode
        return d

    def _brian2_soma(self, equations):
        """Brian2 model dict shared by both somas: frozen-noise Bernoulli spiking, no reset."""
        from brian2 import Hz, ms

        p = self.p
        namespace = {k: p[k] for k in ("g_l", "g_b", "g_a", "g_d", "E_e", "E_i") if k in p}
        namespace.update(tau=p["tau"] * ms, phi_max=p["phi_max"] * Hz)
        lam = "phi_max*dt / (1 + exp(-v_soma))"  # expected spikes in the step, from V after the update
        spec = {
            "equations": equations,
            # frozen noise: frozen_u(t, i) is the uniform compsim draws for neuron i at step t/dt
            "threshold": f"frozen_u(t, i) < {lam}",
            "reset": None,
            "refractory": False,
            "namespace": namespace,
            "units": dict.fromkeys([v.name for v in self.state_vars] + [q.name for q in self.ports], 1),
            "noise": {"frozen_u": 0},
            "methods": {"euler": "euler", "exponential_euler": "exponential_euler", "exact": "exponential_euler"},
        }
        if self.spike_mode == "poisson":
            # Brian2 emits one spike event per neuron and step: the event carries the count (drawn after
            # the state update, before the threshold), which the bridge's synapses multiply their weight
            # by, as compsim delivers count * w
            from compsim.validate.functions import poisson_count

            namespace["poisson_count"] = poisson_count()
            spec["equations"] = equations + "\nspike_count : 1\n"
            spec["before_threshold"] = f"spike_count = poisson_count({lam}, frozen_u(t, i))"
            spec["threshold"] = "spike_count > 0"
            spec["spike_count"] = "spike_count"
        return spec

    def _base_constants(self, dt, method, g_b, g_a):
        p = self.p
        par = np.zeros(10)
        par[_METHOD] = 0.0 if method == "euler" else 1.0
        par[_DT_TAU] = dt / p["tau"]
        par[_DECAY] = np.exp(-dt * (p["g_l"] + g_b + g_a) / (p["g_l"] * p["tau"]))
        par[_PHI_DT] = p["phi_max"] * dt / 1000.0
        par[_MODE] = BERNOULLI if self.spike_mode == "bernoulli" else POISSON
        par[_GB_GL] = g_b / p["g_l"]
        par[_GA_GL] = g_a / p["g_l"]
        par[_G_L_I] = 1.0 / p["g_l"]
        return par


class SegregatedPyramidal(_StochasticSoma):
    """Three-compartment hidden neuron (basal, apical, soma) of Guerguiev et al. 2017.

    State: ``v_soma``, ``v_basal``, ``v_apical`` (derived each step), biases
    ``b_basal`` (the paper's b) and ``b_apical`` (feedback bias, 0 in the
    paper). Ports: ``basal``, ``apical``. The original code switches the apical
    coupling off (g_a = 0); the default here, 0.05, is the paper's Fig. 9 value
    and the SEGDEND benchmark's.
    """

    params = (
        _TAU,
        _G_L,
        Param("g_b", 0.6, "1", "basal-to-soma coupling conductance", lo=0.0),
        Param("g_a", 0.05, "1", "apical-to-soma coupling conductance", lo=0.0),
        _PHI_MAX,
        _TAU_S,
    )
    state_vars = (
        Var("v_soma", "1", "somatic potential V"),
        Var("v_basal", "1", "basal dendritic potential V_b", role="derived"),
        Var("v_apical", "1", "apical dendritic potential V_a", role="derived"),
        Var("b_basal", "1", "basal bias b", role="param"),
        Var("b_apical", "1", "apical (feedback) bias", role="param"),
    )
    ports = (
        Port("basal", "1", "filtered feed-forward input sum_j W_ij s_j", ("exponential", "tau_s")),
        Port("apical", "1", "filtered feedback input sum_k Y_ik s_k", ("exponential", "tau_s")),
    )

    def steady_state(self, v_basal, v_apical):
        """Closed-form somatic steady state ``(g_b V_b + g_a V_a) / (g_l + g_b + g_a)``."""
        p = self.p
        return (p["g_b"] * np.asarray(v_basal) + p["g_a"] * np.asarray(v_apical)) / (p["g_l"] + p["g_b"] + p["g_a"])

    def constants(self, dt, method):
        return self._base_constants(dt, method, self.p["g_b"], self.p["g_a"])

    def kernels(self, method):
        return "compsim.models.segregated:pyramidal_derive", "compsim.models.segregated:pyramidal_update"

    def brian2_model(self):
        """Brian2 equivalent (dimensionless potentials) for :mod:`compsim.validate`; ports ``basal``, ``apical``."""
        return self._brian2_soma("""
        dv_soma/dt = (-v_soma + (g_b/g_l)*(v_basal - v_soma) + (g_a/g_l)*(v_apical - v_soma)) / tau : 1
        v_basal = basal + b_basal : 1
        v_apical = apical + b_apical : 1
        b_basal : 1
        b_apical : 1
        """)


class OutputNeuron(_StochasticSoma):
    """Two-compartment output neuron (basal dendrite + soma) with a somatic teaching input.

    State: ``v_soma``, ``v_basal`` (derived), ``b_basal``, teaching
    conductances ``g_exc``, ``g_inh`` and current ``I_ext``. Port: ``basal``.
    Use :meth:`teach` to impose a target (paper's target phase) and
    ``teach(None)`` to release it (forward phase).
    """

    params = (
        _TAU,
        _G_L,
        Param("g_d", 0.6, "1", "dendrite-to-soma coupling conductance", lo=0.0),
        Param("E_e", 8.0, "1", "reversal potential of the excitatory teaching conductance"),
        Param("E_i", -8.0, "1", "reversal potential of the inhibitory teaching conductance"),
        _PHI_MAX,
        _TAU_S,
    )
    state_vars = (
        Var("v_soma", "1", "somatic potential V"),
        Var("v_basal", "1", "dendritic potential V_b", role="derived"),
        Var("b_basal", "1", "dendritic bias b", role="param"),
        Var("g_exc", "1", "excitatory teaching conductance", role="param"),
        Var("g_inh", "1", "inhibitory teaching conductance", role="param"),
        Var("I_ext", "1", "injected somatic current (in units of g_l * potential)", role="param"),
    )
    ports = (Port("basal", "1", "filtered input sum_j W_ij s_j", ("exponential", "tau_s")),)

    def teach(self, target):
        """Impose the teaching conductances ``g_exc = target``, ``g_inh = 1 - target``.

        ``target``: array of shape (n,) in [0, 1] (e.g. one-hot), or None to
        switch teaching off.
        """
        if target is None:
            self["g_exc"] = 0.0
            self["g_inh"] = 0.0
            return
        t = np.asarray(target, dtype=float)
        if t.shape != (self.n,) or (t < 0).any() or (t > 1).any():
            raise ValueError(f"OutputNeuron.teach: target must have shape ({self.n},) with values in [0, 1]")
        self["g_exc"] = t
        self["g_inh"] = 1.0 - t

    def constants(self, dt, method):
        par = self._base_constants(dt, method, self.p["g_d"], 0.0)
        par[_E_E], par[_E_I] = self.p["E_e"], self.p["E_i"]
        return par

    def kernels(self, method):
        return "compsim.models.segregated:output_derive", "compsim.models.segregated:output_update"

    def brian2_model(self):
        """Brian2 equivalent (dimensionless potentials) for :mod:`compsim.validate`; port ``basal``."""
        return self._brian2_soma("""
        dv_soma/dt = (-v_soma + (g_d/g_l)*(v_basal - v_soma) + (g_exc/g_l)*(E_e - v_soma)
                      + (g_inh/g_l)*(E_i - v_soma) + I_ext/g_l) / tau : 1
        v_basal = basal + b_basal : 1
        b_basal : 1
        g_exc : 1
        g_inh : 1
        I_ext : 1
        """)


@njit(cache=True, inline="always")
def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


@njit(cache=True, inline="always")
def _spike(v, i, step, par, key):
    if not math.isfinite(v):
        return -1
    return draw_spikes(par[_PHI_DT] * _sigmoid(v), int(par[_MODE]), key, i, step)


@njit(cache=True, inline="always")
def pyramidal_derive(par, v, b_basal, b_apical, basal, apical):
    """Dendritic potentials ``(V_b, V_a)`` from this step's filtered inputs and biases."""
    return basal + b_basal, apical + b_apical


@njit(cache=True, inline="always")
def pyramidal_update(i, step, key, par, v, v_basal, v_apical, b_basal, b_apical, basal, apical):
    """Advance the soma one step and draw its spikes: returns ``(V, count)``."""
    if par[_METHOD] == 0.0:
        v = v + par[_DT_TAU] * (-v + par[_GB_GL] * (v_basal - v) + par[_GA_GL] * (v_apical - v))
    else:
        v_inf = (par[_GB_GL] * v_basal + par[_GA_GL] * v_apical) / (1.0 + par[_GB_GL] + par[_GA_GL])
        v = v_inf + (v - v_inf) * par[_DECAY]
    return v, _spike(v, i, step, par, key)


@njit(cache=True, inline="always")
def output_derive(par, v, b_basal, g_exc, g_inh, I_ext, basal):
    """Dendritic potential ``V_b`` from this step's filtered input and bias."""
    return (basal + b_basal,)


@njit(cache=True, inline="always")
def output_update(i, step, key, par, v, v_basal, b_basal, g_exc, g_inh, I_ext, basal):
    """Advance the soma one step (with teaching input) and draw its spikes: returns ``(V, count)``."""
    ge = g_exc * par[_G_L_I]  # teaching conductances and current relative to g_l
    gi = g_inh * par[_G_L_I]
    i_ext = I_ext * par[_G_L_I]
    if par[_METHOD] == 0.0:
        v = v + par[_DT_TAU] * (-v + par[_GB_GL] * (v_basal - v) + ge * (par[_E_E] - v) + gi * (par[_E_I] - v) + i_ext)
    else:
        g_tot = 1.0 + par[_GB_GL] + ge + gi
        v_inf = (par[_GB_GL] * v_basal + ge * par[_E_E] + gi * par[_E_I] + i_ext) / g_tot
        v = v_inf + (v - v_inf) * math.exp(-par[_DT_TAU] * g_tot)
    return v, _spike(v, i, step, par, key)
