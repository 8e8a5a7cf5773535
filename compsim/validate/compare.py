"""Agreement measures between two recordings of the same network (compsim vs Brian2).

Traces (arrays (S, K): S samples of K neurons, sample s at time s * dt)::

    max_abs_err   max |a - b|
    max_rel_err   max |a - b| / max(|b|, floor),  floor = 1e-3 * max |b| over the whole trace,
                  so that a potential crossing zero does not inflate the relative error
    t_worst       time of the largest absolute error (and the neuron)

Spikes (steps relative to the start of the run, neuron indices)::

    identical     the same (step, neuron) multiset
    first divergence  the first step whose spikes differ (None if identical)
    Gamma         coincidence factor of Kistler et al. (1997) / Jolivet et al. (2008)
                  with window Delta (default one step): 1 for identical trains, ~0 for
                  independent ones; per neuron, averaged over neurons that spiked in either
    rates         mean rate per neuron (Hz) of both and their relative difference
"""
import numpy as np


def trace_errors(a, b, dt, neurons, until_step=None):
    """Error measures between compsim trace ``a`` and reference ``b`` (Brian2), both (S, K).

    ``until_step``: only samples before this step count (e.g. the first spike divergence).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"trace shapes differ: compsim {a.shape}, Brian2 {b.shape}")
    if until_step is not None:
        a, b = a[:until_step], b[:until_step]
    out = {"max_abs_err": 0.0, "max_rel_err": 0.0, "t_worst_ms": None, "neuron_worst": None, "samples": int(a.shape[0])}
    if a.size == 0:
        return out
    diff = np.abs(a - b)
    bad = ~np.isfinite(diff)
    if bad.any():  # NaN / inf on one side only is an infinite error
        diff = np.where(bad & ~(np.isnan(a) & np.isnan(b)), np.inf, np.where(bad, 0.0, diff))
    scale = np.nanmax(np.abs(b)) if np.isfinite(b).any() else 0.0
    floor = 1e-3 * scale if scale > 0 else 1.0
    rel = diff / np.maximum(np.abs(np.nan_to_num(b)), floor)
    s, k = np.unravel_index(int(np.argmax(diff)), diff.shape)
    out.update(max_abs_err=float(diff[s, k]), max_rel_err=float(rel.max()), t_worst_ms=float(s * dt),
               neuron_worst=int(neurons[k]))
    return out


def _keys(steps, idx, n):
    return np.sort(np.asarray(steps, dtype=np.int64) * n + np.asarray(idx, dtype=np.int64))


def first_divergence(a, b, n):
    """First step where spike trains ``a`` and ``b`` ((steps, idx) pairs) differ, or None."""
    ka, kb = _keys(*a, n), _keys(*b, n)
    m = min(ka.size, kb.size)
    diff = np.flatnonzero(ka[:m] != kb[:m])
    if diff.size:
        k = diff[0]
        return int(min(ka[k], kb[k]) // n)
    if ka.size == kb.size:
        return None
    longer = ka if ka.size > kb.size else kb
    return int(longer[m] // n)


def _coincidences(sa, sb, window):
    """Number of spikes of sorted ``sa`` with a not yet matched spike of sorted ``sb`` within ``window`` steps."""
    i = j = c = 0
    while i < sa.size and j < sb.size:
        d = sa[i] - sb[j]
        if abs(d) <= window:
            c += 1
            i += 1
            j += 1
        elif d > 0:
            j += 1
        else:
            i += 1
    return c


def gamma_factor(a, b, n, n_steps, dt, window_steps=1):
    """Mean Gamma coincidence factor of model trains ``a`` against reference trains ``b``.

    Per neuron: ``(N_coinc - 2 nu Delta N_ref) / (0.5 (N_model + N_ref)) / (1 - 2 nu Delta)``
    with ``nu`` the model's rate, ``Delta = window_steps * dt``. Averaged over
    neurons with a spike in either train; None when no neuron spiked.
    """
    sa, ia = (np.asarray(x, dtype=np.int64) for x in a)
    sb, ib = (np.asarray(x, dtype=np.int64) for x in b)
    oa, ob = np.lexsort((sa, ia)), np.lexsort((sb, ib))
    sa, ia, sb, ib = sa[oa], ia[oa], sb[ob], ib[ob]
    ca = np.bincount(ia, minlength=n)
    cb = np.bincount(ib, minlength=n)
    pa = np.r_[0, np.cumsum(ca)]
    pb = np.r_[0, np.cumsum(cb)]
    active = np.flatnonzero((ca + cb) > 0)
    if active.size == 0:
        return None
    duration = n_steps * dt
    delta = window_steps * dt
    gammas = np.empty(active.size)
    for m, i in enumerate(active):
        na, nb = int(ca[i]), int(cb[i])
        c = _coincidences(sa[pa[i]:pa[i + 1]], sb[pb[i]:pb[i + 1]], window_steps)
        nu = na / duration
        expected = 2.0 * nu * delta * nb
        norm = 1.0 - 2.0 * nu * delta
        gammas[m] = (c - expected) / (0.5 * (na + nb)) / norm if norm > 0 else np.nan
    return float(np.nanmean(gammas))


def spike_agreement(a, b, n, n_steps, dt, window_steps=1):
    """Spike measures of compsim trains ``a`` against Brian2 trains ``b`` ((steps, idx) pairs)."""
    count_a, count_b = int(np.size(a[0])), int(np.size(b[0]))
    div = first_divergence(a, b, n)
    duration_s = n_steps * dt * 1e-3
    rate_a, rate_b = count_a / (n * duration_s), count_b / (n * duration_s)
    if rate_b > 0:
        rel = abs(rate_a - rate_b) / rate_b
    else:
        rel = 0.0 if rate_a == 0 else float("inf")
    return {
        "count_compsim": count_a,
        "count_brian2": count_b,
        "count_diff": count_a - count_b,
        "identical": div is None,
        "first_divergence_step": div,
        "first_divergence_ms": None if div is None else float(div * dt),
        "gamma": gamma_factor(a, b, n, n_steps, dt, window_steps),
        "rate_compsim_hz": rate_a,
        "rate_brian2_hz": rate_b,
        "rate_rel_diff": rel,
    }


def convergence_order(dts, errors):
    """Least-squares slope of log(error) against log(dt): the observed order of convergence."""
    dts = np.asarray(dts, dtype=np.float64)
    err = np.asarray(errors, dtype=np.float64)
    ok = (err > 0) & np.isfinite(err)
    if ok.sum() < 2:
        return None
    return float(np.polyfit(np.log(dts[ok]), np.log(err[ok]), 1)[0])
