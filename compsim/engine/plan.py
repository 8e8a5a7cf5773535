"""The per-step schedule as a list of stages, in one place.

Every population, projection and monitor contributes :class:`Stage` objects
(its ``stages()`` method); the network sorts them into the phases below, in
this order, and a backend (:mod:`compsim.engine.cpu`) turns the plan into the
compiled chunk loop. A new source type, monitor, plasticity rule or backend is
a new class with its own stages: nothing else changes.

In step ``t`` (time ``t * dt``), the phases run in this order (Brian2's
default schedule)::

    sources      spike sources draw or replay their spikes of step t; graded projections
                 (from rate populations) deliver W p, p as step t - 1 left it
    populations  one fused loop per neuron model over (copy, neuron): gather the
                 synaptic inputs (projection traces plus the jumps due now), decay
                 the traces, derive dendritic potentials, sample state monitors and
                 averages (the state *at* t), integrate over [t, t + dt], count spikes
                 and events; a non-finite state stops the run (population, copy,
                 neuron, time)
    spikes       spike counts compacted to index lists, per copy
    delivery     each projection adds the weights of this step's spikes to its
                 ring buffer, due at step t + 1 + delay (zero delay: next step)
    plasticity   learning rules update the weights (compsim.plasticity); the spikes of
                 step t were delivered with the weights as they were before
    monitors     spike, event and rate monitors append this step's spikes

Populations are updated in the order they were added; the other phases follow
the order of creation of their owners, protocols (:meth:`compsim.Network.add_protocol`) first.
"""

PHASES = ("sources", "populations", "spikes", "delivery", "plasticity", "monitors")


class Stage:
    """One piece of per-step work.

    ``phase``: one of :data:`PHASES`. ``emit(out)`` writes the stage's code
    into the chunk being generated (``out`` is a
    :class:`compsim.engine.cpu.ChunkWriter`); ``before_run`` runs in Python
    once per run, ``before_chunk`` and ``after_chunk`` once per chunk (fill per-chunk inputs,
    drain buffers), never per step.
    """

    phase = None
    verb = "run"  # what the stage does to its subject, for describe()

    def __init__(self, subject):
        self.subject = subject  # the population, projection or monitor the stage works for

    def emit(self, out):
        raise NotImplementedError

    def before_run(self, network, step_end):
        """Check, before a run reaching step ``step_end`` starts, that its inputs cover it."""

    def before_chunk(self, network, step0, n_steps):
        """Prepare per-chunk inputs (e.g. time-varying rates) before the compiled call."""

    def after_chunk(self, network, writer):
        """Hand recorded data to ``writer`` after the compiled call."""

    def describe(self):
        name = getattr(getattr(self, "subject", None), "name", None)
        return f"{self.verb} {name}" if name else type(self).__name__


def build_plan(network):
    """The network's stages grouped by phase: list of ``(phase, [stage, ...])`` in :data:`PHASES` order."""
    stages = []
    for owner in [*network.protocols, *network.populations, *network.projections, *network.monitors]:
        stages.extend(owner.stages())
    plan = []
    for phase in PHASES:
        plan.append((phase, [s for s in stages if s.phase == phase]))
    unknown = [s for s in stages if s.phase not in PHASES]
    if unknown:
        raise ValueError(f"stage {unknown[0].describe()} has an unknown phase {unknown[0].phase!r}; phases: {PHASES}")
    return plan


def describe_plan(plan):
    """Readable text of a plan, one phase per line."""
    return "\n".join(f"{phase:12s} {', '.join(s.describe() for s in stages) or '-'}" for phase, stages in plan)
