"""The hand-derived backward passes equal central finite differences for every parameter tensor."""
import numpy as np
import pytest

from compsim.training import CWA, Affine, Sequential, doubled_input, softmax_cross_entropy
from compsim.training.layers import valences
from gradcheck import assert_gradients_match


def _network(variant, rng):
    first = CWA(valences(12, 6), 8, rng=rng, variant=variant, init=0.9)
    second = CWA(first.valence_out, 6, rng=rng, variant=variant, init=0.9, e_r=0.1)
    return Sequential(first, second, Affine(6, 4, relu=False, rng=rng))


@pytest.mark.parametrize("variant", ["cwa", "absnorm", "affine"])
def test_gradients_equal_central_differences(variant):
    rng = np.random.default_rng(3)
    if variant == "affine":
        model = Sequential(Affine(12, 8, rng=rng), Affine(8, 6, rng=rng), Affine(6, 4, relu=False, rng=rng))
    else:
        model = _network(variant, rng)
    x = doubled_input(rng.uniform(-0.2, 1.2, (5, 6)))  # clipped to [0, 1]
    y = rng.integers(0, 4, 5)

    def loss():
        return softmax_cross_entropy(model.forward(x), y)[0]

    _, grad = softmax_cross_entropy(model.forward(x), y)
    model.backward(grad)
    checked = assert_gradients_match(model, loss)
    assert checked == (6 if variant == "affine" else 4)  # every tensor: g, g, W, b or W, b three times


@pytest.mark.parametrize("seed", range(5))
def test_cwa_outputs_stay_within_the_valences_for_any_input(seed):
    """z is a conductance-weighted average of the valences and e_r: inside [min, max] for any g and input."""
    rng = np.random.default_rng(seed)
    e_r = rng.uniform(-1, 1)
    layer = CWA(valences(40, int(rng.integers(0, 41))), 30, e_r=e_r, G_r=rng.uniform(0.01, 3.0), init=1.0, rng=rng)
    layer.params["g"] *= rng.uniform(1, 20)  # far outside the initial range, many conductances clipped at 0
    x = np.concatenate([rng.uniform(0, 1, (200, 40)), np.zeros((1, 40)), np.ones((1, 40)),
                        (rng.uniform(0, 1, (50, 40)) < 0.1).astype(float)])
    z, den = layer.preactivation(x)
    assert np.all(den > 0)
    lo, hi = min(e_r, layer.valence_in.min()), max(e_r, layer.valence_in.max())
    assert np.all((z >= lo - 1e-12) & (z <= hi + 1e-12))
    np.testing.assert_allclose(z[200], e_r)  # no input: the resting reversal


def test_cwa_parameter_errors():
    with pytest.raises(ValueError, match="parameter 'G_r' must be > 0"):
        CWA(valences(4, 2), 3, G_r=0.0)
    with pytest.raises(ValueError, match="'valence_in' must be a vector of \\+1"):
        CWA([1.0, 0.5], 3)
    with pytest.raises(ValueError, match="'variant' must be one of"):
        CWA(valences(4, 2), 3, variant="relu")
