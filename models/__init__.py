"""Built-in neuron models; each module documents its equations, state, parameters and units."""
from .active_dendrites import ActiveDendriteNeuron
from .cwa import ConductanceNeuron
from .lif import CobaLIF
from .segregated import OutputNeuron, SegregatedPyramidal
from .urbanczik import UrbanczikNeuron

__all__ = ["ActiveDendriteNeuron", "CobaLIF", "ConductanceNeuron", "SegregatedPyramidal", "OutputNeuron",
           "UrbanczikNeuron"]
