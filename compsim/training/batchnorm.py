"""Batch normalisation (Ioffe & Szegedy 2015) of pre-activations, followed by an activation.

For a mini-batch of pre-activations ``z`` (B, n), per unit k::

    mu_k = mean_b z_bk,   var_k = mean_b (z_bk - mu_k)^2,   zhat = (z - mu) / sqrt(var + eps),
    u = gamma zhat + beta,   y = act(u)

with learned ``gamma`` (starts at 1) and ``beta`` (starts at 0). Backward, with ``g = dC/du * gamma``::

    dC/dz = (g - mean_b g - zhat mean_b(g zhat)) / sqrt(var + eps),
    dC/dgamma = sum_b dC/du zhat,   dC/dbeta = sum_b dC/du

Training and evaluation statistics: while ``training`` is true (the default) every forward pass
normalises with the batch's own ``mu`` and ``var`` and updates the running estimates
``mean <- (1 - momentum) mean + momentum mu`` and ``var <- (1 - momentum) var + momentum var B/(B-1)``
(unbiased). With ``training`` false the layer normalises with the running estimates (a fixed affine
map: ``dC/dz = dC/du gamma / sqrt(var_run + eps)``) and leaves them alone. :func:`~compsim.training.loop.fit`
has no train/eval switch: :mod:`compsim.protocols.sparse_normalisation` gives ``fit`` no held-out set and
measures held-out accuracy itself after each epoch with ``training`` set to false.
"""
import numpy as np

from compsim.checks import check_choice, check_count, check_number

from .activations import ACTIVATIONS, activate, activation_backward


class BatchNorm:
    """``y = act(gamma (z - mu) / sqrt(var + eps) + beta)`` over ``n`` units (module docstring)."""

    def __init__(self, n, *, activation="none", momentum=0.1, eps=1e-5, dtype=np.float64):
        owner = "BatchNorm"
        n = check_count("n", n, owner=owner)
        self.activation = check_choice("activation", activation, ACTIVATIONS, owner=owner)
        self.momentum = check_number("momentum", momentum, lo=0.0, lo_open=True, hi=1.0, owner=owner)
        self.eps = check_number("eps", eps, lo=0.0, lo_open=True, owner=owner)
        self.params = {"gamma": np.ones(n, dtype), "beta": np.zeros(n, dtype)}
        self.running_mean, self.running_var = np.zeros(n, dtype), np.ones(n, dtype)
        self.training = True
        self.grads = {}

    def forward(self, z):
        if self.training:
            mu, var = z.mean(axis=0), z.var(axis=0)
            if z.shape[0] > 1:
                m = self.momentum
                self.running_mean = (1 - m) * self.running_mean + m * mu
                self.running_var = (1 - m) * self.running_var + m * var * z.shape[0] / (z.shape[0] - 1)
        else:
            mu, var = self.running_mean, self.running_var
        self._std = np.sqrt(var + self.eps)
        self._zhat = (z - mu) / self._std
        self._u = self.params["gamma"] * self._zhat + self.params["beta"]
        self._y = activate(self._u, self.activation)
        self._batch_statistics = self.training
        return self._y

    def backward(self, dy):
        du = activation_backward(dy, self._y, self._u, self.activation)
        self.grads = {"gamma": np.sum(du * self._zhat, axis=0), "beta": du.sum(axis=0)}
        g = du * self.params["gamma"]
        if not self._batch_statistics:
            return g / self._std
        return (g - g.mean(axis=0) - self._zhat * np.mean(g * self._zhat, axis=0)) / self._std
