"""Test session set-up: the CUDA backend's tests run on numba's CUDA simulator unless told otherwise.

``NUMBA_ENABLE_CUDASIM`` must be set before numba is imported; ``NUMBA_ENABLE_CUDASIM=0 pytest
tests/test_cuda_backend.py`` runs those tests on a real GPU instead.
"""
import os

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
