#!/usr/bin/env bash
# The checks of the CUDA backend that need a GPU, prepared to run in one go on a machine that has one:
#
#   benchmarks/gpu_checks.sh [parity|scale|train|all] [LOG_DIR]
#
#   parity  NUMBA_ENABLE_CUDASIM=0 pytest tests/test_cuda_backend.py: the parity tests on the device
#           (states to 1e-12 relative, spike trains equal); most of its minutes are compilation
#   scale   benchmarks/scale.py on the GPU: COBA 10^4 and 10^6 neurons (fixed in-degree 80), the segregated
#           network at B = 64 and 512, COBAHH at 1.024 million neurons; 100 ms simulated each. Compare COBA
#           10^6 with the CPU backend on the project's 2-core machine (README scale table; target >= 20x) and
#           COBAHH with the target of <= 3 s per biological second
#   train   benchmarks/train_segregated.py on the GPU: fast mode (B = 64 and 512) training and test images/s of the
#           784-500-10 segregated-dendrite network (the learning issue's target: >= 5,000 training images/s at B = 64)
#   all     all three (the default)
#
# Expects Python with numpy, numba, numba-cuda (and NVIDIA's NVVM), h5py, scipy, matplotlib and pytest installed;
# installs compsim itself from this checkout (unless it is installed) without touching the network. Logs go to LOG_DIR (default
# gpu-checks/): parity.log, scale.log, train.log.
set -uo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
logs=${2:-gpu-checks}
mkdir -p "$logs"
export PYTHONUNBUFFERED=1 NUMBA_ENABLE_CUDASIM=0
export COMPSIM_CACHE_DIR=${COMPSIM_CACHE_DIR:-/tmp/compsim-cache}
python3 -c "import compsim.models" 2>/dev/null || python3 -m pip install -q --no-deps --no-build-isolation --no-index -e . \
    || exit 1
python3 -m compsim.cli info --backends
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
status=0
if [[ $what == parity || $what == all ]]; then
    python3 -m pytest -q -x -p no:cacheprovider tests/test_cuda_backend.py 2>&1 | tee "$logs/parity.log" || status=1
fi
if [[ $what == scale || $what == all ]]; then
    python3 benchmarks/scale.py --backends cuda --coba 10000,1000000 --segdend 64,512 --cobahh 1024000 \
        --duration-ms 100 2>&1 | tee "$logs/scale.log" || status=1
fi
if [[ $what == train || $what == all ]]; then
    for batch in 64 512; do
        python3 benchmarks/train_segregated.py --backend cuda --modes fast --batch $batch --images 4096 2>&1 \
            | tee -a "$logs/train.log" || status=1
    done
fi
exit $status
