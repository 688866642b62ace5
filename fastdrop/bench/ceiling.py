"""The machine's read+write bandwidth ceiling, measured in the same run as the kernels.

A STREAM-style scale y = a * x in a Numba loop: with all threads from SERIAL_BELOW
elements up (numpy's copy is single-threaded and would understate what the memory system
gives, DESIGN.md), and on the calling thread below it, as fastdrop's own kernels run there
(a parallel launch costs more than the work at those sizes; NOTES.md).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..kernels.cpu import SERIAL_BELOW


@njit(inline="always", cache=True)
def _scale(x, y, a):
    for i in prange(x.size):
        y[i] = x[i] * a


@njit(parallel=True, cache=True)
def stream_scale(x, y, a):
    _scale(x, y, a)


def scale_kernel(n: int):
    """The ceiling kernel for n elements: parallel, or serial below SERIAL_BELOW."""
    return stream_scale if n >= SERIAL_BELOW else _scale


def check(x: np.ndarray, y: np.ndarray, a) -> None:
    """The ceiling kernel is checked like any other before it is timed."""
    scale_kernel(x.size)(x, y, a)
    if not np.array_equal(y, x * a):
        raise AssertionError("the ceiling kernel (y = a*x) disagrees with numpy's x * a")
