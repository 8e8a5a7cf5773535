"""compsim: fast simulation of spiking, multi-compartment neurons and networks.

Quick start::

    import compsim as cs
    from compsim.models import CobaLIF
    net = cs.Network(dt=0.1, seed=7)
    ...
    results = net.run(1000.0, output="run.h5")
    cs.load("run.h5")
"""
from ._version import __version__
from .connectivity import Explicit, FixedInDegree, FixedProbability
from . import plasticity
from .network import Network, SimulationDiverged
from .io.hdf5 import load
from .sources import ActivitySource, PoissonSource, SpikeTrainSource
from .synapses import DoubleExponential, Exponential, Instantaneous, TruncatedDoubleExponential

__all__ = [
    "__version__", "Network", "SimulationDiverged", "ActivitySource", "PoissonSource", "SpikeTrainSource",
    "FixedProbability", "FixedInDegree", "Explicit", "Exponential", "DoubleExponential", "TruncatedDoubleExponential",
    "Instantaneous", "load", "plasticity",
]


def __getattr__(name):
    """Import the heavier submodules on first use: ``cs.plot`` (matplotlib), ``cs.validate`` (Brian2)."""
    if name in ("plot", "validate"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'compsim' has no attribute {name!r}")
