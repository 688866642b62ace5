"""The machine's read+write bandwidth ceiling, measured in the same run as the kernels.

A STREAM-style scale y = a * x in a Numba parallel loop with all threads: numpy's copy is
single-threaded and would understate what the memory system gives (DESIGN.md).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def stream_scale(x, y, a):
    for i in prange(x.size):
        y[i] = x[i] * a


def check(x: np.ndarray, y: np.ndarray, a) -> None:
    """The ceiling kernel is checked like any other before it is timed."""
    stream_scale(x, y, a)
    if not np.array_equal(y, x * a):
        raise AssertionError("stream_scale disagrees with numpy's x * a")
