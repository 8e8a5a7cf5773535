"""Ctrl-C and SIGTERM during a run that streams to HDF5: the run stops within a chunk, the file opens,
is marked incomplete and holds exactly the steps up to its end time.

The signal is sent at a random moment of the run, 20 times (SIGINT) and 3 times (SIGTERM).
"""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import compsim as cs

CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    import compsim as cs
    from compsim.models import CobaLIF

    net = cs.Network(dt=0.1, seed=1, chunk_steps=200)
    src = net.add(cs.PoissonSource(200, 20.0), name="src")
    lif = net.add(CobaLIF(400), name="lif")
    net.connect(src, lif, "ge", 2.0, connectivity=cs.FixedProbability(0.1))
    net.record(lif, "v", neurons=np.arange(0, 400, 40))
    net.record_spikes(lif)
    net.build()
    print("running", flush=True)
    net.run(1_000_000.0, output=sys.argv[1])
""")


def _interrupt_once(tmp_path, k, signum, rng):
    path = tmp_path / f"run{k}.h5"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "running"
        time.sleep(rng.uniform(0.05, 0.6))
        sent = time.perf_counter()
        proc.send_signal(signum)
        proc.wait(timeout=60)
        waited = time.perf_counter() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read()
    return path, proc.returncode, stderr, waited


def _check_file(path):
    res = cs.load(path)
    assert not res.attrs["complete"]
    t_end = res.attrs["t_end_ms"]
    assert t_end > 0.0
    steps = round(t_end / 0.1)
    v = res.state["lif_state"]
    assert v.t.size == steps and v["v"].shape == (steps, 10)  # every step up to t_end, nothing after
    np.testing.assert_allclose(v.t, np.arange(steps) * 0.1, atol=1e-9)
    assert np.all(res.spikes["lif_spikes"].t < t_end)
    return t_end


@pytest.mark.parametrize("signum,count", [(signal.SIGINT, 20), (signal.SIGTERM, 3)])
def test_a_signal_stops_a_streaming_run_cleanly(tmp_path, signum, count):
    rng = np.random.default_rng(int(signum))
    for k in range(count):
        path, code, stderr, waited = _interrupt_once(tmp_path, k, signum, rng)
        if signum == signal.SIGINT:
            assert code != 0 and "KeyboardInterrupt" in stderr, stderr
        else:
            assert code == 128 + signal.SIGTERM, (code, stderr)
        assert waited < 5.0  # one chunk is a few ms: the run stops at once
        _check_file(path)


def test_handlers_are_restored_after_a_run():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    net = cs.Network(dt=0.1)
    net.add(cs.PoissonSource(3, 10.0), name="src")
    net.run(1.0)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert os.getpid() > 0
