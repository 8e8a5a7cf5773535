"""Network runs streamed to HDF5: same data as in memory, metadata, recording blocks, SIGKILL mid-run."""
import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numba
import numpy as np
import pytest

import compsim as cs
from compsim.models import SegregatedPyramidal

DT = 0.1
N_IN, N_HID = 60, 25
TESTS_DIR = Path(__file__).resolve().parent


def input_rates():
    return np.linspace(5.0, 120.0, N_IN)


def build(seed=4, rates=None, **options):
    """Poisson input -> pyramidal layer; records states (two samplings), spikes and rates.

    Also imported by the SIGKILL child process (same structure, so the compiled loop is cached)."""
    net = cs.Network(dt=DT, seed=seed, **options)
    inp = net.add(cs.PoissonSource(N_IN, input_rates() if rates is None else rates), name="inp")
    hid = net.add(SegregatedPyramidal(N_HID), name="hid")
    w = np.random.default_rng(1).uniform(-0.5, 0.8, (N_HID, N_IN))
    net.connect(inp, hid, "basal", w)
    net.record(hid, ["v_soma", "basal"], neurons=[0, 7, 24], name="hid_v")
    net.record(hid, "v_apical", every=7, name="hid_va")
    net.record_spikes(inp, name="inp_spk")
    net.record_spikes(hid, name="hid_spk")
    net.record_rate(hid, name="hid_rate")
    return net


def assert_same_results(a, b, t_max=None):
    """Every monitor of ``a`` equals that of ``b`` (optionally both cut to t < t_max)."""
    def cut(t):
        return np.ones(t.size, bool) if t_max is None else t < t_max - 1e-9

    assert set(a.state) == set(b.state) and set(a.spikes) == set(b.spikes) and set(a.rates) == set(b.rates)
    for name, tr in a.state.items():
        other = b.state[name]
        ka, kb = cut(tr.t), cut(other.t)
        np.testing.assert_array_equal(tr.t[ka], other.t[kb], err_msg=f"{name}.t")
        np.testing.assert_array_equal(tr.neurons, other.neurons)
        assert tr.every == other.every and tr.units == other.units and tr.vars == other.vars
        for var in tr.vars:
            np.testing.assert_array_equal(tr[var][ka], other[var][kb], err_msg=f"{name}.{var}")
    for name, sp in a.spikes.items():
        other = b.spikes[name]
        ka, kb = cut(sp.t), cut(other.t)
        assert sp.n == other.n and sp.population == other.population
        np.testing.assert_array_equal(sp.t[ka], other.t[kb], err_msg=f"{name}.t")
        np.testing.assert_array_equal(sp.i[ka], other.i[kb], err_msg=f"{name}.i")
    for name, r in a.rates.items():
        other = b.rates[name]
        ka, kb = cut(r.t), cut(other.t)
        assert r.n == other.n and r.dt == pytest.approx(other.dt)
        np.testing.assert_array_equal(r.t[ka], other.t[kb], err_msg=f"{name}.t")
        np.testing.assert_array_equal(r.counts[ka], other.counts[kb], err_msg=f"{name}.counts")


