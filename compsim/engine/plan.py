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

A projection made with ``same_step=True`` is the exception: its presynaptic spikes
are collected and delivered right after the presynaptic population's own stage
(in ``sources`` or ``populations``), due in step t itself, so that a population
updated later in the step sees them (layer by layer, as in Guerguiev et al.'s code).

With a batch on threads, the CPU loop may run *copy-major* instead
(:data:`compsim.engine.cpu.COPY_MAJOR`): when every stage can work on one copy
at a time (:meth:`Stage.per_copy`), each thread takes its copies through a
segment of steps, phase by phase as above within each step, and what all copies
share (a protocol's weight update) runs between segments. Each copy sees the
order above, so the results are the same bit for bit.
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
    follows = None  # a subject whose stages of the same phase this stage must come right after (None: creation order)

    def __init__(self, subject):
        self.subject = subject  # the population, projection or monitor the stage works for

    def emit(self, out):
        raise NotImplementedError

    def per_copy(self):
        """Whether :meth:`emit_copy` can write the stage for one copy at a time, so that the CPU loop may run
        copy-major (:data:`compsim.engine.cpu.COPY_MAJOR`). No by default."""
        return False

    def emit_copy(self, out):
        """The lines of one step for copy ``b`` (``step``, ``s``, ``dt``, ``keys`` in scope), and through
        ``out.emit_global`` any work shared by all copies, between segments of steps."""
        raise NotImplementedError(f"stage '{self.describe()}' has no copy-major form")

    def emit_serially(self, out):
        """For ``emit_cuda = Stage.emit_serially``: the CUDA backend's thread 0 runs the lines :meth:`emit` writes
        for the CPU loop. Right for stages whose lines call kernels on whole arrays (bookkeeping, recording,
        protocols, rules that are not parallel yet): correct, but one thread does the stage's work."""
        out.serial(self.emit)

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
        ordered = [s for s in stages if s.phase == phase and s.follows is None]
        for stage in (s for s in stages if s.phase == phase and s.follows is not None):
            ordered.insert(_after_last_of(ordered, stage), stage)
        plan.append((phase, ordered))
    unknown = [s for s in stages if s.phase not in PHASES]
    if unknown:
        raise ValueError(f"stage {unknown[0].describe()} has an unknown phase {unknown[0].phase!r}; phases: {PHASES}")
    return plan


def _after_last_of(ordered, stage):
    """Index just after the last stage in ``ordered`` working for ``stage.follows`` (or following it)."""
    places = [k for k, s in enumerate(ordered) if stage.follows in (s.subject, s.follows)]
    if not places:
        name = getattr(stage.follows, "name", stage.follows)
        raise ValueError(f"stage '{stage.describe()}' must follow '{name}', which has no stage in phase '{stage.phase}'")
    return places[-1] + 1


def describe_plan(plan):
    """Readable text of a plan, one phase per line."""
    return "\n".join(f"{phase:12s} {', '.join(s.describe() for s in stages) or '-'}" for phase, stages in plan)
