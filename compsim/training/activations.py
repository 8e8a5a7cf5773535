"""Element-wise activations of the sparse and batch-normalisation layers, and their derivatives.

* ``"sigmoid"``: ``y = 1 / (1 + exp(-z))``, ``dy/dz = y (1 - y)``;
* ``"relu"``: ``y = max(z, 0)``, ``dy/dz = [z > 0]``;
* ``"none"``: ``y = z``, ``dy/dz = 1``.
"""
import numpy as np

ACTIVATIONS = ("sigmoid", "relu", "none")


def activate(z, kind):
    """``y = act(z)`` for the activation ``kind`` (one of :data:`ACTIVATIONS`)."""
    if kind == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if kind == "relu":
        return np.maximum(z, 0.0)
    return z


def activation_backward(dy, y, z, kind):
    """``dC/dz = dC/dy * act'(z)``, from the forward pass's ``y`` and ``z``."""
    if kind == "sigmoid":
        return dy * y * (1.0 - y)
    if kind == "relu":
        return dy * (z > 0)
    return dy
