"""Batch normalisation: gradients against central differences in both modes, running statistics."""
import numpy as np
import pytest

from compsim.training import Affine, Sequential, softmax_cross_entropy
from compsim.training.batchnorm import BatchNorm
from gradcheck import assert_gradients_match


@pytest.mark.parametrize("training", [True, False])
def test_gradients_equal_central_differences(training):
    rng = np.random.default_rng(7)
    norm = BatchNorm(6, activation="sigmoid")
    model = Sequential(Affine(4, 6, relu=True, rng=rng), norm, Affine(6, 3, relu=False, rng=rng))
    norm.params["gamma"][:] = rng.uniform(0.5, 2.0, 6)
    norm.params["beta"][:] = rng.normal(0, 0.5, 6)
    x, y = rng.normal(0, 1, (8, 4)), rng.integers(0, 3, 8)
    model.forward(x)  # running statistics away from their start
    norm.training = training

    def loss():
        return softmax_cross_entropy(model.forward(x), y)[0]

    model.backward(softmax_cross_entropy(model.forward(x), y)[1])
    assert assert_gradients_match(model, loss) == 6


def test_batch_statistics_in_training_running_statistics_in_evaluation():
    rng = np.random.default_rng(8)
    norm = BatchNorm(5, momentum=0.2)
    z = rng.normal(3.0, 2.0, (40, 5))
    out = norm.forward(z)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=0), z.var(axis=0) / (z.var(axis=0) + 1e-5), rtol=1e-12)
    np.testing.assert_allclose(norm.running_mean, 0.2 * z.mean(axis=0), rtol=1e-12)
    for _ in range(200):
        norm.forward(z)
    np.testing.assert_allclose(norm.running_mean, z.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(norm.running_var, z.var(axis=0, ddof=1), rtol=1e-9)
    norm.training = False
    before = norm.running_mean.copy()
    single = norm.forward(z[:1])  # one example: normalised by the running statistics, which stay put
    np.testing.assert_allclose(single, (z[:1] - z.mean(axis=0)) / np.sqrt(z.var(axis=0, ddof=1) + 1e-5), rtol=1e-8)
    np.testing.assert_array_equal(norm.running_mean, before)
    with pytest.raises(ValueError, match="'momentum' must be <= 1.0"):
        BatchNorm(5, momentum=1.5)
