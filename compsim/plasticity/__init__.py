"""Plasticity rules that run inside the compiled loop, in the ``plasticity`` phase of the schedule.

A rule attaches to one projection (``net.connect(..., plasticity=rule)``), declares its
variables (e.g. pre- and postsynaptic traces) in the network's state store, so that
checkpoints and ``reset_state`` include them, and contributes its stage to the plan.
Spikes of step ``t`` are delivered with the weights as they were before the step's
plasticity; the updated weights act from step ``t + 1`` on.
"""
from .rule import Rule
from .segregated import SegregatedLearning
from .stdp import PairSTDP, TripletSTDP
from .urbanczik import UrbanczikSenn

__all__ = ["Rule", "PairSTDP", "TripletSTDP", "UrbanczikSenn", "SegregatedLearning"]
