"""Lazy results: a file is read on demand, windows read only their part, a long recording keeps memory flat."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from compsim.results import ArrayColumn
from compsim.io.hdf5 import H5Column, load
from test_network_hdf5 import build


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    path = tmp_path_factory.mktemp("lazy") / "run.h5"
    build(seed=3).run(300.0, output=path)
    return path


def test_run_to_a_file_returns_results_that_read_on_demand(tmp_path):
    res = build(seed=3).run(50.0, output=tmp_path / "r.h5")
    trace = res.state["hid_v"]
    assert isinstance(trace._t, H5Column) and trace._t._array is None  # nothing read yet
    assert trace.n_samples == 500 and res.spikes["hid_spk"].count() == len(res.spikes["hid_spk"]._t)
    assert "hid_v" in res.summary() and trace._t._array is None  # the summary reads metadata only
    assert trace.t.shape == (500,) and trace._t._array is not None  # read when first used


def test_windows_equal_slices_of_the_whole_arrays(recorded):
    lazy, eager = load(recorded), load(recorded, lazy=False)
    start, stop = 120.0, 180.05

    tr, whole = lazy.state["hid_v"].window(start, stop, neurons=[24, 0]), eager.state["hid_v"]
    rows = (whole.t >= start) & (whole.t < stop)
    assert rows.sum() == 601
    np.testing.assert_array_equal(tr.t, whole.t[rows])
    np.testing.assert_array_equal(tr.neurons, [24, 0])
    for var in ("v_soma", "basal"):
        np.testing.assert_array_equal(tr[var], whole[var][rows][:, [2, 0]])
    assert tr.units == whole.units and tr.every == whole.every

    sp, all_sp = lazy.spikes["inp_spk"].window(start, stop, neurons=np.arange(10, 30)), eager.spikes["inp_spk"]
    keep = (all_sp.t >= start) & (all_sp.t < stop) & (all_sp.i >= 10) & (all_sp.i < 30)
    assert keep.sum() > 30
    np.testing.assert_array_equal(sp.t, all_sp.t[keep])
    np.testing.assert_array_equal(sp.i, all_sp.i[keep])

    rate, all_rate = lazy.rates["hid_rate"].window(start, stop), eager.rates["hid_rate"]
    rows = (all_rate.t >= start) & (all_rate.t < stop)
    np.testing.assert_array_equal(rate.counts, all_rate.counts[rows])

    cut = lazy.window(None, 10.0)  # every monitor at once; open start
    assert cut.state["hid_va"].t.max() < 10.0 and cut.spikes["hid_spk"].t.max(initial=0.0) < 10.0
    assert lazy.state["hid_v"].window(500.0, 600.0).t.size == 0  # past the end: empty


def test_window_errors_name_the_parameter(recorded):
    trace = load(recorded).state["hid_v"]
    with pytest.raises(ValueError, match="'neurons'.*\\[3\\] were not recorded"):
        trace.window(0.0, 1.0, neurons=[0, 3])
    with pytest.raises(ValueError, match="'stop_ms' must be >= 'start_ms'"):
        trace.window(5.0, 1.0)
    with pytest.raises(ValueError, match="'neurons' must index"):
        load(recorded).spikes["hid_spk"].window(0.0, 1.0, neurons=[99])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="address-space ceiling via /proc and RLIMIT_AS")
def test_a_recording_larger_than_the_memory_ceiling_completes_and_windows_read_it(tmp_path):
    """128 MB of samples are written under an address-space ceiling of 48 MB above what the compiled network uses."""
    script = textwrap.dedent("""
        import resource, sys
        from compsim.models.coba import build_coba
        coba = build_coba(2000, seed=1, record_spikes=False)
        coba.net.record(coba.exc, ["v"])  # 1600 neurons x 8 bytes per step
        coba.net.run(0.1)  # compile and allocate everything first
        size = lambda: int(next(l for l in open("/proc/self/status") if l.startswith("VmSize")).split()[1]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size() + 48 * 2**20, resource.RLIM_INFINITY))
        res = coba.net.run(1000.0, output=sys.argv[1])
        window = res.state["exc_state"].window(700.0, 701.0, neurons=[5, 1599])
        print(res.state["exc_state"].n_samples, *window["v"].shape, repr(float(window["v"][0, 0])))
    """)
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "big.h5")],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    n_samples, rows, cols, first = out.stdout.split()
    assert (int(n_samples), int(rows), int(cols)) == (10000, 10, 2)
    assert 1600 * 10000 * 8 > 2.5 * 48 * 2**20  # the data could not have been held under the ceiling
    v = load(tmp_path / "big.h5").state["exc_state"].window(700.0, 700.05, neurons=[5])["v"][0, 0]
    assert float(first) == v and -80.0 < v < -45.0


def test_an_in_memory_column_searches_like_the_file_column(recorded):
    t = load(recorded).state["hid_va"]._t
    whole = t.array()
    for value in (-1.0, 0.0, 0.7, 0.71, 151.2, 1e9):
        assert t.search(value) == ArrayColumn(whole).search(value) == np.searchsorted(whole, value)
