"""COBAHH (../shared/benchmarks.md): the network built from compartments fires at Brian2's mean rate.

Brian2 2.9.0 reference, cpp_standalone (``benchmarks/_brian2_cobahh.py``), N = 4000, 1 s, exponential
Euler, dt 0.1 ms, rate = spikes / N / 1 s: seeds 1-6 gave 36.5, 37.2, 32.4, 38.3, 34.2 and 37.4 Hz (mean
36.0 Hz); the benchmark table gives 33.8-34.6 Hz. The seed moves Brian2's own rate by several Hz (initial state and
connectivity), so the test compares compsim's mean over two seeds with Brian2's mean, within 10 %.
"""
import numpy as np

from compsim.models.cobahh import build_cobahh

BRIAN2_MEAN_HZ = 36.0


def test_mean_rate_within_ten_percent_of_brian2():
    rates = []
    for seed in (1, 2):
        c = build_cobahh(4000, seed=seed)
        res = c.net.run(1000.0)
        spikes = res.spikes["exc_spikes"].count() + res.spikes["inh_spikes"].count()
        rates.append(spikes / 4000 / 1.0)
    assert abs(np.mean(rates) - BRIAN2_MEAN_HZ) <= 0.1 * BRIAN2_MEAN_HZ, rates
