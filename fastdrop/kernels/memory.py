"""Host output buffers the CPU kernels write fastest: no Numba, importable anywhere."""

from __future__ import annotations

import math

import numpy as np

# Non-temporal stores pay where the output cannot stay in cache anyway, and cost where it
# could (the next reader then goes to memory). Measured here, y = 2x over n float32 (the
# ceiling kernel, best of 15, 2 threads): plain / streaming stores, Gelem/s: 2^20 4.99 /
# 2.82, 2^23 4.01 / 2.68, 2^24 3.78 / 4.93, 2^25 3.42 / 5.52, 2^26 3.40 / 5.66 (NOTES.md).
# So from 64 MiB of output up: past the last-level cache one core can use on common
# machines (32 MiB per Zen CCX; Intel's is shared by all cores). cpu.streaming() reads it.
STREAM_FROM_BYTES = 64 << 20


def aligned_empty(shape, dtype) -> np.ndarray:
    """np.empty, 64-byte aligned where the CPU kernels would stream into it (outputs of
    STREAM_FROM_BYTES and more). numpy's large allocations sit at 16 mod 64 bytes, where
    the kernels' non-temporal stores go out 16 bytes at a time; 32-byte aligned, 32 at a
    time (2^26 float32, two threads: forward 4.56-4.78 -> 5.01-5.42 Gelem/s, NOTES.md
    step 30). Smaller arrays as np.empty gives them: no over-allocation, nothing added to a
    short call."""
    dtype = np.dtype(dtype)
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (int(shape),)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < STREAM_FROM_BYTES:
        return np.empty(shape, dtype)
    raw = np.empty(nbytes + 64, np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start:start + nbytes].view(dtype).reshape(shape)
