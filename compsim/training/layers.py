"""Layers with forward and hand-derived backward passes (NumPy), for mini-batches of row vectors.

Each layer keeps what its backward pass needs from the last forward pass;
``backward(dy)`` takes dL/d(output), stores dL/d(parameter) in ``grads``
(same keys as ``params``) and returns dL/d(input).

Conductance-weighted averaging (seed 003, eq. 1, 3, 5, 6), for presynaptic
activities ``p_j`` in [0, 1] with valences ``e_j`` (+1 excitatory, -1
inhibitory), maximal conductances ``G_ij = h(g_ij) = (1 + g_ij)_+ >= 0``
and a fixed resting conductance ``G_r > 0`` with reversal ``e_r``::

    z_i = (G_r e_r + sum_j G_ij e_j p_j) / (G_r + sum_j G_ij p_j),      p_i = (z_i)_+

so ``z_i`` is a weighted average of the valences and ``e_r``: it lies in
[min(e, e_r), max(e, e_r)] whatever the input. AbsNorm (seed 003, section
4.4) is its ablation: a signed weight ``W_ij`` per synapse, ``|W_ij|`` as
the conductance: ``z_i = (G_r e_r + sum_j W_ij p_j) / (G_r + sum_j |W_ij| p_j)``.
"""
import numpy as np

from compsim.checks import check_choice, check_count, check_number


def doubled_input(x):
    """Images scaled and clipped to [0, 1], doubled into an excitatory and an inhibitory copy: (B, n) -> (B, 2n)."""
    x = np.clip(np.asarray(x), 0.0, 1.0)
    return np.concatenate([x, x], axis=1)


def valences(n, excitatory):
    """Valence vector of ``n`` units whose first ``excitatory`` are excitatory (+1), the rest inhibitory (-1)."""
    e = -np.ones(n)
    e[:excitatory] = 1.0
    return e


class Affine:
    """``y = act(x W^T + b)``, ``act`` ReLU or identity.

    ``init="glorot"`` (default): Glorot-uniform W, zero b. ``init="sparse_kaiming"``: the
    initialisation of Numenta's ``DendriticMLP`` (nupic.research, ``weight_init="modified"``),
    W ~ U(-h, h) with ``h = 1 / sqrt(input_density * density * n_in)`` and PyTorch's
    ``nn.Linear`` bias b ~ U(-1/sqrt(n_in), 1/sqrt(n_in)); with both densities 1 this is
    PyTorch's default ``nn.Linear`` initialisation.

    ``density < 1``: only that fraction of the weights exists, exactly ``round(density * n_in)``
    inputs per unit chosen at random (as nupic.torch's ``SparseWeights``); absent weights stay 0
    whatever the optimiser does. ``input_density``: expected fraction of non-zero inputs (e.g.
    the k-WTA fraction of the layer below), used only by ``sparse_kaiming``.
    """

    def __init__(self, n_in, n_out, *, relu=True, rng=None, dtype=np.float64, init="glorot", density=1.0,
                 input_density=1.0):
        n_in, n_out = check_count("n_in", n_in, owner="Affine"), check_count("n_out", n_out, owner="Affine")
        init = check_choice("init", init, ("glorot", "sparse_kaiming"), owner="Affine")
        density = check_number("density", density, lo=0.0, lo_open=True, hi=1.0, owner="Affine")
        input_density = check_number("input_density", input_density, lo=0.0, lo_open=True, hi=1.0, owner="Affine")
        rng = np.random.default_rng(rng)
        if init == "glorot":
            limit = np.sqrt(6.0 / (n_in + n_out))
            self.params = {"W": rng.uniform(-limit, limit, (n_out, n_in)).astype(dtype),
                           "b": np.zeros(n_out, dtype)}
        else:
            self.params = sparse_kaiming(n_in, n_out, density, input_density, rng, dtype)
        self.mask = None if density == 1.0 else row_mask(n_out, n_in, density, rng, dtype)
        if self.mask is not None:
            self.params["W"] *= self.mask
        self.relu = bool(relu)
        self.grads = {}

    def forward(self, x):
        self._x = x
        self._weights = self.params["W"] if self.mask is None else self.params["W"] * self.mask
        z = x @ self._weights.T + self.params["b"]
        self._active = z > 0 if self.relu else None
        return np.maximum(z, 0) if self.relu else z

    def backward(self, dy):
        dz = dy * self._active if self.relu else dy
        dW = dz.T @ self._x
        self.grads = {"W": dW if self.mask is None else dW * self.mask, "b": dz.sum(axis=0)}
        return dz @ self._weights


