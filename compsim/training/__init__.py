"""A small training toolkit for rate networks: layers with hand-derived gradients, loss, Adam, an epoch loop.

Used by the conductance-weighted-averaging (CWA) experiment
(:mod:`compsim.models.cwa`, ``examples/cwa_mnist.py``) and meant to be reused
by other rate-network experiments. Everything is NumPy (BLAS for the matrix
products); layers work on mini-batches, rows are examples.

* :mod:`.layers`: :class:`Affine`, :class:`CWA` (and its AbsNorm variant), :class:`Sequential`;
* :mod:`.dendrites`: :class:`ActiveDendrites` (context-gated units), :class:`KWinners`, :class:`ContextSequential`;
* :mod:`.loss`: softmax cross-entropy;
* :mod:`.optim`: the Adam and SGD optimisers;
* :mod:`.loop`: the epoch loop with a progress line and a learning curve written to HDF5 and PNG.
"""
from .optim import SGD, Adam
from .dendrites import ActiveDendrites, ContextSequential, KWinners
from .layers import CWA, Affine, Sequential, doubled_input
from .loop import LearningCurve, accuracy, fit
from .loss import softmax_cross_entropy

__all__ = ["ActiveDendrites", "Adam", "Affine", "CWA", "ContextSequential", "KWinners", "LearningCurve", "Sequential", "accuracy", "doubled_input", "fit",
           "softmax_cross_entropy"]
