"""Compartment trees against closed forms: the steady state (a linear system) and the two-compartment time course."""
import numpy as np
import pytest

import compsim as cs
from compsim.models import Compartment, Morphology, channels


def chain(n, g_c=8.0):
    """A soma and n - 1 dendritic compartments in a row, each a little different."""
    comps = {"c0": Compartment(C_m=200.0, g_l=10.0, E_l=-70.0)}
    for j in range(1, n):
        comps[f"c{j}"] = Compartment(parent=f"c{j - 1}", g_c=g_c + j, C_m=60.0 + 10 * j, g_l=2.0 + j,
                                     E_l=-70.0 + 2 * j)
    return Morphology(**comps)


def closed_form_rest(morph, currents):
    """``A v = g_l E_l + I`` written out here, independently of compsim's conductance_matrix."""
    order = morph.order
    n = len(order)
    A, b = np.zeros((n, n)), np.zeros(n)
    for j, c in enumerate(order):
        comp = morph.compartments[c]
        A[j, j] += comp.g_l
        b[j] = comp.g_l * comp.E_l + currents[j]
        if comp.parent is not None:
            q = order.index(comp.parent)
            A[j, j] += comp.g_c
            A[q, q] += comp.g_c
            A[j, q] -= comp.g_c
            A[q, j] -= comp.g_c
    return np.linalg.solve(A, b)


@pytest.mark.parametrize("n", [2, 5])
@pytest.mark.parametrize("active", [False, True])
def test_chain_under_constant_current_rests_at_the_closed_form(n, active):
    morph = chain(n)
    if active:  # a synaptic conductance that stays 0 makes the tree non-passive: the implicit solver
        morph.compartments["c0"].channels = (channels.Synapse("ge", E=0.0, tau=5.0),)
    net = cs.Network(dt=0.1, method="exact")
    pop = net.add(morph.population(2, currents=morph.order), name="cell")
    currents = np.array([[30.0 * (j % 2) - 10.0 * j for j in range(n)], [50.0] * n])
    for j, c in enumerate(morph.order):
        pop[f"{c}.I_ext"] = currents[:, j]
    net.run(1000.0)
    for k in range(2):
        want = closed_form_rest(morph, currents[k])
        got = np.array([pop[f"{c}.v"][k] for c in morph.order])
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    if not active:
        rest = pop.steady_state()
        for j, c in enumerate(morph.order):
            np.testing.assert_allclose(rest[c], [closed_form_rest(morph, currents[k])[j] for k in range(2)],
                                       rtol=0, atol=1e-9)


def two_compartment_time_course(morph, current, t):
    """Soma and dendrite potentials after a current step into the dendrite at t = 0, from rest: the 2 x 2
    system's eigen-solution, v(t) = v_inf + sum_k a_k exp(lambda_k t) u_k."""
    soma, dend = morph.compartments["c0"], morph.compartments["c1"]
    g = dend.g_c
    M = np.array([[-(soma.g_l + g) / soma.C_m, g / soma.C_m], [g / dend.C_m, -(dend.g_l + g) / dend.C_m]])
    v_inf = closed_form_rest(morph, [0.0, current])
    v0 = closed_form_rest(morph, [0.0, 0.0])
    lam, U = np.linalg.eig(M)
    a = np.linalg.solve(U, v0 - v_inf)
    return v_inf[:, None] + (U * a) @ np.exp(np.outer(lam, t))


def test_two_compartment_time_course_matches_the_analytic_solution():
    morph = chain(2, g_c=4.0)
    net = cs.Network(dt=0.1, method="exact")
    pop = net.add(morph.population(1, currents=["c1"]), name="cell")
    pop.set(**{"c0.v": -70.0, "c1.v": -70.0})
    rest = pop.steady_state()
    pop.set(**{"c0.v": rest["c0"], "c1.v": rest["c1"], "c1.I_ext": 40.0})
    net.record(pop, ["c0.v", "c1.v"], name="v")
    trace = net.run(100.0).state["v"]
    want = two_compartment_time_course(morph, 40.0, np.asarray(trace.t))
    np.testing.assert_allclose(trace["c0.v"][:, 0], want[0], rtol=0, atol=1e-6)  # mV
    np.testing.assert_allclose(trace["c1.v"][:, 0], want[1], rtol=0, atol=1e-6)


