"""The generated chunk loop: per-population threading, and recompilation when a user's kernel changes."""
import subprocess
import sys
import textwrap

import compsim as cs
from compsim.models import CobaLIF, OutputNeuron

USER_MODEL = '''
from numba import njit
import numpy as np
from compsim.model import Model, Param, Var

class Counter(Model):
    """Adds INCREMENT to v each step (a minimal user-defined model)."""
    params = (Param("unused", 0.0, "1", "no effect"),)
    state_vars = (Var("v", "1", "counter"),)
    ports = ()

    def kernels(self, method):
        return None, update

@njit(inline="always")
def update(i, step, key, c, v):
    return v + INCREMENT, 0
'''

RUN = '''
import sys
sys.path.insert(0, sys.argv[1])
import compsim as cs
from usermodel import Counter
net = cs.Network(dt=1.0)
pop = net.add(Counter(3), name="c")
net.run(10.0)
print(float(pop["v"][0]))
'''


def test_changed_user_kernel_is_recompiled(tmp_path):
    """Numba does not notice edits of inlined callees; compsim hashes the kernel's module into the cache key."""
    env_cache = {"COMPSIM_CACHE_DIR": str(tmp_path / "cache")}
    results = []
    for increment in (1.0, 2.0):
        (tmp_path / "usermodel.py").write_text(USER_MODEL.replace("INCREMENT", repr(increment)))
        proc = subprocess.run([sys.executable, "-c", RUN, str(tmp_path)], capture_output=True, text=True,
                              env={**__import__("os").environ, **env_cache}, timeout=600)
        assert proc.returncode == 0, proc.stderr
        results.append(float(proc.stdout.strip().splitlines()[-1]))
    assert results == [10.0, 20.0]


def test_auto_parallel_threads_only_large_populations():
    net = cs.Network(dt=0.1)
    big = net.add(CobaLIF(16384), name="big")
    small = net.add(OutputNeuron(10), name="small")
    src = net.add(cs.PoissonSource(5, rates=10.0), name="src")
    net.connect(src, big, "ge", 1.0, connectivity=cs.FixedInDegree(1))
    net.connect(src, small, "basal", 1.0)
    text = net.source
    functions = text.split("@njit")
    by_name = {f.split("def ")[1].split("(")[0]: f for f in functions if "def " in f}
    assert "prange(" in by_name[f"step_pop{big.index}"] and "parallel=True" in by_name[f"step_pop{big.index}"]
    assert "prange(" not in by_name[f"step_pop{small.index}"]
    assert "prange(" not in by_name[f"step_pop{src.index}"]
    decorator_of_main_loop = text.split("def run_chunk")[0].rstrip().splitlines()[-1]
    assert "parallel" not in decorator_of_main_loop  # the step loop itself is serial
