"""Membrane mechanisms of a :class:`~compsim.models.morphology.Compartment`: voltage-gated channels,
synaptic conductances and a regenerative calcium-like plateau.

Every mechanism contributes a current ``g (E - v)`` to its compartment
(``g`` in nS, potentials in mV, so the current is in pA), computed from the
state at the start of the step, and may declare gates (state variables),
synaptic ports and named events. The compartment's name prefixes them all:
the gate ``m`` of the soma's sodium channel is the state variable ``soma.m``,
the port ``nmda`` of compartment ``tuft`` is ``tuft.nmda``.

``HHSodium``, ``HHPotassium``
    Hodgkin-Huxley sodium (``g_max m^3 h``) and delayed-rectifier potassium
    (``g_max n^4``) with the rate functions of Traub & Miles as used by the
    COBAHH benchmark (Brette et al. 2007; Brian2's ``examples/COBAHH.py``), in 1/ms
    with ``u = (v - V_T) / mV`` and ``exprel(x) = (e^x - 1) / x``::

        alpha_m = 1.28 / exprel((13 - u) / 4)     beta_m = 1.4 / exprel((u - 40) / 5)
        alpha_h = 0.128 exp((17 - u) / 18)        beta_h = 4 / (1 + exp((40 - u) / 5))
        alpha_n = 0.16 / exprel((15 - u) / 5)     beta_n = 0.5 exp((10 - u) / 40)
        dx/dt = alpha_x (1 - x) - beta_x x       (x = m, h, n; 0 at rest by default, as in Brian2's example)

``Synapse(name, E, tau)``
    a synaptic conductance ``g`` (the port ``name``, nS), exponentially filtered with ``tau``
    by default: current ``g (E - v)``.
``NMDA(name="nmda", E=0, Mg=1, tau_rise=2, tau_decay=100)``
    an NMDA conductance with the magnesium block of Jahr & Stevens (1990)::

        I = g B(v) (E - v),     B(v) = 1 / (1 + [Mg] exp(-0.062 v / mV) / 3.57)     ([Mg] in mM)

    with a difference-of-exponentials synaptic kernel by default: glutamate (the port's
    input ``g``) opens it only as far as the depolarisation relieves the block.
``CalciumPlateau(threshold, duration, g, E, refractory)``
    a regenerative, calcium-like plateau: when the compartment's potential exceeds
    ``threshold`` outside the plateau's refractory period, a conductance ``g`` towards
    ``E`` opens for ``duration`` ms (event ``plateau``, state ``plateau``: ms left), and no
    new plateau can start until ``refractory`` ms after this one ended.

Gates advance by exponential Euler (exact for the potential frozen over the
step, Brian2's ``exponential_euler``) or forward Euler (``method="euler"``).
"""
from compsim.checks import check_number
from compsim.model import Param


class Mechanism:
    """What a compartment's mechanism declares; the tree kernel generator (:mod:`compsim.models.morphology`)
    asks for code through :meth:`current`, :meth:`update_lines` and :meth:`after_voltage_lines`.

    ``k.param(name)``, ``k.state(name)``, ``k.port(name)`` and ``k.v`` are the kernel's
    names for this mechanism's parameter, state variable, port input and the compartment potential.
    """

    name = ""
    gates = ()  # (name, unit, doc, initial value)
    ports = ()  # (name, unit, doc, ("exponential", tau parameter) or ("double_exponential", rise, decay))
    events = ()  # (name, doc)

    def parameters(self):
        """The mechanism's parameters (:class:`compsim.model.Param`, local names: the population prefixes
        ``<compartment>_<mechanism>_``)."""
        return ()

    def current(self, k):
        """``(g, E)`` expressions: the mechanism's conductance (nS) and reversal (mV), from start-of-step values."""
        raise NotImplementedError

    def update_lines(self, k, method):
        """Lines that set ``k.new(gate)`` for each gate from start-of-step values."""
        return []

    def after_voltage_lines(self, k):
        """Lines run after the potentials have been advanced (``k.v_new`` is the new potential)."""
        return []

    def brian2(self, k):
        """``(equation lines, current expression)`` for Brian2, with ``k`` giving Brian2 names."""
        raise NotImplementedError

    def brian2_after_update(self, k):
        """Brian2 statements run after the state update, before the threshold (the counterpart of
        :meth:`after_voltage_lines`)."""
        return []


def gating_lines(k, gate, alpha, beta, method):
    """Lines advancing gate ``gate`` with rates ``alpha``, ``beta`` (1/ms expressions of start-of-step values)."""
    a, b, x = f"{k.state(gate)}_a", f"{k.state(gate)}_b", k.state(gate)
    lines = [f"{a} = {alpha}", f"{b} = {beta}"]
    if method == "euler":
        return lines + [f"{k.new(gate)} = {x} + c.dt * ({a} - ({a} + {b}) * {x})"]
    return lines + [f"{x}_inf = {a} / ({a} + {b})",
                    f"{k.new(gate)} = {x}_inf + ({x} - {x}_inf) * exp(-c.dt * ({a} + {b}))"]


