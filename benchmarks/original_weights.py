"""Test (and optionally train) compsim's faithful 784-500-10 network from weights saved by the original code.

    python benchmarks/original_weights.py WEIGHTS.npz [--train-epochs 1] [--seeds 0,1,2]

``WEIGHTS.npz`` holds the original code's (Guerguiev et al. 2017, ``deep_learning.py``) parameters in
its own layout: ``W0`` (500, 784), ``W1`` (10, 500), ``b0`` (500, 1), ``b1`` (10, 1) and ``Y0``
(500, 10), e.g. saved with ``np.savez(path, W0=net.W[0], W1=net.W[1], b0=net.b[0], b1=net.b[1],
Y0=net.Y[0])``. The original stores each image column-major (``order='F'``), so the input
weights' columns are reordered to compsim's row-major pixels.

Prints compsim's held-out accuracy of those weights (the embedded split, 2,000 digits, the
faithful test of 250 ms per digit) and, with ``--train-epochs``, the held-out accuracy after
training that many epochs from them, once per order seed. This separates the test procedure
from learning when compsim's learning curve is compared with the original's.
"""
import argparse

import numpy as np

from compsim.protocols.segregated_mnist import Experiment, build, load_data

#: compsim pixel j = 28 r + c is the original's pixel 28 c + r
ORIGINAL_PIXEL = np.arange(784).reshape(28, 28).T.ravel()


def network_with(weights, seed):
    """The faithful network and its protocol, with the original's parameters ``weights`` (an npz mapping)."""
    seg, training = build(Experiment(seed=seed))
    seg.forward[0].set_weights(weights["W0"][:, ORIGINAL_PIXEL])
    seg.forward[1].set_weights(weights["W1"])
    seg.feedback[0].set_weights(weights["Y0"])
    seg.hid["b_basal"] = np.ravel(weights["b0"])
    seg.out["b_basal"] = np.ravel(weights["b1"])
    return training


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", help="npz file with W0, W1, b0, b1, Y0 in the original code's layout")
    ap.add_argument("--train-epochs", type=int, default=0, help="epochs to train before testing again")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (spikes and training order)")
    args = ap.parse_args()
    weights = np.load(args.weights)
    x, y, x_test, y_test = load_data(Experiment())
    for seed in (int(s) for s in args.seeds.split(",")):
        training = network_with(weights, seed)
        line = f"seed {seed}: held-out {100 * training.test(x_test, y_test).accuracy:.2f} %"
        for epoch in range(1, args.train_epochs + 1):
            order = np.random.default_rng([seed, 0x0E16, epoch]).permutation(len(y))
            trained = training.train(x[order], y[order])
            line += (f"; after epoch {epoch}: training {100 * np.mean(trained.predictions == trained.labels):.2f} %, "
                     f"held-out {100 * training.test(x_test, y_test).accuracy:.2f} %")
        print(line, flush=True)


if __name__ == "__main__":
    main()
