"""Round trips through MemoryWriter and H5Writer, and reading a file whose writer was SIGKILLed."""
import os
import select
import signal
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from compsim.io.hdf5 import CHUNK_ELEMENTS, H5Writer
from compsim.io.memory import MemoryWriter
from compsim.io.hdf5 import load
from compsim.results import Results, SpikeTrain

DT = 0.1
NETWORK = {"populations": {"hidden": {"n": 20, "model": "two_compartment"},
                           "input": {"n": 8, "model": "poisson"}},
           "parameters": {"hidden": {"tau_m": [10.0, "ms"], "g_d": [np.float32(0.6), "nS"]}},
           "projections": [{"pre": "input", "post": "hidden", "target": "basal"}]}
METADATA = {"dt_ms": DT, "seed": 1234, "network": NETWORK, "protocol": "test", "tags": ["a", "b"]}
NEURONS = np.array([0, 3, 7])


def make_chunks(n_chunks=3, steps=40, every=4, seed=0):
    """Synthetic chunks: state samples, spikes of 20 neurons and per-step counts."""
    rng = np.random.default_rng(seed)
    chunks = []
    for c in range(n_chunks):
        t0 = c * steps * DT
        t_state = t0 + DT * np.arange(0, steps, every)
        values = {"v_soma": rng.normal(-65, 3, (t_state.size, NEURONS.size)),
                  "v_basal": rng.normal(-70, 1, (t_state.size, NEURONS.size))}
        t_step = t0 + DT * np.arange(steps)
        spike_steps = np.sort(rng.integers(0, steps, 15))
        t_spk = t0 + DT * spike_steps
        i_spk = rng.integers(0, 20, t_spk.size)
        counts = np.bincount(spike_steps, minlength=steps)
        chunks.append({"t_state": t_state, "values": values, "t_spk": t_spk, "i_spk": i_spk,
                       "t_step": t_step, "counts": counts, "t_end": t0 + steps * DT})
    return chunks


def record(writer, chunks):
    writer.add_state_monitor("hid_v", "hidden", ["v_soma", "v_basal"],
                             {"v_soma": "mV", "v_basal": "mV"}, NEURONS, 4, np.float32)
    writer.add_spike_monitor("hid_spikes", "hidden", 20)
    writer.add_rate_monitor("hid_rate", "hidden", 20)
    for ch in chunks:
        writer.append_state("hid_v", ch["t_state"], ch["values"])
        writer.append_spikes("hid_spikes", ch["t_spk"], ch["i_spk"])
        writer.append_rate("hid_rate", ch["t_step"], ch["counts"])
        writer.flush(ch["t_end"])


def check_contents(res, chunks):
    cat = np.concatenate
    st = res.state["hid_v"]
    assert st.population == "hidden" and st.every == 4
    assert st.units == {"v_soma": "mV", "v_basal": "mV"}
    np.testing.assert_array_equal(st.neurons, NEURONS)
    assert st.neurons.dtype == np.int64 and st.t.dtype == np.float64
    np.testing.assert_array_equal(st.t, cat([c["t_state"] for c in chunks]))
    for var in ("v_soma", "v_basal"):
        expected = cat([c["values"][var] for c in chunks]).astype(np.float32)
        assert st[var].dtype == np.float32
        np.testing.assert_array_equal(st[var], expected)
    sp = res.spikes["hid_spikes"]
    assert sp.n == 20 and sp.i.dtype == np.int64
    np.testing.assert_array_equal(sp.t, cat([c["t_spk"] for c in chunks]))
    np.testing.assert_array_equal(sp.i, cat([c["i_spk"] for c in chunks]))
    rt = res.rates["hid_rate"]
    assert rt.dt == DT and rt.counts.dtype == np.int64
    np.testing.assert_array_equal(rt.t, cat([c["t_step"] for c in chunks]))
    np.testing.assert_array_equal(rt.counts, cat([c["counts"] for c in chunks]))
    assert rt.counts.sum() == sp.count()


def check_attrs(res, complete):
    assert res.attrs["dt_ms"] == DT and res.attrs["seed"] == 1234
    assert res.attrs["complete"] is complete
    assert res.attrs["protocol"] == "test" and res.attrs["tags"] == ["a", "b"]
    for key in ("created", "compsim_version", "numba_version", "numpy_version",
                "h5py_version", "python_version"):
        assert isinstance(res.attrs[key], str) and res.attrs[key]
    assert res.network["parameters"]["hidden"]["g_d"] == [pytest.approx(0.6), "nS"]
    assert res.network["projections"] == NETWORK["projections"]
    assert res.network["populations"] == NETWORK["populations"]


