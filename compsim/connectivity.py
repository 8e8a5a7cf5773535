"""Connectivity rules: which (pre, post) pairs a sparse projection connects.

Each rule returns the synapses as two index arrays sorted by presynaptic
neuron (the CSR order used for event-driven delivery). Random rules draw from
the counter-based stream of their projection, so the same network seed gives
the same connectivity.
"""
import numpy as np
from numba import njit

from .checks import check_count, check_number
from .rng import uniform


class FixedProbability:
    """Each (pre, post) pair connected independently with probability ``p``.

    Generated row by row with geometric gaps between connected targets (exact
    Bernoulli sampling, O(number of synapses)). Brian2: ``connect(p=p)``.
    """

    def __init__(self, p, allow_autapses=True):
        self.p = check_number("p", p, lo=0.0, hi=1.0, owner="FixedProbability")
        self.allow_autapses = bool(allow_autapses)

    def pairs(self, n_pre, n_post, key, same_population):
        skip_self = same_population and not self.allow_autapses
        return _bernoulli_pairs(n_pre, n_post, self.p, key, skip_self)

    def describe(self):
        return {"rule": "fixed_probability", "p": self.p, "allow_autapses": self.allow_autapses}


class FixedInDegree:
    """Each postsynaptic neuron receives exactly ``k`` distinct presynaptic partners."""

    def __init__(self, k, allow_autapses=True):
        self.k = check_count("k", k, lo=0, owner="FixedInDegree")
        self.allow_autapses = bool(allow_autapses)

    def pairs(self, n_pre, n_post, key, same_population):
        skip_self = same_population and not self.allow_autapses
        available = n_pre - (1 if skip_self else 0)
        if self.k > available:
            raise ValueError(f"FixedInDegree: parameter 'k' must be <= {available} (presynaptic neurons), got {self.k}")
        pre, post = _in_degree_pairs(n_pre, n_post, self.k, key, skip_self)
        order = np.argsort(pre, kind="stable")
        return pre[order], post[order]

    def describe(self):
        return {"rule": "fixed_in_degree", "k": self.k, "allow_autapses": self.allow_autapses}


class Explicit:
    """Synapses given as index arrays ``pre[s] -> post[s]`` (any order; duplicates allowed)."""

    def __init__(self, pre, post):
        self.pre, self.post = (_integers(name, idx) for name, idx in (("pre", pre), ("post", post)))
        if self.pre.shape != self.post.shape:
            raise ValueError(
                f"Explicit: 'pre' and 'post' must have the same length, got {self.pre.size} and {self.post.size}"
            )
        self.order = np.argsort(self.pre, kind="stable")

    def pairs(self, n_pre, n_post, key, same_population):
        for name, idx, n in (("pre", self.pre, n_pre), ("post", self.post, n_post)):
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                raise ValueError(f"Explicit: '{name}' indices must be in [0, {n - 1}], got range [{idx.min()}, {idx.max()}]")
        return self.pre[self.order], self.post[self.order]

    def describe(self):
        return {"rule": "explicit", "n_synapses": int(self.pre.size)}


def _integers(name, value):
    arr = np.asarray(value).ravel()
    if arr.size and arr.dtype.kind not in "iu":
        raise ValueError(f"Explicit: parameter '{name}' must hold integer indices, got dtype {arr.dtype}")
    return arr.astype(np.int64)


@njit(cache=True)
def _bernoulli_pairs(n_pre, n_post, p, key, skip_self):
    cap = int(n_pre * n_post * p + 10 * np.sqrt(n_pre * n_post * p + 1.0) + 16)
    pre = np.empty(cap, np.int64)
    post = np.empty(cap, np.int64)
    m = 0
    if p <= 0.0:
        return pre[:0], post[:0]
    log_q = np.log1p(-p) if p < 1.0 else -np.inf
    for j in range(n_pre):
        i = -1
        k = 0
        while True:
            if p < 1.0:
                u = uniform(key, j, k, 0)
                k += 1
                gap = np.floor(np.log1p(-u) / log_q)  # failures before the next success
                if gap >= n_post - i:  # compared as float: the gap may exceed the int64 range
                    break
                i += 1 + int(gap)
            else:
                i += 1
            if i >= n_post:
                break
            if skip_self and i == j:
                continue
            if m == cap:
                cap *= 2
                pre = np.concatenate((pre, np.empty(cap - pre.shape[0], np.int64)))
                post = np.concatenate((post, np.empty(cap - post.shape[0], np.int64)))
            pre[m] = j
            post[m] = i
            m += 1
    return pre[:m], post[:m]


@njit(cache=True)
def _in_degree_pairs(n_pre, n_post, k, key, skip_self):
    pre = np.empty(n_post * k, np.int64)
    post = np.empty(n_post * k, np.int64)
    chosen = np.zeros(n_pre, np.bool_)
    m = 0
    for i in range(n_post):
        # Floyd's algorithm: k distinct values without a full permutation
        start = m
        n_avail = n_pre - (1 if skip_self else 0)
        draw = 0
        for r in range(n_avail - k, n_avail):
            u = uniform(key, i, draw, 1)
            draw += 1
            c = int(u * (r + 1))
            if chosen[_skip(c, i, skip_self)]:
                c = r
            j = _skip(c, i, skip_self)
            chosen[j] = True
            pre[m] = j
            post[m] = i
            m += 1
        for s in range(start, m):
            chosen[pre[s]] = False
    return pre, post


@njit(cache=True, inline="always")
def _skip(c, i, skip_self):
    # map 0..n_pre-2 onto 0..n_pre-1 without i when autapses are excluded
    if skip_self and c >= i:
        return c + 1
    return c
