"""``compsim validate SCRIPT`` (compsim.validate.script.main), reports on disk, convergence with dt."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("brian2")
import compsim as cs  # noqa: E402
import compsim.validate as validate  # noqa: E402
from compsim.models import SegregatedPyramidal  # noqa: E402
from compsim.validate.script import main  # noqa: E402

SCRIPT = """
import numpy as np
import compsim as cs
from compsim.models import OutputNeuron, SegregatedPyramidal

VALIDATE = {"duration": 200.0, "record": {"hid": ["v_soma"], "out": ["v_soma"]}}

def build_network():
    net = cs.Network(dt=0.1, seed=3, method="exponential_euler")
    rng = np.random.default_rng(0)
    inp = net.add(cs.PoissonSource(40, 30.0), name="inp")
    hid = net.add(%(model)s(10), name="hid")
    out = net.add(OutputNeuron(3), name="out")
    net.connect(inp, hid, "basal", rng.uniform(0, 0.5, (10, 40)), synapse=cs.DoubleExponential(3, 10))
    net.connect(hid, out, "basal", rng.uniform(0, 0.5, (3, 10)))
    net.connect(out, hid, "apical", rng.uniform(-1, 1, (10, 3)))
    return net

if __name__ == "__main__":
    raise SystemExit("the validation must not run the script's main block")
"""

# a model whose compiled kernel uses g_a 1 % too large: its Brian2 equations (the declared g_a) disagree
BUGGY = """
class BuggyPyramidal(SegregatedPyramidal):
    def constants(self, p, dt, method):
        return self._soma_constants(p, dt, method, p["g_b"], 1.01 * p["g_a"])
"""


def _script(tmp_path, model="SegregatedPyramidal", extra=""):
    path = tmp_path / "net.py"
    text = SCRIPT % {"model": model}
    head, sep, rest = text.partition("VALIDATE")
    path.write_text(head + textwrap.dedent(extra) + sep + rest)
    return str(path)


def test_cli_passes_and_writes_report(tmp_path, capsys):
    out_h5, out_png = tmp_path / "val.h5", tmp_path / "val.png"
    assert main([_script(tmp_path), "--output", str(out_h5), "--plot", str(out_png)]) == 0
    text = capsys.readouterr().out
    assert "result: PASS" in text and "hid.v_soma" in text
    assert out_png.stat().st_size > 10000
    report = validate.load_report(out_h5)
    assert report.passed and report.attrs["n_steps"] == 2000
    tr = report.traces[("hid", "v_soma")]
    assert tr.compsim.shape == tr.brian2.shape == (2000, 10)
    assert report.spikes["hid"].measures["identical"]


def test_cli_catches_parameter_off_by_one_percent(tmp_path, capsys):
    assert main([_script(tmp_path), "--perturb", "hid.g_a=1.01", "-q"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_cli_catches_a_wrong_kernel_constant(tmp_path, capsys):
    assert main([_script(tmp_path, "BuggyPyramidal", BUGGY), "--duration", "100"]) == 1
    assert "hid.v_soma: max relative error" in capsys.readouterr().out


def test_cli_usage_errors(tmp_path):
    assert main([str(tmp_path / "missing.py")]) == 2
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    assert main([str(empty)]) == 2
    assert main([_script(tmp_path), "--record", "nope:v"]) == 2
    assert main(["--help"]) == 0


def test_compsim_command_dispatches_to_validate(tmp_path, capsys):
    from compsim.cli import main as compsim_main

    assert compsim_main(["validate", _script(tmp_path), "--duration", "50", "-q", "--perturb", "out.g_d=1.01"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_module_entry_point(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "compsim.validate", _script(tmp_path), "--duration", "50", "-q",
                           "--record", "out:v_soma,v_basal"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith("PASS")


def _subthreshold(dt=0.1):
    rng = np.random.default_rng(1)
    times = np.round(rng.uniform(0, 100, 200), 1)
    idx = rng.integers(0, 10, 200)
    net = cs.Network(dt=dt, seed=2, method="exponential_euler")
    src = net.add(cs.SpikeTrainSource(10, idx, times), name="src")
    hid = net.add(SegregatedPyramidal(5, phi_max=0.0), name="hid")
    net.connect(src, hid, "basal", np.random.default_rng(0).uniform(0, 1, (5, 10)),
                synapse=cs.DoubleExponential(3.0, 10.0))
    return net


@pytest.mark.parametrize("method", ["exact", "euler"])
def test_convergence_with_different_methods(method, tmp_path):
    """compsim's exponential Euler against Brian2's exact / Euler solver: the error halves with dt (order 1)."""
    report = validate.against_brian2(_subthreshold, 100.0, record={"hid": ["v_soma", "v_basal"]}, method=method)
    c = report.convergence
    assert c is not None and c["dt_ms"] == [0.1, 0.05, 0.025] and c["expected_order"] == 1
    assert 0.9 <= c["order"]["hid.v_soma"] <= 1.1, c
    errs = c["errors"]["hid.v_soma"]
    assert errs[0] > errs[1] > errs[2] > 0
    if method == "exact":  # both integrate the synaptic traces exactly: rounding only
        assert "hid.v_basal" in c["roundoff"]
    assert report.passed, report.summary()
    assert "convergence" in report.summary()
    report.plot(tmp_path / "conv.png")


def test_refine_needs_a_builder():
    with pytest.raises(ValueError, match="build"):
        validate.against_brian2(_subthreshold(), 10.0, method="euler", refine=(1, 2))
