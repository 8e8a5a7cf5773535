"""Neurons built from compartment trees: declare the compartments, get one vectorised population.

::

    from compsim.models import Compartment, Morphology, channels
    cell = Morphology(
        soma=Compartment(C_m=370.0, g_l=23.0, E_l=-70.0, channels=[channels.HHSodium(), channels.HHPotassium()]),
        trunk=Compartment(parent="soma", g_c=12.0, C_m=100.0, g_l=5.0, E_l=-70.0),
        tuft=Compartment(parent="trunk", g_c=6.0, C_m=170.0, g_l=10.0, E_l=-70.0,
                         channels=[channels.NMDA(), channels.CalciumPlateau(threshold=-35.0, duration=30.0)]),
    )
    pyr = net.add(cell.population(1000, threshold=("soma", -50.0)), name="pyr")
    net.connect(inputs, pyr, "tuft.nmda", 0.5, connectivity=cs.FixedInDegree(20))
    net.record(pyr, ["soma.v", "tuft.v", "tuft.plateau"])

Equations (potentials in mV, conductances in nS, capacitances in pF, currents in pA, time in ms).
Compartment ``j`` with potential ``v_j``, coupled to its parent ``p(j)`` by ``g_c,j``::

    C_j dv_j/dt = g_l,j (E_l,j - v_j) + sum_k g_k (E_k - v_j) + I_ext,j + sum_{d ~ j} g_jd (v_d - v_j)

``sum_k`` runs over the compartment's mechanisms (:mod:`compsim.models.channels`: channels,
synaptic conductances, plateaus), ``d ~ j`` over the compartments coupled to ``j`` (its
parent and children), ``I_ext,j`` is a per-neuron injected current (state variable
``j.I_ext``, set by the user or a protocol) in the compartments named by
``population(..., currents=[...])`` (none by default: every variable of a compartment
is one more array in the neuron loop, and past about 15 of them LLVM no longer
vectorises it). The state variables are named
``<compartment>.<variable>`` (``soma.v``, ``soma.m``, ``tuft.plateau``), the ports
``<compartment>.<port>`` (``tuft.nmda``), the events ``<compartment>.<event>``.

**Integration** (the network's ``method``):

``exact``
    For a passive tree (no mechanisms) the linear system is solved exactly over the
    step: ``v(t + dt) = v_inf + P (v(t) - v_inf)``, ``P = expm(-C^-1 A dt)``,
    ``v_inf = A^-1 (g_l E_l + I_ext)`` with ``A`` the conductance matrix (leak on the
    diagonal, the coupling Laplacian); ``P`` and ``A^-1`` are computed once
    (:func:`scipy.linalg.expm`), exact for inputs constant over the step. With mechanisms,
    the tree is solved by the **implicit (backward) Euler** step, with the mechanisms'
    conductances taken at the start of the step, by Hines' O(n) elimination over the
    tree (as NEURON's default integrator): unconditionally stable whatever the coupling
    conductances, first order in dt. Gates advance by exponential Euler.
``exponential_euler``
    Brian2's ``exponential_euler``: each variable advances exactly over the step with all
    the others frozen at their start-of-step values (for one compartment: the exact
    solution with frozen conductances, the COBAHH benchmark's method). The coupling is
    then explicit: accurate only for ``dt`` well below ``C_j / g_c``.
``euler``
    forward Euler for everything (Brian2's ``euler``); needs ``dt`` below
    ``2 C_j / (total conductance)`` of every compartment.

Explicit coupling is why a stiff tree (small compartments, large ``g_c``) needs ``exact``.

**Spikes.** ``threshold=(compartment, v_th)``: a spike when that compartment's potential
exceeds ``v_th`` outside the refractory period ``refractory`` (ms; with Brian2's
``timestep`` rounding, as :class:`~compsim.models.CobaLIF`); with ``reset`` the potential
is then set to ``reset``, otherwise (Hodgkin-Huxley somata) the refractory period only
stops the same action potential from counting twice. Somatic action potentials
propagate into the dendrites through the coupling conductances.

**Steady state.** For a passive tree, :meth:`CompartmentalNeuron.steady_state` solves
``A v = g_l E_l + I_ext`` (the closed form of ``dv/dt = 0``).

From the declaration compsim generates the scalar update kernel (Python source, compiled
by Numba and cached like the chunk loop: :func:`compsim.engine.cpu.load_module`), its
constants, and the Brian2 equations for :mod:`compsim.validate`.
"""
from dataclasses import dataclass, replace

