"""Statistics of the engine's random spike generation, against exact Poisson/binomial moments.

Tolerances: counts must lie within 4 standard errors (two-sided probability of a
false failure about 6e-5 per comparison) of their expectation, where the
standard error is that of a sum of independent Bernoulli(p) draws,
sqrt(n p (1 - p)), or of Poisson(lam) counts, sqrt(n lam). Seeds are fixed,
so the tests are deterministic; the tolerances say how unlucky a seed could be.
"""
import numpy as np
import pytest

import compsim as cs
from compsim.models import SegregatedPyramidal
from compsim.rng import stream_key, uniform_block

Z = 4.0


def _bernoulli_bounds(n_draws, p):
    mean = n_draws * p
    return mean, Z * np.sqrt(n_draws * p * (1.0 - p))


def _poisson_bounds(n_draws, lam):
    mean = n_draws * lam
    return mean, Z * np.sqrt(n_draws * lam)


def _assert_count(count, mean, tol, what):
    assert abs(count - mean) <= tol, f"{what}: {count} spikes, expected {mean:.1f} +- {tol:.1f} (4 SE)"


def _source_run(rates, *, n, duration, dt, spike_mode="bernoulli", seed=11, chunk_steps=1000, spikes=False):
    net = cs.Network(dt=dt, seed=seed, chunk_steps=chunk_steps)
    src = net.add(cs.PoissonSource(n, rates, spike_mode=spike_mode), name="src")
    net.record_rate(src, name="rate")
    if spikes:
        net.record_spikes(src, name="spk")
    return net.run(duration)


@pytest.mark.parametrize("mode", ["bernoulli", "poisson", "poisson_events"])
def test_constant_rate(mode):
    """1000 neurons at 20 Hz for 10 s (dt 0.1 ms): total count within 4 SE of 2e5."""
    n, rate, dur, dt = 1000, 20.0, 10_000.0, 0.1
    res = _source_run(rate, n=n, duration=dur, dt=dt, spike_mode=mode)
    counts = res.rates["rate"].counts
    steps = int(round(dur / dt))
    assert counts.size == steps
    p = rate * dt * 1e-3
    mean, tol = _bernoulli_bounds(n * steps, p) if mode == "bernoulli" else _poisson_bounds(n * steps, p)
    _assert_count(counts.sum(), mean, tol, mode)
    # Poisson counts: the per-step population count has variance n lam (bernoulli: n p (1 - p));
    # its sample variance over 1e5 steps is within 5 % (SE of a variance estimate ~ sqrt(2/steps) = 0.45 %)
    var_expected = n * p * (1 - p) if mode == "bernoulli" else n * p
    assert counts.var() == pytest.approx(var_expected, rel=0.05)


