"""Continual learning on PermutedMNIST: active dendrites + k-WTA vs k-WTA alone vs a dense MLP (seed 000).

    python examples/permuted_mnist.py                       # 10 tasks, 784-2048-2048-10, 3 epochs per task
    python examples/permuted_mnist.py --tasks 3 --hidden 300,300 --epochs 2

Reports the mean accuracy over the tasks seen so far after every task and writes the accuracy
matrices to ``permuted_mnist.h5`` in ``--outdir``.
"""
import sys

from compsim.protocols.permuted_mnist import main

if __name__ == "__main__":
    sys.exit(main())
