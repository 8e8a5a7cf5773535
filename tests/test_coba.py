"""The COBA benchmark network (../shared/benchmarks.md, workload COBA) reaches the asynchronous-irregular
state that Brian2 2.9.0 reaches: ~18-19 Hz, irregular spike trains, no population synchrony.

Reference figures (Brian2 2.9.0, this network at N = 4000, 1 s, forward Euler, dt 0.1 ms):
the benchmark table gives 18.1-18.6 Hz (cpp_standalone / runtime). Measured while writing this test with
Brian2's numpy target (two seeds), with the statistics computed exactly as below:
19.4-19.5 Hz, mean ISI CV 1.51-1.55, CV of the 5-ms-binned population rate after 100 ms 0.145.

ISI CV: the asynchronous-irregular state of this network is *burstier* than Poisson (CV ~1.5 in
Brian2 itself), so the window 0.7-1.3 that the task statement suggested would reject Brian2's own
result; the window used here, [1.2, 1.85], is Brian2's 1.53 +- 20 %, and excludes regular firing
(CV << 1, e.g. a tonically driven network) as well as a Poisson-like CV of 1.
"""
import numpy as np
import pytest

import compsim as cs
from compsim.models import CobaLIF

N = 4000
DURATION = 1000.0
DT = 0.1

try:  # the shared builder, when present, is the one under test
    from compsim.models.coba import build_coba
except ImportError:  # pragma: no cover - fallback with the same specification
    build_coba = None


def _build(seed):
    if build_coba is not None:
        c = build_coba(N, seed=seed, dt=DT, method="euler", record_spikes=False)
        net, exc, inh = c.net, c.exc, c.inh
    else:
        net = cs.Network(dt=DT, seed=seed, method="euler")
        exc = net.add(CobaLIF(int(0.8 * N)), name="exc")
        inh = net.add(CobaLIF(N - int(0.8 * N)), name="inh")
        rule = cs.FixedProbability(0.02)
        for pre, port, w in ((exc, "ge", 6.0), (inh, "gi", 67.0)):
            for post in (exc, inh):
                net.connect(pre, post, port, w, connectivity=rule)
        rng = np.random.default_rng(seed)
        for pop in (exc, inh):
            pop["v"] = -60.0 + 5.0 * rng.standard_normal(pop.n) - 5.0
            net.set_synaptic_input(pop, "ge", (1.5 * rng.standard_normal(pop.n) + 4.0) * 10.0)
            net.set_synaptic_input(pop, "gi", (12.0 * rng.standard_normal(pop.n) + 20.0) * 10.0)
    # the network is the benchmark's: sizes, model, method, rule, weights (in nS, g_l = 10 nS)
    assert (exc.n, inh.n) == (3200, 800)
    assert net.method == "euler" and net.dt == DT
    assert exc.p["g_l"] == 10.0 and exc.p["tau_m"] == 20.0 and exc.p["t_ref"] == 5.0
    weights = sorted({(j.pre.name, j.target, float(j.weights[0])) for j in net.projections})
    assert weights == [("exc", "ge", 6.0), ("inh", "gi", 67.0)]
    n_syn = sum(j.n_synapses for j in net.projections)
    assert abs(n_syn - 0.02 * N * N) < 5 * np.sqrt(0.02 * N * N)
    net.record_spikes(exc, name="e_spk")
    net.record_spikes(inh, name="i_spk")
    return net


def isi_cv(times_by_neuron):
    """Mean over neurons with >= 3 spikes of std(ISI)/mean(ISI)."""
    cvs = [np.diff(t).std() / np.diff(t).mean() for t in times_by_neuron if t.size >= 3]
    return float(np.mean(cvs))


def binned_cv(t, start=100.0, stop=DURATION, bin_ms=5.0):
    counts = np.histogram(t, np.arange(start, stop + 1e-9, bin_ms))[0]
    return counts.std() / counts.mean()


@pytest.fixture(scope="module")
def coba():
    res = _build(seed=1).run(DURATION)
    e, i = res.spikes["e_spk"], res.spikes["i_spk"]
    t = np.concatenate([e.t, i.t])
    idx = np.concatenate([e.i, i.i + e.n])
    by_neuron = [np.sort(t[idx == k]) for k in range(N)]
    return {"t": t, "i": idx, "by_neuron": by_neuron, "e": e, "i_": i}


