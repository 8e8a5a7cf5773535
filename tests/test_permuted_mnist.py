"""PermutedMNIST, 3 tasks on a small network: active dendrites with inferred contexts forget less than the dense MLP."""
import numpy as np

from compsim.protocols.permuted_mnist import Experiment, permutations, run


def test_active_dendrites_forget_less_than_the_dense_mlp(tmp_path):
    exp = Experiment(tasks=3, hidden=(300, 300), epochs=2, n_train=3000, n_test=500, kinds=("dendrites", "dense"))
    results = run(exp, tmp_path, progress=False, log=lambda text: None)
    forgetting = {kind: m[0, 0] - m[2, 0] for kind, m in results.items()}  # task 1, right after it and at the end
    assert forgetting["dense"] > 0.08  # the MLP forgets the first task
    assert forgetting["dendrites"] < forgetting["dense"] - 0.08
    assert np.all(np.isnan(results["dense"][np.triu_indices(3, 1)]))  # tasks not seen yet are not tested
    assert (tmp_path / "permuted_mnist.h5").exists()


def test_task_permutations_are_fixed_by_the_seed():
    a, b = permutations(Experiment(tasks=2, seed=4)), permutations(Experiment(tasks=2, seed=4))
    assert all(np.array_equal(p, q) for p, q in zip(a, b)) and not np.array_equal(a[0], a[1])
    assert sorted(a[0]) == list(range(784))
