"""Conductance-based excitatory/inhibitory neurons and their steady state: conductance-weighted averaging (CWA).

After "Learning difficult perceptual tasks with Hodgkin-Huxley networks"
(seed 003). Every synapse is a conductance towards its *presynaptic*
population's reversal potential: an excitatory population (valence +1)
drives the port ``g_e`` (reversal ``E_e``), an inhibitory one (valence -1)
the port ``g_i`` (reversal ``E_i``); maximal conductances are >= 0 (Dale's
law per presynaptic population, checked when connecting). Potentials are in
the paper's valence units (``E_e = +1``, ``E_i = -1``, ``E_r = -0.4``);
conductances are relative to the unit of ``G_r``; time in ms::

    C dV/dt = G_r (E_r - V) + g_e (E_e - V) + g_i (E_i - V),     g_e = sum_j G_ij p_j (excitatory j), ...
    p = (V)_+                      (activation 'clipped', seed 003 eq. 4), or
    p = sigmoid((V - E_th) / k)    (activation 'sigmoid', eq. 1)

``C / G_r`` is the resting membrane time constant (ms). In **rate mode**
(default) the population transmits ``p`` itself (graded): the next
population's conductances are ``G p`` in the next step. In **spiking mode** it
emits a spike with probability ``phi_max dt p`` per step and projections
filter the spikes (choose e.g. ``cs.Exponential(tau)``).

Integration: ``exponential_euler``/``exact`` (the equation is linear in V
with the conductances frozen over the step: ``V <- V_inf + (V - V_inf)
exp(-dt g_tot / C)``, exact for constant inputs) or forward ``euler``.

**Steady state.** With constant inputs, ``dV/dt = 0`` gives seed 003 eq. 1,
the conductance-weighted average of the reversal potentials::

    V = (G_r E_r + g_e E_e + g_i E_i) / (G_r + g_e + g_i)

:func:`steady_state` computes it without time stepping: layer by layer in
closed form for feedforward networks, by damped fixed-point iteration for
recurrent ones. It lies between the smallest and largest of ``E_r``,
``E_e``, ``E_i`` whatever the input, and ``G_r > 0`` keeps the denominator
positive.
"""
import numpy as np
from numba import njit

from compsim.fastmath import exp, sigmoid
from compsim.model import Model, Param, Port, Var
from compsim.rng import bernoulli_spike

ACTIVATIONS = ("clipped", "sigmoid")