def test_mean_rate(coba):
    """Mean rate within 15 % of 18.5 Hz (Brian2: 18.1-19.5 Hz)."""
    rate = coba["t"].size / (N * DURATION * 1e-3)
    assert 0.85 * 18.5 <= rate <= 1.15 * 18.5, rate
    # both populations take part (the inhibitory one fires at a similar rate in this model)
    for key in ("e", "i_"):
        r = coba[key].rate_hz(DURATION)
        assert 10.0 < r < 30.0, (key, r)
    # self-sustained: activity persists to the end of the second (no decay to silence)
    assert (coba["t"] >= 900.0).sum() > 0.5 * 0.1 * coba["t"].size


def test_irregular_spiking(coba):
    """Mean ISI coefficient of variation in Brian2's range (see module docstring)."""
    cv = isi_cv(coba["by_neuron"])
    assert 1.2 <= cv <= 1.85, cv
    # most neurons are active, so the CV is a population property, not that of a few cells
    active = sum(t.size >= 3 for t in coba["by_neuron"])
    assert active > 0.6 * N, active


def test_asynchronous_population_rate(coba):
    """No population synchrony: CV of the 5-ms-binned population rate after a 100-ms transient < 0.3.

    With N = 4000 neurons at ~19 Hz a 5 ms bin holds ~380 spikes: independent Poisson neurons give a CV
    of 1/sqrt(380) = 0.05; Brian2's AI state 0.145 (weak correlations, Fano factor ~8). A synchronous
    regime (population bursts or global oscillations, as in Brunel's SR/SI states) concentrates the
    spikes into a fraction of the bins, which gives a CV of order 1 (bursts filling 1 bin in 4: CV 1.7;
    a 40 Hz oscillation with 50 % modulation depth: CV 0.35). 0.3 lies well above the AI value and
    below synchronous regimes.
    """
    cv = binned_cv(coba["t"])
    assert cv < 0.3, cv
    # and not trivially flat either: recurrent fluctuations make it super-Poissonian
    assert cv > 1.0 / np.sqrt(coba["t"].size / N / DURATION * 5.0 * N)


@pytest.mark.filterwarnings("ignore")  # Brian2's own deprecation warnings (pyparsing)
def test_matches_brian2_statistics(coba):
    """Same statistics as Brian2 (numpy target, independent realisation of the same network)."""
    b2 = pytest.importorskip("brian2")
    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    b2.seed(3)
    ms, mV = b2.ms, b2.mV
    ns = {"taum": 20 * ms, "taue": 5 * ms, "taui": 10 * ms, "Vt": -50 * mV, "Vr": -60 * mV,
          "El": -60 * mV, "Ee": 0 * mV, "Ei": -80 * mV}
    eqs = """dv/dt = (ge*(Ee-v) + gi*(Ei-v) - (v-El))/taum : volt (unless refractory)
             dge/dt = -ge/taue : 1
             dgi/dt = -gi/taui : 1"""
    P = b2.NeuronGroup(N, eqs, threshold="v > Vt", reset="v = Vr", refractory=5 * ms, method="euler",
                       namespace=ns, dt=DT * ms)
    ce = b2.Synapses(P[:3200], P, on_pre="ge += 0.6", dt=DT * ms)
    ci = b2.Synapses(P[3200:], P, on_pre="gi += 6.7", dt=DT * ms)
    ce.connect(p=0.02)
    ci.connect(p=0.02)
    P.v = "El + (randn()*5 - 5)*mV"
    P.ge = "randn()*1.5 + 4"
    P.gi = "randn()*12 + 20"
    mon = b2.SpikeMonitor(P)
    net = b2.Network(P, ce, ci, mon)
    net.run(DURATION * ms)
    t, i = np.asarray(mon.t / ms), np.asarray(mon.i)
    by_neuron = [np.sort(t[i == k]) for k in range(N)]
    rate_b2, rate_cs = t.size / N, coba["t"].size / N
    assert rate_cs == pytest.approx(rate_b2, rel=0.12), (rate_cs, rate_b2)
    assert isi_cv(coba["by_neuron"]) == pytest.approx(isi_cv(by_neuron), rel=0.12)
    assert binned_cv(coba["t"]) == pytest.approx(binned_cv(t), rel=0.4)
