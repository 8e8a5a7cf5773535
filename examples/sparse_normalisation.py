"""Dendritic normalisation of a sparse MLP trained with SET on MNIST, against L2 and batch normalisation (seed 001).

    python examples/sparse_normalisation.py -o out                  # 784-100-10, 20 epochs, 5 seeds, 5 variants
    python examples/sparse_normalisation.py --epochs 5 --seeds 3 --variants none,l0,l0_active
    python examples/sparse_normalisation.py --hidden 300 --train-files train-images.gz train-labels.gz

Prints the held-out accuracy after epochs 1, 5 and the last (mean +- sd over seeds) and the wall time per
trial of each variant; writes the learning curves to ``sparse_normalisation.h5`` and the figure (as the
paper's Fig. 1d) to ``sparse_normalisation.png`` in ``--outdir``. It is also the experiment's benchmark.
"""
import sys

from compsim.protocols.sparse_normalisation import main

if __name__ == "__main__":
    sys.exit(main())
