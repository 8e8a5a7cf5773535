"""A small CWA network learns MNIST well above chance, and its time-stepped run classifies as its steady state."""
import h5py
import numpy as np

from compsim.protocols.cwa_mnist import CURVES_FILE, Experiment, engine_network, run
from compsim.training import doubled_input


def test_a_small_cwa_network_learns_and_runs_time_stepped(tmp_path):
    exp = Experiment(hidden=(100, 100), epochs=6, n_train=800, n_test=200, init=0.9, lr=3e-3, batch=16,
                     time_stepped_images=60, float32=False)
    curves, models, agreement = run(exp, tmp_path, progress=False, log=lambda text: None)
    cwa, affine = curves
    assert cwa.test_accuracy[0] < 0.25 and cwa.test_accuracy[-1] > 0.4  # chance is 0.1
    assert affine.test_accuracy[-1] > 0.6
    assert agreement == 1.0  # the time-stepped network classifies every digit as the steady state does
    with h5py.File(tmp_path / CURVES_FILE) as f:
        np.testing.assert_array_equal(f["cwa/test_accuracy"][()], cwa.test_accuracy)
        assert f["affine/wall_s"].attrs["units"] == "s"
    assert (tmp_path / "cwa_settling.png").stat().st_size > 10_000


def test_the_engine_network_obeys_dale_s_law_and_the_layer_sizes():
    from compsim.protocols.cwa_mnist import build_model

    model, _ = build_model("cwa", (10, 6), seed=1)
    images = np.random.default_rng(0).uniform(0, 1, (3, 784))
    net, layers = engine_network(model, images)
    assert [(e.n, i.n) for e, i in layers] == [(5, 5), (3, 3)]
    for j in net.projections:
        assert j.target == ("g_e" if j.pre.p["valence"] > 0 else "g_i") and j.weights.min() >= 0.0
    net.run(20.0)
    z, _ = model.layers[0].preactivation(doubled_input(images))
    np.testing.assert_allclose(np.concatenate([layers[0][0]["V"], layers[0][1]["V"]], axis=1), z, atol=1e-12)


def test_trained_parameters_are_saved_and_load_back(tmp_path):
    from compsim.protocols.cwa_mnist import MODELS_FILE, load_model

    exp = Experiment(hidden=(12, 8), epochs=1, n_train=50, n_test=20, variants=("cwa",), time_stepped_images=0,
                     float32=False)
    _, models, agreement = run(exp, tmp_path, progress=False, log=lambda text: None)
    assert agreement is None
    loaded, _ = load_model(tmp_path / MODELS_FILE, "cwa", (12, 8))
    x = np.random.default_rng(0).uniform(0, 1, (4, 784))
    np.testing.assert_array_equal(loaded.forward(doubled_input(x)), models["cwa"].forward(doubled_input(x)))
