"""Built-in neuron models; each module documents its equations, state, parameters and units."""
from . import channels
from .active_dendrites import ActiveDendriteNeuron
from .cwa import ConductanceNeuron
from .lif import CobaLIF
from .morphology import Compartment, CompartmentalNeuron, Morphology
from .naud_sprekeler import NaudSprekelerNeuron
from .segregated import OutputNeuron, SegregatedPyramidal
from .urbanczik import UrbanczikNeuron

__all__ = ["ActiveDendriteNeuron", "CobaLIF", "Compartment", "CompartmentalNeuron", "ConductanceNeuron", "Morphology",
           "NaudSprekelerNeuron", "OutputNeuron", "SegregatedPyramidal", "UrbanczikNeuron", "channels"]