class _HH(Mechanism):
    def __init__(self, g_max, E, V_T):
        owner = type(self).__name__
        self.g_max = check_number("g_max", g_max, lo=0.0, unit="nS", owner=owner)
        self.E = check_number("E", E, unit="mV", owner=owner)
        self.V_T = check_number("V_T", V_T, unit="mV", owner=owner)

    def parameters(self):
        return (Param("g_max", self.g_max, "nS", "maximal conductance", lo=0.0),
                Param("E", self.E, "mV", "reversal potential"),
                Param("V_T", self.V_T, "mV", "offset of the rate functions (u = v - V_T)"))

    def u(self, k):
        return f"({k.v} - {k.param('V_T')})"


class HHSodium(_HH):
    """Hodgkin-Huxley sodium channel ``g_max m^3 h (E - v)`` (module docstring; COBAHH: 20,000 nS, 50 mV, -63 mV)."""

    name = "na"
    gates = (("m", "1", "sodium activation", 0.0), ("h", "1", "sodium inactivation", 0.0))

    def __init__(self, g_max=20000.0, E=50.0, V_T=-63.0):
        super().__init__(g_max, E, V_T)

    def current(self, k):
        m, h = k.state("m"), k.state("h")
        return f"{k.param('g_max')} * {m} * {m} * {m} * {h}", k.param("E")

    def update_lines(self, k, method):
        u = self.u(k)
        return (gating_lines(k, "m", f"1.28 / exprel((13.0 - {u}) / 4.0)", f"1.4 / exprel(({u} - 40.0) / 5.0)",
                             method)
                + gating_lines(k, "h", f"0.128 * exp((17.0 - {u}) / 18.0)", f"4.0 / (1.0 + exp((40.0 - {u}) / 5.0))",
                               method))

    def brian2(self, k):
        u = f"(({k.v} - {k.param('V_T')}) / mV)"
        m, h = k.state("m"), k.state("h")
        return ([f"d{m}/dt = (1.28 / exprel((13 - {u}) / 4) / ms) * (1 - {m}) - "
                 f"(1.4 / exprel(({u} - 40) / 5) / ms) * {m} : 1",
                 f"d{h}/dt = (0.128 * exp((17 - {u}) / 18) / ms) * (1 - {h}) - "
                 f"(4 / (1 + exp((40 - {u}) / 5)) / ms) * {h} : 1"],
                f"{k.param('g_max')} * {m}**3 * {h} * ({k.param('E')} - {k.v})")


class HHPotassium(_HH):
    """Delayed-rectifier potassium channel ``g_max n^4 (E - v)`` (module docstring; COBAHH: 6,000 nS, -90 mV, -63 mV)."""

    name = "k"
    gates = (("n", "1", "potassium activation", 0.0),)

    def __init__(self, g_max=6000.0, E=-90.0, V_T=-63.0):
        super().__init__(g_max, E, V_T)

    def current(self, k):
        n = k.state("n")
        return f"{k.param('g_max')} * {n} * {n} * {n} * {n}", k.param("E")

    def update_lines(self, k, method):
        u = self.u(k)
        return gating_lines(k, "n", f"0.16 / exprel((15.0 - {u}) / 5.0)", f"0.5 * exp((10.0 - {u}) / 40.0)", method)

    def brian2(self, k):
        u = f"(({k.v} - {k.param('V_T')}) / mV)"
        n = k.state("n")
        return ([f"d{n}/dt = (0.16 / exprel((15 - {u}) / 5) / ms) * (1 - {n}) - (0.5 * exp((10 - {u}) / 40) / ms) * {n} : 1"],
                f"{k.param('g_max')} * {n}**4 * ({k.param('E')} - {k.v})")


class Synapse(Mechanism):
    """Synaptic conductance ``g (E - v)`` on port ``name`` (nS), exponential kernel ``tau`` (ms) by default."""

    def __init__(self, name, E, tau):
        if not str(name).isidentifier():
            raise ValueError(f"Synapse: parameter 'name' must be an identifier (it names the port), got {name!r}")
        self.name = str(name)
        self.E = check_number("E", E, unit="mV", owner="Synapse")
        self.tau = check_number("tau", tau, lo=0.0, lo_open=True, unit="ms", owner="Synapse")
        self.ports = ((self.name, "nS", f"synaptic conductance towards {self.E} mV", ("exponential", "tau")),)

    def parameters(self):
        return (Param("E", self.E, "mV", "reversal potential"),
                Param("tau", self.tau, "ms", "default decay time of the conductance", lo=0.0, lo_open=True))

    def current(self, k):
        return k.port(self.name), k.param("E")

    def brian2(self, k):
        return [], f"{k.port(self.name)} * ({k.param('E')} - {k.v})"


