"""Train a conductance-weighted-averaging (CWA) network on MNIST next to the same-size affine network, then run
it as a time-stepped network of conductance-based E/I neurons in the engine.

    python examples/cwa_mnist.py                                  # 784-2000-2000-10, 20 epochs, CWA and affine
    python examples/cwa_mnist.py --variants cwa,absnorm,affine    # with the AbsNorm ablation (seed 003, Table 2)
    python examples/cwa_mnist.py --hidden 500,500 --epochs 5      # smaller and quicker
    python examples/cwa_mnist.py --train-files train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz \
        --test-files t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz   # the full 60k/10k MNIST

Same as ``compsim train-cwa``; ``--help`` lists every option. Writes
``cwa_learning_curves.h5`` / ``.png``, ``cwa_models.h5`` (the trained parameters) and ``cwa_settling.png`` (membrane
potentials of the time-stepped network settling on the steady state) to ``--outdir``.
"""
import sys

from compsim.protocols.cwa_mnist import main

if __name__ == "__main__":
    sys.exit(main())