def test_file_equals_memory(tmp_path, capsys):
    duration = 120.0
    path = tmp_path / "x.h5"
    returned = build(chunk_steps=333).run(duration, output=str(path), progress=True)
    progress = capsys.readouterr().err
    assert "100.0%" in progress  # progress reported to stderr, ending at 100 %
    memory = build().run(duration)
    loaded = cs.load(path)
    assert memory.spikes["hid_spk"].count() > 50 and memory.spikes["inp_spk"].count() > 100
    assert_same_results(memory, loaded)
    assert_same_results(memory, returned)
    # time axes are those of the run
    tr = loaded.state["hid_v"]
    np.testing.assert_allclose(tr.t, DT * np.arange(1200), atol=1e-9)
    np.testing.assert_allclose(loaded.state["hid_va"].t, DT * np.arange(0, 1200, 7), atol=1e-9)
    np.testing.assert_allclose(loaded.rates["hid_rate"].t, DT * np.arange(1200), atol=1e-9)
    assert loaded.spikes["hid_spk"].t.max() < duration
    # root attributes
    a = loaded.attrs
    assert a["dt_ms"] == DT and a["seed"] == 4
    assert a["complete"] is True and a["t_end_ms"] == pytest.approx(duration)
    assert a["compsim_version"] == cs.__version__
    assert a["numba_version"] == numba.__version__ and a["numpy_version"] == np.__version__
    assert a["h5py_version"] == h5py.__version__
    assert a["python_version"].startswith(f"{sys.version_info.major}.{sys.version_info.minor}")
    # the network description: models, sizes, parameters with units, projections
    net = loaded.network
    assert net == memory.network
    hid = net["populations"]["hid"]
    assert hid["model"] == "SegregatedPyramidal" and hid["n"] == N_HID
    assert hid["params"]["tau"] == {"value": 10.0, "unit": "ms"}
    assert hid["params"]["phi_max"] == {"value": 200.0, "unit": "Hz"}
    assert net["populations"]["inp"]["n"] == N_IN
    (proj,) = net["projections"]
    assert (proj["pre"], proj["post"], proj["target"]) == ("inp", "hid", "basal")
    assert proj["synapse"] == {"kind": "exponential", "tau_ms": 3.0}
    with h5py.File(path, "r") as f:  # stored as plain JSON text, readable without compsim
        assert json.loads(f.attrs["network"])["populations"]["hid"]["params"]["g_b"]["value"] == 0.6
        assert f.attrs["dt_ms"] == DT


def test_recording_block_two_runs(tmp_path):
    path = tmp_path / "y.h5"
    net = build(chunk_steps=150)
    with net.recording(str(path)):
        net.run(50.0)
        net.run(50.0)
    res = cs.load(path)
    assert res.attrs["complete"] is True and res.attrs["t_end_ms"] == pytest.approx(100.0)
    np.testing.assert_allclose(res.state["hid_v"].t, DT * np.arange(1000), atol=1e-9)
    np.testing.assert_allclose(res.rates["hid_rate"].t, DT * np.arange(1000), atol=1e-9)
    sp = res.spikes["inp_spk"]
    assert sp.t.min() < 50.0 < sp.t.max() < 100.0
    assert np.all(np.diff(sp.t) >= 0)
    assert_same_results(build().run(100.0), res)  # = one uninterrupted run


# ---------------------------------------------------------------------------------------------
# SIGKILL
# ---------------------------------------------------------------------------------------------
CHILD = textwrap.dedent("""
    import os
    import signal
    import sys

    import h5py
    import numpy as np
    sys.path.insert(0, {tests!r})
    import test_network_hdf5 as t

    base = t.input_rates()
    state = {{"armed": False, "writes": 0}}
    KILL_AFTER_WRITES = {kill_after_writes!r}

    if KILL_AFTER_WRITES:  # SIGKILL ourselves right after the n-th dataset write once armed
        original = h5py.Dataset.__setitem__

        def setitem(self, key, value):
            original(self, key, value)
            if state["armed"]:
                state["writes"] += 1
                if state["writes"] >= KILL_AFTER_WRITES:
                    os.kill(os.getpid(), signal.SIGKILL)

        h5py.Dataset.__setitem__ = setitem

    def rates(times):  # the same rates as in the parent, announcing progress once
        if not state["armed"] and times[0] >= {ready_ms!r}:
            state["armed"] = True
            print("READY", times[0], flush=True)
            {pause}
        return base

    t.build(rates=rates, chunk_steps={chunk}).run(100_000.0, output={path!r})
""")


