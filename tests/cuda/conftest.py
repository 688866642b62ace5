"""CUDA tests: on the numba-cuda simulator by default, on a real GPU with FASTDROP_REAL_GPU=1.

The simulator runs every CUDA thread as a Python thread, so these tests use small arrays
(up to a few thousand elements) and at most two blocks per launch; on a GPU they run
unchanged (`make test-gpu`).

NUMBA_ENABLE_CUDASIM is read once, when numba.cuda is first imported: tests/conftest.py
sets it before any test module is imported. It is set here too, so that this folder also
works on its own; if numba.cuda was nevertheless imported without the simulator and there
is no GPU, the tests here fail with a message saying so rather than skip silently.
"""

from __future__ import annotations

import importlib
import os
import sys

import pytest

REAL_GPU = bool(os.environ.get("FASTDROP_REAL_GPU"))  # as tests/conftest.py reads it
if not REAL_GPU:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

# The module, not fastdrop.backends(), the function.
fd_backends = importlib.import_module("fastdrop.dispatch")  # after the environment is set

# A cached answer from before the simulator was switched on would say "no CUDA".
fd_backends.cuda_available.cache_clear()
fd_backends._cuda_backend.cache_clear()


def _import_problem() -> str | None:
    """Why the CUDA backend cannot run here, or None when it can."""
    if not REAL_GPU and "numba.cuda" in sys.modules:
        from numba.cuda.core import config

        if not config.ENABLE_CUDASIM:
            return (
                "numba.cuda was imported before tests/cuda/conftest.py switched the "
                "simulator on; set NUMBA_ENABLE_CUDASIM=1 in tests/conftest.py (or the "
                "environment) so it is set before any test module imports numba.cuda"
            )
    if not fd_backends.cuda_available():
        if REAL_GPU:
            return "FASTDROP_REAL_GPU=1 but numba-cuda sees no CUDA device"
        return "numba-cuda is not importable, so the simulator cannot run"
    return None


@pytest.fixture(autouse=True)
def _cuda_usable():
    problem = _import_problem()
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.fixture
def ck():
    """The CUDA kernel module (imported only once the simulator or a GPU is usable)."""
    from fastdrop.kernels import cuda as kernels

    return kernels


@pytest.fixture
def cdev():
    """The CUDA device-function module (Philox, keep bits, vector loads)."""
    from fastdrop.kernels import cuda_device

    return cuda_device


@pytest.fixture
def grid_of_one(ck, monkeypatch):
    """One block per launch: every block walks several units of the grid-stride loop."""
    from fastdrop.kernels import cuda_launch

    monkeypatch.setattr(cuda_launch, "GRID_LIMIT", 1)

