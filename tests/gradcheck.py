"""Central finite differences, the independent truth the hand-derived gradients are checked against."""
import numpy as np


def assert_gradients_match(model, loss, rtol=1e-6, h=1e-6, skip=None):
    """Every parameter tensor's ``grads`` (after ``model.backward``) equals the central difference of ``loss()``
    to ``rtol`` relative (norm-wise); ``skip(layer, key, index)`` excludes entries that are not parameters.
    Returns the number of tensors checked."""
    checked = 0
    for layer in model.layers:
        for key, value in layer.params.items():
            numeric = np.zeros_like(value)
            for idx in np.ndindex(value.shape):
                if skip is not None and skip(layer, key, idx):
                    continue
                saved = value[idx]
                value[idx] = saved + h
                up = loss()
                value[idx] = saved - h
                down = loss()
                value[idx] = saved
                numeric[idx] = (up - down) / (2 * h)
            size = np.linalg.norm(numeric)
            assert size > 1e-9, f"{key}: no gradient to check"
            assert np.linalg.norm(layer.grads[key] - numeric) <= rtol * size, f"{key}: {layer.grads[key]} vs {numeric}"
            checked += 1
    return checked
