"""Files other tools can live with: HDF5 1.10's tools read a SWMR, chunked, compressed, batched recording;
units on every dataset; end times that agree; the writing library's version.

The h5py wheel bundles a recent HDF5 (2.0 here); writing with ``libver="latest"``
gave files that HDF5 1.10-1.14 (h5dump, HDFView 3.3) could not read. The
command-line tools come from Debian's ``hdf5-tools`` (HDF5 1.10.8); the test is
skipped where they are not installed.
"""
import shutil
import subprocess

import h5py

import numpy as np
import pytest

import compsim as cs
from compsim.models.segdend import build_segregated_network

H5DUMP, H5LS = shutil.which("h5dump"), shutil.which("h5ls")
needs_tools = pytest.mark.skipif(H5DUMP is None or H5LS is None,
                                 reason="h5dump/h5ls not installed (Debian: apt-get install hdf5-tools)")


@needs_tools
def test_hdf5_1_10_tools_read_a_batched_recording(tmp_path):
    seg = build_segregated_network(20, dt=1.0, batch=2)
    seg.inp.set_rates(np.linspace(0.0, 150.0, 784))
    seg.net.record(seg.hid, ["v_soma", "v_apical"], neurons=[0, 5])
    seg.net.record_spikes(seg.hid)
    seg.net.record_rate(seg.out)
    path = tmp_path / "run.h5"
    res = seg.net.run(40.0, output=path)
    listing = subprocess.run([H5LS, "-r", str(path)], capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0 and "ERROR" not in listing.stdout, listing.stdout + listing.stderr
    assert "/monitors/hid_state/v_soma Dataset {40/Inf, 2, 2}" in listing.stdout
    header = subprocess.run([H5DUMP, "-H", str(path)], capture_output=True, text=True, timeout=60)
    assert header.returncode == 0 and "ERROR" not in header.stdout + header.stderr
    dump = subprocess.run([H5DUMP, "-d", "/monitors/hid_spikes/i", "-y", "-w", "0", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert dump.returncode == 0
    data = dump.stdout.split("DATA {")[1].split("}")[0]
    values = np.array([int(x) for x in data.replace(",", " ").split()])
    np.testing.assert_array_equal(values, res.spikes["hid_spikes"].i)
    assert cs.load(path).attrs["complete"]


def test_end_times_agree_units_on_datasets_and_library_version(tmp_path):
    seg = build_segregated_network(10, dt=1.0)
    seg.inp.set_rates(50.0)
    seg.net.record(seg.hid, "v_soma")
    seg.net.record_spikes(seg.hid)
    path = tmp_path / "run.h5"
    with seg.net.recording(path):
        seg.net.run(20.0)
        with h5py.File(path, "r", swmr=True) as f:  # while the run writes: the end time is the dataset's only
            assert "t_end_ms" not in f.attrs and f["t_end_ms"][0] == 20.0 and f.attrs["complete"] == 0
        seg.net.run(10.0)
    with h5py.File(path, "r") as f:
        assert f.attrs["t_end_ms"] == f["t_end_ms"][0] == 30.0 and f.attrs["complete"] == 1
        assert f.attrs["hdf5_version"] == h5py.version.hdf5_version
        state, spikes = f["monitors/hid_state"], f["monitors/hid_spikes"]
        assert state["t"].attrs["units"] == "ms" and state["v_soma"].attrs["units"] == "1"
        assert spikes["t"].attrs["units"] == "ms"
