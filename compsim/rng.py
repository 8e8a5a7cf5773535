"""Counter-based random numbers keyed by (seed, stream, neuron, step).

Every random draw in compsim is a pure function of its key, so the same seed
gives bit-identical results whatever the chunk size, thread count or backend:
no generator state is carried from one step or thread to the next.

The mixer is the 64-bit finaliser of MurmurHash3 (``fmix64``) applied to the
key words folded in one at a time (a sponge-like construction, as in
SplitMix64, whose outputs pass BigCrush). ``uniform`` returns the top 53 bits
as a double in [0, 1). The draw index ``k`` is folded into the key by a
multiplication (k = 0 leaves the key unchanged).

Key layout
----------
``stream_key(seed, stream)`` folds the network seed and a stream id (one per
population / projection, assigned by the network) into one 64-bit word. A draw
then mixes in the neuron index, the step number and a draw index ``k`` (for
models needing more than one number per neuron and step).
"""
import math

import numpy as np
from numba import njit

from .fastmath import exp, log
from .simd import list_nonzero

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, inline="always")
def _fmix64(x):
    x ^= x >> _S33
    x *= _M1
    x ^= x >> _S33
    x *= _M2
    x ^= x >> _S33
    return x


@njit(cache=True, inline="always")
def _absorb(h, word):
    return _fmix64((h ^ np.uint64(word)) * _GOLDEN + _GOLDEN)


@njit(cache=True)
def stream_key(seed, stream):
    """64-bit key of random stream ``stream`` under network seed ``seed``."""
    return _absorb(_absorb(np.uint64(0x243F6A8885A308D3), seed), stream)


@njit(cache=True, inline="always")
def uniform(key, neuron, step, k):
    """Uniform double in [0, 1) for (key, neuron, step, draw index k).

    The step is absorbed before the neuron, so that inside a loop over
    neurons the compiler hoists the per-step part out of the loop.
    """
    h = _absorb(_absorb(key ^ (np.uint64(k) * _M2), step), neuron)
    return np.float64(h >> _S11) * _INV53


@njit(cache=True, inline="always")
def poisson_count(lam, u):
    """Poisson(lam) count by inversion of the CDF with one uniform ``u``.

    Exact for the per-step rates of spiking models (lam = rate * dt, well
    below 30); the loop is capped at 1000 to stay finite for huge lam.
    """
    p = math.exp(-lam)
    cdf = p
    k = 0
    while u >= cdf and k < 1000:
        k += 1
        p *= lam * (1.0 / k)
        cdf += p
    return k


#: largest expected count per step for which :func:`poisson_count_small` equals :func:`poisson_count`
SMALL_LAM_MAX = 0.25
_SMALL_TERMS = 13  # P(count >= 13 | lam = 0.25) ~ 2e-18, below the 2**-53 resolution of u
_INVERSES = (0.0,) + tuple(1.0 / k for k in range(1, _SMALL_TERMS + 1))  # 1/k as the loop rounds (1.0 / k)


@njit(cache=True, inline="always")
def poisson_count_small(lam, u):
    """:func:`poisson_count` for ``lam <= SMALL_LAM_MAX``, branch-free (the loop over neurons vectorises).

    The same inversion, operation for operation, with a fixed number of CDF
    terms and the vectorisable :func:`compsim.fastmath.exp` (within one ulp
    of ``np.exp``): the count differs from :func:`poisson_count` only if ``u``
    lies within an ulp of a CDF value, or within 2**-53 of 1 (probability
    about 1e-16 per draw).
    """
    p = exp(-lam)
    cdf = p
    k = 0
    for j in range(1, _SMALL_TERMS + 1):
        k += 1 if u >= cdf else 0
        p *= lam * _INVERSES[j]
        cdf += p
    return k


@njit(cache=True, inline="always")
def poisson_spikes_small(lam, key, neuron, step):
    """A Poisson(``lam``) spike count for ``0 <= lam <= SMALL_LAM_MAX`` (:func:`poisson_count_small`)."""
    return poisson_count_small(lam, uniform(key, neuron, step, 0))


@njit(cache=True)
def uniform_block(key, n_neurons, step0, n_steps, k):
    """Array (n_steps, n_neurons) of the uniforms the engine draws.

    Used to replay the exact noise of a run elsewhere (e.g. into Brian2 as
    frozen noise) and to test the generator's statistics.
    """
    out = np.empty((n_steps, n_neurons))
    for s in range(n_steps):
        for i in range(n_neurons):
            out[s, i] = uniform(key, i, step0 + s, k)
    return out


BERNOULLI = 0
POISSON = 1


@njit(cache=True, inline="always")
def bernoulli_spike(lam, key, neuron, step):
    """One spike with probability ``lam`` (u < lam; Brian2's ``PoissonGroup``): 1 or 0. Branch-free (vectorises)."""
    return 1 if uniform(key, neuron, step, 0) < lam else 0


