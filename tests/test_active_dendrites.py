"""Active dendrites (seed 000, eq. 1) and k-winners-take-all in the training toolkit."""
import numpy as np
import pytest

from compsim.training import Affine, softmax_cross_entropy
from compsim.training.dendrites import ActiveDendrites, ContextSequential, KWinners
from gradcheck import assert_gradients_match


@pytest.mark.parametrize("absolute", [False, True])
def test_gating_equals_equation_1_in_plain_numpy(absolute):
    rng = np.random.default_rng(1)
    layer = ActiveDendrites(7, 5, 4, 3, absolute=absolute, density=0.5, rng=rng)
    x, c = rng.normal(size=(6, 7)), rng.normal(size=(6, 3))
    layer.context = c
    out = layer.forward(x)
    W, b, U = layer.params["W"], layer.params["b"], layer.params["U"]
    for n in range(6):
        for i in range(5):
            responses = [U[i, j] @ c[n] for j in range(4)]
            best = max(responses, key=abs) if absolute else max(responses)
            expected = (W[i] @ x[n] + b[i]) / (1.0 + np.exp(-best))
            assert out[n, i] == pytest.approx(expected, rel=1e-12)
    assert np.count_nonzero(W) == np.count_nonzero(layer.mask) < 0.7 * W.size  # feedforward sparsity kept


def test_k_winners_are_exactly_k_and_contexts_select_different_winners():
    """With an even feedforward drive, the segments decide which units win: random contexts pick nearly
    disjoint winner sets (the overlap of two random k-subsets of n is k/n = 5 % on average)."""
    rng = np.random.default_rng(2)
    layer = ActiveDendrites(20, 200, 10, 16, rng=rng)
    layer.params["W"][:] *= 0.01
    layer.params["b"][:] = 1.0
    kwta = KWinners(10)
    x = np.repeat(rng.uniform(0, 1, (1, 20)), 10, axis=0)
    layer.context = rng.normal(size=(10, 16)) * 3.0
    winners = kwta.winners(layer.forward(x))
    assert np.all(winners.sum(axis=1) == 10)
    overlaps = [np.sum(winners[a] & winners[b]) / 10 for a in range(10) for b in range(a + 1, 10)]
    assert np.mean(overlaps) < 0.2
    assert np.count_nonzero(kwta.forward(layer.forward(x)), axis=1).max() <= 10


def test_gradients_equal_central_differences():
    rng = np.random.default_rng(3)
    model = ContextSequential(ActiveDendrites(6, 8, 3, 4, rng=rng, density=0.6), KWinners(4),
                              ActiveDendrites(8, 5, 2, 4, rng=rng, absolute=True), Affine(5, 3, relu=False, rng=rng))
    x, c, y = rng.normal(size=(5, 6)), rng.normal(size=(5, 4)), rng.integers(0, 3, 5)
    model.set_context(c)

    def loss():
        return softmax_cross_entropy(model.forward(x), y)[0]

    model.backward(softmax_cross_entropy(model.forward(x), y)[1])
    assert assert_gradients_match(model, loss) == 8  # W, b, U twice, W and b of the head


def test_errors():
    with pytest.raises(ValueError, match="set the context"):
        ActiveDendrites(3, 2, 2, 2).forward(np.ones((1, 3)))
    with pytest.raises(ValueError, match="k = 5 is more than the 3 units"):
        KWinners(5).forward(np.ones((1, 3)))


def test_reference_initialisation_and_sparse_affine_gradients():
    """``init="sparse_kaiming"`` (Numenta's DendriticMLP): exactly half the inputs per unit, weights within
    1/sqrt(input density x weight density x fan-in), PyTorch's bias bound, segments within 1/sqrt(0.1 x n_context);
    a sparse Affine's absent weights get no gradient and stay out of the forward pass."""
    rng = np.random.default_rng(4)
    layer = ActiveDendrites(40, 30, 3, 20, density=0.5, init="sparse_kaiming", input_density=0.25,
                            context_density=0.1, rng=rng)
    assert np.all(layer.mask.sum(axis=1) == 20)
    W, b, U = layer.params["W"], layer.params["b"], layer.params["U"]
    assert np.all(W[layer.mask == 0] == 0) and np.abs(W).max() <= 1 / np.sqrt(0.25 * 0.5 * 40)
    assert np.abs(W).max() > 0.8 / np.sqrt(0.25 * 0.5 * 40)
    assert 0.8 / np.sqrt(40) < np.abs(b).max() <= 1 / np.sqrt(40)
    assert 0.8 / np.sqrt(2.0) < np.abs(U).max() <= 1 / np.sqrt(2.0)
    head = Affine(8, 3, relu=False, init="sparse_kaiming", density=0.5, input_density=0.5, rng=rng)
    assert np.all(head.mask.sum(axis=1) == 4) and np.all(head.params["W"][head.mask == 0] == 0)
    model = ContextSequential(ActiveDendrites(6, 8, 3, 4, density=0.5, init="sparse_kaiming", rng=rng), head)
    x, c, y = rng.normal(size=(5, 6)), rng.normal(size=(5, 4)), rng.integers(0, 3, 5)
    model.set_context(c)
    head.params["W"][head.mask == 0] = 7.0  # absent weights do nothing whatever their value

    def loss():
        return softmax_cross_entropy(model.forward(x), y)[0]

    model.backward(softmax_cross_entropy(model.forward(x), y)[1])
    assert np.all(head.grads["W"][head.mask == 0] == 0)
    absent = lambda lyr, key, idx: key == "W" and lyr.mask[idx] == 0  # noqa: E731
    assert assert_gradients_match(model, loss, skip=absent) == 5
