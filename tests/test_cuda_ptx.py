"""The CUDA backend's chunk kernels compile for a real GPU (``compsim.engine.cuda.compile_ptx``).

numba-cuda's simulator (``tests/test_cuda_backend.py``) runs the generated kernel as Python, so it proves
indexing, order and synchronisation, not that the kernel and the CPU kernels it calls compile for the device
(array assignments, NumPy ufuncs on scalars and functions returning new arrays do not). These tests compile every
network of the parity tests to PTX for compute capability 9.0 (H100/H200) with NVIDIA's NVVM, and assemble the PTX
with ``ptxas`` (registers, parameter space) where it is installed. No GPU is needed, but NVVM is
(``pip install "compsim[cuda]"``); without it they are skipped. Each runs in a subprocess with the simulator
off, because numba reads ``NUMBA_ENABLE_CUDASIM`` once, when it is imported.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
#: compute capability compiled for (Hopper: H100, H200)
CC = (9, 0)
#: network name -> expression building it (CPU backend) from ``test_cuda_backend``'s builders, imported as ``t``
NETWORKS = {
    "coba float64, batch": "t.coba_net('cpu')",
    "coba float32": "t.coba_net('cpu', dtype='float32')",
    "busy sparse delivery": "t.busy_sparse_net('cpu')",
    "large populations (parallel spike collection)": "t.many_neurons_net('cpu')",
    "segregated, FIR, same step": "t.segregated_net('cpu')",
    "spike replay": "t.diverging_net('cpu')",
    **{f"built-in: {group}": f"t.built_in_net('cpu', {group!r})" for group in (
        "CWA rate and spiking", "Naud-Sprekeler, Urbanczik-Senn, active dendrites")},
    "cobahh and the bac cell": "t.cobahh_bac_net('cpu')",
    "pair and triplet stdp": "t.stdp_net('cpu')",
    "two-phase protocol": "t.segregated_training('cpu')[0].net",
    "two-phase, two hidden layers, learned sparse feedback": (
        "t.segregated_training('cpu', (10, 6), spike_mode='poisson', sparse_feedback=True, feedback='learned', "
        "feedback_etas=(0.1, 0.1))[0].net"),
    "two-phase, symmetric feedback": "t.segregated_training('cpu', feedback='symmetric')[0].net",
    "two-phase, faithful kernel, learned feedback": (
        "t.segregated_training('cpu', (10, 6), faithful=True, feedback='learned', feedback_etas=(0.1, 0.1))[0].net"),
}

_PROBE = "from numba import cuda, float64\ncuda.compile_ptx(lambda a: None, (float64[:],), cc=(9, 0))\n"


def _without_simulator():
    return {**os.environ, "NUMBA_ENABLE_CUDASIM": "0"}


@pytest.fixture(scope="module")
def nvvm():
    """Skip unless NVIDIA's NVVM is installed (numba-cuda compiles to PTX with it)."""
    probe = subprocess.run([sys.executable, "-c", _PROBE], env=_without_simulator(), capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("NVVM is not installed (pip install 'compsim[cuda]'): "
                    + (probe.stderr.strip().splitlines() or ["?"])[-1][:200])


def _ptxas():
    """NVIDIA's PTX assembler from the nvidia-cuda-nvcc wheel, or None."""
    try:
        import nvidia.cuda_nvcc
    except ImportError:
        return None
    path = Path(next(iter(nvidia.cuda_nvcc.__path__))) / "bin" / "ptxas"
    return path if path.exists() else None


@pytest.mark.parametrize("name", NETWORKS)
def test_chunk_kernel_compiles_for_the_device(name, nvvm, tmp_path):
    ptx = tmp_path / "kernel.ptx"
    code = (f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n"
            "import test_cuda_backend as t\n"
            "from compsim.engine import cuda\n"
            f"text = cuda.compile_ptx({NETWORKS[name]}, cc={CC!r})\n"
            f"open({str(ptx)!r}, 'w').write(text)\n")
    env = {**_without_simulator(), "COMPSIM_CACHE_DIR": os.environ.get("COMPSIM_CACHE_DIR", str(tmp_path / "cache"))}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    text = ptx.read_text()
    assert ".entry" in text and "run_chunk" in text and f".target sm_{CC[0]}{CC[1]}" in text
    ptxas = _ptxas()
    if ptxas is not None:
        arch = f"sm_{CC[0]}{CC[1]}"
        assembled = subprocess.run([str(ptxas), f"-arch={arch}", "-c", str(ptx), "-o", str(tmp_path / "kernel.o")],
                                   capture_output=True, text=True)
        assert assembled.returncode == 0, assembled.stderr[-4000:]
