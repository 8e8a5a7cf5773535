"""Checkpoints: 500 ms, save, restore in a fresh process, 500 ms more == 1,000 ms uninterrupted, bit for bit.

Also: a recording continued into the same HDF5 file after the restore, restoring
into another structure (a clear ValueError naming the mismatch) and
``reset_state``.
"""
import importlib
import subprocess
import sys

import numpy as np
import pytest

import compsim as cs
from compsim.models.coba import build_coba
from compsim.models.segdend import build_segregated_network

BUILDERS = '''
import numpy as np
import compsim as cs
from compsim.data.mnist import load_mnist
from compsim.models.coba import build_coba
from compsim.models.segdend import build_segregated_network


def coba():
    c = build_coba(1000, seed=2)
    c.net.record(c.exc, ["v", "ge"], neurons=[0, 10, 500])
    return c.net, {"exc": c.exc, "inh": c.inh}


def segregated():
    seg = build_segregated_network(80, seed=4, dt=1.0)
    seg.inp.set_image(load_mnist(1)[0][0])
    seg.out.teach(np.eye(10)[3] * 0.7)
    seg.net.record_spikes(seg.hid)
    seg.net.record_spikes(seg.out)
    seg.net.record(seg.hid, ["v_soma", "v_basal"], neurons=[0, 40, 79])
    seg.net.average(seg.out, ["v_soma"])
    return seg.net, {"hid": seg.hid, "out": seg.out}
'''

CHILD = '''
import sys
sys.path.insert(0, {tmp!r})
import numpy as np
import builders
net, pops = builders.{kind}()
net.restore_checkpoint({checkpoint!r})
res = net.run(500.0, output={output!r}, append={append})
arrays = {{f"{{name}}_{{v}}": pop[v] for name, pop in pops.items() for v in pop.var_names}}
arrays["step"] = np.array([net.step])
np.savez({final!r}, **arrays)
'''


def _state(pops):
    return {f"{name}_{v}": np.array(pop[v]) for name, pop in pops.items() for v in pop.var_names}


def _continue_in_fresh_process(tmp_path, kind, append):
    (tmp_path / "builders.py").write_text(BUILDERS)
    sys.path.insert(0, str(tmp_path))
    try:
        builders = importlib.import_module("builders")  # the same builders here and in the child
        net, pops = getattr(builders, kind)()
        first = tmp_path / "first.h5"
        net.run(500.0, output=first)
        net.save_checkpoint(tmp_path / "ck.h5")
        reference_net, reference_pops = getattr(builders, kind)()
        reference = reference_net.run(1000.0, output=tmp_path / "reference.h5")
        final = tmp_path / "final.npz"
        output = first if append else tmp_path / "second.h5"
        code = CHILD.format(tmp=str(tmp_path), kind=kind, checkpoint=str(tmp_path / "ck.h5"), output=str(output),
                            append=append, final=str(final))
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("builders", None)
    got = np.load(final)
    assert int(got["step"][0]) == reference_net.step
    for key, value in _state(reference_pops).items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)
    return reference, cs.load(output)


def _assert_same_after(reference, continued, t0):
    for name, train in reference.spikes.items():
        keep = train.t >= t0 - 1e-9
        other = continued.spikes[name]
        mine = other.t >= t0 - 1e-9
        np.testing.assert_array_equal(other.t[mine], train.t[keep], err_msg=name)
        np.testing.assert_array_equal(other.i[mine], train.i[keep], err_msg=name)
    for name, trace in reference.state.items():
        keep = trace.t >= t0 - 1e-9
        other = continued.state[name]
        mine = other.t >= t0 - 1e-9
        np.testing.assert_array_equal(other.t[mine], trace.t[keep])
        for var in trace.vars:
            np.testing.assert_array_equal(other[var][mine], trace[var][keep], err_msg=f"{name}.{var}")


def test_coba_continues_bit_identically_in_a_fresh_process(tmp_path):
    reference, continued = _continue_in_fresh_process(tmp_path, "coba", append=False)
    assert reference.spikes["exc_spikes"].count() > 1000
    assert continued.state["exc_state"].t[0] == pytest.approx(500.0)
    _assert_same_after(reference, continued, 500.0)


