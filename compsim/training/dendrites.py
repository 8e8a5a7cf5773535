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
"""
import numpy as np

from compsim.checks import check_count, check_number

from .layers import Sequential


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class ActiveDendrites:
    """Feedforward drive gated by the best-matching dendritic segment (module docstring).

    ``density``: fraction of feedforward weights that exist (the rest stay 0: the
    reference's 50 % feedforward sparsity); the segments are dense.
    """

    def __init__(self, n_in, n_out, n_segments, n_context, *, absolute=False, density=1.0, rng=None,
                 dtype=np.float64):
        owner = "ActiveDendrites"
        n_in, n_out = check_count("n_in", n_in, owner=owner), check_count("n_out", n_out, owner=owner)
        n_segments = check_count("n_segments", n_segments, owner=owner)
        n_context = check_count("n_context", n_context, owner=owner)
        density = check_number("density", density, lo=0.0, lo_open=True, hi=1.0, owner=owner)
        rng = np.random.default_rng(rng)
        limit = np.sqrt(6.0 / (n_in * density + n_out))
        self.mask = (rng.random((n_out, n_in)) < density).astype(dtype)
        self.params = {"W": rng.uniform(-limit, limit, (n_out, n_in)).astype(dtype) * self.mask,
                       "b": np.zeros(n_out, dtype),
                       "U": rng.uniform(-1.0, 1.0, (n_out, n_segments, n_context)).astype(dtype) / np.sqrt(n_context)}
        self.absolute = bool(absolute)
        self.context = None
        self.grads = {}

    def segment_responses(self, context):
        """``u_j.c`` for every unit and segment: (B, n_out, n_segments)."""
        U = self.params["U"]
        n_out, n_segments, n_context = U.shape
        return (context @ U.reshape(n_out * n_segments, n_context).T).reshape(len(context), n_out, n_segments)

    def forward(self, x):
        if self.context is None or len(self.context) != len(x):
            raise ValueError("ActiveDendrites: set the context (one row per input row) before the forward pass "
                             "(ContextSequential does)")
        responses = self.segment_responses(self.context)
        key = np.abs(responses) if self.absolute else responses
        winner = np.argmax(key, axis=2)  # (B, n_out)
        d = np.take_along_axis(responses, winner[..., None], axis=2)[..., 0]
        gate = _sigmoid(d)
        weights = self.params["W"] * self.mask  # absent synapses stay absent whatever the optimiser does
        drive = x @ weights.T + self.params["b"]
        self._x, self._winner, self._gate, self._drive, self._weights = x, winner, gate, drive, weights
        return drive * gate

    def backward(self, dy):
        gate, drive, winner = self._gate, self._drive, self._winner
        d_drive = dy * gate
        dd = dy * drive * gate * (1.0 - gate)
        dU = np.empty_like(self.params["U"])
        for j in range(dU.shape[1]):  # segment j learns from the examples where it won: one product each
            dU[:, j, :] = (dd * (winner == j)).T @ self.context
        self.grads = {"W": (d_drive.T @ self._x) * self.mask, "b": d_drive.sum(axis=0), "U": dU}
        return d_drive @ self._weights


class KWinners:
    """k-winners-take-all: each row keeps its ``k`` largest values, every other unit is 0 (no parameters)."""

    def __init__(self, k):
        self.k = check_count("k", k, owner="KWinners")
        self.params, self.grads = {}, {}

    def winners(self, y):
        """Boolean mask (B, n) of the k winners of each row (ties: the lower index wins)."""
        if self.k > y.shape[1]:
            raise ValueError(f"KWinners: k = {self.k} is more than the {y.shape[1]} units of the layer")
        order = np.argsort(-y, axis=1, kind="stable")[:, :self.k]
        mask = np.zeros(y.shape, dtype=bool)
        np.put_along_axis(mask, order, True, axis=1)
        return mask

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