import numpy as np
import scipy.linalg

from compsim.checks import check_count, check_number
from compsim.engine.cpu import load_module
from compsim.model import Event, Model, Param, Port, Var

from .channels import Mechanism


@dataclass
class Compartment:
    """One compartment: capacitance ``C_m`` (pF), leak ``g_l`` (nS) towards ``E_l`` (mV), coupling ``g_c``
    (nS) to compartment ``parent`` (None for the root), membrane mechanisms ``channels``."""

    C_m: float
    g_l: float
    E_l: float
    parent: str | None = None
    g_c: float | None = None
    channels: tuple = ()


class Morphology:
    """A tree of named :class:`Compartment` objects (exactly one without a parent: the root)."""

    def __init__(self, **compartments):
        if not compartments:
            raise ValueError("Morphology: give at least one compartment, e.g. Morphology(soma=Compartment(...))")
        for name, comp in compartments.items():
            owner = f"Morphology: compartment '{name}'"
            if not name.isidentifier():
                raise ValueError(f"{owner}: its name must be a Python identifier")
            if not isinstance(comp, Compartment):
                raise ValueError(f"{owner} must be a Compartment, got {type(comp).__name__}")
            check_number("C_m", comp.C_m, lo=0.0, lo_open=True, unit="pF", owner=owner)
            check_number("g_l", comp.g_l, lo=0.0, unit="nS", owner=owner)
            check_number("E_l", comp.E_l, unit="mV", owner=owner)
            if comp.parent is not None:
                if comp.parent not in compartments:
                    raise ValueError(f"{owner}: parent '{comp.parent}' is not a compartment; "
                                     f"compartments are {list(compartments)}")
                check_number("g_c", comp.g_c, lo=0.0, lo_open=True, unit="nS", owner=owner)
            elif comp.g_c is not None:
                raise ValueError(f"{owner}: the root compartment has no parent, so no coupling 'g_c'")
            names = [m.name for m in comp.channels]
            for m in comp.channels:
                if not isinstance(m, Mechanism):
                    raise ValueError(f"{owner}: channels must come from compsim.models.channels, got {m!r}")
            if len(set(names)) != len(names):
                raise ValueError(f"{owner}: two mechanisms named {sorted({n for n in names if names.count(n) > 1})}")
        roots = [n for n, c in compartments.items() if c.parent is None]
        if len(roots) != 1:
            raise ValueError(f"Morphology: exactly one compartment must have no parent (the root), got {roots}")
        self.order = [roots[0]]  # parents before children (the order Hines' elimination runs backwards)
        while len(self.order) < len(compartments):
            grown = [n for n, c in compartments.items() if n not in self.order and c.parent in self.order]
            if not grown:
                cycle = sorted(set(compartments) - set(self.order))
                raise ValueError(f"Morphology: compartments {cycle} form a cycle; the compartments must form a tree")
            self.order += grown
        self.compartments = {n: compartments[n] for n in self.order}

    @property
    def passive(self):
        """Whether no compartment has mechanisms (then the tree is linear and ``exact`` is exact)."""
        return not any(c.channels for c in self.compartments.values())

    def population(self, n, *, threshold=None, refractory=0.0, reset=None, currents=(), name=None):
        """A population of ``n`` such neurons (:class:`CompartmentalNeuron`); ``currents``: the compartments
        that take an injected current ``<compartment>.I_ext`` (pA)."""
        return CompartmentalNeuron(n, self, threshold=threshold, refractory=refractory, reset=reset,
                                   currents=currents, name=name)

    def conductance_matrix(self, p):
        """``A`` (nS): leak conductances on the diagonal plus the coupling Laplacian, for parameters ``p``."""
        index = {c: j for j, c in enumerate(self.order)}
        A = np.diag([p[f"{c}_g_l"] for c in self.order]).astype(np.float64)
        for c, comp in self.compartments.items():
            if comp.parent is not None:
                j, q, g = index[c], index[comp.parent], p[f"{c}_g_c"]
                A[j, j] += g
                A[q, q] += g
                A[j, q] -= g
                A[q, j] -= g
        return A


