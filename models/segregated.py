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
import numpy as np
from numba import njit

from compsim.fastmath import exp, sigmoid
from compsim.model import Model, Param, Port, Var, check_spike_mode
from compsim.rng import SMALL_LAM_MAX, bernoulli_spike, poisson_spikes, poisson_spikes_small

_PHI_MAX = Param("phi_max", 200.0, "Hz", "maximum firing rate", lo=0.0)
_TAU = Param("tau", 10.0, "ms", "somatic time constant C_m / g_l", lo=0.0, lo_open=True)
_G_L = Param("g_l", 0.1, "1", "leak conductance", lo=0.0, lo_open=True)
_TAU_S = Param("tau_s", 3.0, "ms", "decay time of the default (exponential) synaptic kernel", lo=0.0, lo_open=True,
               per_copy=False)


class _StochasticSoma(Model):
    """Common parts: Poisson-spiking soma with rate ``phi_max * sigmoid(V)``."""

    def __init__(self, n, *, name=None, spike_mode="bernoulli", **params):
        super().__init__(n, name=name, **params)
        self.spike_mode = check_spike_mode(spike_mode, type(self).__name__)

    def validate(self, dt):
        lam = float(np.max(self.p["phi_max"])) * dt / 1000.0
        if self.spike_mode == "bernoulli" and lam > 1.0:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': phi_max * dt must be <= 1 for spike_mode='bernoulli' "
                f"(got {np.max(self.p['phi_max'])} Hz * {dt} ms = {lam:.3g}); lower dt or use spike_mode='poisson'"
            )

    def describe(self):
        d = super().describe()
        d["spike_mode"] = self.spike_mode
        return d

    def _spike_kernel(self):
        """``'bernoulli'``, ``'poisson_small'`` (phi_max dt <= SMALL_LAM_MAX: the branch-free draw, which lets the
        neuron loop vectorise), ``'poisson'``, or ``'poisson_events'`` (the kernel returns the expected count and
        the engine draws by time rescaling)."""
        if self.spike_mode in ("bernoulli", "poisson_events"):
            return self.spike_mode
        small = float(np.max(self.p["phi_max"])) * self.network.dt / 1000.0 <= SMALL_LAM_MAX
        return "poisson_small" if small else "poisson"

    def _brian2_soma(self, equations):
        """Brian2 model dict shared by both somas: frozen-noise Bernoulli spiking, no reset."""
        from brian2 import Hz, ms

        if self.spike_mode == "poisson_events":
            raise ValueError(f"{type(self).__name__}: spike_mode 'poisson_events' has no Brian2 counterpart "
                             "(its random numbers are drawn at spikes, not per step); validate with 'poisson'")

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

    def _soma_constants(self, p, dt, method, g_b, g_a):
        """Constants of both somas: ``euler`` (1: forward Euler), ``dt_tau = dt / tau``, the exact decay
        ``decay = exp(-dt (g_l + g_b + g_a) / (g_l tau))``, ``phi_dt = phi_max dt`` (expected spikes per step
        at the maximal rate), ``gb_gl = g_b / g_l``, ``ga_gl = g_a / g_l``, ``inv_g_l = 1 / g_l`` and
        ``inv_g_tot = 1 / (1 + g_b / g_l + g_a / g_l)`` (the steady state's divisor, as a factor: the update
        multiplies instead of dividing)."""
        return {"euler": float(method == "euler"), "dt_tau": dt / p["tau"],
                "decay": float(np.exp(-dt * (p["g_l"] + g_b + g_a) / (p["g_l"] * p["tau"]))),
                "phi_dt": p["phi_max"] * dt / 1000.0,
                "gb_gl": g_b / p["g_l"], "ga_gl": g_a / p["g_l"], "inv_g_l": 1.0 / p["g_l"],
                "inv_g_tot": 1.0 / (1.0 + g_b / p["g_l"] + g_a / p["g_l"])}


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

    def constants(self, p, dt, method):
        return self._soma_constants(p, dt, method, p["g_b"], p["g_a"])

    def kernels(self, method):
        return pyramidal_derive, {"bernoulli": pyramidal_update_bernoulli, "poisson": pyramidal_update_poisson,
                                  "poisson_small": pyramidal_update_poisson_small,
                                  "poisson_events": pyramidal_update_expected}[self._spike_kernel()]

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

        ``target``: array of shape (n,) (every copy) or (batch, n) (one target
        per copy) in [0, 1] (e.g. one-hot), or None to switch teaching off.
        """
        if target is None:
            self["g_exc"] = 0.0
            self["g_inh"] = 0.0
            return
        t = np.asarray(target, dtype=float)
        if t.shape not in ((self.n,), (self.batch, self.n)) or (t < 0).any() or (t > 1).any():
            raise ValueError(f"OutputNeuron.teach: target must have shape ({self.n},) or ({self.batch}, {self.n}) "
                             f"with values in [0, 1], got shape {t.shape}")
        self["g_exc"] = t
        self["g_inh"] = 1.0 - t

    def constants(self, p, dt, method):
        return self._soma_constants(p, dt, method, p["g_d"], 0.0)

    def kernels(self, method):
        return output_derive, {"bernoulli": output_update_bernoulli, "poisson": output_update_poisson,
                               "poisson_small": output_update_poisson_small,
                               "poisson_events": output_update_expected}[self._spike_kernel()]

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


# Kernels. Each soma has one update kernel per spike mode: Bernoulli draws and Poisson counts at small
# rates (phi_max dt <= SMALL_LAM_MAX) are branch-free, so the loop over neurons vectorises; larger
# Poisson rates need a loop. The soma dynamics are shared.
@njit(cache=True, inline="always")
def pyramidal_derive(c, v_soma, b_basal, b_apical, basal, apical):
    """Dendritic potentials ``(V_b, V_a)`` from this step's filtered inputs and biases."""
    return basal + b_basal, apical + b_apical


