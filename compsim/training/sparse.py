"""Sparse layers with dendritic normalisation and sparse evolutionary training (seed 001, Bird & Cuntz).

A :class:`SparseAffine` layer holds the parameters ``v`` (n_out, n_in) on a
connection mask (an Erdős–Rényi graph: each synapse exists with probability
``epsilon``) and derives the weights of neuron i from its row ``v_i``; with
``n_i = ||v_i||_0`` (the number of afferents) and ``r_i = ||v_i||_2``:

* ``normalise="none"``: ``w_i = v_i``;
* ``normalise="l0"`` (dendritic normalisation, eq. 1): ``w_i = s v_i / n_i``, one excitability ``s``
  for the layer; gradients (eq. 2) ``dC/dv_i = s / n_i dC/dw_i`` and ``dC/ds = sum_i dC/dw_i . v_i / n_i``;
* ``normalise="l2"`` (heterosynaptic normalisation, Salimans & Kingma's weight normalisation):
  ``w_i = g_i v_i / r_i``, one ``g_i`` per neuron; gradients ``dC/dg_i = dC/dw_i . v_i / r_i`` and
  ``dC/dv_i = g_i / r_i (dC/dw_i - (dC/dw_i . v_i) v_i / r_i^2)``;
* ``normalise="l0l2"`` (joint L0/L2, eq. 3): ``w_i = g_i v_i / (n_i r_i)``; gradients
  ``dC/dg_i = dC/dw_i . v_i / (n_i r_i)`` and ``dC/dv_i = g_i / (n_i r_i) (dC/dw_i - (dC/dw_i . v_i) v_i / r_i^2)``
  (seed 001's eq. 4 prints an extra factor ``g_i`` in ``dC/dg_i``, which a finite-difference check rejects).

All four share one form, ``w_i = m_i v_i / d_i`` with the magnitude ``m_i`` (``s`` or ``g_i``) and the
divisor ``d_i`` (``n_i``, ``r_i`` or ``n_i r_i``): ``dC/dm_i = dC/dw_i . v_i / d_i`` and
``dC/dv_i = m_i / d_i (dC/dw_i - [r_i in d_i] (dC/dw_i . v_i) v_i / r_i^2)``. ``s`` (the constructor's
argument) is the initial ``s`` or ``g_i``.

``update="active"`` (``normalise="l0"`` only) replaces the exact ``dC/dv`` by the update of the
authors' published NumPy code (``network_nm.py`` of github.com/synapsesanddendrites/Dendritic-normalisation):
per example b, the term of neuron i is divided by ``a_bi``, the number of afferents of i whose input
``x_bj`` is non-zero, instead of ``n_i``: ``dC/dv_i = s sum_b dC/dz_bi x_b / a_bi`` (times the mask).
It is not the gradient of C: on MNIST, where about a fifth of the pixels are non-zero, it moves ``v``
about ``n_i / a_bi ~ 5`` times further than eq. 2 does. ``dC/ds`` stays eq. 2's.

Sparse evolutionary training (SET, Mocanu et al. 2018; seed 001 section 2):
after each epoch :meth:`SparseAffine.evolve` removes the fraction ``zeta`` of
existing synapses with the smallest effective weight ``|w|`` ("the weakest contacts"; the authors'
code ranks ``|w|`` too) and grows as many new ones at random empty positions,
``v ~ N(0, regrow_sd)``: the number of synapses stays constant.
"""
import numpy as np

from compsim.checks import check_choice, check_count, check_number

from .activations import ACTIVATIONS, activate, activation_backward

NORMALISATIONS = ("none", "l0", "l2", "l0l2")
UPDATES = ("gradient", "active")


