"""STDP in the compiled loop: 1,000 Poisson inputs onto conductance-based LIF neurons (Song, Miller & Abbott 2000).

Run with ``python examples/stdp.py`` (or ``compsim run examples/stdp.py``); writes
``stdp_output/stdp.h5`` (spikes and sampled weights) and ``stdp_output/weights.png``:
the weight histogram before and after, and the mean weight over time. With
additive STDP and slightly stronger depression than potentiation, the weights
move towards the bounds and the output rate falls: the bimodal distribution of
the paper's Fig. 2 emerges over minutes of simulated time (the first argument
sets the duration in ms; 60 s take about 8 s here).

Units: time in ms, rates in Hz, weights in nS (the ``ge`` port's unit).
"""
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import compsim as cs  # noqa: E402
from compsim.models import CobaLIF  # noqa: E402

DURATION_MS = float(sys.argv[1]) if len(sys.argv) > 1 else 60_000.0
out_dir = Path("stdp_output")
out_dir.mkdir(exist_ok=True)

net = cs.Network(dt=0.1, seed=7)
inputs = net.add(cs.PoissonSource(1000, 10.0), name="inputs")  # 10 Hz each
neurons = net.add(CobaLIF(10, tau_m=20.0, E_l=-70.0, v_reset=-60.0, v_th=-54.0), name="neurons")
W_MAX = 0.15  # nS: 0.015 g_l, as in Song et al. (2000)
stdp = cs.plasticity.PairSTDP(tau_plus=20.0, tau_minus=20.0, A_plus=0.02 * W_MAX, A_minus=0.021 * W_MAX, w_max=W_MAX)
w0 = np.random.default_rng(1).uniform(0.0, W_MAX, (10, 1000))
proj = net.connect(inputs, neurons, "ge", w0, plasticity=stdp)  # dense, nS
net.record_spikes(neurons)
net.record_weights(proj, every=1000, synapses=np.arange(0, 10_000, 10), name="weights")
res = net.run(DURATION_MS, output=out_dir / "stdp.h5", progress=True)
sys.stderr.write("\n")

w = res.state["weights"]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2), constrained_layout=True)
ax1.hist(w["w"][0], bins=25, alpha=0.6, label=f"t = {w.t[0]:g} ms")
ax1.hist(w["w"][-1], bins=25, alpha=0.6, label=f"t = {w.t[-1]:g} ms")
ax1.set(xlabel="weight (nS)", ylabel="synapses", title="weight distribution")
ax1.legend(frameon=False)
ax2.plot(w.t / 1000.0, w["w"].mean(axis=1))
ax2.set(xlabel="time (s)", ylabel="mean weight (nS)", title="mean weight")
fig.savefig(out_dir / "weights.png", dpi=150)
rate = res.spikes["neurons_spikes"].rate_hz(DURATION_MS)


def near_bounds(weights):
    return np.mean((weights < 0.1 * W_MAX) | (weights > 0.9 * W_MAX))


print(f"output rate {rate:.1f} Hz; weights within 10 % of a bound: {near_bounds(w['w'][-1]):.0%} "
      f"(start: {near_bounds(w['w'][0]):.0%})")
