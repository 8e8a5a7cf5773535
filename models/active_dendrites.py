"""Active dendritic segments and k-winners-take-all in the engine (seed 000, after Iyer et al. 2022), spiking form.

The rate form is :class:`compsim.training.dendrites.ActiveDendrites` with
:class:`~compsim.training.dendrites.KWinners`: ``y = (w.x + b) sigmoid(max_j u_j.c)``,
then the ``k`` largest ``y`` of the layer are kept. Here each unit is a neuron
with a feedforward port ``drive`` and one port per dendritic segment,
``segment0 .. segment{S-1}``: the context reaches segment j through its own
projection (weights ``u_j``), the input through ``drive`` (weights ``w``). The
segment with the largest input gates the soma (a :class:`~compsim.model.PortGroup`
reduced by its maximum, or by largest magnitude with ``absolute=True``, the
reference's "absolute max" variant)::

    d = max_j I_seg,j                               (segment inputs, dimensionless)
    tau_m dV/dt = -V + (I_drive + b) sigmoid(d)     (soma, V dimensionless)

**k-winners-take-all: an exact per-step top-k.** After the update, in every
step and batch copy, the ``k`` neurons of largest ``V`` win (ties: the lower
index); each winner counts a ``win`` event and spikes with probability
``phi_max dt min(max(V, 0), 1)`` (Bernoulli, compsim's counter-based stream);
the other neurons are silent. An exact top-k, not an inhibitory pool: it is
what the rate form computes, so with constant inputs (graded projections,
:class:`~compsim.Instantaneous` synapses) ``V`` relaxes to the rate form's ``y``
and the winners are the rate form's winners exactly. Driven by Poisson spike
trains, the synaptic traces estimate ``w.x`` and ``u_j.c`` with noise, and the
units that win most steps over a presentation are the rate form's winners for
most inputs (measured in ``tests/test_active_dendrites_spiking.py``).
:func:`compsim.protocols.active_dendrites.spiking_layer` builds such a layer from a
trained rate-form layer.

Integration: ``exponential_euler``/``exact``: ``V <- y + (V - y) exp(-dt / tau_m)``
(exact for inputs constant over the step); ``euler``: ``V <- V + dt (y - V) / tau_m``.
The ports' default synapse is exponential with ``tau_s``.
"""
import numpy as np
from numba import njit

from compsim.checks import check_count
from compsim.engine.kernels import copy_into
from compsim.engine.plan import Stage
from compsim.fastmath import sigmoid
from compsim.model import Event, Model, Param, Port, PortGroup, Var
from compsim.rng import bernoulli_spike


class ActiveDendriteNeuron(Model):
    """A layer of units with dendritic segments and exact k-winners-take-all (module docstring).

    ``segments``: number of dendritic segments S (ports ``segment0`` .. ``segment{S-1}``);
    ``k``: winners per step; ``absolute``: gate with the segment of largest magnitude
    (sign kept) instead of the largest. State: ``V`` (soma, dimensionless) and the
    per-neuron bias ``b`` (role ``param``). Event: ``win``.
    """

    params = (
        Param("tau_m", 10.0, "ms", "time constant of the soma", lo=0.0, lo_open=True),
        Param("tau_s", 5.0, "ms", "default synaptic time constant of every port", lo=0.0, lo_open=True),
        Param("phi_max", 200.0, "Hz", "spike rate of a winner at V >= 1", lo=0.0),
    )
    state_vars = (
        Var("V", "1", "soma: low-pass of the gated drive (I_drive + b) sigmoid(d)"),
        Var("b", "1", "bias of the feedforward drive", role="param"),
    )
    events = (Event("win", "among the k largest V of the layer in this step"),)

    def __init__(self, n, *, segments, k, absolute=False, name=None, **params):
        owner = "ActiveDendriteNeuron"
        segments = check_count("segments", segments, owner=owner)
        self.k = check_count("k", k, owner=owner)
        if self.k > n:
            raise ValueError(f"{owner}: parameter 'k' must be in [1, n = {n}], got {self.k}")
        self.absolute = bool(absolute)
        self.segments = segments
        synapse = ("exponential", "tau_s")
        self.ports = (Port("drive", "1", "feedforward drive w.x", synapse),
                      *(Port(f"segment{j}", "1", f"context input u_{j}.c of segment {j}", synapse)
                        for j in range(segments)))
        self.port_groups = (PortGroup("dendrite", tuple(f"segment{j}" for j in range(segments)),
                                      "absmax" if self.absolute else "max"),)
        super().__init__(n, name=name, **params)

    def validate(self, dt):
        if self.p["phi_max"] * dt * 1e-3 > 1.0:
            raise ValueError(f"ActiveDendriteNeuron '{self.name}': phi_max dt must be <= 1, got "
                             f"{self.p['phi_max']} Hz x {dt} ms; lower dt or phi_max")

    def _declare(self, store, batch, dtype):
        super()._declare(store, batch, dtype)
        store.declare(self.owner, "topk", (batch, self.n), dtype, kind="scratch",
                      doc=f"the potentials of '{self.name}' per copy, partially ordered by the k-WTA")

    def describe(self):
        d = super().describe()
        d.update(segments=self.segments, k=self.k, absolute=self.absolute)
        return d

    def constants(self, p, dt, method):
        return {"euler": float(method == "euler"), "decay": float(np.exp(-dt / p["tau_m"])),
                "dt_tau": dt / p["tau_m"], "phi_dt": p["phi_max"] * dt * 1e-3}

    def kernels(self, method):
        return None, active_dendrite_update

    def stages(self):
        update, *rest = super().stages()
        return [update, KWinnersStage(self), *rest]