def test_implicit_step_is_stable_where_explicit_coupling_is_not_and_converges_at_first_order():
    stiff = Morphology(soma=Compartment(C_m=100.0, g_l=5.0, E_l=-70.0, channels=(channels.Synapse("ge", 0.0, 5.0),)),
                       spine=Compartment(parent="soma", g_c=500.0, C_m=1.0, g_l=0.1, E_l=-70.0))
    final = {}
    for method in ("euler", "exact"):
        net = cs.Network(dt=0.1, method=method)
        pop = net.add(stiff.population(1, currents=["spine"]), name="cell")
        pop["spine.I_ext"] = 20.0
        try:
            net.run(600.0)  # 30 time constants of the soma
            final[method] = pop["spine.v"][0]
        except cs.SimulationDiverged:
            final[method] = np.inf
    assert not np.isfinite(final["euler"])  # C / g_c = 0.002 ms: dt = 0.1 ms blows up explicit coupling
    assert abs(final["exact"] - closed_form_rest(Morphology(
        soma=Compartment(C_m=100.0, g_l=5.0, E_l=-70.0),
        spine=Compartment(parent="soma", g_c=500.0, C_m=1.0, g_l=0.1, E_l=-70.0)), [0.0, 20.0])[1]) < 1e-9
    morph = chain(2, g_c=4.0)
    morph.compartments["c0"].channels = (channels.Synapse("ge", 0.0, 5.0),)
    errors = []
    for dt in (0.2, 0.1, 0.05):
        net = cs.Network(dt=dt, method="exact")
        pop = net.add(morph.population(1, currents=["c1"]), name="cell")
        rest = closed_form_rest(morph, [0.0, 0.0])
        pop.set(**{"c0.v": rest[0], "c1.v": rest[1], "c1.I_ext": 40.0})
        net.run(10.0)
        errors.append(abs(pop["c0.v"][0] - two_compartment_time_course(morph, 40.0, np.array([10.0]))[0, 0]))
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert np.all((ratios > 1.8) & (ratios < 2.2))  # backward Euler: first order


def test_bad_morphologies_are_refused():
    soma = Compartment(C_m=100.0, g_l=5.0, E_l=-70.0)
    with pytest.raises(ValueError, match="exactly one compartment must have no parent"):
        Morphology(a=soma, b=Compartment(C_m=1.0, g_l=1.0, E_l=-70.0))
    with pytest.raises(ValueError, match="parent 'trunk' is not a compartment"):
        Morphology(soma=soma, tuft=Compartment(parent="trunk", g_c=1.0, C_m=1.0, g_l=1.0, E_l=-70.0))
    with pytest.raises(ValueError, match="cycle"):
        Morphology(soma=soma, a=Compartment(parent="b", g_c=1.0, C_m=1.0, g_l=1.0, E_l=-70.0),
                   b=Compartment(parent="a", g_c=1.0, C_m=1.0, g_l=1.0, E_l=-70.0))
    with pytest.raises(ValueError, match="'C_m'"):
        Morphology(soma=Compartment(C_m=-1.0, g_l=5.0, E_l=-70.0))
    with pytest.raises(ValueError, match="'g_c'"):
        Morphology(soma=soma, d=Compartment(parent="soma", C_m=1.0, g_l=1.0, E_l=-70.0))
    with pytest.raises(ValueError, match="names compartment 'axon'"):
        Morphology(soma=soma).population(3, threshold=("axon", -50.0))
    with pytest.raises(ValueError, match="'currents' names \\['axon'\\]"):
        Morphology(soma=soma).population(3, currents=["axon"])
    with pytest.raises(ValueError, match="declare currents=\\['soma'\\]"):
        cs.Network().add(Morphology(soma=soma).population(1), name="y")["soma.I_ext"] = 5.0
    with pytest.raises(ValueError, match="steady_state"):
        net = cs.Network()
        pop = net.add(Morphology(soma=Compartment(C_m=1.0, g_l=1.0, E_l=-70.0,
                                                  channels=(channels.HHPotassium(),))).population(1), name="x")
        pop.steady_state()
