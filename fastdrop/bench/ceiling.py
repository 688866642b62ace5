"""The machine's read+write bandwidth ceiling, measured in the same run as the kernels.

A STREAM-style scale y = a * x in a Numba loop: with all threads from SERIAL_BELOW
elements up (numpy's copy is single-threaded and would understate what the memory system
gives, DESIGN.md), and on the calling thread below it, as fastdrop's own kernels run there
(a parallel launch costs more than the work at those sizes; NOTES.md).

Where fastdrop's kernels write their output with non-temporal stores (kernels/cpu.py
`streaming`: outputs of STREAM_FROM_BYTES and more), so does the ceiling: a ceiling that
paid the write-allocate read the kernels skip would be beaten by them (a share above 1),
and at those sizes the streaming scale is the faster of the two (5.66 against 3.40
Gelem/s at 2^26 float32, NOTES.md), so it is the one no kernel can beat.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..kernels._numba_ext import PLAIN, SCALE, select32_run, sfence
from ..kernels.cpu import CHE, PF_MASK_STEP, SERIAL_BELOW, streaming

_ALL = np.full(4, 0xFF, np.uint8)  # every lane kept: select32_run is then a plain scale
_BLOCKS = 256


@njit(inline="always", cache=True)
def _scale(x, y, a):
    for i in prange(x.size):
        y[i] = x[i] * a


@njit(parallel=True, cache=True)
def stream_scale(x, y, a):
    _scale(x, y, a)


@njit(parallel=True, cache=True)
def stream_scale_nt(x, y, a, stream):
    """y = a * x with non-temporal stores as the kernels make them (`stream`:
    cpu.streaming(y)): the loop of the backward from a stored mask (select32_run, with
    every lane kept), x prefetched into L2 as it does (cpu.PF_MASK_STEP ahead at every
    32 elements: without, this ceiling ran 6-7% slower at 2^26 float32, NOTES.md
    steps 37-38, and the kernels' own prefetches would beat it), in blocks of chunks (one
    fence per block, as the kernels do)."""
    n = x.size
    nq = n - n % 32
    nchunks = (n + CHE - 1) // CHE
    nblk = min(nchunks, _BLOCKS)
    for blk in prange(nblk):
        for ch in range(blk * nchunks // nblk, (blk + 1) * nchunks // nblk):
            e0 = ch * CHE  # a run per chunk as the kernel's: one per block ran 15-20% slower
            select32_run(x, y, e0, _ALL, 0, 0, (min(e0 + CHE, nq) - e0) // 32, a, a, a,
                         SCALE, stream, PF_MASK_STEP)
        sfence()
    for e in range(nq, n):
        y[e] = x[e] * a


def scale_kernel(n: int, y: np.ndarray | None = None):
    """The ceiling kernel for n elements: parallel, or serial below SERIAL_BELOW; with
    non-temporal stores where the kernels would stream into y, made as theirs would be
    (ymm-wide into 32-byte aligned memory, xmm-wide into 16; `.stream` says which)."""
    if n < SERIAL_BELOW:
        return _scale
    mode = PLAIN if y is None else streaming(y)
    if mode == PLAIN:
        return stream_scale

    def scale_nt(x, y, a):
        stream_scale_nt(x, y, a, mode)

    scale_nt.stream = mode
    return scale_nt


def check(x: np.ndarray, y: np.ndarray, a) -> None:
    """The ceiling kernel is checked like any other before it is timed."""
    scale_kernel(x.size, y)(x, y, a)
    if not np.array_equal(y, x * a):
        raise AssertionError("the ceiling kernel (y = a*x) disagrees with numpy's x * a")
