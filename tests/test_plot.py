"""Every plot function draws synthetic results and the figures save as non-empty PNGs."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from compsim import plot  # noqa: E402
from compsim.io.hdf5 import H5Writer, load  # noqa: E402

DT = 0.1
N_HID = 50
PNG_MAGIC = b"\x89PNG"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Results loaded from a file: 3-compartment traces, spikes and rates of 2 populations, 200 ms."""
    rng = np.random.default_rng(1)
    path = tmp_path_factory.mktemp("plot") / "run.h5"
    w = H5Writer(path, {"dt_ms": DT, "seed": 1, "network": {"populations": {"hidden": {"n": N_HID}}}})
    comps = ["v_soma", "v_basal", "v_apical"]
    w.add_state_monitor("hid_v", "hidden", comps, dict.fromkeys(comps, "mV"), np.arange(10), 10, np.float32)
    w.add_spike_monitor("hid_spikes", "hidden", N_HID)
    w.add_rate_monitor("hid_rate", "hidden", N_HID)
    w.add_spike_monitor("out_spikes", "output", 10)
    steps = 2000
    t = DT * np.arange(steps)
    spiking = rng.random((steps, N_HID)) < 0.002 * (1 + np.sin(2 * np.pi * t / 50))[:, None]
    step_idx, neuron_idx = np.nonzero(spiking)
    phase = rng.uniform(0, 2 * np.pi, 10)
    v = -65 + 5 * np.sin(2 * np.pi * t[::10, None] / 40 + phase)
    w.append_state("hid_v", t[::10], {"v_soma": v, "v_basal": v - 3, "v_apical": v - 6})
    w.append_spikes("hid_spikes", t[step_idx], neuron_idx)
    w.append_rate("hid_rate", t, spiking.sum(axis=1))
    w.append_spikes("out_spikes", [5.0, 12.0, 150.0], [0, 3, 9])
    w.close(steps * DT)
    return load(path)


def assert_png(path):
    assert path.stat().st_size > 1000
    assert path.read_bytes()[:4] == PNG_MAGIC


def save(fig, path):
    fig.savefig(path, dpi=100)
    plt.close(fig)
    assert_png(path)


def test_voltage_traces(results, tmp_path):
    fig = plot.voltage_traces(results.state["hid_v"])
    assert len(fig.axes) == 3
    assert fig.axes[0].get_ylabel() == "v_soma (mV)" and fig.axes[-1].get_xlabel() == "time (ms)"
    assert len(fig.axes[0].lines) == 10 and "10 of 10 recorded neurons" in fig.axes[0].get_title()
    save(fig, tmp_path / "traces.png")
    fig = plot.voltage_traces(results, "hid_v", neurons=[2, 9], vars="v_apical")
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 2
    save(fig, tmp_path / "traces_one.png")
    with pytest.raises(ValueError, match="'neurons'"):
        plot.voltage_traces(results, "hid_v", neurons=[42])
    with pytest.raises(ValueError, match="'vars'"):
        plot.voltage_traces(results, vars=["v_dendrite"])


def test_raster(results, tmp_path):
    ax = plot.raster(results.spikes["hid_spikes"]).axes[0]
    assert ax.get_xlabel() == "time (ms)" and ax.get_ylabel() == "neuron index"
    save(ax.figure, tmp_path / "raster.png")
    ax = plot.raster(results, "out_spikes").axes[0]
    assert ax.get_xlim() == (0.0, 200.0) and "output" in ax.get_title()
    save(ax.figure, tmp_path / "raster_out.png")
    ax = plot.raster(results.spikes["hid_spikes"], max_points=100).axes[0]
    assert "shown" in ax.get_title()
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="'name' is required"):
        plot.raster(results)


def test_population_rate(results, tmp_path):
    ax = plot.population_rate(results.rates["hid_rate"], bin_ms=5.0).axes[0]
    assert ax.get_ylabel() == "rate (Hz)"
    save(ax.figure, tmp_path / "rate.png")
    fig, axes = plt.subplots(2, 1)
    plot.population_rate(results, "hid_spikes", bin_ms=10.0, ax=axes[0])
    plot.population_rate(results, ax=axes[1])  # the only rate monitor
    save(fig, tmp_path / "rate_from_spikes.png")