def test_rates_array_over_time():
    """An (n_steps, n) rate array: 10 Hz in the first half, 60 Hz in the second; neuron-specific scale."""
    n, dt, dur = 200, 1.0, 4000.0
    steps = int(dur / dt)
    scale = np.where(np.arange(n) < n // 2, 1.0, 2.0)  # second half of the neurons fires twice as fast
    rates = np.empty((steps, n))
    rates[: steps // 2] = 10.0 * scale
    rates[steps // 2:] = 60.0 * scale
    net = cs.Network(dt=dt, seed=12, chunk_steps=700)  # chunks straddle the change of rate
    src = net.add(cs.PoissonSource(n, rates), name="src")
    net.record_spikes(src, name="spk")
    sp = net.run(dur).spikes["spk"]
    half = dur / 2
    for lo, hi, r in ((0, half, 10.0), (half, dur, 60.0)):
        for group, s in ((np.arange(n) < n // 2, 1.0), (np.arange(n) >= n // 2, 2.0)):
            sel = (sp.t >= lo) & (sp.t < hi) & group[sp.i]
            mean, tol = _bernoulli_bounds(group.sum() * steps // 2, r * s * dt * 1e-3)
            _assert_count(sel.sum(), mean, tol, f"[{lo}, {hi}) ms, scale {s}")


def test_rates_callable():
    """A callable f(t_ms) is honoured per step: 5 Hz before 1500 ms, 80 Hz after (inside a chunk)."""
    n, dt, dur, t_switch = 300, 0.5, 3000.0, 1500.0
    seen = []

    def rates(t):
        seen.append(t.copy())
        return np.where(t[:, None] < t_switch, 5.0, 80.0) * np.ones((1, n))

    res = _source_run(rates, n=n, duration=dur, dt=dt, chunk_steps=1300)
    r = res.rates["rate"]
    # the callable saw every step exactly once, in order (after one probe of step 0 when the network is built)
    if seen[0].size == 1:
        seen = seen[1:]
    np.testing.assert_allclose(np.concatenate(seen), dt * np.arange(int(dur / dt)), atol=1e-9)
    before = r.t < t_switch
    for sel, rate in ((before, 5.0), (~before, 80.0)):
        mean, tol = _bernoulli_bounds(n * sel.sum(), rate * dt * 1e-3)
        _assert_count(r.counts[sel].sum(), mean, tol, f"{rate} Hz")


def test_from_image_rates_scale_with_pixels():
    """from_image: rate = max_rate * pixel; 5 pixel values x 100 pixels, 5 s at dt 1 ms."""
    levels = np.array([0.0, 0.1, 0.25, 0.5, 1.0])
    image = np.repeat(levels, 100).reshape(25, 20)
    max_rate, dt, dur = 150.0, 1.0, 5000.0
    net = cs.Network(dt=dt, seed=13)
    src = net.add(cs.PoissonSource.from_image(image, max_rate=max_rate), name="src")
    assert src.n == image.size
    net.record_spikes(src, name="spk")
    sp = net.run(dur).spikes["spk"]
    per_neuron = np.bincount(sp.i, minlength=src.n)
    steps = int(dur / dt)
    for g, pix in enumerate(levels):
        c = per_neuron[g * 100:(g + 1) * 100].sum()
        if pix == 0:
            assert c == 0
            continue
        mean, tol = _bernoulli_bounds(100 * steps, max_rate * pix * dt * 1e-3)
        _assert_count(c, mean, tol, f"pixel {pix}")


# ---------------------------------------------------------------------------------------------
# somatic spiking: rate = phi_max * sigmoid(V)
# ---------------------------------------------------------------------------------------------
V_LEVELS = np.array([-4.0, -1.5, 0.0, 1.0, 3.0])
PER_LEVEL = 100


def _held_pyramidal(spike_mode, phi_max, dt, dur, seed):
    """Neurons held at V_ss = g_b b / (g_l + g_b) by a basal bias (g_a = 0), started at V_ss."""
    g_l, g_b = 0.1, 0.6
    v_ss = np.repeat(V_LEVELS, PER_LEVEL)
    net = cs.Network(dt=dt, seed=seed)
    hid = net.add(SegregatedPyramidal(v_ss.size, g_a=0.0, g_l=g_l, g_b=g_b, phi_max=phi_max,
                                      spike_mode=spike_mode), name="hid")
    hid["b_basal"] = v_ss * (g_l + g_b) / g_b
    hid["v_soma"] = v_ss
    net.record_spikes(hid, name="spk")
    net.record(hid, "v_soma", every=1000, name="v")
    res = net.run(dur)
    np.testing.assert_allclose(res.state["v"]["v_soma"], np.broadcast_to(v_ss, res.state["v"]["v_soma"].shape),
                               rtol=1e-12, atol=1e-12)
    return res.spikes["spk"], int(round(dur / dt))


def test_somatic_rate_bernoulli():
    """Bernoulli spikes with p = phi_max sigmoid(V) dt, for 5 levels of V (10 s at dt 0.1 ms)."""
    phi_max, dt, dur = 200.0, 0.1, 10_000.0
    sp, steps = _held_pyramidal("bernoulli", phi_max, dt, dur, seed=21)
    per_neuron = np.bincount(sp.i, minlength=sp.n)
    for g, v in enumerate(V_LEVELS):
        p = phi_max / (1.0 + np.exp(-v)) * dt * 1e-3
        mean, tol = _bernoulli_bounds(PER_LEVEL * steps, p)
        _assert_count(per_neuron[g * PER_LEVEL:(g + 1) * PER_LEVEL].sum(), mean, tol, f"V = {v}")
    # bernoulli: at most one spike per neuron and step
    assert np.unique(np.stack([np.rint(sp.t / dt), sp.i]), axis=1).shape[1] == sp.count()


@pytest.mark.parametrize("mode", ["poisson", "poisson_events"])
def test_somatic_rate_poisson_counts(mode):
    """Poisson counts at lam = phi_max sigmoid(V) dt up to ~1.9: counts > 1 per step are recorded as repeats."""
    phi_max, dt, dur = 2000.0, 1.0, 1000.0
    sp, steps = _held_pyramidal(mode, phi_max, dt, dur, seed=22)
    per_neuron = np.bincount(sp.i, minlength=sp.n)
    for g, v in enumerate(V_LEVELS):
        lam = phi_max / (1.0 + np.exp(-v)) * dt * 1e-3
        mean, tol = _poisson_bounds(PER_LEVEL * steps, lam)
        _assert_count(per_neuron[g * PER_LEVEL:(g + 1) * PER_LEVEL].sum(), mean, tol, f"V = {v}")
    # repeated (step, neuron) events: their number matches Poisson's P(count >= 2) mass
    step = np.rint(sp.t / dt).astype(np.int64)
    _, mult = np.unique(step * sp.n + sp.i, return_counts=True)
    assert mult.max() >= 4
    top = V_LEVELS.size - 1  # V = 3: lam = 2 sigmoid(3) = 1.905
    lam = phi_max / (1.0 + np.exp(-V_LEVELS[top])) * dt * 1e-3
    sel = sp.i >= top * PER_LEVEL
    _, mult_top = np.unique(step[sel] * sp.n + sp.i[sel], return_counts=True)
    p_multi = 1.0 - np.exp(-lam) * (1.0 + lam)
    mean, tol = _bernoulli_bounds(PER_LEVEL * steps, p_multi)
    _assert_count((mult_top >= 2).sum(), mean, tol, "steps with >= 2 spikes")


def test_poisson_events_counts_are_poisson_and_independent_across_steps():
    """spike_mode='poisson_events' (time rescaling): per-step counts at lam = 0.05 .. 0.8 have Poisson's
    P(0), P(1), P(>= 2) (4 SE each), and a neuron's counts in consecutive steps are uncorrelated."""
    lams = np.array([0.05, 0.2, 0.8])
    n_per, steps = 200, 5000
    rates = np.repeat(lams, n_per) * 1000.0
    res = _source_run(rates, n=rates.size, duration=float(steps), dt=1.0, spike_mode="poisson_events", spikes=True)
    sp = res.spikes["spk"]
    counts = np.zeros((steps, rates.size), dtype=np.int64)
    np.add.at(counts, (np.rint(sp.t).astype(np.int64), sp.i), 1)
    for g, lam in enumerate(lams):
        c = counts[:, g * n_per:(g + 1) * n_per]
        for what, observed, p in (("P(0)", (c == 0).sum(), np.exp(-lam)),
                                  ("P(1)", (c == 1).sum(), lam * np.exp(-lam)),
                                  ("P(>=2)", (c >= 2).sum(), 1.0 - np.exp(-lam) * (1.0 + lam))):
            mean, tol = _bernoulli_bounds(c.size, p)
            _assert_count(observed, mean, tol, f"lam {lam} {what}")
        x = c - c.mean(0)
        lag1 = (x[1:] * x[:-1]).sum() / (x * x).sum()
        assert abs(lag1) < Z / np.sqrt(c.size), f"lam {lam}: lag-1 correlation {lag1:.4f}"


def test_poisson_events_do_not_depend_on_chunks_or_a_checkpoint(tmp_path):
    """The time-rescaling state (integrated intensity, next threshold) lives in the state store: chunks of 7
    steps, or a checkpoint in the middle, give the spikes of one long chunk."""
    def network(chunk_steps):
        net = cs.Network(dt=1.0, seed=5, chunk_steps=chunk_steps)
        src = net.add(cs.PoissonSource(300, np.linspace(0.0, 300.0, 300), spike_mode="poisson_events"), name="src")
        hid = net.add(SegregatedPyramidal(50, spike_mode="poisson_events"), name="hid")
        net.connect(src, hid, "basal", np.random.default_rng(0).normal(0.0, 0.1, (50, 300)))
        for pop in (src, hid):
            net.record_spikes(pop, name=pop.name)
        return net

    def spikes(res):
        return [np.stack([res.spikes[k].t, res.spikes[k].i]) for k in ("src", "hid")]

    whole = spikes(network(1000).run(400.0))
    chunked = spikes(network(7).run(400.0))
    first = network(1000)
    head = spikes(first.run(170.0))
    first.save_checkpoint(tmp_path / "c.h5")
    second = network(1000)
    second.restore_checkpoint(tmp_path / "c.h5")
    tail = spikes(second.run(230.0))
    for w, c, h, t in zip(whole, chunked, head, tail):
        np.testing.assert_array_equal(w, c)
        np.testing.assert_array_equal(w, np.concatenate([h, t], axis=1))
        assert w.shape[1] > 100


# ---------------------------------------------------------------------------------------------
# the counter-based generator itself
# ---------------------------------------------------------------------------------------------
def test_uniform_block_moments_and_correlations():
    """2e6 uniforms: mean 1/2 and variance 1/12 within 5 SE; lag-1 correlations within 5/sqrt(n) of 0."""
    key = np.uint64(stream_key(7, 3))
    u = uniform_block(key, 1000, 123, 2000, 0)  # (steps, neurons)
    assert u.shape == (2000, 1000)
    assert u.min() >= 0.0 and u.max() < 1.0
    x = u.ravel()
    n = x.size
    assert abs(x.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
    # SE of the sample variance of U(0,1): sqrt((mu4 - sigma^4) / n) with mu4 = 1/80, sigma^4 = 1/144
    assert abs(x.var() - 1 / 12) < 5 * np.sqrt((1 / 80 - 1 / 144) / n)

    def corr(a, b):
        a, b = a.ravel() - 0.5, b.ravel() - 0.5
        return float(np.mean(a * b) / (1 / 12))

    lim = 5 / np.sqrt(n)
    assert abs(corr(u[1:], u[:-1])) < lim  # consecutive steps, same neuron
    assert abs(corr(u[:, 1:], u[:, :-1])) < lim  # neighbouring neurons, same step
    # other draw index and other stream: uncorrelated with the first
    assert abs(corr(u, uniform_block(key, 1000, 123, 2000, 1))) < lim
    assert abs(corr(u, uniform_block(np.uint64(stream_key(8, 3)), 1000, 123, 2000, 0))) < lim
    # uniformity: chi-square over 100 equal bins (99 dof: mean 99, sd 14; 99 + 6 sd = 183)
    hist = np.bincount((x * 100).astype(np.int64), minlength=100)
    chi2 = ((hist - n / 100) ** 2 / (n / 100)).sum()
    assert chi2 < 183, chi2
    # pure function of the key: the same block again, and an offset block overlaps exactly
    np.testing.assert_array_equal(u, uniform_block(key, 1000, 123, 2000, 0))
    np.testing.assert_array_equal(u[10:20, :50], uniform_block(key, 50, 133, 10, 0))


def test_branch_free_poisson_counts_equal_the_inversion_loop():
    """For lam <= SMALL_LAM_MAX the branch-free draw gives the loop's count for every (lam, u) tried,
    including u near 1 (counts up to several spikes)."""
    from numba import njit

    from compsim.rng import SMALL_LAM_MAX, poisson_count, poisson_count_small

    @njit
    def both(lams, us):
        out = np.empty((lams.size, 2), dtype=np.int64)
        for k in range(lams.size):
            out[k, 0] = poisson_count(lams[k], us[k])
            out[k, 1] = poisson_count_small(lams[k], us[k])
        return out

    rng = np.random.default_rng(7)
    lams = rng.uniform(0.0, SMALL_LAM_MAX, 1_000_000)
    us = np.concatenate([rng.uniform(size=900_000), 1.0 - rng.uniform(0, 1e-9, 100_000)])
    counts = both(lams, us)
    np.testing.assert_array_equal(counts[:, 1], counts[:, 0])
    assert counts[:, 0].max() >= 4
