"""Quick start: a 784-500-10 segregated-dendrite network driven by an MNIST digit.

Run with ``python examples/quickstart.py`` (or ``compsim run examples/quickstart.py``).
Writes ``quickstart.h5`` and PNG figures to ``quickstart_output/``.

Units: time in ms, rates in Hz; the segregated-dendrite model's potentials
and conductances are dimensionless, as in Guerguiev et al. (2017).
"""
from pathlib import Path

import numpy as np

import compsim as cs
from compsim.data.mnist import load_mnist
from compsim.models import OutputNeuron, SegregatedPyramidal

out_dir = Path("quickstart_output")
images, labels = load_mnist(1)
rng = np.random.default_rng(7)

net = cs.Network(dt=0.1, seed=7)  # ms
inp = net.add(cs.PoissonSource(784, rates=200.0 * images[0]), name="inp")  # Hz, one neuron per pixel
hid = net.add(SegregatedPyramidal(500), name="hid")  # apical / basal / soma
out = net.add(OutputNeuron(10), name="out")  # basal dendrite / soma

kernel = cs.DoubleExponential(tau_rise=3.0, tau_decay=10.0)  # the paper's PSP kernel (ms)
net.connect(inp, hid, target="basal", weights=rng.uniform(-0.1, 0.1, (500, 784)), synapse=kernel)
net.connect(hid, out, target="basal", weights=rng.uniform(-0.5, 0.5, (10, 500)), synapse=kernel)
net.connect(out, hid, target="apical", weights=rng.uniform(-1.0, 1.0, (500, 10)), synapse=kernel)  # feedback

net.record(hid, ["v_soma", "v_basal", "v_apical"], every=1, neurons=slice(0, 50))
net.record_spikes(hid)
net.record_spikes(out)
net.record_rate(hid)

results = net.run(1000.0, output=out_dir / "quickstart.h5", progress=True)  # streams HDF5 as it goes
print(results.summary())
print(f"hidden rate {results.spikes['hid_spikes'].rate_hz(1000.0):.1f} Hz, label of the digit: {labels[0]}")

loaded = cs.load(out_dir / "quickstart.h5")  # the same, from disk
for path in cs.plot.summary_figures(loaded, out_dir):
    print("figure:", path)