def test_rate_from_counts_matches_rate_from_spikes(results):
    _, from_counts = results.rates["hid_rate"].rate_hz(5.0)
    _, from_spikes = results.spikes["hid_spikes"].binned_rate(5.0, results.attrs["t_end_ms"])
    np.testing.assert_allclose(from_counts, from_spikes)


def test_summary_figures(results, tmp_path):
    paths = plot.summary_figures(results, tmp_path / "figs", prefix="run1_")
    names = sorted(p.name for p in paths)
    assert names == ["run1_hid_rate.png", "run1_hid_spikes_raster.png", "run1_hid_v_traces.png",
                     "run1_out_spikes_raster.png"]
    for p in paths:
        assert_png(p)


def test_batched_results_plot_one_copy(tmp_path):
    from compsim.data.mnist import load_mnist
    from compsim.models.segdend import build_segregated_network

    seg = build_segregated_network(20, dt=1.0, batch=3)
    seg.inp.set_image(load_mnist(3)[0])
    seg.net.record(seg.hid, "v_soma", neurons=[0, 1])
    seg.net.record_spikes(seg.hid)
    seg.net.record_rate(seg.hid)
    res = seg.net.run(30.0)
    fig = plot.voltage_traces(res, "hid_state", copy=2)
    np.testing.assert_array_equal(fig.axes[0].lines[1].get_ydata(), res.state["hid_state"]["v_soma"][:, 2, 1])
    assert "copy 2 of 3" in fig.axes[0].get_title()
    assert fig.axes[0].get_ylabel() == "v_soma"  # dimensionless: no "(1)"
    ax = plot.raster(res, "hid_spikes", copy=1).axes[0]
    assert ax.lines[0].get_xdata().size == res.spikes["hid_spikes"].of_copy(1).count()
    assert "copy 1 of 3" in plot.population_rate(res, "hid_rate", copy=1).axes[0].get_title()
    with pytest.raises(ValueError, match="'copy'"):
        plot.voltage_traces(res, "hid_state", copy=3)
    assert len(plot.summary_figures(res, tmp_path, copy=2)) == 3
    from compsim.cli import main

    seg.net.run(10.0, output=tmp_path / "b.h5")
    assert main(["plot", str(tmp_path / "b.h5"), "-o", str(tmp_path / "figs"), "--copy", "1"]) == 0
    assert len(list((tmp_path / "figs").glob("*.png"))) == 3


def test_windows_neurons_markers_and_incomplete_runs(tmp_path):
    path = tmp_path / "run.h5"
    w = H5Writer(path, {"dt_ms": DT, "seed": 1, "network": {}})
    w.add_state_monitor("v", "hid", ["v_soma"], {"v_soma": "mV"}, np.arange(20), 1, np.float64)
    w.add_spike_monitor("s", "hid", 20)
    t = DT * np.arange(1000)
    w.append_state("v", t, {"v_soma": np.outer(np.sin(t / 5), np.arange(20))})
    w.append_spikes("s", np.repeat(t[::10], 2), np.tile([3, 15], 100))
    w.mark([0.0, 40.0, 80.0], ["image 0 (7)", "image 1 (2)", "image 2 (1)"])
    w.flush(100.0)
    w.close(100.0, complete=False)  # as a run stopped by Ctrl-C leaves it
    res = load(path)
    assert res.markers == [(0.0, "image 0 (7)"), (40.0, "image 1 (2)"), (80.0, "image 2 (1)")]
    fig = plot.voltage_traces(res, window=(30.0, 60.0), neurons=[4, 19])
    ax = fig.axes[0]
    assert ax.get_xlim() == (30.0, 60.0) and "incomplete run: ends at 100 ms" in ax.get_title()
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), np.sin(t[300:600] / 5) * 19)
    assert [text.get_text() for text in ax.texts] == ["image 1 (2)"]  # the one marker in the window
    plt.close(fig)
    fig = plot.raster(res, neurons=[3], rate_panel=True, bin_ms=10.0)
    top, bottom = fig.axes
    assert set(top.lines[0].get_ydata()) == {3} and top.lines[0].get_xdata().size == 100
    assert bottom.get_ylabel() == "rate (Hz)" and len(top.texts) == 3
    rate = bottom.patches[0].get_data().values
    np.testing.assert_allclose(rate, 1000.0)  # neuron 3 spikes every 1 ms: 1000 Hz in every 10 ms bin
    plt.close(fig)
    with pytest.raises(ValueError, match="'window'"):
        plot.population_rate(res, "s", window=(50.0, 10.0))
