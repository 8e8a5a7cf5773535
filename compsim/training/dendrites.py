"""Active dendritic segments and k-winners-take-all (seed 000, after Iyer et al. 2022), rate form.

A unit of :class:`ActiveDendrites` has a feedforward drive ``y = w.x + b``
and ``S`` dendritic segments ``u_1 .. u_S`` that each respond to the context
vector ``c`` with ``u_j.c``. The strongest segment gates the unit (seed 000, eq. 1)::

    out = (w.x + b) * sigmoid(d),   d = u_{j*}.c,   j* = argmax_j u_j.c

(``absolute=True``: ``j* = argmax_j |u_j.c|``, the reference implementation's
"absolute max" gating). Only the winning segment learns, as in the reference
(the max is not differentiable in the others). :class:`KWinners` keeps the
``k`` largest values of each row and zeroes the rest (exactly k active; ties
go to the lower index).

The context reaches the dendritic layers through :class:`ContextSequential`,
which sets it before each forward pass.

:class:`KWinners` is nupic.torch's ``KWinners`` as Numenta's ``DendriticMLP`` configures it
(``boost_strength=0``, ``k_inference_factor=1``: no boosting, the same k in training and at
test), applied to the gated output of the layer; ties are broken (``break_ties=True`` there).
``ActiveDendrites(init="sparse_kaiming")`` initialises as ``DendriticMLP``
(``weight_init="modified"``, ``dendrite_init="modified"``, see the class).
"""
import numpy as np

from compsim.checks import check_choice, check_count, check_number

from .layers import Sequential, row_mask, sparse_kaiming


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class ActiveDendrites:
    """Feedforward drive gated by the best-matching dendritic segment (module docstring).

    ``density``: fraction of feedforward weights that exist (the rest stay 0: the
    reference's 50 % feedforward sparsity); the segments are dense.

    ``init="glorot"`` (default): each weight exists with probability ``density``; Glorot-uniform
    W over the expected fan-in, zero b, segments U(-1, 1) / sqrt(n_context).
    ``init="sparse_kaiming"``: as Numenta's ``DendriticMLP`` (nupic.research,
    ``weight_init="modified"``, ``dendrite_init="modified"``): exactly ``round(density * n_in)``
    inputs per unit (nupic.torch ``SparseWeights``), W ~ U(-h, h) with
    ``h = 1 / sqrt(input_density * density * n_in)`` (``input_density``: the fraction of active
    inputs, e.g. the k-WTA fraction of the layer below), PyTorch's ``nn.Linear`` bias
    U(-1/sqrt(n_in), 1/sqrt(n_in)), segments U(-g, g) with ``g = 1 / sqrt(context_density * n_context)``
    (the reference's prototype experiment declares ``context_percent_on=0.1``), no segment bias.
    """

    def __init__(self, n_in, n_out, n_segments, n_context, *, absolute=False, density=1.0, rng=None,
                 dtype=np.float64, init="glorot", input_density=1.0, context_density=1.0):
        owner = "ActiveDendrites"
        n_in, n_out = check_count("n_in", n_in, owner=owner), check_count("n_out", n_out, owner=owner)
        n_segments = check_count("n_segments", n_segments, owner=owner)
        n_context = check_count("n_context", n_context, owner=owner)
        density = check_number("density", density, lo=0.0, lo_open=True, hi=1.0, owner=owner)
        init = check_choice("init", init, ("glorot", "sparse_kaiming"), owner=owner)
        input_density = check_number("input_density", input_density, lo=0.0, lo_open=True, hi=1.0, owner=owner)
        context_density = check_number("context_density", context_density, lo=0.0, lo_open=True, hi=1.0,
                                       owner=owner)
        rng = np.random.default_rng(rng)
        if init == "glorot":
            limit = np.sqrt(6.0 / (n_in * density + n_out))
            self.mask = (rng.random((n_out, n_in)) < density).astype(dtype)
            self.params = {"W": rng.uniform(-limit, limit, (n_out, n_in)).astype(dtype) * self.mask,
                           "b": np.zeros(n_out, dtype),
                           "U": rng.uniform(-1.0, 1.0, (n_out, n_segments, n_context)).astype(dtype)
                           / np.sqrt(n_context)}
        else:  # Numenta's DendriticMLP (module docstring)
            self.mask = row_mask(n_out, n_in, density, rng, dtype)
            self.params = sparse_kaiming(n_in, n_out, density, input_density, rng, dtype)
            self.params["W"] *= self.mask
            bound = 1.0 / np.sqrt(context_density * n_context)
            self.params["U"] = rng.uniform(-bound, bound, (n_out, n_segments, n_context)).astype(dtype)
        self.absolute = bool(absolute)
        self.context = None
        self.grads = {}

    def segment_responses(self, context):
        """``u_j.c`` for every unit and segment: (B, n_out, n_segments)."""
        unique, inverse = _distinct_rows(context)
        return self._responses(unique)[inverse]

    def _responses(self, contexts):
        U = self.params["U"]
        n_out, n_segments, n_context = U.shape
        return (contexts @ U.reshape(n_out * n_segments, n_context).T).reshape(len(contexts), n_out, n_segments)

    def forward(self, x):
        if self.context is None or len(self.context) != len(x):
            raise ValueError("ActiveDendrites: set the context (one row per input row) before the forward pass "
                             "(ContextSequential does)")
        # the segments see only the distinct contexts (one per task in training): respond to each once
        unique, inverse = _distinct_rows(self.context)
        responses = self._responses(unique)
        key = np.abs(responses) if self.absolute else responses
        winner = np.argmax(key, axis=2)  # (distinct contexts, n_out)
        gate = _sigmoid(np.take_along_axis(responses, winner[..., None], axis=2)[..., 0])[inverse]
        weights = self.params["W"] * self.mask  # absent synapses stay absent whatever the optimiser does
        drive = x @ weights.T + self.params["b"]
        self._x, self._gate, self._drive, self._weights = x, gate, drive, weights
        self._unique, self._inverse, self._winner = unique, inverse, winner
        return drive * gate

    def backward(self, dy):
        gate, drive = self._gate, self._drive
        d_drive = dy * gate
        dd = dy * drive * gate * (1.0 - gate)  # dLoss/d(winning segment's response), (B, n_out)
        # dU[i, j] = sum over examples b whose context wins segment j of unit i of dd[b, i] c_b;
        # gather dd by distinct context first, then one product with the distinct contexts
        n_out, n_segments, _ = self.params["U"].shape
        per_context = np.zeros((len(self._unique), n_out), dd.dtype)
        np.add.at(per_context, self._inverse, dd)
        coefficients = np.zeros((n_out, n_segments, len(self._unique)), dd.dtype)
        units = np.arange(n_out)
        for u in range(len(self._unique)):
            coefficients[units, self._winner[u], u] = per_context[u]
        dU = (coefficients.reshape(n_out * n_segments, -1) @ self._unique).reshape(self.params["U"].shape)
        self.grads = {"W": (d_drive.T @ self._x) * self.mask, "b": d_drive.sum(axis=0), "U": dU}
        return d_drive @ self._weights