def _kill_mid_run(path, ready_ms, chunk, pause=False, kill_after_writes=0):
    """Run the child until it announces ``ready_ms`` of simulated time; then it is SIGKILLed, by the parent
    while it sleeps in its rate callable (``pause``) or by itself after ``kill_after_writes`` more writes."""
    code = CHILD.format(tests=str(TESTS_DIR), ready_ms=float(ready_ms), path=str(path), chunk=chunk,
                        pause="import time; time.sleep(120)" if pause else "pass",
                        kill_after_writes=kill_after_writes)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 240)
        line = proc.stdout.readline().decode() if ready else ""
        if not line.startswith("READY"):
            proc.kill()
            raise AssertionError(f"child did not announce progress: {line!r} {proc.stderr.read().decode()[-2000:]}")
        if pause:
            time.sleep(0.2)
            assert proc.poll() is None, "child finished before it was killed"
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    return cs.load(path)


def _assert_consistent_prefix(res, min_t_end):
    t_end = res.attrs["t_end_ms"]
    assert res.attrs["complete"] is False
    assert min_t_end - 1e-9 <= t_end < 100_000.0
    steps = int(round(t_end / DT))
    # sample times contiguous from 0, covering at least [0, t_end)
    for name, every in (("hid_v", 1), ("hid_va", 7)):
        tr = res.state[name]
        np.testing.assert_allclose(tr.t, DT * every * np.arange(tr.t.size), atol=1e-6, err_msg=name)
        assert tr.t.size >= -(-steps // every), (name, tr.t.size, steps)
        for var in tr.vars:
            assert tr[var].shape == (tr.t.size, tr.neurons.size)
            assert np.isfinite(tr[var]).all()
    r = res.rates["hid_rate"]
    np.testing.assert_allclose(r.t, DT * np.arange(r.t.size), atol=1e-6)
    assert r.t.size >= steps
    for sp in res.spikes.values():
        assert np.all(np.diff(sp.t) >= 0) and (sp.i >= 0).all() and (sp.i < sp.n).all()
    # the prefix up to t_end is exactly what an uninterrupted run of the same network records
    assert_same_results(build().run(t_end), res, t_max=t_end)
    return t_end


def test_sigkill_between_chunks(tmp_path):
    """The parent SIGKILLs the child while the rate callable of the chunk starting at 300 ms sleeps:
    every chunk before it was written and flushed, so the file holds exactly [0, 300 ms)."""
    res = _kill_mid_run(tmp_path / "k.h5", ready_ms=300.0, chunk=100, pause=True)
    assert _assert_consistent_prefix(res, 300.0) == pytest.approx(300.0)


def test_sigkill_while_writing(tmp_path):
    """SIGKILL right after the 5th dataset write of the chunk that starts at 100 ms (mid-append):
    the file must still hold a consistent prefix up to its last flush (t_end_ms >= 100 ms)."""
    res = _kill_mid_run(tmp_path / "w.h5", ready_ms=100.0, chunk=10, kill_after_writes=5)
    _assert_consistent_prefix(res, 100.0)


def test_diverging_run_leaves_file_marked_incomplete(tmp_path):
    """A run stopped by SimulationDiverged closes its file with complete = 0 and data up to the stop."""
    from compsim.models import CobaLIF

    net = cs.Network(dt=0.1, seed=1)
    src = net.add(cs.SpikeTrainSource(1, [0, 0], [1.0, 1.0]), name="src")
    lif = net.add(CobaLIF(4), name="lif")
    net.connect(src, lif, "I", 1e308, connectivity=cs.Explicit([0], [3]))  # two spikes: 2e308 pA overflows
    net.record(lif, ["v"])
    with pytest.raises(cs.SimulationDiverged) as err:
        net.run(10.0, output=tmp_path / "div.h5")
    assert (err.value.population, err.value.neuron) == ("lif", 3)
    res = cs.load(tmp_path / "div.h5")
    assert res.attrs["complete"] is False
    assert res.attrs["t_end_ms"] == pytest.approx(err.value.t_ms + 0.1)
    assert np.isfinite(res.state["lif_state"]["v"]).all()