def test_memory_writer_round_trip():
    chunks = make_chunks()
    w = MemoryWriter(METADATA)
    record(w, chunks)
    assert w.results().attrs["complete"] is False
    w.close(chunks[-1]["t_end"])
    w.close(chunks[-1]["t_end"])
    res = w.results()
    check_contents(res, chunks)
    check_attrs(res, complete=True)
    assert res.attrs["t_end_ms"] == pytest.approx(12.0)


def test_h5_writer_round_trip_matches_memory(tmp_path):
    chunks = make_chunks()
    path = tmp_path / "run.h5"
    w = H5Writer(path, METADATA)
    record(w, chunks)
    check_contents(w.results(), chunks)  # readable while still open
    w.close(chunks[-1]["t_end"])
    w.close(chunks[-1]["t_end"])  # second close is a no-op
    res = load(path)
    assert isinstance(res, Results)
    check_contents(res, chunks)
    check_attrs(res, complete=True)
    assert res.attrs["t_end_ms"] == pytest.approx(12.0)
    check_contents(w.results(), chunks)

    mem = MemoryWriter(METADATA)
    record(mem, chunks)
    mem.close(chunks[-1]["t_end"])
    assert res.network == mem.results().network
    assert set(res.attrs) == set(mem.results().attrs)


def test_h5_layout_is_plain_hdf5(tmp_path):
    path = tmp_path / "run.h5"
    w = H5Writer(path, METADATA)
    record(w, make_chunks(n_chunks=2))
    w.close(8.0)
    with h5py.File(path, "r") as f:
        assert f.attrs["complete"] == 1 and f.attrs["t_end_ms"] == 8.0
        assert isinstance(f.attrs["network"], str)
        assert list(f["monitors"]) == ["hid_v", "hid_spikes", "hid_rate"]
        g = f["monitors/hid_v"]
        assert g.attrs["kind"] == "state" and g.attrs["every"] == 4
        assert g["v_soma"].shape == (20, 3) and g["v_soma"].dtype == np.float32
        assert g["v_soma"].maxshape == (None, 3) and g["v_soma"].compression == "gzip"
        assert g["v_soma"].shuffle and g["v_soma"].chunks == (CHUNK_ELEMENTS // 3, 3)
        assert f["monitors/hid_spikes/i"].dtype == np.int32
        assert f["monitors/hid_rate/counts"].dtype == np.int32
        assert f["monitors/hid_rate"].attrs["dt_ms"] == DT


def test_empty_monitor_and_seed_none(tmp_path):
    meta = {"dt_ms": 0.05, "seed": None, "network": {}}
    w = H5Writer(tmp_path / "empty.h5", meta)
    w.add_spike_monitor("s", "pop", 5)
    w.close(0.0)
    res = load(tmp_path / "empty.h5")
    assert res.attrs["seed"] is None and res.spikes["s"].count() == 0
    assert res.spikes["s"].t.shape == (0,)
    assert "s" in res.summary()


@pytest.mark.parametrize("writer", ["memory", "h5"])
def test_bad_input_names_the_parameter(tmp_path, writer):
    make = (lambda m: MemoryWriter(m)) if writer == "memory" else (lambda m: H5Writer(tmp_path / "x.h5", m))
    with pytest.raises(ValueError, match="network"):
        make({"dt_ms": 0.1, "seed": 1})
    with pytest.raises(ValueError, match="dt_ms"):
        make({"dt_ms": -1, "seed": 1, "network": {}})
    w = make(METADATA)
    w.add_state_monitor("v", "hidden", ["v_soma"], {"v_soma": "mV"}, NEURONS, 1, np.float64)
    w.add_spike_monitor("s", "hidden", 20)
    with pytest.raises(ValueError, match="already exists"):
        w.add_spike_monitor("s", "hidden", 20)
    with pytest.raises(ValueError, match="'units'"):
        w.add_state_monitor("v2", "hidden", ["v_soma"], {}, NEURONS, 1, np.float64)
    with pytest.raises(ValueError, match="shape"):
        w.append_state("v", np.arange(2.0), {"v_soma": np.zeros((2, 4))})
    with pytest.raises(ValueError, match="'values'"):
        w.append_state("v", np.arange(2.0), {"v_apical": np.zeros((2, 3))})
    with pytest.raises(ValueError, match="'i'"):
        w.append_spikes("s", [1.0], [20])
    with pytest.raises(ValueError, match="records spikes"):
        w.append_rate("s", [1.0], [1])
    w.close(1.0)
    with pytest.raises(RuntimeError, match="closed"):
        w.append_spikes("s", [1.0], [0])


def test_results_helpers():
    w = MemoryWriter(METADATA)
    record(w, make_chunks())
    w.add_spike_monitor("in_spikes", "input", 8)
    w.append_spikes("in_spikes", [0.5, 1.0, 1.5, 2.5, 3.5], [1, 1, 1, 1, 2])
    w.close(12.0)
    res = w.results()
    assert set(res.by_population("hidden")) == {"hid_v", "hid_spikes", "hid_rate"}
    assert set(res.by_population("input")) == {"in_spikes"}
    assert res.by_population("nobody") == {}
    text = repr(res)
    for name in ("hid_v", "hid_spikes", "hid_rate", "in_spikes", "v_soma [mV]", "complete"):
        assert name in text

    sp = res.spikes["in_spikes"]
    assert sp.count() == 5
    assert sp.rate_hz(1000.0) == pytest.approx(5 / 8)
    trains = sp.per_neuron()
    assert len(trains) == 8
    np.testing.assert_array_equal(trains[1], [0.5, 1.0, 1.5, 2.5])
    np.testing.assert_array_equal(sp.per_neuron(duration_ms=2.0)[1], [0.5, 1.0, 1.5])
    isi = np.array([0.5, 0.5, 1.0])
    assert sp.isi_cv() == pytest.approx(isi.std() / isi.mean())
    assert np.isnan(SpikeTrain("x", "p", 3, np.zeros(0), np.zeros(0, np.int64)).isi_cv())
    with pytest.raises(ValueError, match="duration_ms"):
        sp.rate_hz(0)

    rt = res.rates["hid_rate"]
    t1, r1 = rt.rate_hz()
    np.testing.assert_allclose(r1, rt.counts / (20 * DT * 1e-3))
    t5, r5 = rt.rate_hz(bin_ms=0.5)  # 5 steps per bin
    np.testing.assert_allclose(t5, rt.t[::5])
    np.testing.assert_allclose(r5 * 20 * 0.5e-3, rt.counts.reshape(-1, 5).sum(axis=1))
    with pytest.raises(ValueError, match="bin_ms"):
        rt.rate_hz(bin_ms=0.01)

    left, rate = sp.binned_rate(2.0, duration_ms=5.0)
    np.testing.assert_allclose(left, [0.0, 2.0, 4.0])
    np.testing.assert_allclose(rate, np.array([3, 2, 0]) / (8 * np.array([2.0, 2.0, 1.0]) * 1e-3))


KILLED_WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from compsim.io.hdf5 import CHUNK_ELEMENTS, H5Writer
    w = H5Writer(sys.argv[1], {"dt_ms": 0.1, "seed": 7, "network": {"populations": {"p": {"n": 10}}}})
    w.add_state_monitor("v", "p", ["v_soma"], {"v_soma": "mV"}, np.arange(4), 1, np.float64)
    w.add_spike_monitor("s", "p", 10)
    w.add_rate_monitor("r", "p", 10)
    for c in range(3):
        t = c * 10.0 + 0.1 * np.arange(100)
        w.append_state("v", t, {"v_soma": np.full((100, 4), float(c))})
        w.append_spikes("s", t[::10], np.arange(10))
        w.append_rate("r", t, np.full(100, c))
        w.flush((c + 1) * 10.0)
    print("flushed", flush=True)
    time.sleep(120)
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_load_after_sigkill(tmp_path):
    path = tmp_path / "killed.h5"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        line = proc.stdout.readline() if ready else ""
        assert line.strip() == "flushed", proc.stderr.read() if proc.poll() is not None else "timeout"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    res = load(path)
    assert res.attrs["complete"] is False
    assert res.attrs["t_end_ms"] == 30.0 and res.attrs["seed"] == 7
    v = res.state["v"]
    assert v["v_soma"].shape == (300, 4)
    np.testing.assert_array_equal(v["v_soma"][:, 0], np.repeat([0.0, 1.0, 2.0], 100))
    np.testing.assert_allclose(v.t, np.concatenate([c * 10.0 + 0.1 * np.arange(100) for c in range(3)]))
    assert res.spikes["s"].count() == 30
    np.testing.assert_array_equal(res.spikes["s"].i, np.tile(np.arange(10), 3))
    np.testing.assert_array_equal(res.rates["r"].counts, np.repeat([0, 1, 2], 100))
