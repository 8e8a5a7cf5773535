"""The command line, the demo, the quick-start example and the benchmark worker run end to end."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

import compsim as cs
from compsim.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]


def test_demo_quick_writes_hdf5_and_figures(tmp_path, capsys):
    assert cli(["demo", "--quick", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "COBA: 400 neurons" in out and "Segregated dendrites 784-50-10" in out
    coba = cs.load(tmp_path / "coba.h5")
    assert coba.attrs["complete"] and coba.attrs["t_end_ms"] == 200.0
    assert coba.spikes["exc_spikes"].count() > 0
    seg = cs.load(tmp_path / "segdend.h5")
    assert seg.attrs["t_end_ms"] == 100.0  # 2 images x 50 ms
    assert set(seg.state) == {"hid_state", "out_state"}
    pngs = list(tmp_path.glob("*.png"))
    assert len(pngs) >= 8 and all(p.stat().st_size > 5000 for p in pngs)
    assert "learning MNIST" in out and "trained predictions" in out
    import h5py

    with h5py.File(tmp_path / "segregated_mnist" / "learning_curve.h5", "r") as f:  # tested at 0, 100, 200 digits
        np.testing.assert_allclose(f["epoch"][()], [0.0, 0.5, 1.0])
        assert f["heldout_accuracy"].attrs["units"] == "1" and len(f["heldout_accuracy"][()]) == 3
    assert (tmp_path / "segregated_mnist" / "learning_curve.png").stat().st_size > 5000


def test_info_and_plot(tmp_path, capsys):
    net = cs.Network(dt=0.1, seed=3)
    src = net.add(cs.PoissonSource(20, rates=50.0), name="src")
    from compsim.models import CobaLIF

    lif = net.add(CobaLIF(5), name="lif")
    net.connect(src, lif, "ge", 5.0, connectivity=cs.FixedProbability(0.5))
    net.record(lif, ["v", "ge"])
    net.record_spikes(src)
    net.run(50.0, output=tmp_path / "x.h5")
    assert cli(["info", str(tmp_path / "x.h5")]) == 0
    info = capsys.readouterr().out
    assert "lif: CobaLIF(5)" in info and "src -> lif.ge: sparse" in info and "numba_version" in info
    assert cli(["plot", str(tmp_path / "x.h5"), "-o", str(tmp_path / "figs")]) == 0
    assert sorted(p.name for p in (tmp_path / "figs").glob("*.png")) == [
        "lif_state_traces.png", "src_spikes_raster.png"]
    assert cli(["plot", str(tmp_path / "x.h5"), "-o", str(tmp_path / "pdf"), "--format", "pdf", "--window", "10",
                "30", "--neurons", "0:3"]) == 0
    pdfs = sorted((tmp_path / "pdf").glob("*.pdf"))
    assert [p.name for p in pdfs] == ["lif_state_traces.pdf", "src_spikes_raster.pdf"]
    assert all(p.read_bytes()[:5] == b"%PDF-" for p in pdfs)


def test_run_script(tmp_path):
    script = tmp_path / "sim.py"
    script.write_text(
        "import sys, compsim as cs\n"
        "net = cs.Network(dt=0.1, seed=1)\n"
        "src = net.add(cs.PoissonSource(10, rates=100.0))\n"
        "net.record_spikes(src)\n"
        "res = net.run(100.0)\n"
        "open(sys.argv[1], 'w').write(str(res.spikes['poissonsource0_spikes'].count()))\n"
    )
    assert cli(["run", str(script), str(tmp_path / "count.txt")]) == 0
    assert int((tmp_path / "count.txt").read_text()) > 0


def test_quickstart_example(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    res = cs.load(tmp_path / "quickstart_output" / "quickstart.h5")
    assert res.state["hid_state"]["v_apical"].shape == (10000, 50)
    assert (tmp_path / "quickstart_output" / "hid_state_traces.png").exists()


def test_benchmark_worker_reports_required_fields():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "_compsim_coba.py"), "--n", "400",
                           "--threads", "1", "--duration-ms", "100", "--seed", "2"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
    rec = json.loads(line[len("RESULT "):])
    for key in ("workload", "n", "engine", "mode", "threads", "sim_s", "compile_s", "total_s", "peak_rss_mb",
                "spikes"):
        assert key in rec
    assert rec["engine"] == "compsim" and rec["n"] == 400 and rec["spikes"] > 0
    assert np.isfinite(rec["sim_s"]) and rec["sim_s"] > 0


def test_stdp_example(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "stdp.py"), "2000"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    res = cs.load(tmp_path / "stdp_output" / "stdp.h5")
    assert res.state["weights"]["w"].shape == (20, 1000) and res.attrs["complete"]
    assert (tmp_path / "stdp_output" / "weights.png").stat().st_size > 10000
    assert "output rate" in proc.stdout


def test_info_reads_metadata_of_a_batched_sweep(tmp_path, capsys):
    from compsim.cli import main
    from compsim.models import CobaLIF

    net = cs.Network(dt=0.1, batch=2)
    lif = net.add(CobaLIF(4, tau_m=[10.0, 20.0]), name="lif")
    net.record(lif, "v")
    net.run(5.0, output=tmp_path / "sweep.h5")
    assert main(["info", str(tmp_path / "sweep.h5")]) == 0
    out = capsys.readouterr().out
    assert "batch = 2, complete" in out and "v (50, 2, 4)" in out and "tau_m=[10, 20] ms" in out