def _distinct_rows(rows):
    """The distinct rows of ``rows`` and, for each row, the index of its distinct row."""
    first = {}
    inverse = np.array([first.setdefault(row.tobytes(), len(first)) for row in rows], dtype=np.intp)
    unique = np.empty((len(first), rows.shape[1]), rows.dtype)
    unique[inverse] = rows
    return unique, inverse


class KWinners:
    """k-winners-take-all: each row keeps its ``k`` largest values, every other unit is 0 (no parameters)."""

    def __init__(self, k):
        self.k = check_count("k", k, owner="KWinners")
        self.params, self.grads = {}, {}

    def winners(self, y):
        """Boolean mask (B, n) of the k winners of each row (ties: the lower index wins)."""
        if self.k > y.shape[1]:
            raise ValueError(f"KWinners: k = {self.k} is more than the {y.shape[1]} units of the layer")
        kth = -np.partition(-y, self.k - 1, axis=1)[:, self.k - 1:self.k]  # the k-th largest value per row
        above = y > kth
        tied = y == kth  # of the values equal to the k-th largest, the first ones fill the k places
        return above | (tied & (np.cumsum(tied, axis=1) <= self.k - above.sum(axis=1, keepdims=True)))

    def forward(self, y):
        self._mask = self.winners(y)
        return y * self._mask

    def backward(self, dy):
        return dy * self._mask


class ContextSequential(Sequential):
    """A :class:`~compsim.training.layers.Sequential` whose :class:`ActiveDendrites` layers read a context:
    call :meth:`set_context` (one row per input row) before ``forward``."""

    def set_context(self, context):
        context = np.asarray(context)
        for layer in self.layers:
            if isinstance(layer, ActiveDendrites):
                layer.context = context.astype(layer.params["U"].dtype, copy=False)