class _Names:
    """The generated kernel's names for one compartment's mechanism (see :class:`~compsim.models.channels.Mechanism`)."""

    def __init__(self, compartment, mechanism=None, brian2=False):
        self.comp, self.mech, self.brian2 = compartment, mechanism, brian2
        self.v = f"{compartment}_v"
        self.v_new = f"{compartment}_v_new"

    def param(self, name):
        full = f"{self.comp}_{self.mech.name}_{name}"
        return full if self.brian2 else f"c.{full}"

    def state(self, name):
        return f"{self.comp}_{name}"

    def new(self, name):
        return f"{self.comp}_{name}_new"

    def port(self, name):
        return f"{self.comp}_{name}"

    def event(self, name):
        return f"{self.comp}_{name}_event"


class CompartmentalNeuron(Model):
    """A population of neurons of one :class:`Morphology` (module docstring); made by :meth:`Morphology.population`."""

    def __init__(self, n, morphology, *, threshold=None, refractory=0.0, reset=None, currents=(), name=None):
        self.morphology = morphology
        owner = "CompartmentalNeuron"
        check_count("n", n, owner=owner)
        self.currents = tuple(currents)
        unknown = sorted(set(self.currents) - set(morphology.compartments))
        if unknown:
            raise ValueError(f"{owner}: parameter 'currents' names {unknown}, which are not compartments; "
                             f"compartments are {list(morphology.compartments)}")
        params, state, ports, events = [], [], [], []
        for c, comp in morphology.compartments.items():
            params += [Param(f"{c}_C_m", comp.C_m, "pF", f"capacitance of {c}", lo=0.0, lo_open=True),
                       Param(f"{c}_g_l", comp.g_l, "nS", f"leak conductance of {c}", lo=0.0),
                       Param(f"{c}_E_l", comp.E_l, "mV", f"leak reversal potential of {c}")]
            if comp.parent is not None:
                params.append(Param(f"{c}_g_c", comp.g_c, "nS", f"coupling of {c} to {comp.parent}", lo=0.0,
                                    lo_open=True))
            state.append(Var(f"{c}.v", "mV", f"membrane potential of {c}", init=comp.E_l))
            for m in comp.channels:
                params += [replace(q, name=f"{c}_{m.name}_{q.name}", doc=f"{q.doc} ({c}.{m.name})")
                           for q in m.parameters()]
                state += [Var(f"{c}.{g}", unit, f"{doc} ({c})", init=init) for g, unit, doc, init in m.gates]
                ports += [Port(f"{c}.{q}", unit, f"{doc} ({c})", (kind, *(f"{c}_{m.name}_{t}" for t in taus)))
                          for q, unit, doc, (kind, *taus) in m.ports]
                events += [Event(f"{c}.{e}", f"{doc} ({c})") for e, doc in m.events]
            if c in self.currents:
                state.append(Var(f"{c}.I_ext", "pA", f"current injected into {c}", role="param"))
        self.spike_compartment = None
        if threshold is not None:
            compartment, v_th = threshold
            if compartment not in morphology.compartments:
                raise ValueError(f"{owner}: parameter 'threshold' names compartment '{compartment}'; compartments "
                                 f"are {list(morphology.compartments)}")
            self.spike_compartment = compartment
            params += [Param("v_th", v_th, "mV", f"spike threshold of {compartment}"),
                       Param("t_ref", refractory, "ms", "refractory period", lo=0.0)]
            if reset is not None:
                params.append(Param("v_reset", reset, "mV", f"potential of {compartment} after a spike"))
            state.append(Var("refractory", "steps", "steps left in the refractory period (0: free)"))
        elif reset is not None:
            raise ValueError(f"{owner}: parameter 'reset' needs a 'threshold'")
        self.reset = reset is not None
        self.params, self.state_vars, self.ports, self.events = tuple(params), tuple(state), tuple(ports), tuple(events)
        self.spiking = threshold is not None
        names = [v.name for v in state] + [q.name for q in ports] + [q.name for q in params]
        idents = [self.identifier(x) for x in names]
        if len(set(idents)) != len(idents):
            clash = sorted({x for x in idents if idents.count(x) > 1})
            raise ValueError(f"{owner}: variable, port and parameter names collide once '.' becomes '_': {clash}")
        super().__init__(n, name=name)
        self._kernel = None

    def identifier(self, name):
        return name.replace(".", "_")

    def _row(self, name):
        compartment, _, local = name.partition(".")
        if local == "I_ext" and compartment in self.morphology.compartments and compartment not in self.currents:
            raise ValueError(f"CompartmentalNeuron '{self.name}': '{name}' exists only for the compartments given "
                             f"to population(..., currents=[...]); declare currents=['{compartment}']")
        return super()._row(name)

    def describe(self):
        d = super().describe()
        d["morphology"] = {c: {"parent": comp.parent, "channels": [type(m).__name__ for m in comp.channels]}
                           for c, comp in self.morphology.compartments.items()}
        d["currents"] = list(self.currents)
        return d

    # -- constants and kernels ----------------------------------------------------
    def _linear(self, method):
        return method == "exact" and self.morphology.passive

    def constants(self, p, dt, method):
        out = {"dt": dt}
        for c in self.morphology.order:
            out[f"{c}_dt_C"] = dt / p[f"{c}_C_m"]
            out[f"{c}_C_dt"] = p[f"{c}_C_m"] / dt
        if self.spiking:
            out["n_ref"] = max(int(np.floor(p["t_ref"] / dt + 1e-3)) - 1, 0)
        if self._linear(method):
            A = self.morphology.conductance_matrix(p)
            C = np.array([p[f"{c}_C_m"] for c in self.morphology.order])
            P, K = scipy.linalg.expm(-dt * A / C[:, None]), np.linalg.inv(A)
            for j in range(len(C)):
                for q in range(len(C)):
                    out[f"P_{j}_{q}"], out[f"K_{j}_{q}"] = P[j, q], K[j, q]
        return out

    def kernels(self, method):
        if self._kernel is None or self._kernel[0] != method:
            module = load_module(self.kernel_source(method), "compsim_morphology")
            self._kernel = (method, module.update)
        return None, self._kernel[1]

    def kernel_source(self, method):
        """Python source of the generated update kernel for ``method`` (module docstring)."""
        morph = self.morphology
        order = morph.order
        ident = self.identifier
        args = [ident(v.name) for v in self.state_vars] + [ident(q.name) for q in self.ports]
        body, after = [], []
        for c in order:  # conductances and driving terms of each compartment, from start-of-step values
            comp = morph.compartments[c]
            G, S = [f"c.{c}_g_l"], [f"c.{c}_g_l * c.{c}_E_l"] + ([f"{c}_I_ext"] if c in self.currents else [])
            for k, m in enumerate(comp.channels):
                names = _Names(c, m)
                g, E = m.current(names)
                body.append(f"g_{c}_{k} = {g}")
                G.append(f"g_{c}_{k}")
                S.append(f"g_{c}_{k} * {E}")
                body += m.update_lines(names, method)
                after += m.after_voltage_lines(names)
            body += [f"G_{c} = {' + '.join(G)}", f"S_{c} = {' + '.join(S)}"]
        body += self._voltage_lines(method)
        body += after
        returns = []
        for v in self.state_vars:
            if v.role != "state":
                continue
            c, _, local = v.name.partition(".")
            returns.append(f"{c}_v_new" if local == "v" else (f"{ident(v.name)}_new" if local else "refractory_new"))
        counts = ["count"] + [f"{ident(e.name)}_event" for e in self.events]
        if self.spiking:
            body += self._spike_lines()
        else:
            body.append("count = 0")
        text = ["# generated by compsim.models.morphology: do not edit",
                "from numba import njit", "from compsim.fastmath import exp, exprel", "", "",
                "@njit(cache=True, inline=\"always\")",
                f"def update(i, step, key, c, {', '.join(args)}):"]
        text += [f"    {line}" for line in body]
        text.append(f"    return {', '.join(returns + counts)}")
        return "\n".join(text) + "\n"

    def _coupling(self):
        """``[(child, parent, coupling constant)]`` over the tree's edges."""
        return [(c, comp.parent, f"c.{c}_g_c") for c, comp in self.morphology.compartments.items()
                if comp.parent is not None]

    def _voltage_lines(self, method):
        order, edges = self.morphology.order, self._coupling()
        lines = []
        if self._linear(method):
            n = len(order)
            for j, c in enumerate(order):
                lines.append(f"vinf_{j} = " + " + ".join(f"c.K_{j}_{q} * S_{order[q]}" for q in range(n)))
            for j, c in enumerate(order):
                lines.append(f"{c}_v_new = vinf_{j} + " + " + ".join(f"c.P_{j}_{q} * ({order[q]}_v - vinf_{q})"
                                                                      for q in range(n)))
            return lines
        neighbours = {c: [] for c in order}
        for child, parent, g in edges:
            neighbours[child].append((parent, g))
            neighbours[parent].append((child, g))
        if method == "exact":  # backward Euler, Hines' elimination from the leaves to the root and back
            for c in order:
                lines.append(f"d_{c} = c.{c}_C_dt + G_{c}" + "".join(f" + {g}" for _, g in neighbours[c]))
                lines.append(f"r_{c} = c.{c}_C_dt * {c}_v + S_{c}")
            for child, parent, g in reversed(edges):
                lines += [f"f_{child} = {g} / d_{child}", f"d_{parent} -= {g} * f_{child}",
                          f"r_{parent} += f_{child} * r_{child}"]
            lines.append(f"{order[0]}_v_new = r_{order[0]} / d_{order[0]}")
            lines += [f"{child}_v_new = (r_{child} + {g} * {parent}_v_new) / d_{child}" for child, parent, g in edges]
            return lines
        for c in order:  # each potential on its own, the neighbours frozen (Brian2's schemes)
            lines.append(f"A_{c} = S_{c}" + "".join(f" + {g} * {d}_v" for d, g in neighbours[c]))
            lines.append(f"B_{c} = G_{c}" + "".join(f" + {g}" for _, g in neighbours[c]))
            if method == "euler":
                lines.append(f"{c}_v_new = {c}_v + c.{c}_dt_C * (A_{c} - B_{c} * {c}_v)")
            else:
                lines += [f"vinf_{c} = A_{c} / B_{c}",
                          f"{c}_v_new = vinf_{c} + ({c}_v - vinf_{c}) * exp(-c.{c}_dt_C * B_{c})"]
        return lines

    def _spike_lines(self):
        c = self.spike_compartment
        lines = ["free = refractory <= 0.0", f"spike = free and {c}_v_new > c.v_th",
                 "count = 1 if spike else 0",
                 "refractory_new = c.n_ref if spike else (refractory if free else refractory - 1.0)"]
        if self.reset:
            lines.append(f"{c}_v_new = c.v_reset if spike else {c}_v_new")
        return lines

    # -- Brian2 equivalent ----------------------------------------------------------
    def brian2_model(self):
        """Brian2 equivalent for :mod:`compsim.validate`: one equation per compartment and gate, the
        names with ``_`` for ``.`` (``soma_v``), refractoriness as in :class:`~compsim.models.CobaLIF`.

        Validate with ``euler`` or ``exponential_euler`` (the same scheme on both sides). compsim's
        ``exact`` has no Brian2 counterpart for trees (Brian2 has no backward-Euler step, and its symbolic
        ``exact`` solver does not finish for coupled compartments), so validation maps it to Brian2's
        exponential Euler, which is the same only for one compartment; the tree solver is checked
        against closed forms and by its first-order convergence (``tests/test_morphology.py``).
        """
        from brian2 import mV, ms, nS, pA, pF, second

        morph, ident = self.morphology, self.identifier
        units = {"pF": pF, "nS": nS, "mV": mV, "ms": ms, "pA": pA, "1": 1}
        namespace = {q.name: self.p[q.name] * units[q.unit] for q in self.params}
        lines, after, children = [], [], {c: [] for c in morph.order}
        for c, comp in morph.compartments.items():
            if comp.parent is not None:
                children[comp.parent].append(c)
        for c, comp in morph.compartments.items():
            terms = [f"{c}_g_l * ({c}_E_l - {c}_v)"] + ([f"{c}_I_ext"] if c in self.currents else [])
            if comp.parent is not None:
                terms.append(f"{c}_g_c * ({comp.parent}_v - {c}_v)")
            terms += [f"{d}_g_c * ({d}_v - {c}_v)" for d in children[c]]
            for m in comp.channels:
                names = _Names(c, m, brian2=True)
                gate_lines, current = m.brian2(names)
                lines += gate_lines
                terms.append(current)
                after += m.brian2_after_update(names)
            lines.append(f"d{c}_v/dt = ({' + '.join(terms)}) / {c}_C_m : volt")
            if c in self.currents:
                lines.append(f"{c}_I_ext : amp")
        spec = {"namespace": namespace,
                "units": {**{v.name: units[v.unit] if v.unit in units else 1 for v in self.state_vars},
                          **{q.name: units[q.unit] for q in self.ports}},
                "variables": {name: ident(name) for name in self.var_names + self.port_names}}
        if self.spiking:
            c = self.spike_compartment
            lines.append("ref_steps = clip(timestep(t_ref, dt) - timestep(t - lastspike, dt), 0, "
                         "timestep(t_ref, dt)) : 1")
            spec.update(threshold=f"{c}_v > v_th", reset=f"{c}_v = v_reset" if self.reset else None,
                        refractory=self.p["t_ref"] * ms)
            spec["variables"]["refractory"] = "ref_steps"
        spec["equations"] = "\n".join(lines)
        if after:
            spec["before_threshold"] = "\n".join(after)
        state_vars, spiking, t_ref = self.state_vars, self.spiking, self.p.get("t_ref", 0.0)

        def initial(values, dt):
            out = {ident(v.name): np.asarray(values[v.name], dtype=np.float64) * spec["units"][v.name]
                   for v in state_vars if v.name != "refractory"}
            if spiking:  # steps left r > 0 <=> last spike (r - n_ref) steps before the start
                r = np.asarray(values["refractory"], dtype=np.float64)
                n_ref = int(np.floor(t_ref / dt + 1e-3))
                out["lastspike"] = np.where(r > 0, (r - n_ref) * dt * 1e-3, -1e4) * second
            return out

        spec["initial"] = initial
        return spec

    # -- closed form --------------------------------------------------------------
    def steady_state(self):
        """The potentials at which a passive tree rests with the current ``I_ext``: ``A v = g_l E_l + I_ext``.

        Returns ``{compartment: potentials}`` shaped like ``pop["<compartment>.v"]`` (mV).
        """
        if not self.morphology.passive:
            raise ValueError(f"CompartmentalNeuron '{self.name}': steady_state() is the closed form of a passive "
                             "tree (no channels); run the network to find the rest of an active one")
        self._require_bound()
        order = self.morphology.order
        out = {c: np.empty((self.batch, self.n)) for c in order}
        for b in range(self.batch):
            p = self.copy_params(b)
            A = self.morphology.conductance_matrix(p)
            drive = np.stack([p[f"{c}_g_l"] * p[f"{c}_E_l"]
                              + (self.state[self._row(f"{c}.I_ext")[0], b] if c in self.currents else np.zeros(self.n))
                              for c in order])
            v = np.linalg.solve(A, drive)
            for j, c in enumerate(order):
                out[c][b] = v[j]
        return {c: (v[0] if self.batch == 1 else v) for c, v in out.items()}