def test_segregated_network_continues_into_the_same_file(tmp_path):
    reference, continued = _continue_in_fresh_process(tmp_path, "segregated", append=True)
    assert continued.attrs["complete"] and continued.attrs["t_end_ms"] == pytest.approx(1000.0)
    assert reference.spikes["hid_spikes"].count() > 1000
    _assert_same_after(reference, continued, 0.0)  # the whole file equals the uninterrupted recording
    assert continued.state["hid_state"]["v_soma"].shape == reference.state["hid_state"]["v_soma"].shape


def test_restoring_into_another_structure_names_the_mismatch(tmp_path):
    c = build_coba(200, seed=2)
    c.net.run(10.0)
    c.net.save_checkpoint(tmp_path / "ck.h5")
    with pytest.raises(ValueError, match=r"populations\['exc'\]\.n: checkpoint 160, this network 240"):
        build_coba(300, seed=2).net.restore_checkpoint(tmp_path / "ck.h5")
    with pytest.raises(ValueError, match=r"network\.batch: checkpoint 1, this network 2"):
        build_coba(200, seed=2, batch=2).net.restore_checkpoint(tmp_path / "ck.h5")
    with pytest.raises(ValueError, match=r"network\.seed"):
        build_coba(200, seed=3).net.restore_checkpoint(tmp_path / "ck.h5")
    with pytest.raises(ValueError, match=r"network\.dt_ms"):
        build_coba(200, seed=2, dt=0.05).net.restore_checkpoint(tmp_path / "ck.h5")
    with pytest.raises(ValueError, match=r"network\.first_copy"):
        build_coba(200, seed=2, first_copy=1).net.restore_checkpoint(tmp_path / "ck.h5")
    other = build_coba(200, seed=2)
    other.net.connect(other.exc, other.exc, "I", 1.0)
    with pytest.raises(ValueError, match=r"projections has 4 entries in the checkpoint, 5 in this network"):
        other.net.restore_checkpoint(tmp_path / "ck.h5")
    with pytest.raises(ValueError, match="not a compsim checkpoint"):
        c.net.run(1.0, output=tmp_path / "results.h5")
        build_coba(200, seed=2).net.restore_checkpoint(tmp_path / "results.h5")


def test_restore_brings_back_weights_rates_and_averages(tmp_path):
    seg = build_segregated_network(20, seed=1, dt=1.0)
    seg.inp.set_rates(np.linspace(0.0, 100.0, 784))
    avg = seg.net.average(seg.out, ["v_soma"])
    seg.net.run(30.0)
    seg.forward_output.set_weights(np.full((10, 20), 0.25))
    seg.net.save_checkpoint(tmp_path / "ck.h5")
    other = build_segregated_network(20, seed=1, dt=1.0)
    other_avg = other.net.average(other.out, ["v_soma"])
    other.net.restore_checkpoint(tmp_path / "ck.h5")
    np.testing.assert_array_equal(other.forward_output.weights, np.full((10, 20), 0.25))
    np.testing.assert_array_equal(other.inp.rates_for(30, 1, 1.0)[0, 0], np.linspace(0.0, 100.0, 784))
    assert other_avg.steps == avg.steps == 30
    np.testing.assert_array_equal(other_avg.mean("v_soma"), avg.mean("v_soma"))
    assert other.net.step == 30


def test_reset_state_replays_the_first_run():
    c = build_coba(400, seed=5)
    first = c.net.run(100.0)
    spikes = (first.spikes["exc_spikes"].t.copy(), first.spikes["exc_spikes"].i.copy())
    c.net.reset_state()
    assert c.net.step == 0
    second = c.net.run(100.0)  # recordings accumulate in memory: the second run follows the first
    train = second.spikes["exc_spikes"]
    again = train.t.size - spikes[0].size
    np.testing.assert_array_equal(train.t[-again:], spikes[0])
    np.testing.assert_array_equal(train.i[-again:], spikes[1])
