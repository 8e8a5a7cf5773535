"""The COBAHH network (Brette et al. 2007, benchmark 3; Brian2's ``examples/COBAHH.py``), built from compartments.

``N`` Hodgkin-Huxley neurons, the first 80 % excitatory; one soma of
20,000 um^2 each (densities of the definition in ``../shared/benchmarks.md``
times 2e-4 cm^2)::

    C_m = 1 uF/cm^2 -> 200 pF       g_l  = 5e-5 S/cm^2  -> 10 nS      E_l = -60 mV
    g_Na = 100 mS/cm^2 -> 20,000 nS (E_Na = 50 mV)     g_Kd = 30 mS/cm^2 -> 6,000 nS (E_K = -90 mV)
    V_T = -63 mV (rate functions: :class:`compsim.models.channels.HHSodium`, ``HHPotassium``)
    ge towards 0 mV (tau 5 ms), gi towards -80 mV (tau 10 ms)

Every (pre, post) pair connected with probability ``0.02 * 4000 / N``
(expected in-degree 80), an excitatory spike adds 6 nS to ``soma.ge``, an
inhibitory one 67 nS to ``soma.gi``. Exponential Euler, dt = 0.1 ms; a spike
when the soma exceeds -20 mV, refractory 3 ms, no reset. Initial state
(independent standard normals xi): ``v = E_l + (5 xi - 5) mV``,
``ge = (1.5 xi + 4) * 10 nS``, ``gi = (12 xi + 20) * 10 nS``, gates 0 (as in
Brian2's example). The network fires asynchronously at ~33-37 Hz.
"""
import compsim as cs

from . import channels
from .coba import wire_exc_inh
from .morphology import Compartment, Morphology

C_M_PF, G_L_NS, E_L = 200.0, 10.0, -60.0
G_NA_NS, E_NA, G_KD_NS, E_K, V_T = 20000.0, 50.0, 6000.0, -90.0, -63.0
E_E, TAU_E, E_I, TAU_I = 0.0, 5.0, -80.0, 10.0
THRESHOLD_MV, REFRACTORY_MS = -20.0, 3.0


def cobahh_cell():
    """The COBAHH neuron: a Hodgkin-Huxley soma with excitatory and inhibitory conductances."""
    return Morphology(soma=Compartment(C_m=C_M_PF, g_l=G_L_NS, E_l=E_L, channels=[
        channels.HHSodium(g_max=G_NA_NS, E=E_NA, V_T=V_T), channels.HHPotassium(g_max=G_KD_NS, E=E_K, V_T=V_T),
        channels.Synapse("ge", E=E_E, tau=TAU_E), channels.Synapse("gi", E=E_I, tau=TAU_I)]))


def build_cobahh(n=4000, *, seed=1, dt=0.1, method="exponential_euler", record_spikes=True, **network_options):
    """Build COBAHH with ``n`` neurons (module docstring): a :class:`~compsim.models.coba.CobaNetwork`.

    Wiring and initial states as COBA's (:func:`compsim.models.coba.wire_exc_inh`);
    extra keyword arguments go to :class:`compsim.Network` (dtype, chunk_steps, parallel, threads).
    """
    n = int(n)
    if n < 5:
        raise ValueError(f"build_cobahh: parameter 'n' must be >= 5, got {n}")
    cell = cobahh_cell()
    net = cs.Network(dt=dt, seed=seed, method=method, **network_options)
    n_exc = int(0.8 * n)
    exc = net.add(cell.population(n_exc, threshold=("soma", THRESHOLD_MV), refractory=REFRACTORY_MS), name="exc")
    inh = net.add(cell.population(n - n_exc, threshold=("soma", THRESHOLD_MV), refractory=REFRACTORY_MS),
                  name="inh")
    return wire_exc_inh(net, exc, inh, p=0.02 * 4000 / n, seed=seed, E_l=E_L, record_spikes=record_spikes,
                        v="soma.v", ge="soma.ge", gi="soma.gi")