class NMDA(Mechanism):
    """NMDA conductance with the Jahr & Stevens (1990) magnesium block (module docstring)."""

    def __init__(self, name="nmda", E=0.0, Mg=1.0, tau_rise=2.0, tau_decay=100.0):
        if not str(name).isidentifier():
            raise ValueError(f"NMDA: parameter 'name' must be an identifier (it names the port), got {name!r}")
        self.name = str(name)
        self.E = check_number("E", E, unit="mV", owner="NMDA")
        self.Mg = check_number("Mg", Mg, lo=0.0, unit="1", owner="NMDA")
        self.tau_rise = check_number("tau_rise", tau_rise, lo=0.0, lo_open=True, unit="ms", owner="NMDA")
        self.tau_decay = check_number("tau_decay", tau_decay, lo=tau_rise, lo_open=True, unit="ms", owner="NMDA")
        self.ports = ((self.name, "nS", "NMDA conductance before the magnesium block",
                       ("double_exponential", "tau_rise", "tau_decay")),)

    def parameters(self):
        return (Param("E", self.E, "mV", "reversal potential"),
                Param("Mg", self.Mg, "1", "extracellular magnesium concentration (mM)", lo=0.0),
                Param("tau_rise", self.tau_rise, "ms", "default rise time", lo=0.0, lo_open=True),
                Param("tau_decay", self.tau_decay, "ms", "default decay time", lo=0.0, lo_open=True))

    def current(self, k):
        return f"{k.port(self.name)} / (1.0 + {k.param('Mg')} * exp(-0.062 * {k.v}) / 3.57)", k.param("E")

    def brian2(self, k):
        return [], (f"{k.port(self.name)} / (1 + {k.param('Mg')} * exp(-0.062 * {k.v} / mV) / 3.57) "
                    f"* ({k.param('E')} - {k.v})")


class CalciumPlateau(Mechanism):
    """Regenerative calcium-like plateau (module docstring): threshold (mV), duration (ms), conductance ``g``
    (nS) towards ``E`` (mV) while it lasts, ``refractory`` (ms after its end)."""

    name = "plateau"
    gates = (("plateau", "ms", "time left of the current plateau (0: none)", 0.0),
             ("plateau_refractory", "ms", "time left until a new plateau may start", 0.0))
    events = (("plateau", "a plateau starts"),)

    def __init__(self, threshold=-35.0, duration=30.0, g=20.0, E=50.0, refractory=20.0):
        owner = "CalciumPlateau"
        self.threshold = check_number("threshold", threshold, unit="mV", owner=owner)
        self.duration = check_number("duration", duration, lo=0.0, lo_open=True, unit="ms", owner=owner)
        self.g = check_number("g", g, lo=0.0, unit="nS", owner=owner)
        self.E = check_number("E", E, unit="mV", owner=owner)
        self.refractory = check_number("refractory", refractory, lo=0.0, unit="ms", owner=owner)

    def parameters(self):
        return (Param("threshold", self.threshold, "mV", "potential that starts a plateau"),
                Param("duration", self.duration, "ms", "plateau duration", lo=0.0, lo_open=True),
                Param("g", self.g, "nS", "plateau conductance", lo=0.0),
                Param("E", self.E, "mV", "reversal potential of the plateau conductance"),
                Param("refractory_period", self.refractory, "ms", "no new plateau this long after one ends",
                             lo=0.0))

    def current(self, k):
        return f"({k.param('g')} if {k.state('plateau')} > 0.5 * c.dt else 0.0)", k.param("E")

    def brian2(self, k):
        left, refr, start = k.state("plateau"), k.state("plateau_refractory"), k.state("plateau_start")
        return ([f"{left} : second", f"{refr} : second", f"{start} : 1"],
                f"{k.param('g')} * int({left} > 0.5 * dt) * ({k.param('E')} - {k.v})")

    def brian2_after_update(self, k):
        left, refr, start = k.state("plateau"), k.state("plateau_refractory"), k.state("plateau_start")
        return [f"{left} = ({left} - dt) * int({left} > 1.5 * dt)",
                f"{refr} = ({refr} - dt) * int({refr} > 1.5 * dt)",
                f"{start} = int({refr} <= 0 * ms) * int({k.v} > {k.param('threshold')})",
                f"{left} = {start} * {k.param('duration')} + (1 - {start}) * {left}",
                f"{refr} = {start} * ({k.param('duration')} + {k.param('refractory_period')}) + (1 - {start}) * {refr}"]

    def after_voltage_lines(self, k):
        left, refr = k.state("plateau"), k.state("plateau_refractory")
        last = "1.5 * c.dt"  # timers count down by dt; at their last step they end at exactly 0
        return [f"{left}_run = {left} - c.dt if {left} > {last} else 0.0",
                f"{refr}_run = {refr} - c.dt if {refr} > {last} else 0.0",
                f"{left}_start = ({refr}_run <= 0.0) & ({k.v_new} > {k.param('threshold')})",  # '&': no branch
                f"{k.event('plateau')} = 1 if {left}_start else 0",
                f"{k.new('plateau')} = {k.param('duration')} if {left}_start else {left}_run",
                f"{k.new('plateau_refractory')} = ({k.param('duration')} + {k.param('refractory_period')}) "
                f"if {left}_start else {refr}_run"]
