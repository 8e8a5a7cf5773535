"""Files other tools can live with: HDF5 1.10's tools read a SWMR, chunked, compressed, batched recording;
units on every dataset; end times that agree; the writing library's version.

The h5py wheel bundles a recent HDF5 (2.0 here); writing with ``libver="latest"``
gave files that HDF5 1.10-1.14 (h5dump, HDFView 3.3) could not read. The
command-line tools come from Debian's ``hdf5-tools`` (HDF5 1.10.8); the test is
skipped where they are not installed. h5py 3.11 (built on HDF5 1.14.2, the
library of HDFView 3.3) is fetched once by pip into compsim's cache directory;
that test is skipped where pip cannot fetch it.
"""
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py

import numpy as np
import pytest

import compsim as cs
from compsim.models.segdend import build_segregated_network

H5DUMP, H5LS = shutil.which("h5dump"), shutil.which("h5ls")
needs_tools = pytest.mark.skipif(H5DUMP is None or H5LS is None,
                                 reason="h5dump/h5ls not installed (Debian: apt-get install hdf5-tools)")


OLD_H5PY = "3.11.0"  # wheels bundle HDF5 1.14.2


@pytest.fixture(scope="module")
def batched_recording(tmp_path_factory):
    """A SWMR, chunked, compressed recording with a batch axis: (path, results)."""
    seg = build_segregated_network(20, dt=1.0, batch=2)
    seg.inp.set_rates(np.linspace(0.0, 150.0, 784))
    seg.net.record(seg.hid, ["v_soma", "v_apical"], neurons=[0, 5])
    seg.net.record_spikes(seg.hid)
    seg.net.record_rate(seg.out)
    path = tmp_path_factory.mktemp("compat") / "run.h5"
    return path, seg.net.run(40.0, output=path)


@pytest.fixture(scope="module")
def old_h5py():
    """Directory holding h5py {OLD_H5PY} (HDF5 1.14), unpacked from its wheel (fetched once by pip)."""
    cache = Path(os.environ.get("COMPSIM_CACHE_DIR", Path.home() / ".cache" / "compsim")) / f"h5py-{OLD_H5PY}"
    if not (cache / "h5py" / "__init__.py").exists():
        wheels = cache.with_name(cache.name + "-wheel")
        fetched = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
                                  f"h5py=={OLD_H5PY}", "-d", str(wheels)], capture_output=True, text=True, timeout=300)
        found = sorted(wheels.glob("h5py-*.whl"))
        if fetched.returncode != 0 or not found:
            pytest.skip(f"pip could not fetch h5py {OLD_H5PY}: {fetched.stderr.strip()[-300:]}")
        with zipfile.ZipFile(found[0]) as wheel:
            wheel.extractall(cache)
    return cache


def test_h5py_on_hdf5_1_14_reads_a_batched_recording(batched_recording, old_h5py):
    path, res = batched_recording
    script = (
        "import json, sys, h5py\n"
        "f = h5py.File(sys.argv[1], 'r')\n"
        "print(json.dumps({'hdf5': h5py.version.hdf5_version, 'i': f['monitors/hid_spikes/i'][()].tolist(),\n"
        "                  'v': f['monitors/hid_state/v_apical'][()].tolist(), 'complete': int(f.attrs['complete'])}))\n")
    env = {**os.environ, "PYTHONPATH": str(old_h5py)}
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120,
                         env=env, cwd=old_h5py)
    assert out.returncode == 0, out.stderr[-2000:]
    read = json.loads(out.stdout)
    assert read["hdf5"].startswith("1.14.") and read["complete"] == 1
    np.testing.assert_array_equal(read["i"], res.spikes["hid_spikes"].i)
    np.testing.assert_array_equal(read["v"], res.state["hid_state"]["v_apical"])


@needs_tools
def test_hdf5_1_10_tools_read_a_batched_recording(batched_recording):
    path, res = batched_recording
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
