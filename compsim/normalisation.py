"""Dendritic (L0) normalisation of a projection's weights (seed 001, Bird & Cuntz, eq. 1).

A neuron's excitability falls as its dendrite grows to collect more synapses, so
the effective weight of each afferent is divided by the number of afferents::

    w_ij = s v_ij / ||v_i||_0

``v_ij`` are the weights as given, ``||v_i||_0`` the number of non-zero weights
onto postsynaptic neuron ``i`` within the projection, ``s`` one excitability for the
projection (in the port's unit). A neuron without afferents keeps its zeros.
The training-toolkit form, with gradients, is :class:`compsim.training.sparse.SparseAffine`.
"""
import numpy as np


def dendritic_normalisation(weights, s, post=None, n_post=None):
    """``s v / ||v_i||_0`` of ``weights`` ``v``: a dense (n_post, n_pre) matrix, or one weight per synapse
    with ``post`` the postsynaptic index of each synapse and ``n_post`` the number of postsynaptic neurons."""
    v = np.asarray(weights, dtype=np.float64)
    if post is None:
        afferents = np.count_nonzero(v, axis=1)[:, None]
    else:
        afferents = np.bincount(post, weights=(v != 0).astype(np.float64), minlength=n_post)[post]
    return s * v / np.maximum(afferents, 1)