@njit(cache=True, inline="always")
def _pyramidal_soma(c, v, v_basal, v_apical):
    """V after one step: forward Euler, or exact with the dendritic potentials frozen over the step."""
    if c.euler != 0.0:
        return v + c.dt_tau * (-v + c.gb_gl * (v_basal - v) + c.ga_gl * (v_apical - v))
    v_inf = (c.gb_gl * v_basal + c.ga_gl * v_apical) * c.inv_g_tot
    return v_inf + (v - v_inf) * c.decay


@njit(cache=True, inline="always")
def pyramidal_update_bernoulli(i, step, key, c, v_soma, v_basal, v_apical, b_basal, b_apical, basal, apical):
    """Advance the soma one step; one spike with probability ``phi_max dt sigmoid(V)``: returns ``(V, count)``."""
    v = _pyramidal_soma(c, v_soma, v_basal, v_apical)
    return v, bernoulli_spike(c.phi_dt * sigmoid(v), key, i, step)


@njit(cache=True, inline="always")
def pyramidal_update_poisson(i, step, key, c, v_soma, v_basal, v_apical, b_basal, b_apical, basal, apical):
    """Advance the soma one step; a Poisson(``phi_max dt sigmoid(V)``) spike count: returns ``(V, count)``."""
    v = _pyramidal_soma(c, v_soma, v_basal, v_apical)
    return v, poisson_spikes(c.phi_dt * sigmoid(v), key, i, step)


@njit(cache=True, inline="always")
def pyramidal_update_poisson_small(i, step, key, c, v_soma, v_basal, v_apical, b_basal, b_apical, basal, apical):
    """As :func:`pyramidal_update_poisson` for ``phi_max dt <= SMALL_LAM_MAX``, branch-free."""
    v = _pyramidal_soma(c, v_soma, v_basal, v_apical)
    return v, poisson_spikes_small(c.phi_dt * sigmoid(v), key, i, step)


@njit(cache=True, inline="always")
def pyramidal_update_expected(i, step, key, c, v_soma, v_basal, v_apical, b_basal, b_apical, basal, apical):
    """Advance the soma one step: returns ``(V, phi_max dt sigmoid(V))``, the expected spike count, which the
    engine turns into a Poisson count (spike mode ``poisson_events``)."""
    v = _pyramidal_soma(c, v_soma, v_basal, v_apical)
    return v, c.phi_dt * sigmoid(v)


@njit(cache=True, inline="always")
def output_derive(c, v_soma, b_basal, g_exc, g_inh, I_ext, basal):
    """Dendritic potential ``V_b`` from this step's filtered input and bias."""
    return (basal + b_basal,)


@njit(cache=True, inline="always")
def _output_soma(c, v, v_basal, g_exc, g_inh, I_ext):
    """V after one step with the teaching conductances and current (relative to g_l)."""
    ge = g_exc * c.inv_g_l
    gi = g_inh * c.inv_g_l
    i_ext = I_ext * c.inv_g_l
    if c.euler != 0.0:
        return v + c.dt_tau * (-v + c.gb_gl * (v_basal - v) + ge * (c.E_e - v) + gi * (c.E_i - v) + i_ext)
    g_tot = 1.0 + c.gb_gl + ge + gi
    v_inf = (c.gb_gl * v_basal + ge * c.E_e + gi * c.E_i + i_ext) / g_tot
    return v_inf + (v - v_inf) * exp(-c.dt_tau * g_tot)


@njit(cache=True, inline="always")
def output_update_bernoulli(i, step, key, c, v_soma, v_basal, b_basal, g_exc, g_inh, I_ext, basal):
    """Advance the soma one step (teaching input included); Bernoulli spike: returns ``(V, count)``."""
    v = _output_soma(c, v_soma, v_basal, g_exc, g_inh, I_ext)
    return v, bernoulli_spike(c.phi_dt * sigmoid(v), key, i, step)


@njit(cache=True, inline="always")
def output_update_poisson(i, step, key, c, v_soma, v_basal, b_basal, g_exc, g_inh, I_ext, basal):
    """Advance the soma one step (teaching input included); Poisson spike count: returns ``(V, count)``."""
    v = _output_soma(c, v_soma, v_basal, g_exc, g_inh, I_ext)
    return v, poisson_spikes(c.phi_dt * sigmoid(v), key, i, step)


@njit(cache=True, inline="always")
def output_update_poisson_small(i, step, key, c, v_soma, v_basal, b_basal, g_exc, g_inh, I_ext, basal):
    """As :func:`output_update_poisson` for ``phi_max dt <= SMALL_LAM_MAX``, branch-free."""
    v = _output_soma(c, v_soma, v_basal, g_exc, g_inh, I_ext)
    return v, poisson_spikes_small(c.phi_dt * sigmoid(v), key, i, step)


@njit(cache=True, inline="always")
def output_update_expected(i, step, key, c, v_soma, v_basal, b_basal, g_exc, g_inh, I_ext, basal):
    """Advance the soma one step (teaching input included): returns ``(V, expected spike count)``
    (spike mode ``poisson_events``)."""
    v = _output_soma(c, v_soma, v_basal, g_exc, g_inh, I_ext)
    return v, c.phi_dt * sigmoid(v)
