"""Built-in neuron models; each module documents its equations, state, parameters and units."""
from .lif import CobaLIF
from .segregated import OutputNeuron, SegregatedPyramidal
from .urbanczik import UrbanczikNeuron

__all__ = ["CobaLIF", "SegregatedPyramidal", "OutputNeuron", "UrbanczikNeuron"]