def sparse_kaiming(n_in, n_out, density, input_density, rng, dtype):
    """``{"W", "b"}`` initialised as Numenta's ``DendriticMLP._init_sparse_weights`` (see :class:`Affine`)."""
    bound = 1.0 / np.sqrt(input_density * density * n_in)
    bias_bound = 1.0 / np.sqrt(n_in)
    return {"W": rng.uniform(-bound, bound, (n_out, n_in)).astype(dtype),
            "b": rng.uniform(-bias_bound, bias_bound, n_out).astype(dtype)}


def row_mask(n_out, n_in, density, rng, dtype):
    """0/1 mask with exactly ``round(density * n_in)`` ones per row at random places (nupic.torch ``SparseWeights``)."""
    keep = int(round(density * n_in))
    order = np.argsort(rng.random((n_out, n_in)), axis=1)
    mask = np.zeros((n_out, n_in), dtype)
    np.put_along_axis(mask, order[:, :keep], 1.0, axis=1)
    return mask


class CWA:
    """A fully connected conductance-weighted-averaging layer (module docstring), ``p = (z)_+``.

    Parameters
    ----------
    valence_in : array of +-1, shape (n_in,)
        Valence of each presynaptic unit (Dale's law: all of a unit's synapses share it).
    n_out : int
        Units; the first ``excitatory_out`` (default half) are excitatory for the next layer.
    G_r, e_r : float
        Resting conductance (> 0: no division by zero) and its reversal (seed 003: 1 and -0.4 for FCNs).
    init : float
        ``g`` is drawn from U(-init, init), so ``G = 1 + g`` starts in [1 - init, 1 + init].
    variant : {'cwa', 'absnorm'}
        ``'absnorm'``: signed synaptic weights ``W = e_j G_ij`` at the start, learned freely (the ablation).
    """

    def __init__(self, valence_in, n_out, *, G_r=1.0, e_r=-0.4, init=0.5, excitatory_out=None, variant="cwa",
                 rng=None, dtype=np.float64):
        e = np.asarray(valence_in, dtype=dtype)
        if e.ndim != 1 or not np.all(np.abs(e) == 1.0):
            raise ValueError("CWA: parameter 'valence_in' must be a vector of +1 (excitatory) and -1 (inhibitory)")
        n_out = check_count("n_out", n_out, owner="CWA")
        self.G_r = check_number("G_r", G_r, lo=0.0, lo_open=True, owner="CWA")
        self.e_r = check_number("e_r", e_r, lo=-1.0, hi=1.0, owner="CWA")
        init = check_number("init", init, lo=0.0, hi=1.0, owner="CWA")
        self.variant = check_choice("variant", variant, ("cwa", "absnorm"), owner="CWA")
        excitatory_out = n_out // 2 if excitatory_out is None else check_count("excitatory_out", excitatory_out, lo=0)
        self.valence_in, self.valence_out = e, valences(n_out, excitatory_out).astype(dtype)
        g = np.random.default_rng(rng).uniform(-init, init, (n_out, e.size)).astype(dtype)
        self.params = {"g": g} if variant == "cwa" else {"W": e * np.maximum(1.0 + g, 0.0)}
        self.grads = {}

    def conductances(self):
        """``(G_num, G_den)``: the matrices of the numerator (signed) and denominator (>= 0), shape (n_out, n_in)."""
        if self.variant == "cwa":
            G = np.maximum(1.0 + self.params["g"], 0.0)
            return G * self.valence_in, G
        W = self.params["W"]
        return W, np.abs(W)

    def preactivation(self, x):
        """``z`` for inputs ``x`` (B, n_in) in [0, 1]: the steady-state potential of the units."""
        num_w, den_w = self.conductances()
        num = self.G_r * self.e_r + x @ num_w.T
        den = self.G_r + x @ den_w.T
        return num / den, den

    def forward(self, x):
        z, den = self.preactivation(x)
        self._x, self._z, self._den = x, z, den
        return np.maximum(z, 0)

    def backward(self, dy):
        z, den, x = self._z, self._den, self._x
        dz = dy * (z > 0)
        dnum = dz / den
        dden = -dnum * z
        num_w, den_w = self.conductances()
        d_num_w, d_den_w = dnum.T @ x, dden.T @ x
        if self.variant == "cwa":
            self.grads = {"g": (d_num_w * self.valence_in + d_den_w) * (self.params["g"] > -1.0)}
        else:
            self.grads = {"W": d_num_w + d_den_w * np.sign(self.params["W"])}
        return dnum @ num_w + dden @ den_w


class Sequential:
    """Layers applied in order; ``params``/``grads`` are lists of the layers' dicts."""

    def __init__(self, *layers):
        if not layers:
            raise ValueError("Sequential: give at least one layer")
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dy):
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    @property
    def params(self):
        return [layer.params for layer in self.layers]

    @property
    def grads(self):
        return [layer.grads for layer in self.layers]