class ConductanceNeuron(Model):
    """A conductance-based point neuron with a valence (module docstring).

    State: ``V`` (valence units), ``p`` (activity in [0, 1]). Ports: ``g_e``,
    ``g_i`` (conductances, units of ``G_r``). ``valence``: +1 if this
    population's synapses are excitatory, -1 inhibitory. ``mode``: ``"rate"``
    (graded transmission of ``p``) or ``"spiking"`` (Bernoulli spikes at ``phi_max p``).
    """

    params = (
        Param("C", 1.0, "ms", "capacitance, in units of G_r x ms (C / G_r: resting time constant)", lo=0.0,
              lo_open=True),
        Param("G_r", 1.0, "1", "resting conductance", lo=0.0, lo_open=True),
        Param("E_r", -0.4, "1", "resting reversal potential", lo=-1.0, hi=1.0),
        Param("E_e", 1.0, "1", "reversal potential of excitatory synapses", lo=-1.0, hi=1.0),
        Param("E_i", -1.0, "1", "reversal potential of inhibitory synapses", lo=-1.0, hi=1.0),
        Param("E_th", 0.0, "1", "threshold of the sigmoid activation", lo=-1.0, hi=1.0, per_copy=False),
        Param("k", 0.1, "1", "slope scale of the sigmoid activation", lo=0.0, lo_open=True, per_copy=False),
        Param("valence", 1.0, "1", "+1 excitatory, -1 inhibitory: the sign of all its synapses", lo=-1.0, hi=1.0,
              per_copy=False),
        Param("phi_max", 200.0, "Hz", "rate at p = 1 (spiking mode)", lo=0.0),
    )
    state_vars = (
        Var("V", "1", "membrane potential", init=lambda p: p["E_r"]),
        Var("p", "1", "activity (open probability of the outgoing synapses)"),
    )
    ports = (
        Port("g_e", "1", "conductance towards E_e (excitatory presynaptic populations)", ("instantaneous",),
             conductance=True),
        Port("g_i", "1", "conductance towards E_i (inhibitory presynaptic populations)", ("instantaneous",),
             conductance=True),
    )

    def __init__(self, n, *, valence=1.0, activation="clipped", mode="rate", name=None, **params):
        super().__init__(n, name=name, valence=valence, **params)
        if self.p["valence"] not in (-1.0, 1.0):
            raise ValueError(f"ConductanceNeuron: parameter 'valence' must be +1 or -1, got {self.p['valence']}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"ConductanceNeuron: parameter 'activation' must be one of {ACTIVATIONS}, got {activation!r}")
        if mode not in ("rate", "spiking"):
            raise ValueError(f"ConductanceNeuron: parameter 'mode' must be 'rate' or 'spiking', got {mode!r}")
        self.activation, self.mode = activation, mode
        self.spiking = mode == "spiking"
        self.activity = None if self.spiking else "p"

    def _declare(self, store, batch, dtype):
        super()._declare(store, batch, dtype)
        self.state[1] = self.activate(self.state[0])  # p = act(V) from the start, as Brian2's subexpression

    def __setitem__(self, name, value):
        """Set a state variable; setting ``V`` also sets ``p = act(V)`` (``p`` itself follows ``V``)."""
        if name == "p":
            raise ValueError(f"ConductanceNeuron '{self.name}': 'p' follows 'V' (p = act(V)); set 'V' instead")
        super().__setitem__(name, value)
        if name == "V":
            self.state[1] = self.activate(self.state[0])

    def validate(self, dt):
        if self.spiking and np.max(self.p["phi_max"]) * dt * 1e-3 > 1.0:
            raise ValueError(f"ConductanceNeuron '{self.name}': spiking mode needs phi_max dt <= 1, got "
                             f"{np.max(self.p['phi_max'])} Hz x {dt} ms; lower dt or phi_max")

    def check_input(self, pre, target, weights, owner):
        """Dale's law: conductances >= 0, and the port is the one of the presynaptic population's valence."""
        valence = pre.p.get("valence") if hasattr(pre, "p") else None
        if valence is None:
            raise ValueError(f"{owner}: a ConductanceNeuron takes input from populations with a valence "
                             f"(ConductanceNeuron, ActivitySource), not {type(pre).__name__}")
        want = "g_e" if valence > 0 else "g_i"
        if target != want:
            raise ValueError(f"{owner}: '{pre.name}' is {'excitatory' if valence > 0 else 'inhibitory'} "
                             f"(valence {valence:+g}), so it must target port '{want}', not '{target}'")
        if np.min(weights, initial=0.0) < 0.0:
            raise ValueError(f"{owner}: maximal conductances must be >= 0 (Dale's law: the sign comes from the "
                             f"presynaptic valence), got min {np.min(weights)}")

    def describe(self):
        d = super().describe()
        d.update(activation=self.activation, mode=self.mode)
        return d

    def constants(self, p, dt, method):
        return {"euler": float(method == "euler"), "dt_c": dt / p["C"], "phi_dt": p["phi_max"] * dt * 1e-3,
                "sigmoid": float(self.activation == "sigmoid")}

    def kernels(self, method):
        return None, conductance_update_spiking if self.spiking else conductance_update_rate

    def brian2_model(self):
        """Brian2 equivalent for :mod:`compsim.validate`: the same equation, ``p`` as a subexpression of ``V``;
        spiking mode with compsim's uniforms as frozen noise. Graded projections become ``(summed)`` variables."""
        from brian2 import Hz, ms

        p = self.p
        activation = "1 / (1 + exp(-(V - E_th) / k))" if self.activation == "sigmoid" else "V * int(V > 0)"
        spec = {
            "equations": f"""
            dV/dt = (G_r*(E_r - V) + g_e*(E_e - V) + g_i*(E_i - V)) / C : 1
            p = {activation} : 1
            """,
            "namespace": {"C": p["C"] * ms, "phi_max": p["phi_max"] * Hz,
                          **{k: p[k] for k in ("G_r", "E_r", "E_e", "E_i", "E_th", "k")}},
            "units": dict.fromkeys(["V", "p", "g_e", "g_i"], 1),
        }
        if self.spiking:
            spec.update(threshold="frozen_u(t, i) < phi_max * dt * p", noise={"frozen_u": 0})
        return spec

    def activate(self, V):
        """``p`` for potentials ``V`` (NumPy), as the kernels compute it."""
        if self.activation == "sigmoid":
            return 1.0 / (1.0 + np.exp(-(V - self.p["E_th"]) / self.p["k"]))
        return np.maximum(V, 0.0)


@njit(cache=True, inline="always")
def _conductance_step(c, V, g_e, g_i):
    """``(V, p)`` after one step with the conductances frozen over it."""
    if c.euler != 0.0:
        V_new = V + c.dt_c * (c.G_r * (c.E_r - V) + g_e * (c.E_e - V) + g_i * (c.E_i - V))
    else:
        g_tot = c.G_r + g_e + g_i
        V_inf = (c.G_r * c.E_r + g_e * c.E_e + g_i * c.E_i) / g_tot
        V_new = V_inf + (V - V_inf) * exp(-c.dt_c * g_tot)
    p = sigmoid((V_new - c.E_th) / c.k) if c.sigmoid != 0.0 else max(V_new, 0.0)
    return V_new, p


@njit(cache=True, inline="always")
def conductance_update_rate(i, step, key, c, V, p, g_e, g_i):
    """Rate mode: ``(V, p, count = 0)``."""
    V_new, p_new = _conductance_step(c, V, g_e, g_i)
    return V_new, p_new, 0


@njit(cache=True, inline="always")
def conductance_update_spiking(i, step, key, c, V, p, g_e, g_i):
    """Spiking mode: ``(V, p, count)``, one spike with probability ``phi_max dt p``."""
    V_new, p_new = _conductance_step(c, V, g_e, g_i)
    return V_new, p_new, bernoulli_spike(c.phi_dt * p_new, key, i, step)


def _inputs(net):
    """Graded projections into each conductance population, by population."""
    incoming = {}
    for j in net.projections:
        if isinstance(j.post, ConductanceNeuron):
            if not j.graded:
                raise ValueError(f"steady_state: projection {j.pre.name} -> {j.post.name} transmits spikes; the "
                                 "steady state is defined for rate-mode (graded) networks")
            incoming.setdefault(j.post, []).append(j)
    return incoming


def _order(pops, incoming):
    """Populations in dependency order, or None when the projections among them form a cycle."""
    done, order = set(), []
    while len(order) < len(pops):
        ready = [p for p in pops if p not in done
                 and all(j.pre in done or not isinstance(j.pre, ConductanceNeuron) for j in incoming.get(p, []))]
        if not ready:
            return None
        order += ready
        done.update(ready)
    return order


def _fixed_point(pop, projections, activity, rows):
    """``(V, p)`` of ``pop`` for ``rows`` inputs from the presynaptic activities (eq. 1)."""
    c = pop.copy_params(0)
    g = {"g_e": np.zeros((rows, pop.n)), "g_i": np.zeros((rows, pop.n))}
    for j in projections:
        g[j.target] += activity[j.pre] @ j.weight_matrix().T
    V = (c["G_r"] * c["E_r"] + g["g_e"] * c["E_e"] + g["g_i"] * c["E_i"]) / (c["G_r"] + g["g_e"] + g["g_i"])
    return V, pop.activate(V)


class SteadyState(dict):
    """Population name -> ``(V, p)``, plus how it was found: ``iterations`` (0: closed form, layer by layer)
    and ``residual`` (the last iteration's largest change of V; 0.0 in closed form)."""

    def __init__(self, values, iterations=0, residual=0.0):
        super().__init__(values)
        self.iterations, self.residual = iterations, residual


def steady_state(net, inputs=None, *, damping=0.5, tol=1e-12, max_iter=10_000):
    """The fixed point of every :class:`ConductanceNeuron` population of ``net`` (rate mode), without time stepping.

    Parameters
    ----------
    net : compsim.Network
        A network of rate-mode conductance populations and sources with graded output
        (:class:`compsim.ActivitySource`).
    inputs : dict population -> array (M, n), optional
        Activities of the sources for M inputs at once (default: the sources' current
        ``p`` of each batch copy); M can be any number: the layers are matrix products.
    damping, tol, max_iter : float, float, int
        Recurrent networks only: ``V <- (1 - damping) V + damping F(V)`` until the largest
        change is below ``tol``; a RuntimeError reports the residual if ``max_iter`` passes first.

    Returns
    -------
    SteadyState
        dict population name -> (V, p), arrays of shape (M, n), with ``iterations`` and ``residual``.
    """
    incoming = _inputs(net)
    pops = [p for p in net.populations if isinstance(p, ConductanceNeuron)]
    activity = {}
    for p in net.populations:
        if not isinstance(p, ConductanceNeuron) and p.activity is not None:
            given = None if inputs is None else inputs.get(p)
            activity[p] = np.atleast_2d(p[p.activity] if given is None else np.asarray(given, dtype=np.float64))
    if not activity:
        raise ValueError("steady_state: the network has no source with graded output (ActivitySource)")
    sizes = {a.shape[0] for a in activity.values()}
    if len(sizes) != 1:
        raise ValueError(f"steady_state: every input must have the same number of rows, got {sorted(sizes)}")
    rows = sizes.pop()
    order = _order(pops, incoming)
    result = {}
    if order is not None:  # feedforward: each layer once, in closed form
        for pop in order:
            V, activity[pop] = _fixed_point(pop, incoming.get(pop, []), activity, rows)
            result[pop.name] = (V, activity[pop])
        return SteadyState(result)
    V = {pop: np.full((rows, pop.n), pop.copy_params(0)["E_r"]) for pop in pops}
    for pop in pops:
        activity[pop] = pop.activate(V[pop])
    for iteration in range(1, max_iter + 1):
        change = 0.0
        new = {pop: _fixed_point(pop, incoming.get(pop, []), activity, rows)[0] for pop in pops}
        for pop in pops:
            step = damping * (new[pop] - V[pop])
            V[pop] = V[pop] + step
            activity[pop] = pop.activate(V[pop])
            change = max(change, float(np.max(np.abs(step))))
        if change < tol:
            return SteadyState({pop.name: (V[pop], activity[pop]) for pop in pops}, iteration, change)
    raise RuntimeError(f"steady_state: no convergence after {max_iter} damped iterations (last change {change:.3g}, "
                       f"tolerance {tol:g}); lower 'damping' or raise 'max_iter'")
