"""Optimisers, in place on a list of parameter dicts: Adam (Kingma & Ba 2014) and plain SGD."""
import numba
import numpy as np

from compsim.checks import check_number


@numba.njit(cache=True)
def _adam_update(p, g, m, v, beta1, beta2, step, c2, eps):
    """One fused pass of :meth:`Adam.step` over flat arrays (``step = lr / c1``)."""
    for i in range(p.size):
        m[i] = beta1 * m[i] + (1 - beta1) * g[i]
        v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
        p[i] -= step * m[i] / (np.sqrt(v[i] / c2) + eps)


class Adam:
    """``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g^2``, ``p <- p - lr m_hat / (sqrt(v_hat) + eps)``,
    with the bias corrections ``m_hat = m / (1 - b1^t)``, ``v_hat = v / (1 - b2^t)``.

    Defaults are seed 003's (beta1 0.9, beta2 0.99).
    """

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.99, eps=1e-8):
        self.params = params
        self.lr = check_number("lr", lr, lo=0.0, lo_open=True, owner="Adam")
        self.beta1 = check_number("beta1", beta1, lo=0.0, hi=1.0, hi_open=True, owner="Adam")
        self.beta2 = check_number("beta2", beta2, lo=0.0, hi=1.0, hi_open=True, owner="Adam")
        self.eps = check_number("eps", eps, lo=0.0, lo_open=True, owner="Adam")
        self.m = [{k: np.zeros_like(v) for k, v in p.items()} for p in params]
        self.v = [{k: np.zeros_like(v) for k, v in p.items()} for p in params]
        self.t = 0

    def forget(self, layer_index, key, where):
        """Zero the moments of parameter ``key`` of layer ``layer_index`` at ``where`` (e.g. regrown synapses)."""
        self.m[layer_index][key][where] = 0.0
        self.v[layer_index][key][where] = 0.0

    def step(self, grads):
        """Apply one update with ``grads`` (same structure as the parameters)."""
        self.t += 1
        c1, c2 = 1.0 - self.beta1 ** self.t, 1.0 - self.beta2 ** self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            for k in p:  # one fused pass per parameter array, in its own precision
                if not p[k].flags.c_contiguous:
                    raise ValueError(f"Adam: parameter {k!r} must be a C-contiguous array (updated in place)")
                scalar = p[k].dtype.type
                _adam_update(p[k].reshape(-1), np.ascontiguousarray(g[k], p[k].dtype).reshape(-1),
                             m[k].reshape(-1), v[k].reshape(-1), scalar(self.beta1), scalar(self.beta2),
                             scalar(self.lr / c1), scalar(c2), scalar(self.eps))


class SGD:
    """``p <- p - lr g`` (stochastic gradient descent; seed 001 trains with lr 0.05 and mini-batches of 10)."""

    def __init__(self, params, lr=0.05):
        self.params = params
        self.lr = check_number("lr", lr, lo=0.0, lo_open=True, owner="SGD")

    def step(self, grads):
        for p, g in zip(self.params, grads):
            for k in p:
                p[k] -= self.lr * g[k]

    def forget(self, layer_index, key, where):
        """Nothing to forget: SGD keeps no per-parameter state."""
