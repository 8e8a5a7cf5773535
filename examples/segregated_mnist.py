"""Train the segregated-dendrite network of Guerguiev et al. (2017) on MNIST and plot its learning curve.

    python examples/segregated_mnist.py --epochs 5                       # faithful mode, 784-500-10
    python examples/segregated_mnist.py --mode fast --batch 64 --epochs 20
    python examples/segregated_mnist.py --hidden 500,100 --epochs 5      # two hidden layers
    python examples/segregated_mnist.py --train-files train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz \
        --test-files t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz   # the full 60k/10k MNIST

Same as ``compsim train-segregated``; ``--help`` lists every option. Writes
``learning_curve.h5``, ``learning_curve.png`` and ``checkpoint.h5`` to
``--outdir`` (``--resume`` continues from them).
"""
import sys

from compsim.protocols.segregated_mnist import main

if __name__ == "__main__":
    sys.exit(main())
