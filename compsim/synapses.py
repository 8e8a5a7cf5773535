"""Synaptic kernels: how a presynaptic spike becomes a postsynaptic input trace.

Each projection keeps, per postsynaptic neuron, the weighted sum of its
filtered presynaptic spike trains; the post-synaptic port receives the sum of
these traces over the projections that target it.

``Exponential(tau)``
    jump ``+w`` at each spike, ``dx/dt = -x / tau``; the port sees ``x``.
    A conductance (nS) or current (pA) jump with exponential decay, or the
    exponentially filtered spike train of the SEGDEND benchmark.
``DoubleExponential(tau_rise, tau_decay)``
    the difference-of-exponentials kernel of Guerguiev et al. 2017,
    ``k(t) = (exp(-t/tau_decay) - exp(-t/tau_rise)) / (tau_decay - tau_rise)``,
    kept as two traces ``x_d``, ``x_r`` that both jump by ``w`` and decay with
    their own time constant; the port sees ``(x_d - x_r) / (tau_decay - tau_rise)``.

``TruncatedDoubleExponential(tau_rise, tau_decay, length)``
    the same kernel sampled at the steps ``k dt``, k = 1 .. ``length / dt``, and
    cut there (a finite impulse response): the port sees
    ``sum_k kappa(k dt) u(t - k)``, with ``u(s)`` the weighted spike count of step
    ``s``. This is the original segregated-dendrite code's kernel (10 steps of
    1 ms; the 10 taps sum to 0.510, about half of the untruncated kernel's mass).

Decay per step: ``exp(-dt/tau)`` for ``exponential_euler``/``exact``,
``1 - dt/tau`` for forward ``euler`` (what Brian2's ``euler`` does to ``dx/dt = -x/tau``).
"""
import numpy as np

from .checks import check_positive


class Exponential:
    """Exponentially decaying trace, time constant ``tau`` (ms)."""

    n_traces = 1

    def __init__(self, tau):
        self.tau = check_positive("tau", tau, "ms", owner="Exponential")

    @property
    def taus(self):
        return (self.tau,)

    def output_coefficient(self):
        """Factor applied to the trace difference; 1 for a single trace."""
        return 1.0

    def describe(self):
        return {"kind": "exponential", "tau_ms": self.tau}

    def decay_factors(self, dt, method):
        """Per-step multiplicative decay of each trace."""
        out = []
        for tau in self.taus:
            if method == "euler":
                if dt >= tau:
                    raise ValueError(
                        f"{type(self).__name__}: forward Euler needs dt < tau (dt = {dt} ms, tau = {tau} ms); "
                        "lower dt or use method='exponential_euler'"
                    )
                out.append(1.0 - dt / tau)
            else:
                out.append(float(np.exp(-dt / tau)))
        return out

    def __repr__(self):
        return f"Exponential(tau={self.tau})"


class DoubleExponential(Exponential):
    """Difference-of-exponentials kernel, rise ``tau_rise`` and decay ``tau_decay`` (ms)."""

    n_traces = 2

    def __init__(self, tau_rise, tau_decay):
        self.tau_rise = check_positive("tau_rise", tau_rise, "ms", owner="DoubleExponential")
        self.tau_decay = check_positive("tau_decay", tau_decay, "ms", owner="DoubleExponential")
        if self.tau_decay <= self.tau_rise:
            raise ValueError(
                f"DoubleExponential: parameter 'tau_decay' must be > tau_rise ({self.tau_rise} ms), got {self.tau_decay}"
            )

    @property
    def taus(self):
        return (self.tau_decay, self.tau_rise)

    def output_coefficient(self):
        return 1.0 / (self.tau_decay - self.tau_rise)

    def describe(self):
        return {"kind": "double_exponential", "tau_rise_ms": self.tau_rise, "tau_decay_ms": self.tau_decay}

    def __repr__(self):
        return f"DoubleExponential(tau_rise={self.tau_rise}, tau_decay={self.tau_decay})"


class TruncatedDoubleExponential:
    """Difference-of-exponentials kernel sampled on the time grid and cut after ``length`` ms (FIR filter).

    A spike emitted in step ``s`` adds ``w * kappa(k dt)`` to the port in
    step ``s + k`` for ``k = 1 .. n_taps``, ``n_taps = int(length / dt)`` (the
    original code's ``mem = int(10/dt)``), with ``kappa`` as in
    :class:`DoubleExponential`. The kernel values are not scaled by ``dt``, as
    in the original code.
    """

    n_traces = 0

    def __init__(self, tau_rise=3.0, tau_decay=10.0, length=10.0):
        owner = "TruncatedDoubleExponential"
        self.tau_rise = check_positive("tau_rise", tau_rise, "ms", owner=owner)
        self.tau_decay = check_positive("tau_decay", tau_decay, "ms", owner=owner)
        self.length = check_positive("length", length, "ms", owner=owner)
        if self.tau_decay <= self.tau_rise:
            raise ValueError(f"{owner}: parameter 'tau_decay' must be > tau_rise ({self.tau_rise} ms), got {tau_decay}")

    def taps(self, dt):
        """Kernel values ``kappa(k dt)``, k = 1 .. int(length / dt): array (n_taps,)."""
        n = int(self.length / dt + 1e-9)
        if n < 1:
            raise ValueError(f"TruncatedDoubleExponential: parameter 'length' ({self.length} ms) must be >= dt ({dt} ms)")
        t = dt * np.arange(1, n + 1)
        return (np.exp(-t / self.tau_decay) - np.exp(-t / self.tau_rise)) / (self.tau_decay - self.tau_rise)

    def describe(self):
        return {"kind": "truncated_double_exponential", "tau_rise_ms": self.tau_rise, "tau_decay_ms": self.tau_decay,
                "length_ms": self.length}

    def __repr__(self):
        return (f"TruncatedDoubleExponential(tau_rise={self.tau_rise}, tau_decay={self.tau_decay}, "
                f"length={self.length})")


class Instantaneous:
    """No filtering: the port sees, in step t + 1 (+ delay), exactly what was delivered in step t.

    For graded (rate) transmission: a rate population's activities ``p`` give
    the conductance ``sum_j W_ij p_j`` of the next step.
    """

    n_traces = 1

    def output_coefficient(self):
        return 1.0

    def decay_factors(self, dt, method):
        return [0.0]  # the trace holds one step's delivery and is then cleared

    def describe(self):
        return {"kind": "instantaneous"}


def default_synapse(population, port):
    """The synaptic kernel a model declares for ``port`` (see :class:`compsim.model.Port`)."""
    kind, *names = port.default_synapse
    values = [population.p[n] for n in names]
    if kind == "instantaneous":
        return Instantaneous()
    if kind == "exponential":
        return Exponential(*values)
    return DoubleExponential(*values)
