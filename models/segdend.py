"""The segregated-dendrite network of Guerguiev, Lillicrap & Richards (2017), forward pathway.

784 Poisson inputs (one per MNIST pixel, rate ``max_rate * pixel``) drive the
basal dendrites of ``n_hidden`` three-compartment neurons
(:class:`~compsim.models.SegregatedPyramidal`), whose spikes drive the dendrites
of 10 :class:`~compsim.models.OutputNeuron`; the output spikes feed back to
every hidden neuron's apical dendrite through a fixed random matrix ``Y``
("broadcast" feedback). Spike trains are filtered with the paper's kernel
``(exp(-t/10) - exp(-t/3)) / (10 - 3)`` (ms), untruncated.

Weights follow the paper's "weight optimisation" (eLife 2017, Methods;
``../shared/guerguiev.md`` section 5): for a layer of fan-in N, with target
dendritic potentials of mean V_avg = 3 and SD V_sd = 3, bias mean b_avg = 0.8
and SD b_sd = 0.001, and rate slope nu = lambda_max / 4 (lambda_max = 0.2
spikes per 1-ms step)::

    W_avg = (V_avg - b_avg) / (nu N V_avg)
    W_sm  = (V_sm + nu^2 (N - N^2) W_avg^2 V_avg^2 - 2 N nu b_avg V_avg W_avg - b_avg^2) / (N nu^2 V_sm)
    W_sd  = sqrt(W_sm - W_avg^2),   V_sm = V_sd^2 + V_avg^2
    W = W_avg + 3.465 W_sd U(-1, 1),   b = b_avg + 3.465 b_sd U(-1, 1)

and the feedback ``Y`` (n_hidden x n_out) uses the statistics of fan-in n_hidden.
"""
from dataclasses import dataclass

import numpy as np

import compsim as cs

from .segregated import OutputNeuron, SegregatedPyramidal

V_AVG, V_SD, B_AVG, B_SD = 3.0, 3.0, 0.8, 0.001
NU = 0.2 / 4.0  # slope of the rate function, lambda_max / 4, per 1-ms step
HALF_WIDTH = 3.465  # U(-1, 1) scaled by 3.465 has SD 2.0 (as in the original code)


def weight_statistics(fan_in):
    """``(W_avg, W_sd)`` of the paper's weight optimisation for a layer with ``fan_in`` inputs."""
    n = float(fan_in)
    v_sm = V_SD**2 + V_AVG**2
    w_avg = (V_AVG - B_AVG) / (NU * n * V_AVG)
    w_sm = (v_sm + NU**2 * (n - n**2) * w_avg**2 * V_AVG**2 - 2 * n * NU * B_AVG * V_AVG * w_avg - B_AVG**2) / (
        n * NU**2 * v_sm
    )
    return w_avg, float(np.sqrt(w_sm - w_avg**2))


def initial_weights(shape, fan_in, rng):
    """Uniform weights with the paper's mean and half-width for ``fan_in``."""
    w_avg, w_sd = weight_statistics(fan_in)
    return w_avg + HALF_WIDTH * w_sd * rng.uniform(-1.0, 1.0, shape)


def initial_biases(n, rng):
    """Biases ``b_avg + 3.465 b_sd U(-1, 1)``."""
    return B_AVG + HALF_WIDTH * B_SD * rng.uniform(-1.0, 1.0, n)


@dataclass
class SegregatedNetwork:
    """The assembled network, its populations and projections."""

    net: cs.Network
    inp: cs.PoissonSource
    hid: SegregatedPyramidal
    out: OutputNeuron
    forward_hidden: object
    forward_output: object
    feedback: object


def build_segregated_network(n_hidden=500, n_out=10, n_in=784, *, seed=0, dt=1.0, spike_mode="poisson",
                             g_a=0.05, method="exponential_euler", **network_options):
    """Build the 784-``n_hidden``-10 network with the paper's weight initialisation.

    Rates of the input are set later, e.g. with ``inp.set_image(image, 200.0)``.
    """
    net = cs.Network(dt=dt, seed=seed, method=method, **network_options)
    rng = np.random.default_rng(seed)
    kernel = cs.DoubleExponential(tau_rise=3.0, tau_decay=10.0)
    inp = net.add(cs.PoissonSource(n_in, spike_mode=spike_mode), name="inp")
    hid = net.add(SegregatedPyramidal(n_hidden, g_a=g_a, spike_mode=spike_mode), name="hid")
    out = net.add(OutputNeuron(n_out, spike_mode=spike_mode), name="out")
    w0 = initial_weights((n_hidden, n_in), n_in, rng)
    w1 = initial_weights((n_out, n_hidden), n_hidden, rng)
    y = initial_weights((n_hidden, n_out), n_hidden, rng)
    hid["b_basal"] = initial_biases(n_hidden, rng)
    out["b_basal"] = initial_biases(n_out, rng)
    f0 = net.connect(inp, hid, "basal", w0, synapse=kernel)
    f1 = net.connect(hid, out, "basal", w1, synapse=kernel)
    fb = net.connect(out, hid, "apical", y, synapse=kernel)
    return SegregatedNetwork(net, inp, hid, out, f0, f1, fb)
