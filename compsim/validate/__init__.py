"""Cross-validation against Brian2: ``compsim.validate.against_brian2(net, duration, record)``.

::

    import compsim.validate
    report = compsim.validate.against_brian2(net, duration=500.0, record={"hid": ["v_soma"]})
    print(report.summary())        # per population / variable: errors, spike agreement, verdict
    report.save("val.h5"); report.plot("val.png")

and from the shell ``compsim validate SCRIPT`` (see :mod:`compsim.validate.script`).

How it works: :mod:`~compsim.validate.capture` copies the network (the
user's object is never run or changed), snapshots its state and runs the copy
with monitors; :mod:`~compsim.validate.bridge` builds the same network in
Brian2 from each model's ``brian2_model()`` (identical connectivity, weights,
delays, initial state; source spikes replayed as ``SpikeGeneratorGroup``;
stochastic spiking fed the same uniforms as a ``TimedArray``, "frozen
noise"); :mod:`~compsim.validate.compare` measures the agreement and
:mod:`~compsim.validate.report` holds, checks, saves and plots it.

Brian2 is optional (``pip install 'compsim[validate]'``) and imported only
when a validation runs: importing this package does not import it.
"""
from .against import against_brian2
from .report import SpikeComparison, TraceComparison, ValidationReport, load_report

__all__ = ["against_brian2", "ValidationReport", "TraceComparison", "SpikeComparison", "load_report"]