@njit(cache=True, inline="always")
def active_dendrite_update(i, step, key, c, V, b, drive, dendrite):
    """``(V, count, win)``: the soma relaxes towards the gated drive; spikes and wins come from the k-WTA stage."""
    y = (drive + b) * sigmoid(dendrite)
    if c.euler != 0.0:
        return V + c.dt_tau * (y - V), 0, 0
    return y + (V - y) * c.decay, 0, 0


class KWinnersStage(Stage):
    """Phase ``populations``, right after the layer's update: exact top-k per copy (module docstring)."""

    phase = "populations"
    verb = "k-winners-take-all"

    def arguments(self, out):
        pop = self.subject
        phi = list(pop.constant_names(pop.network.dt, pop.network.method)).index("phi_dt")
        return (f"{out.array(pop.owner, 'state')}, {out.array(pop.owner, 'cnt')}, {out.array(pop.owner, 'topk')}, "
                f"{out.array(pop.owner, 'par')}[:, {phi}], {pop.k}, keys[{pop.index}], step")

    def emit(self, out):
        out.emit(f"{out.use(k_winners)}({self.arguments(out)})")

    def emit_cuda(self, out):
        """One thread per copy."""
        out.grid_loop("b", f"{self.subject.batch}")
        out.emit(f"{out.use(k_winners_copy)}(b, {self.arguments(out)})", 1)
        out.end_stage()


@njit(cache=True)
def kth_largest(values, k):
    """The k-th largest of ``values`` (k >= 1), partially reordering ``values`` in place (quickselect)."""
    lo, hi, target = 0, values.shape[0] - 1, k - 1  # select index k - 1 of the descending order
    while lo < hi:
        pivot = values[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while values[i] > pivot:
                i += 1
            while values[j] < pivot:
                j -= 1
            if i <= j:
                values[i], values[j] = values[j], values[i]
                i += 1
                j -= 1
        if target <= j:
            hi = j
        elif target >= i:
            lo = i
        else:
            break
    return values[target]


@njit(cache=True)
def k_winners(state, cnt, scratch, phi_dt, k, keys, step):
    """Per copy: the k neurons of largest ``V`` (row 0 of ``state``) win (ties: lower index); a winner counts a
    ``win`` event (``cnt[1]``) and spikes with probability ``phi_dt min(max(V, 0), 1)``; the others are silent.
    ``scratch``: (B, n) (:func:`k_winners_copy`)."""
    for b in range(state.shape[1]):
        k_winners_copy(b, state, cnt, scratch, phi_dt, k, keys, step)


@njit(cache=True)
def k_winners_copy(b, state, cnt, scratch, phi_dt, k, keys, step):
    """:func:`k_winners` for copy ``b`` (the CUDA backend gives each copy a thread); ``scratch[b]`` is its work space."""
    V = state[0, b]
    work = scratch[b]
    copy_into(work, V)
    kth = kth_largest(work, k)
    above = 0
    for i in range(V.shape[0]):
        above += V[i] > kth
    ties = k - above  # of the neurons at the k-th value, the first ones fill the places left
    for i in range(V.shape[0]):
        win = V[i] > kth
        if not win and V[i] == kth and ties > 0:
            win = True
            ties -= 1
        cnt[1, b, i] = 1 if win else 0
        cnt[0, b, i] = bernoulli_spike(phi_dt[b] * min(max(V[i], 0.0), 1.0), keys[b], i, step) if win else 0
