"""Times the original segregated-dendrite code (Guerguiev et al. 2017) on this machine, 784-500-10 in spiking mode.

    python benchmarks/_original_segregated.py REPO N_TRAIN N_TEST [SEED]

``REPO`` is a checkout of github.com/jordan-g/Segregated-Dendrite-Deep-Learning (``deep_learning.py``
at a41ebc8). Its last commit defaults to non-spiking mode (``../shared/guerguiev.md`` section 0); the
paper's results, and the figures compsim's throughput targets are relative to, come from the spiking
mode, so the module is executed from its own source with ``nonspiking_mode = False`` (the only line
changed; nothing is copied into compsim). Run with one BLAS thread, as ``train_segregated.py`` does.

Data: the embedded split (first ``N_TRAIN`` training digits, first ``N_TEST`` held-out digits), written
in the original's layout (column-major pixels, one-hot targets as columns) to the ``.npy`` files it
loads from its working directory. Training (``Network.train``, one epoch, the published learning rates
0.21, 0.21, fixed feedback) is timed without its end-of-epoch test, which is timed apart
(``Network.test_weights``). Prints one line ``RESULT {json}``: training and test images per second.
"""
import contextlib
import io
import json
import os
import sys
import tempfile
import time
import types

import numpy as np

from compsim.protocols.segregated_mnist import PAPER_ETAS, Experiment, load_data

SPIKING_FLAG = ("nonspiking_mode         = True", "nonspiking_mode         = False")


def original_module(repo):
    """``deep_learning`` from ``repo``, executed with the spiking-mode flag."""
    path = os.path.join(repo, "deep_learning.py")
    with open(path) as f:
        source = f.read()
    if SPIKING_FLAG[0] not in source:
        raise SystemExit(f"{path}: no line '{SPIKING_FLAG[0]}' (expected deep_learning.py at a41ebc8)")
    sys.path.insert(0, repo)  # its own imports (MNIST.py)
    module = types.ModuleType("deep_learning")
    module.__file__ = path
    exec(compile(source.replace(*SPIKING_FLAG), path, "exec"), module.__dict__)
    return module


def write_split(directory, n_train, n_test):
    """The embedded split as the original's ``x_train.npy``, ``t_train.npy``, ``x_test.npy``, ``t_test.npy``."""
    x, y, xt, yt = load_data(Experiment(n_train=n_train, n_test=n_test))
    for name, images, labels in (("train", x, y), ("test", xt, yt)):
        columns = images.reshape(-1, 28, 28).transpose(0, 2, 1).reshape(len(images), -1).T  # column-major pixels
        np.save(os.path.join(directory, f"x_{name}.npy"), np.ascontiguousarray(columns))
        np.save(os.path.join(directory, f"t_{name}.npy"), np.eye(10)[labels].T)


def measure(repo, n_train, n_test, seed=0):
    """Training and test images per second of the original code."""
    with tempfile.TemporaryDirectory() as work:
        write_split(work, n_train, n_test)
        cwd = os.getcwd()
        os.chdir(work)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                dl = original_module(repo)
                np.random.seed(seed)
                net = dl.Network(n=(500, 10))
                test_weights = net.test_weights
                net.test_weights = lambda n_test=0: 0.0  # the end-of-epoch test is timed apart
                t0 = time.perf_counter()
                net.train(f_etas=PAPER_ETAS[1], b_etas=None, n_epochs=1, n_training_examples=n_train,
                          save_simulation=False)
                train_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                test_weights(n_test=n_test)
                test_s = time.perf_counter() - t0
        finally:
            os.chdir(cwd)
    return {"train_images_per_s": n_train / train_s, "test_images_per_s": n_test / test_s,
            "train_s": train_s, "test_s": test_s, "n_train": n_train, "n_test": n_test}


if __name__ == "__main__":
    repo, n_train, n_test = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    print("RESULT " + json.dumps(measure(repo, n_train, n_test, seed)))
