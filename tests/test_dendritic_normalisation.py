"""Dendritic (L0), heterosynaptic (L2) and joint L0/L2 normalisation of sparse layers, and sparse evolutionary
training (seed 001)."""
import numpy as np
import pytest

from compsim.training import Affine, Sequential, softmax_cross_entropy
from compsim.training.sparse import SparseAffine
from gradcheck import assert_gradients_match


def test_normalised_weights_follow_equation_1_exactly():
    layer = SparseAffine(30, 12, epsilon=0.3, normalise="l0", s=2.5, rng=1)
    v, mask = layer.params["v"], layer.mask
    for i in range(12):
        expected = 2.5 * v[i] * mask[i] / np.count_nonzero(mask[i])
        np.testing.assert_array_equal(layer.weights()[i], expected)
    joint = SparseAffine(30, 12, epsilon=0.3, normalise="l0l2", s=0.7, rng=1)
    row = joint.params["v"][3] * joint.mask[3]
    np.testing.assert_allclose(joint.weights()[3], 0.7 * row / (np.count_nonzero(row) * np.linalg.norm(row)),
                               rtol=1e-15)
    hetero = SparseAffine(30, 12, epsilon=0.3, normalise="l2", s=0.7, rng=1)
    row = hetero.params["v"][5] * hetero.mask[5]
    np.testing.assert_allclose(hetero.weights()[5], 0.7 * row / np.linalg.norm(row), rtol=1e-15)
    np.testing.assert_allclose(np.linalg.norm(hetero.weights(), axis=1), 0.7, rtol=1e-14)


@pytest.mark.parametrize("normalise", ["none", "l0", "l2", "l0l2"])
@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_gradients_equal_central_differences(normalise, activation):
    rng = np.random.default_rng(4)
    model = Sequential(SparseAffine(8, 6, epsilon=0.5, normalise=normalise, activation=activation, rng=rng),
                       Affine(6, 3, relu=False, rng=rng))
    x, y = rng.uniform(0, 1, (5, 8)), rng.integers(0, 3, 5)

    def loss():
        return softmax_cross_entropy(model.forward(x), y)[0]

    model.backward(softmax_cross_entropy(model.forward(x), y)[1])
    def absent(layer, key, idx):  # an absent synapse has no parameter
        return isinstance(layer, SparseAffine) and key == "v" and not layer.mask[idx]

    assert assert_gradients_match(model, loss, skip=absent) == len(model.layers[0].params) + 2


def test_the_active_afferent_update_follows_the_authors_code_example_by_example():
    rng = np.random.default_rng(5)
    layer = SparseAffine(12, 4, epsilon=0.5, normalise="l0", s=3.0, update="active", rng=rng)
    x = rng.uniform(0, 1, (6, 12)) * (rng.random((6, 12)) < 0.4)  # many zero inputs, as in MNIST
    dy = rng.normal(0, 1, (6, 4))
    y = layer.forward(x)
    layer.backward(dy)
    expected = np.zeros_like(layer.params["v"])
    for b in range(6):  # network_nm.py: the gradient row of one example, divided by its count of non-zero entries
        row_grads = np.outer(dy[b] * y[b] * (1 - y[b]), x[b]) * layer.mask
        counts = np.maximum(np.count_nonzero(row_grads, axis=1), 1)[:, None]
        expected += 3.0 * row_grads / counts
    np.testing.assert_allclose(layer.grads["v"], expected, rtol=1e-12)
    exact = SparseAffine(12, 4, epsilon=0.5, normalise="l0", s=3.0, rng=5)
    exact.forward(x)
    exact.backward(dy)
    np.testing.assert_allclose(layer.grads["s"], exact.grads["s"], rtol=1e-12)  # dC/ds stays eq. 2's
    with pytest.raises(ValueError, match="'update' may be 'active' only with normalise='l0'"):
        SparseAffine(12, 4, normalise="l2", update="active")


@pytest.mark.parametrize("normalise", ["none", "l0", "l2"])
def test_sparse_evolutionary_training_keeps_the_number_of_synapses(normalise):
    layer = SparseAffine(100, 40, epsilon=0.2, normalise=normalise, rng=2)
    layer.params["v"] *= np.random.default_rng(3).uniform(0.5, 2.0, (40, 1))  # rows of different norms
    count = layer.n_synapses
    for _ in range(5):
        w = np.abs(layer.weights())  # the weakest contacts by effective weight
        threshold = np.sort(w[layer.mask])[int(0.15 * count) - 1]
        kept = layer.mask & (w > threshold)
        grown = layer.evolve(0.15)
        assert layer.n_synapses == count and grown.size == int(0.15 * count)
        assert np.all(layer.mask[kept])  # only the weakest were removed
        assert np.all(layer.params["v"][~layer.mask] == 0.0)
    with pytest.raises(ValueError, match="'zeta' must be < 1"):
        layer.evolve(1.0)