class SparseAffine:
    """``y = act(x W^T + b)`` with sparse, optionally normalised weights (module docstring).

    ``v ~ N(0, init_sd)`` on the mask, ``b ~ N(0, 1)``; with ``epsilon=1`` and ``normalise="none"``
    it is a dense layer initialised as the authors' (and Nielsen's ``network2.py`` "large weight") code.
    """

    def __init__(self, n_in, n_out, *, epsilon=0.2, normalise="none", activation="sigmoid", s=1.0, init_sd=1.0,
                 update="gradient", rng=None, dtype=np.float64):
        owner = "SparseAffine"
        n_in, n_out = check_count("n_in", n_in, owner=owner), check_count("n_out", n_out, owner=owner)
        epsilon = check_number("epsilon", epsilon, lo=0.0, lo_open=True, hi=1.0, owner=owner)
        self.normalise = check_choice("normalise", normalise, NORMALISATIONS, owner=owner)
        self.activation = check_choice("activation", activation, ACTIVATIONS, owner=owner)
        self.update = check_choice("update", update, UPDATES, owner=owner)
        if update == "active" and normalise != "l0":
            raise ValueError(f"{owner}: parameter 'update' may be 'active' only with normalise='l0', "
                             f"got normalise={normalise!r}")
        init_sd = check_number("init_sd", init_sd, lo=0.0, lo_open=True, owner=owner)
        self.rng = np.random.default_rng(rng)
        self.mask = self.rng.random((n_out, n_in)) < epsilon
        self.mask[np.arange(n_out), self.rng.integers(0, n_in, n_out)] = True  # every neuron has an afferent
        v = self.rng.normal(0.0, init_sd, (n_out, n_in)).astype(dtype) * self.mask
        self.params = {"v": v, "b": self.rng.normal(0.0, 1.0, n_out).astype(dtype)}
        if self.normalise == "l0":
            self.params["s"] = np.array([check_number("s", s, owner=owner)], dtype)
        elif self.normalise != "none":
            self.params["g"] = np.full(n_out, check_number("s", s, owner=owner), dtype)
        self.grads = {}

    @property
    def n_synapses(self):
        return int(self.mask.sum())

    def _scale(self, v):
        """``(m, d, r)`` as columns: magnitude, divisor and L2 norm (module docstring); ``None`` if unnormalised.
        A neuron left without afferents counts ``n_i = 1`` and ``r_i = 1`` (its weights are 0)."""
        if self.normalise == "none":
            return None
        n = np.maximum(self.mask.sum(axis=1, keepdims=True), 1)
        r = np.sqrt(np.sum(v * v, axis=1, keepdims=True))
        r = np.where(r > 0, r, 1.0)
        if self.normalise == "l0":
            return self.params["s"][0], n, r
        return self.params["g"][:, None], (r if self.normalise == "l2" else n * r), r

    def weights(self):
        """The effective weights W (n_out, n_in)."""
        v = self.params["v"] * self.mask
        scale = self._scale(v)
        if scale is None:
            return v
        m, d, _ = scale
        return m * v / d

    def forward(self, x):
        W = self.weights()
        z = x @ W.T + self.params["b"]
        y = activate(z, self.activation)
        self._x, self._y, self._z, self._W = x, y, z, W
        return y

    def backward(self, dy):
        dz = activation_backward(dy, self._y, self._z, self.activation)
        dW = (dz.T @ self._x) * self.mask
        v = self.params["v"] * self.mask
        grads = {"b": dz.sum(axis=0)}
        scale = self._scale(v)
        if scale is None:
            grads["v"] = dW
        else:
            m, d, r = scale
            along = np.sum(dW * v, axis=1, keepdims=True)  # dC/dw_i . v_i
            if self.normalise == "l0":
                grads["s"] = np.array([np.sum(along / d)])
                grads["v"] = m * dW / d if self.update == "gradient" else self._active_update(dz)
            else:
                grads["g"] = (along / d)[:, 0]
                grads["v"] = m / d * (dW - along * v / (r * r))
        self.grads = grads
        return dz @ self._W

    def _active_update(self, dz):
        """The authors' code's ``v`` update (module docstring): ``s sum_b dC/dz_bi x_b / a_bi`` on the mask."""
        active = (self._x != 0).astype(dz.dtype) @ self.mask.T.astype(dz.dtype)  # a_bi
        return self.params["s"][0] * ((dz / np.maximum(active, 1.0)).T @ self._x) * self.mask

    def evolve(self, zeta, *, regrow_sd=1.0):
        """SET: remove the fraction ``zeta`` of synapses with the smallest effective ``|w|`` and grow as many at
        random empty positions with ``v ~ N(0, regrow_sd)``. Returns the flat indices of the new synapses."""
        zeta = check_number("zeta", zeta, lo=0.0, hi=1.0, hi_open=True, owner="SparseAffine.evolve")
        regrow_sd = check_number("regrow_sd", regrow_sd, lo=0.0, lo_open=True, owner="SparseAffine.evolve")
        existing = np.flatnonzero(self.mask)
        n_move = int(zeta * existing.size)
        if n_move == 0:
            return np.zeros(0, dtype=np.int64)
        w = self.weights().reshape(-1)
        weakest = existing[np.argsort(np.abs(w[existing]), kind="stable")[:n_move]]
        v = self.params["v"].reshape(-1)
        flat_mask = self.mask.reshape(-1)
        flat_mask[weakest] = False
        v[weakest] = 0.0
        empty = np.flatnonzero(~flat_mask)
        grown = self.rng.choice(empty, size=n_move, replace=False)
        flat_mask[grown] = True
        v[grown] = self.rng.normal(0.0, regrow_sd, n_move)
        return grown
