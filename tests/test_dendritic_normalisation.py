"""Dendritic (L0) and joint L0/L2 normalisation of sparse layers, and sparse evolutionary training (seed 001)."""
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


@pytest.mark.parametrize("normalise", ["none", "l0", "l0l2"])
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


def test_sparse_evolutionary_training_keeps_the_number_of_synapses():
    layer = SparseAffine(100, 40, epsilon=0.2, normalise="l0", rng=2)
    count = layer.n_synapses
    for _ in range(5):
        v_before = np.abs(layer.params["v"][layer.mask])
        threshold = np.sort(v_before)[int(0.15 * count) - 1]
        kept = layer.mask & (np.abs(layer.params["v"]) > threshold)
        grown = layer.evolve(0.15)
        assert layer.n_synapses == count and grown.size == int(0.15 * count)
        assert np.all(layer.mask[kept])  # only the weakest were removed
        assert np.all(layer.params["v"][~layer.mask] == 0.0)
    with pytest.raises(ValueError, match="'zeta' must be < 1"):
        layer.evolve(1.0)
