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
    """The assembled network: its populations and projections, input to output.

    ``hidden``: the hidden populations (first = fed by the input); ``forward``:
    the feed-forward projections (input -> hidden 1, ..., last hidden ->
    output); ``feedback``: the output -> hidden apical projections, one per
    hidden layer (broadcast feedback, matrices ``Y``).
    """

    net: cs.Network
    inp: cs.PoissonSource
    hidden: list
    out: OutputNeuron
    forward: list
    feedback: list

    @property
    def hid(self):
        """The first hidden population."""
        return self.hidden[0]

    @property
    def forward_hidden(self):
        """The projection input -> first hidden layer."""
        return self.forward[0]

    @property
    def forward_output(self):
        """The projection last hidden layer -> output."""
        return self.forward[-1]


def build_segregated_network(n_hidden=500, n_out=10, n_in=784, *, seed=0, dt=1.0, spike_mode="poisson",
                             g_a=0.05, method="exponential_euler", synapse=None, sparse_feedback=False,
                             same_step=False, **network_options):
    """Build the 784-``n_hidden``-10 network with the paper's weight initialisation.

    ``n_hidden``: one size, or a tuple of sizes for several hidden layers
    (e.g. ``(500, 100)``; each receives the output's spikes through its own
    feedback matrix). ``synapse``: the kernel of every projection, default the
    untruncated ``DoubleExponential(3, 10)``; ``TruncatedDoubleExponential()``
    is the original code's 10-step kernel. ``sparse_feedback``: zero 80 % of
    each feedback matrix at random and multiply the rest by 5 (the paper's
    Fig. 8). ``same_step``: the feed-forward projections deliver within the step
    (each layer sees this step's spikes of the layer below, as in the original
    code; the feedback keeps its one-step lag); default: from the next step on,
    Brian2's schedule. Rates of the input are set later, e.g. with
    ``inp.set_image(image, 200.0)``.
    """
    sizes = (n_hidden,) if np.ndim(n_hidden) == 0 else tuple(n_hidden)
    if not sizes:
        raise ValueError("build_segregated_network: 'n_hidden' needs at least one hidden layer")
    net = cs.Network(dt=dt, seed=seed, method=method, **network_options)
    rng = np.random.default_rng(seed)
    kernel = cs.DoubleExponential(tau_rise=3.0, tau_decay=10.0) if synapse is None else synapse
    inp = net.add(cs.PoissonSource(n_in, spike_mode=spike_mode), name="inp")
    hidden = [net.add(SegregatedPyramidal(n, g_a=g_a, spike_mode=spike_mode), name="hid" if m == 0 else f"hid{m + 1}")
              for m, n in enumerate(sizes)]
    out = net.add(OutputNeuron(n_out, spike_mode=spike_mode), name="out")
    layers = [inp, *hidden, out]
    weights = [initial_weights((post.n, pre.n), pre.n, rng) for pre, post in zip(layers[:-1], layers[1:])]
    # Y of hidden layer m has the statistics of the forward matrix into the layer above (fan-in n_m)
    feedback = [initial_weights((h.n, n_out), h.n, rng) for h in hidden]
    if sparse_feedback:
        feedback = [5.0 * y * (rng.uniform(size=y.shape) >= 0.8) for y in feedback]
    for pop in (*hidden, out):
        pop["b_basal"] = initial_biases(pop.n, rng)
    forward = [net.connect(pre, post, "basal", w, synapse=kernel, same_step=same_step)
               for pre, post, w in zip(layers[:-1], layers[1:], weights)]
    back = [net.connect(out, h, "apical", y, synapse=kernel) for h, y in zip(hidden, feedback)]
    return SegregatedNetwork(net, inp, hidden, out, forward, back)
