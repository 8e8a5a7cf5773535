"""The base class of plasticity rules."""
from ..engine.plan import Stage


class Rule:
    """A learning rule for the weights of one projection.

    Subclasses declare their arrays in :meth:`attach` (through the network's
    state store) and return their per-step work from :meth:`stages`. With a
    batch of copies sharing the weights, a rule applies the copies' updates one
    copy after the other, copy 0 first (a fixed order: the result does not
    depend on threads or chunking).
    """

    projection = None

    def attach(self, projection, network):
        """Bind to ``projection`` (called once by :meth:`compsim.Network.connect`)."""
        if self.projection is not None:
            raise ValueError(f"{type(self).__name__}: this rule object is attached to a projection already; "
                             "create one rule per projection")
        self.projection = projection

    def stages(self):
        raise NotImplementedError

    def describe(self):
        return {"rule": type(self).__name__}


class RuleStage(Stage):
    """Phase ``plasticity``: the per-step work of a rule (its subject is the rule)."""

    phase = "plasticity"
    verb = "learn"

    def describe(self):
        j = self.subject.projection
        return f"{type(self.subject).__name__} {j.pre.name} -> {j.post.name}.{j.target}"
