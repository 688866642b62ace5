"""Thread control for a training run: Numba's parallel loops and numpy's BLAS.

The trainer pins both for a run (restoring BLAS afterwards); the harness's probe task and
bench/train_peers.py use the same functions, so every arm of a comparison counts its
threads the same way. numpy's BLAS is its bundled OpenBLAS (scipy-openblas), reached
through ctypes because numpy has no API for it; where it is not found the BLAS calls are
no-ops that say so (set_blas_threads returns False, get_blas_threads None).
"""

from __future__ import annotations

import ctypes
import glob
import os

import numba
import numpy as np


def _openblas():
    """numpy's bundled OpenBLAS (scipy-openblas) as a ctypes handle, or None."""
    base = os.path.dirname(np.__file__)
    for pattern in ("../numpy.libs/libscipy_openblas*.so*", ".dylibs/libscipy_openblas*"):
        for path in glob.glob(os.path.join(base, pattern)):
            try:
                return ctypes.CDLL(path)
            except OSError:
                continue
    return None


def set_numba_threads(n: int) -> int:
    """Use n threads in Numba's parallel loops (at most NUMBA_NUM_THREADS)."""
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
    return numba.get_num_threads()


def _blas_fn(*names):
    lib = _openblas()
    for name in names:
        fn = getattr(lib, name, None) if lib is not None else None
        if fn is not None:
            return fn
    return None


def get_blas_threads() -> int | None:
    fn = _blas_fn("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
                  "openblas_get_num_threads")
    if fn is None:
        return None
    fn.restype = ctypes.c_int
    return int(fn())


def set_blas_threads(n: int) -> bool:
    """Use n threads in numpy's BLAS (numpy's bundled OpenBLAS); False when not found."""
    fn = _blas_fn("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                  "openblas_set_num_threads")
    if fn is None:
        return False
    fn(ctypes.c_int(int(n)))
    return True


def set_threads(n: int) -> dict:
    """Use n threads in Numba's parallel loops and in numpy's BLAS (best effort)."""
    return {"numba": set_numba_threads(n), "blas": n if set_blas_threads(n) else None}


def thread_counts() -> dict:
    """The thread counts in use now: {"numba", "blas"} (blas None when not found)."""
    return {"numba": numba.get_num_threads(), "blas": get_blas_threads()}
