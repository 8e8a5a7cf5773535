"""Sparse layers with dendritic normalisation and sparse evolutionary training (seed 001, Bird & Cuntz).

A :class:`SparseAffine` layer holds the parameters ``v`` (n_out, n_in) on a
connection mask (an Erdős–Rényi graph: each synapse exists with probability
``epsilon``) and derives the weights of neuron i from its row ``v_i``:

* ``normalise="none"``: ``w_i = v_i``;
* ``normalise="l0"`` (dendritic normalisation, eq. 1): ``w_i = s v_i / ||v_i||_0``, one
  excitability ``s`` for the layer, ``||v_i||_0`` the number of afferents of neuron i;
  gradients (eq. 2) ``dC/dv_i = s / ||v_i||_0 dC/dw_i`` and ``dC/ds = sum_i dC/dw_i . v_i / ||v_i||_0``;
* ``normalise="l0l2"`` (joint L0/L2, eq. 3): ``w_i = g_i v_i / (||v_i||_0 ||v_i||_2)``, one ``g_i``
  per neuron; gradients ``dC/dg_i = dC/dw_i . v_i / (||v_i||_0 ||v_i||_2)`` and
  ``dC/dv_i = g_i / (||v_i||_0 ||v_i||_2) (dC/dw_i - (dC/dw_i . v_i) v_i / ||v_i||_2^2)``
  (as for Salimans & Kingma's weight normalisation; seed 001's eq. 4 prints an extra factor
  ``g_i`` in ``dC/dg_i``, which a finite-difference check rejects).

Sparse evolutionary training (SET, Mocanu et al. 2018; seed 001 section 2):
after each epoch :meth:`SparseAffine.evolve` removes the fraction ``zeta`` of
existing synapses with the smallest ``|v|`` and grows as many new ones at
random empty positions, ``v ~ N(0, regrow_sd)``: the number of synapses stays constant.
"""
import numpy as np

from compsim.checks import check_choice, check_count, check_number

ACTIVATIONS = ("sigmoid", "relu", "none")


class SparseAffine:
    """``y = act(x W^T + b)`` with sparse, optionally normalised weights (module docstring)."""

    def __init__(self, n_in, n_out, *, epsilon=0.2, normalise="none", activation="sigmoid", s=1.0, init_sd=1.0,
                 rng=None, dtype=np.float64):
        owner = "SparseAffine"
        n_in, n_out = check_count("n_in", n_in, owner=owner), check_count("n_out", n_out, owner=owner)
        epsilon = check_number("epsilon", epsilon, lo=0.0, lo_open=True, hi=1.0, owner=owner)
        self.normalise = check_choice("normalise", normalise, ("none", "l0", "l0l2"), owner=owner)
        self.activation = check_choice("activation", activation, ACTIVATIONS, owner=owner)
        self.rng = np.random.default_rng(rng)
        self.mask = self.rng.random((n_out, n_in)) < epsilon
        self.mask[np.arange(n_out), self.rng.integers(0, n_in, n_out)] = True  # every neuron has an afferent
        v = self.rng.normal(0.0, init_sd, (n_out, n_in)).astype(dtype) * self.mask
        self.params = {"v": v, "b": self.rng.normal(0.0, 1.0, n_out).astype(dtype)}
        if self.normalise == "l0":
            self.params["s"] = np.array([check_number("s", s, owner=owner)], dtype)
        elif self.normalise == "l0l2":
            self.params["g"] = np.full(n_out, check_number("s", s, owner=owner), dtype)
        self.grads = {}

    @property
    def n_synapses(self):
        return int(self.mask.sum())

    def _norms(self, v):
        """``(||v_i||_0, ||v_i||_2)`` as columns; a neuron left without afferents counts 1 (its weights are 0)."""
        l0 = np.maximum(self.mask.sum(axis=1, keepdims=True), 1)
        l2 = np.sqrt(np.sum(v * v, axis=1, keepdims=True))
        return l0, np.where(l2 > 0, l2, 1.0)

    def weights(self):
        """The effective weights W (n_out, n_in)."""
        v = self.params["v"] * self.mask
        if self.normalise == "none":
            return v
        l0, l2 = self._norms(v)
        if self.normalise == "l0":
            return self.params["s"][0] * v / l0
        return self.params["g"][:, None] * v / (l0 * l2)

    def forward(self, x):
        W = self.weights()
        z = x @ W.T + self.params["b"]
        if self.activation == "sigmoid":
            y = 1.0 / (1.0 + np.exp(-z))
        elif self.activation == "relu":
            y = np.maximum(z, 0.0)
        else:
            y = z
        self._x, self._y, self._z, self._W = x, y, z, W
        return y

    def backward(self, dy):
        if self.activation == "sigmoid":
            dz = dy * self._y * (1.0 - self._y)
        elif self.activation == "relu":
            dz = dy * (self._z > 0)
        else:
            dz = dy
        dW = (dz.T @ self._x) * self.mask
        v = self.params["v"] * self.mask
        grads = {"b": dz.sum(axis=0)}
        l0, l2 = self._norms(v)
        if self.normalise == "none":
            grads["v"] = dW
        elif self.normalise == "l0":
            grads["v"] = self.params["s"][0] * dW / l0
            grads["s"] = np.array([np.sum(dW * v / l0)])
        else:
            g = self.params["g"][:, None]
            along = np.sum(dW * v, axis=1, keepdims=True)  # dC/dw_i . v_i
            grads["g"] = (along / (l0 * l2))[:, 0]
            grads["v"] = g / (l0 * l2) * (dW - along * v / (l2 * l2)) * self.mask
        self.grads = grads
        return dz @ self._W

    def evolve(self, zeta, *, regrow_sd=1.0):
        """SET: remove the fraction ``zeta`` of synapses with the smallest ``|v|`` and grow as many at random
        empty positions with ``v ~ N(0, regrow_sd)``. Returns the flat indices of the new synapses."""
        zeta = check_number("zeta", zeta, lo=0.0, hi=1.0, hi_open=True, owner="SparseAffine.evolve")
        existing = np.flatnonzero(self.mask)
        n_move = int(zeta * existing.size)
        if n_move == 0:
            return np.zeros(0, dtype=np.int64)
        v = self.params["v"].reshape(-1)
        weakest = existing[np.argsort(np.abs(v[existing]), kind="stable")[:n_move]]
        flat_mask = self.mask.reshape(-1)
        flat_mask[weakest] = False
        v[weakest] = 0.0
        empty = np.flatnonzero(~flat_mask)
        grown = self.rng.choice(empty, size=n_move, replace=False)
        flat_mask[grown] = True
        v[grown] = self.rng.normal(0.0, regrow_sd, n_move)
        return grown