@njit(cache=True, inline="always")
def poisson_spikes(lam, key, neuron, step):
    """A Poisson(``lam``) spike count (the original segregated-dendrite code); 0 without a draw when lam <= 0."""
    if lam <= 0.0:
        return 0
    return poisson_count(lam, uniform(key, neuron, step, 0))


@njit(cache=True, inline="always")
def draw_spikes(lam, mode, key, neuron, step):
    """Spike count of one neuron in one step, for expected count ``lam`` = rate * dt.

    ``mode`` BERNOULLI: :func:`bernoulli_spike`; POISSON: :func:`poisson_spikes` (its early exit at
    zero rate makes it the faster choice for sparse inputs such as images). Generated code passes
    ``mode`` as a literal, so the other branch is compiled away.
    """
    if mode == BERNOULLI:
        return bernoulli_spike(lam, key, neuron, step)
    return poisson_spikes(lam, key, neuron, step)


@njit(cache=True, inline="always")
def exponential(key, neuron, step, k):
    """Unit-mean exponential variate for (key, neuron, step, draw index k): ``-log(1 - u)``, u uniform in [0, 1)
    (vectorisable: :func:`compsim.fastmath.log`)."""
    return -log(1.0 - uniform(key, neuron, step, k))


@njit(cache=True, inline="always")
def integrate_intensity(acc, thr, i, lam):
    """Spike mode ``'poisson_events'``, per neuron and step (vectorisable): ``acc[i] += lam``; 1 if neuron ``i``
    has reached its threshold (it may spike: :func:`poisson_events` counts exactly), else 0."""
    a = acc[i] + lam
    acc[i] = a
    return 1 if a >= thr[i] else 0


#: draws made at once by :func:`poisson_events` (float64 lanes of a 512-bit vector)
_DRAW_LANES = 8


@njit(cache=True, error_model="numpy", forceinline=True)  # no zero-division branch: the draws vectorise
def poisson_events(step, key, acc, thr, counts, spikes, draws):
    """Exact Poisson spike counts by time rescaling (spike mode ``'poisson_events'``), for one copy.

    Each neuron's spikes are the points of a unit-rate Poisson process in
    its integrated intensity ``Lambda(t) = sum of lam`` (the expected counts
    per step): ``acc`` holds the intensity integrated since the last spike
    and ``thr`` the unit exponential distance to the next one (0: not drawn
    yet). By the time-rescaling theorem, the count of step t is then exactly
    Poisson(lam_t) and independent of the other steps' counts, as a per-step
    draw would be, but random numbers are needed only when a neuron spikes.

    The vectorised per-neuron loop has called :func:`integrate_intensity`,
    which set ``counts[i] = 1`` where ``acc >= thr``; here those neurons draw the
    thresholds they cross in this step (keyed by neuron, step and draw index
    j = 0, 1, ...), and ``counts[i]`` becomes the number crossed. The flagged
    neurons are listed first (in ``spikes``), their draw 0 is made for all of them
    in one vectorised pass (into the scratch ``draws``), so that the common case,
    one crossing of a drawn threshold, runs without branching from neuron to neuron.

    Returns the number of neurons that spiked, whose indices are then
    ``spikes[:returned]`` in increasing order: this is the population's spike
    collection (:class:`compsim.engine.stages.CollectSpikes`). Compiled into its
    caller (the chunk loop calls it per population, copy and step).
    """
    m = list_nonzero(counts, spikes)  # the flagged neurons, 16 at a time
    for q in range(min(-(-m // _DRAW_LANES) * _DRAW_LANES, draws.shape[0])):  # whole vectors: no scalar tail
        draws[q] = exponential(key, spikes[q], step, 0)  # beyond m: unused draws for stale (valid) indices
    n_spiking = 0
    for q in range(m):
        i = spikes[q]
        a, t, t0 = acc[i], thr[i], draws[q]
        if t > 0.0 and a - t < t0:  # one crossing: the next threshold is draw 0
            acc[i], thr[i], counts[i] = a - t, t0, 1
            k = 1
        else:
            k, j = 0, 1
            if t == 0.0:  # the first threshold (at the start, or after a reset) is draw 0
                t = t0
            else:
                a -= t
                k, t = 1, t0
            while a >= t:
                a -= t
                k += 1
                t = exponential(key, i, step, j)
                j += 1
            acc[i], thr[i], counts[i] = a, t, k
        spikes[n_spiking] = i  # in place: n_spiking <= q
        n_spiking += 1 if k > 0 else 0  # k, not counts[i]: no load of the value just stored in the index chain
    return n_spiking


@njit(cache=True, inline="always")
def normal(key, neuron, step, k):
    """Standard normal for (key, neuron, step), from the uniforms of draw indices k and k + 1 (Box-Muller)."""
    u1 = 1.0 - uniform(key, neuron, step, k)  # in (0, 1]
    u2 = uniform(key, neuron, step, k + 1)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
