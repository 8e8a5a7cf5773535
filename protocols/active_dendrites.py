"""A rate-form active-dendrite layer run as spiking neurons in the engine, and the k winners of each form.

:func:`spiking_layer` turns a trained :class:`compsim.training.dendrites.ActiveDendrites`
layer into a :class:`compsim.models.active_dendrites.ActiveDendriteNeuron` population
with the same weights: the input reaches the ``drive`` port, the context each
``segment{j}`` port through the segment's weights ``u_j``. Inputs come either as
graded activities (:class:`compsim.ActivitySource`, :class:`compsim.Instantaneous`
synapses: the ports see ``w.x`` and ``u_j.c`` exactly) or as Poisson spike trains
at ``rate_max x`` (Hz), whose exponentially filtered traces estimate the same sums:
each spike adds ``w (1 - exp(-dt/tau_s)) / (rate_max dt)`` (forward Euler:
``w / (rate_max tau_s)``), which makes the expected trace ``w.x`` exactly.

:func:`spiking_winners` presents B inputs at once (one batch copy each), lets the
layer settle, counts each unit's ``win`` events over a window, and takes the k
units that won most often; :func:`rate_winners` gives the rate form's k winners.
"""
import numpy as np

import compsim as cs
from compsim.checks import check_number
from compsim.models.active_dendrites import ActiveDendriteNeuron
from compsim.training.dendrites import KWinners


def rate_winners(layer, k, x, context):
    """The rate form's k winners (B, n_out) boolean: top-k of ``(w.x + b) sigmoid(max_j u_j.c)``."""
    layer.context = np.asarray(context, dtype=layer.params["U"].dtype)
    return KWinners(k).winners(layer.forward(np.asarray(x, dtype=layer.params["W"].dtype)))


def spike_weight_scale(rate_max, tau_s, dt, method="exponential_euler"):
    """Factor from a rate-form weight to the jump per spike that makes the expected trace ``w x``
    for Poisson input at ``rate_max x`` Hz through an exponential synapse of ``tau_s`` ms."""
    per_step = rate_max * 1e-3 * dt  # expected spikes per step at x = 1
    decay = 1.0 - dt / tau_s if method == "euler" else np.exp(-dt / tau_s)
    return (1.0 - decay) / per_step


def spiking_layer(net, layer, inputs, context, *, k, rate_max=None, tau_s=5.0, name="dendrites", **params):
    """Add the spiking form of rate layer ``layer`` to ``net``, fed by populations ``inputs`` and ``context``.

    Graded sources (``ActivitySource``) connect with :class:`compsim.Instantaneous` synapses and the layer's
    weights; spiking ones (``PoissonSource`` at ``rate_max`` Hz for an activity of 1) with exponential
    synapses of ``tau_s`` ms and the weights scaled by :func:`spike_weight_scale`. ``params`` go to
    :class:`~compsim.models.active_dendrites.ActiveDendriteNeuron` (``tau_m``, ``phi_max``).
    """
    U = layer.params["U"].astype(np.float64)
    n_out, n_segments, _ = U.shape
    pop = net.add(ActiveDendriteNeuron(n_out, segments=n_segments, k=k, absolute=layer.absolute, tau_s=tau_s,
                                       **params), name=name)
    pop["b"] = layer.params["b"].astype(np.float64)

    def link(source, target, weights):
        if source.activity is not None:
            return net.connect(source, pop, target, weights, synapse=cs.Instantaneous())
        rate = check_number("rate_max", rate_max, lo=0.0, lo_open=True, unit="Hz", owner="spiking_layer")
        return net.connect(source, pop, target, weights * spike_weight_scale(rate, tau_s, net.dt, net.method))

    link(inputs, "drive", (layer.params["W"] * layer.mask).astype(np.float64))
    for j in range(n_segments):
        link(context, f"segment{j}", U[:, j, :])
    return pop


def spiking_winners(layer, k, x, context, *, graded=False, rate_max=200.0, settle=50.0, window=500.0, dt=0.5,
                    seed=0, **params):
    """The spiking form's k winners (B, n_out) boolean, one input per batch copy: the k units with the most
    ``win`` events in ``window`` ms after ``settle`` ms (ties: the lower index)."""
    x, context = np.asarray(x, dtype=np.float64), np.asarray(context, dtype=np.float64)
    batch = len(x)
    net = cs.Network(dt=dt, batch=batch, seed=seed)
    if graded:
        inputs = net.add(cs.ActivitySource(x.shape[1]), name="inputs")
        contexts = net.add(cs.ActivitySource(context.shape[1]), name="context")
        inputs["p"], contexts["p"] = x, context
    else:
        inputs = net.add(cs.PoissonSource(x.shape[1], rate_max * x), name="inputs")
        contexts = net.add(cs.PoissonSource(context.shape[1], rate_max * context), name="context")
    pop = spiking_layer(net, layer, inputs, contexts, k=k, rate_max=rate_max, **params)
    net.record_events(pop, "win", name="wins")
    wins = net.run(settle + window).spikes["wins"].window(settle, None)
    counts = np.zeros((batch, pop.n))
    np.add.at(counts, (np.asarray(wins.copy), np.asarray(wins.i)), 1)
    return KWinners(k).winners(counts)
