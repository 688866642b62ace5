"""Numba CPU-parallel kernels: the same function as reference.py, bit for bit, fast.

Layout of the work (NOTES.md has the measurements behind each choice):

- The flat array is cut into chunks of CH mask bytes (CH * 8 elements). Each parallel
  block owns a contiguous run of chunks and one small scratch area (the chunk's Philox
  words, L1-resident), allocated once per block count: no allocation beyond the outputs.
- Per chunk, stage 1 runs Philox for CH consecutive counters, PHILOX_BLOCK (32) at a
  time as explicit vectors (_numba_ext.philox_block: four independent chains of 8 calls
  on AVX-512), and stores each call's four words as two little-endian uint64 (r0 | r1 <<
  32, r2 | r3 << 32). Viewed as uint16, that scratch is exactly the 16-bit uniform of each
  element in element order.
- Stage 2 takes 32 elements at a time (_numba_ext.keep_select_run: one compare of 32
  uniforms with t gives 4 mask bytes and, from the same bits, the 32 outputs: masked
  multiply and store); the last bytes of a partial chunk go 8 at a time (keep_byte,
  select8). The backward from a stored mask is stage 2 alone (select32_run).
- The forward and the regenerating backward are software-pipelined by half chunks: the
  second half of a chunk is selected after the next chunk's first half is drawn, and a
  later chunk's x is prefetched into L2 a quarter chunk before and after each draw, so
  the memory stream runs beside the Philox arithmetic instead of after it.
- Outputs far beyond the caches (STREAM_FROM_BYTES) are written with non-temporal
  stores: no write-allocate read of y, a third less memory traffic (NOTES.md).

Dropped elements are selected, never multiplied, so NaN/Inf never leak from them. The
multiply is the IEEE product with the scale already rounded to x's dtype (plan.scale), as
in the reference, so outputs are bit-identical for any thread count.
"""

from __future__ import annotations

import math
import sys

import numba
import numpy as np
from numba import njit, prange

from .. import spec
from . import _cache_guard  # noqa: F401  (first: drops kernels cached from older sources)
from ._numba_ext import (
    AFFINE,
    COPY,
    KEEP_BLOCK,
    M32,
    PHILOX_BLOCK,
    PLAIN,
    SCALE,
    STREAM16,
    STREAM32,
    U64,
    keep_byte,
    keep_select_run,
    philox_block,
    philox_lazy,
    prefer_512,
    prefetch,
    select8,
    select32_run,
    sfence,
)

if sys.byteorder != "little":  # the uint16 view of the Philox words assumes it
    raise ImportError("fastdrop's cpu kernels need a little-endian machine; use backend='numpy'")
from .memory import STREAM_FROM_BYTES
from .plan import Plan

CH = 64  # Philox calls (= mask bytes) per chunk
CHE = CH * spec.ELEMENTS_PER_CALL  # elements per chunk
HALF = CH // 2  # the pipeline's half chunk (_masked_body)
assert HALF == PHILOX_BLOCK
# How far ahead the forward prefetches x, in chunks: with the Philox of steps 18-29 one
# chunk ahead was best (2 ahead: 0.70 against 0.79-0.83 of the ceiling at 2^26); with the
# faster element stage of step 31, two (forward 0.841-0.863 against 0.806-0.848,
# regenerating 0.865-0.877 against 0.847-0.861; three 0.80-0.82; NOTES.md step 34); with
# the prefetches into L2 (step 36) two again (0.91-0.94 against one 0.86-0.89, three
# 0.86-0.88; with step 39's quarter bursts three 0.82-0.86 against two 0.88-0.89).
PF_AHEAD = 2
# The backward from a stored mask (and the ceiling, bench/ceiling.py) prefetch into L2, at
# every 32-element step, the dy lines this many elements ahead: at 2^26 float32 it ran
# 6.02-6.14 Gelem/s with prefetches by half chunks two chunks ahead and 6.33-6.49 with
# these (1024 or 2048 ahead alike), 5.7-5.9 without any (NOTES.md step 38).
PF_MASK_STEP = 2048
BLOCKS_PER_THREAD = 4  # parallel blocks per thread: some slack for uneven progress
FROM_MASK_BLOCKS = 256  # parallel blocks of the backward from a stored mask (no scratch)
_S32 = U64(32)


# --- chunk stages (inlined into the kernels) --------------------------------------------


@njit(inline="always")
def philox_words(w64, cb, k0, k1, o0, o1):
    """Philox words of calls cb .. cb+CH-1 into w64 (2*CH uint64, element order as u16).
    Also the fused training layers' mask draw (fastdrop/nn/fused_draw.py).

    philox_block computes 32 calls as explicit vectors, four independent chains at a time
    (NOTES.md: the vectorised loop over calls, two chains, 4.66 Gelem/s; this 6.0)."""
    for j in range(0, CH, PHILOX_BLOCK):
        philox_block(w64, j, cb, k0, k1, o0, o1)


@njit(inline="always")
def _fused(x, y, u16, mask, store_mask, cb, k0, k1, eb, t, mode, a, b, other, stream):
    """Mask bytes cb+k0 .. cb+k1-1 of the chunk at mask byte cb (element eb) from its
    uniforms u16, and their elements selected from the same compare: 32 elements (4 mask
    bytes) per step of keep_select_run from k0 (a multiple of 4), the last < 4 bytes one at
    a time (keep_byte, select8)."""
    steps = (k1 - k0) // (KEEP_BLOCK // 8) if k1 > k0 else 0
    kq = k0 + steps * (KEEP_BLOCK // 8)
    if mode == SCALE:
        keep_select_run(u16, 8 * k0, x, y, eb + 8 * k0, mask, cb + k0, steps, t, a, b, other,
                        SCALE, store_mask, stream)
    elif mode == COPY:
        keep_select_run(u16, 8 * k0, x, y, eb + 8 * k0, mask, cb + k0, steps, t, a, b, other,
                        COPY, store_mask, stream)
    else:
        keep_select_run(u16, 8 * k0, x, y, eb + 8 * k0, mask, cb + k0, steps, t, a, b, other,
                        AFFINE, store_mask, stream)
    for k in range(kq, k1):
        byte = keep_byte(u16, 8 * k, t)
        if store_mask:
            mask[cb + k] = byte
        if mode == SCALE:
            select8(x, y, eb + 8 * k, byte, a, b, other, SCALE, stream)
        elif mode == COPY:
            select8(x, y, eb + 8 * k, byte, a, b, other, COPY, stream)
        else:
            select8(x, y, eb + 8 * k, byte, a, b, other, AFFINE, stream)


@njit(inline="always")
def _select_bytes(x, y, mask, cb, nb, eb, mode, a, b, other, stream):
    """Elements eb .. eb + 8*nb - 1 from stored mask bytes cb .. cb+nb-1: 32 elements per
    step of select32_run, the last < 4 bytes one at a time (select8)."""
    steps = nb // (KEEP_BLOCK // 8)
    nq = steps * (KEEP_BLOCK // 8)
    if mode == SCALE:
        select32_run(x, y, eb, mask, cb, 4, steps, a, b, other, SCALE, stream,
                     PF_MASK_STEP)
        for k in range(nq, nb):
            select8(x, y, eb + 8 * k, mask[cb + k], a, b, other, SCALE, stream)
    elif mode == COPY:
        select32_run(x, y, eb, mask, cb, 4, steps, a, b, other, COPY, stream,
                     PF_MASK_STEP)
        for k in range(nq, nb):
            select8(x, y, eb + 8 * k, mask[cb + k], a, b, other, COPY, stream)
    else:
        select32_run(x, y, eb, mask, cb, 4, steps, a, b, other, AFFINE, stream,
                     PF_MASK_STEP)
        for k in range(nq, nb):
            select8(x, y, eb + 8 * k, mask[cb + k], a, b, other, AFFINE, stream)


@njit(inline="always")
def _select_tail(x, y, byte, e0, n, mode, a, b, other):
    """The last n - e0 (< 8) elements, one at a time, from their mask byte."""
    for e in range(e0, n):
        v = x[e]
        if mode == SCALE:
            v = v * a
        elif mode == AFFINE:
            v = a * v + b
        y[e] = v if (byte >> (e - e0)) & 1 else other


@njit(inline="always")
def _chunk_bytes(u16, mask, cb, nb, t):
    """Mask bytes cb .. cb+nb-1 from the chunk's uniforms: one compare and movemask each."""
    for k in range(nb):
        mask[cb + k] = keep_byte(u16, 8 * k, t)


# --- kernel bodies: called directly they are the serial kernels; inlined into the -------
# --- parallel entry points below, their prange runs on all threads ----------------------


@njit(inline="always", cache=True)
def _masked_body(x, y, mask, store_mask, mode, t, a, b, other, key0, key1, off0, off1, w64s,
                 stream):
    """Forward of inverted/standard/alpha (the packed mask into `mask`), or the backward
    regenerating the mask (store_mask False: `mask` is not touched). stream: y with
    non-temporal stores (see streaming())."""
    k0, k1, o0, o1 = U64(key0), U64(key1), U64(off0), U64(off1)
    n = x.size
    nfull = n // 8  # mask bytes whose 8 elements all exist
    nchunks = (n + CHE - 1) // CHE
    nblk = min(w64s.shape[0], nchunks)
    t32 = np.int32(t)
    line = 64 // x.itemsize  # elements per cache line
    for blk in prange(nblk):
        prefer_512()  # zmm for the Philox loop where AVX-512 exists (in the parfor's function)
        w64 = w64s[blk]
        u16 = w64.view(np.uint16)
        first, last = blk * nchunks // nblk, (blk + 1) * nchunks // nblk
        # Software-pipelined by half chunks (A: calls 0-31, B: 32-63): the B half of a chunk
        # is selected after the next chunk's A half is drawn, so every stretch of Philox
        # arithmetic has memory traffic beside it instead of all of it in one burst.
        for ch in range(first, last):
            cb = ch * CH
            eb = cb * 8
            # Ask for a later chunk's x while Philox computes this chunk's words: the loads
            # overlap the arithmetic (0.49 -> 0.56 of the ceiling at 2^26, NOTES.md); a
            # quarter before and after each half's draw (all of it at once: forward 0.75
            # against 0.79-0.83 at 2^26; halves before each draw 0.857-0.872 against
            # quarters 0.873-0.887, step 39), PF_AHEAD chunks ahead.
            ahead = eb + PF_AHEAD * CHE
            pf = ahead + CHE <= n
            if pf:
                for q in range(ahead, ahead + CHE // 4, line):
                    prefetch(x, q, 0)
            philox_block(w64, 0, cb, k0, k1, o0, o1)
            if pf:
                for q in range(ahead + CHE // 4, ahead + CHE // 2, line):
                    prefetch(x, q, 0)
            if ch > first:  # the previous chunk's B half (its words are still in w64)
                _fused(x, y, u16, mask, store_mask, cb - CH, HALF, CH, eb - CHE, t32, mode,
                       a, b, other, stream)
            if pf:
                for q in range(ahead + CHE // 2, ahead + 3 * CHE // 4, line):
                    prefetch(x, q, 0)
            philox_block(w64, HALF, cb, k0, k1, o0, o1)
            if pf:
                for q in range(ahead + 3 * CHE // 4, ahead + CHE, line):
                    prefetch(x, q, 0)
            nb = min(CH, nfull - cb)
            _fused(x, y, u16, mask, store_mask, cb, 0, min(HALF, nb), eb, t32, mode, a, b,
                   other, stream)
        if last > first:
            cb = (last - 1) * CH
            eb = cb * 8
            nb = min(CH, nfull - cb)
            _fused(x, y, u16, mask, store_mask, cb, HALF, nb, eb, t32, mode, a, b, other,
                   stream)
            if nb < CH and eb + 8 * nb < n:  # the last, partial mask byte
                rest = n - (eb + 8 * nb)
                byte = keep_byte(u16, 8 * nb, t32) & ((1 << rest) - 1)
                if store_mask:
                    mask[cb + nb] = byte  # unused high bits of the last byte are 0
                _select_tail(x, y, byte, eb + 8 * nb, n, mode, a, b, other)
        if stream:
            sfence()


@njit(inline="always", cache=True)
def _from_mask_body(dy, dx, mask, mode, a, other, stream):
    """Backward from a stored packed mask: each byte selects its 8 elements directly.
    stream: dx with non-temporal stores (see streaming())."""
    n = dy.size
    nfull = n // 8
    nchunks = (n + CHE - 1) // CHE
    # blocks of chunks, so that a streaming block fences once, not once per chunk (an
    # sfence waits for the write-combining buffers: fenced per chunk it ran at 1.56
    # against 4.7-5.0 Gelem/s at 2^26, NOTES.md)
    nblk = min(nchunks, FROM_MASK_BLOCKS)
    for blk in prange(nblk):
        for ch in range(blk * nchunks // nblk, (blk + 1) * nchunks // nblk):
            cb = ch * CH
            nb = min(CH, nfull - cb)
            _select_bytes(dy, dx, mask, cb, nb, cb * 8, mode, a, a, other, stream)
            if nb < CH and 8 * (cb + nb) < n:
                _select_tail(dy, dx, mask[cb + nb], 8 * (cb + nb), n, mode, a, a, other)
        if stream:
            sfence()


@njit(inline="always", cache=True)
def _mask_only_body(mask, nbits, t, key0, key1, off0, off1, w64s):
    """Packed keep mask of nbits entries (the spatial variant's per-channel mask)."""
    k0, k1, o0, o1 = U64(key0), U64(key1), U64(off0), U64(off1)
    nfull = nbits // 8
    nchunks = (nbits + CHE - 1) // CHE
    nblk = min(w64s.shape[0], nchunks)
    t32 = np.int32(t)
    for blk in prange(nblk):
        prefer_512()
        w64 = w64s[blk]
        u16 = w64.view(np.uint16)
        for ch in range(blk * nchunks // nblk, (blk + 1) * nchunks // nblk):
            cb = ch * CH
            philox_words(w64, cb, k0, k1, o0, o1)
            nb = min(CH, nfull - cb)
            _chunk_bytes(u16, mask, cb, nb, t32)
            if nb < CH and 8 * (cb + nb) < nbits:
                rest = nbits - 8 * (cb + nb)
                mask[cb + nb] = keep_byte(u16, 8 * nb, t32) & ((1 << rest) - 1)


@njit(inline="always", cache=True)
def _channels_body(x, y, mask, length, s, zero):
    """Spatial: y = x*s over each kept channel of `length` elements, 0 over dropped ones."""
    nch = x.size // length
    for c in prange(nch):
        keep = (mask[c >> 3] >> (c & 7)) & 1
        xs = x[c * length:(c + 1) * length]
        ys = y[c * length:(c + 1) * length]
        if keep:
            for i in range(length):
                ys[i] = xs[i] * s
        else:
            for i in range(length):
                ys[i] = zero


@njit(inline="always")
def box_muller(ra, rb):
    """SPEC.md's Box-Muller for one pair of Philox words: (R, 2 pi u2); the pair's first
    lane is R cos, its second R sin."""
    u1 = (float(ra) + 0.5) / 4294967296.0
    u2 = float(rb) / 4294967296.0
    return math.sqrt(-2.0 * math.log(u1)), 2.0 * math.pi * u2


@njit(inline="always")
def gaussian_call(m, k0, k1, o0, o1):
    """The 4 standard normals z of elements 4m .. 4m+3 (float64): Philox call m, its words
    (r0, r1) and (r2, r3) through box_muller. Also the fused layers' Gaussian factor
    (nn/fused_draw.gaussian_factors)."""
    c = U64(m)
    r0, r1, r2, r3 = philox_lazy(c & M32, c >> _S32, o0, o1, k0, k1)
    ra, aa = box_muller(r0, r1)
    rb, ab = box_muller(r2, r3)
    return ra * math.cos(aa), ra * math.sin(aa), rb * math.cos(ab), rb * math.sin(ab)


@njit(inline="always", cache=True)
def _gaussian_body(x, y, sigma, key0, key1, off0, off1):
    """y = x * (1 + sigma*z), z by Box-Muller on Philox call i // 4 (float64 math)."""
    k0, k1, o0, o1 = U64(key0), U64(key1), U64(off0), U64(off1)
    n = x.size
    for m in prange((n + 3) // 4):
        z = gaussian_call(m, k0, k1, o0, o1)
        for j in range(min(4, n - 4 * m)):
            i = 4 * m + j
            xi = x[i]
            y[i] = 1.0 + sigma * z[j]  # rounds the factor to y's dtype, as the spec says
            y[i] = xi * y[i]


@njit(inline="always", cache=True)
def _copy_body(x, y):
    for i in prange(x.size):
        y[i] = x[i]


@njit(inline="always", cache=True)
def _scale_body(x, y, s):
    for i in prange(x.size):
        y[i] = x[i] * s


# --- parallel entry points ------------------------------------------------------------------
# A parallel region wakes every thread; on a busy machine a woken thread can wait a whole
# scheduler slice (~4-8 ms measured here with the other core loaded, NOTES.md) for work
# of microseconds. Arrays under SERIAL_BELOW elements therefore run on the calling thread:
# the body itself, compiled as a plain function (prange is range there). The wrappers
# cannot be generated by a factory: a closure's cache key pickles its free variables
# differently in every process, so `cache=True` would never hit (tried, NOTES.md).

SERIAL_BELOW = 1 << 16

# STREAM_FROM_BYTES (memory.py): outputs from 64 MiB up are written with non-temporal stores.


@njit(inline="always", cache=True)
def _stream_of(y):
    """streaming(y), callable from compiled code, where reading y's address costs nothing."""
    if y.nbytes < STREAM_FROM_BYTES or y.ctypes.data % 16:
        return PLAIN
    return STREAM32 if y.ctypes.data % 32 == 0 else STREAM16


def streaming(y: np.ndarray) -> int:
    """How a kernel writes y (_numba_ext PLAIN / STREAM16 / STREAM32): non-temporal stores
    when y is large enough and 16-byte aligned (numpy's allocations are; a view at an odd
    offset is not), ymm-wide ones when it is 32-byte aligned (aligned_empty's outputs).
    The rule itself is _stream_of, which the direct-path kernels apply in compiled code."""
    return _stream_of(y)


@njit(parallel=True, cache=True)
def _masked_par(x, y, mask, store_mask, mode, t, a, b, other, k0, k1, o0, o1, w64s, stream):
    _masked_body(x, y, mask, store_mask, mode, t, a, b, other, k0, k1, o0, o1, w64s, stream)


@njit(parallel=True, cache=True)
def _from_mask_par(dy, dx, mask, mode, a, other, stream):
    _from_mask_body(dy, dx, mask, mode, a, other, stream)


@njit(parallel=True, cache=True)
def _mask_only_par(mask, nbits, t, k0, k1, o0, o1, w64s):
    _mask_only_body(mask, nbits, t, k0, k1, o0, o1, w64s)


@njit(parallel=True, cache=True)
def _channels_par(x, y, mask, length, s, zero):
    _channels_body(x, y, mask, length, s, zero)


@njit(parallel=True, cache=True)
def _gaussian_par(x, y, sigma, k0, k1, o0, o1):
    _gaussian_body(x, y, sigma, k0, k1, o0, o1)


@njit(parallel=True, cache=True)
def _copy_par(x, y):
    _copy_body(x, y)


@njit(parallel=True, cache=True)
def _scale_par(x, y, s):
    _scale_body(x, y, s)


_ENTRY = {
    "masked": (_masked_par, _masked_body),
    "from_mask": (_from_mask_par, _from_mask_body),
    "mask_only": (_mask_only_par, _mask_only_body),
    "channels": (_channels_par, _channels_body),
    "gaussian": (_gaussian_par, _gaussian_body),
    "copy": (_copy_par, _copy_body),
    "scale": (_scale_par, _scale_body),
}


def _kernel(name: str, n: int):
    """The parallel entry point of a kernel, or its serial one for small arrays."""
    par, ser = _ENTRY[name]
    return ser if n < SERIAL_BELOW else par


# --- scratch ---------------------------------------------------------------------------

_SCRATCH: dict[int, np.ndarray] = {}
# Blocks of the parallel kernels: BLOCKS_PER_THREAD for each thread Numba may run, not
# for the current count: asking numba.get_num_threads() cost 0.5 us a call (4% of a 2^16
# forward). More blocks than running threads only split the work finer; the bits do not
# depend on it (fastdrop/torch/native.py's cfuncs do the same).
_PAR_BLOCKS = BLOCKS_PER_THREAD * numba.config.NUMBA_NUM_THREADS


def _scratch(n: int) -> np.ndarray:
    """Philox words for a kernel over n entries, allocated once per block count: one block
    for the serial path, _PAR_BLOCKS for the parallel one."""
    blocks = 1 if n < SERIAL_BELOW else _PAR_BLOCKS
    w64s = _SCRATCH.get(blocks)
    if w64s is None:
        w64s = _SCRATCH[blocks] = np.zeros((blocks, 2 * CH), np.uint64)
    return w64s


def _keys(plan: Plan):
    return plan.k0, plan.k1, plan.o0, plan.o1


def _channel_mask(plan: Plan, mask: np.ndarray) -> np.ndarray:
    """The spatial variant's packed mask over N*C channels, written into `mask`."""
    _kernel("mask_only", plan.nbits)(mask, plan.nbits, plan.t, *_keys(plan),
                                     _scratch(plan.nbits))
    return mask


_NO_MASK = np.empty(0, np.uint8)


def _modes(plan: Plan, backward: bool):
    """(mode, a, other) of an element variant: what a kept element becomes, and a dropped."""
    if plan.variant == "alpha":
        # forward: a*x + b / dropped value; backward: a*dy / 0
        if backward:
            return SCALE, plan.alpha_a, plan.zero
        return AFFINE, plan.alpha_a, plan.alpha_drop
    if plan.variant == "standard":
        return COPY, plan.scale, plan.zero
    return SCALE, plan.scale, plan.zero


def _elementwise(x, y, mask, store_mask: bool, plan: Plan, backward: bool) -> None:
    mode, s, other = _modes(plan, backward)
    n = x.size
    kernel = _masked_body if n < SERIAL_BELOW else _masked_par  # _kernel("masked", n), inline
    kernel(x, y, mask if store_mask else _NO_MASK, store_mask, mode, plan.t, s, plan.alpha_b,
           other, plan.k0, plan.k1, plan.o0, plan.o1, _scratch(n),
           streaming(y) if n >= SERIAL_BELOW else PLAIN)


# --- fd.dropout's direct path -----------------------------------------------------------


@njit(inline="always", cache=True)
def _partial_overlap(x, y):
    """y shares memory with x without being x (both C-contiguous, one shape and dtype)."""
    px, py = x.ctypes.data, y.ctypes.data
    return px != py and px < py + y.nbytes and py < px + x.nbytes


@njit(cache=True)
def _direct_serial(x, y, mask, k0, k1, o0, o1, mode, t, a, b, other, w64s):
    _masked_body(x, y, mask, True, mode, t, a, b, other, k0, k1, o0, o1, w64s, PLAIN)


@njit(parallel=True, cache=True)
def _direct(x, y, mask, k0, k1, o0, o1, mode, t, a, b, other, w64s):
    """The forward of an element variant over 1-D, C-contiguous x and y, the packed mask
    into `mask`: what ops.dropout's direct path calls. It does in compiled code what a
    Python wrapper would pay for per call (NOTES.md step 41): the overlap test of y and x,
    serial or parallel, the store kind. Returns False, writing nothing, when y overlaps x
    without being x (ops raises then)."""
    if _partial_overlap(x, y):
        return False
    if x.size < SERIAL_BELOW:  # a call, not inlined: its prange stays a loop on this thread
        _direct_serial(x, y, mask, k0, k1, o0, o1, mode, t, a, b, other, w64s[:1])
    else:
        _masked_body(x, y, mask, True, mode, t, a, b, other, k0, k1, o0, o1, w64s,
                     _stream_of(y))
    return True


@njit(cache=True)
def _direct_regen_serial(dy, dx, k0, k1, o0, o1, mode, t, a, b, other, w64s):
    _masked_body(dy, dx, np.empty(0, np.uint8), False, mode, t, a, b, other, k0, k1, o0, o1,
                 w64s, PLAIN)


@njit(parallel=True, cache=True)
def _direct_regen(dy, dx, k0, k1, o0, o1, mode, t, a, b, other, w64s):
    """_direct for ops.dropout_backward regenerating the mask."""
    if _partial_overlap(dy, dx):
        return False
    if dy.size < SERIAL_BELOW:
        _direct_regen_serial(dy, dx, k0, k1, o0, o1, mode, t, a, b, other, w64s[:1])
    else:
        _masked_body(dy, dx, np.empty(0, np.uint8), False, mode, t, a, b, other, k0, k1, o0,
                     o1, w64s, _stream_of(dx))  # no mask: a global array would be read-only
    return True


@njit(cache=True)
def _direct_from_mask_serial(dy, dx, mask, mode, a, other):
    _from_mask_body(dy, dx, mask, mode, a, other, PLAIN)


@njit(parallel=True, cache=True)
def _direct_from_mask(dy, dx, mask, mode, a, other):
    """_direct for ops.dropout_backward from a stored mask (1-D, C-contiguous uint8): False,
    writing nothing, also when the mask is not ceil(n / 8) bytes."""
    if _partial_overlap(dy, dx) or mask.size != (dy.size + 7) // 8:
        return False
    if dy.size < SERIAL_BELOW:
        _direct_from_mask_serial(dy, dx, mask, mode, a, other)
    else:
        _from_mask_body(dy, dx, mask, mode, a, other, _stream_of(dx))
    return True


def direct_entry(x, y, mask, plan: Plan, backward: bool = False):
    """Runs an element variant's (inverted, standard, alpha) forward through _direct, or
    its backward through _direct_from_mask or (mask None) _direct_regen, for ops, whose
    checks this relies on: x and y 1-D, C-contiguous and aligned numpy arrays of one float
    dtype, y writable; the mask uint8, 1-D, C-contiguous and writable (fresh, of
    plan.nbytes, for the forward). Returns (call, const): the compiled entry point for
    these argument types, called without Numba's typing of its 6-13 arguments (0.45-0.55
    us a call for 15, NOTES.md), and its arguments after the arrays and key words, the
    same in every call of this (variant, p, dtype); call is None where the kernel refused
    (y overlaps x without being x, or a stored mask of the wrong size) and wrote nothing.

    Numba's types of the arguments follow from (variant, p, dtype, x writable, and for the
    backward whether a mask is stored): ops keeps (call, const) under that key."""
    mode, s, other = _modes(plan, backward)
    keys = (plan.k0, plan.k1, plan.o0, plan.o1)
    const = (mode, plan.t, s, plan.alpha_b, other, _scratch(SERIAL_BELOW))
    if not backward:
        kernel, args = _direct, (x, y, mask, *keys, *const)
    elif mask is None:
        kernel, args = _direct_regen, (x, y, *keys, *const)
    else:
        const = (mode, s, other)
        kernel, args = _direct_from_mask, (x, y, mask, *const)
    if not kernel(*args):
        return None, const
    try:  # Numba's internals: a version without these attributes keeps the dispatcher
        call = kernel.overloads[tuple(numba.typeof(a) for a in args)].entry_point
    except (AttributeError, KeyError):
        call = kernel
    return call, const


# --- the kernel interface shared with reference.py and cuda.py ------------------------------


def forward(x, y, mask, plan: Plan) -> None:
    if plan.variant == "gaussian":
        _kernel("gaussian", x.size)(x, y, plan.sigma, *_keys(plan))
    elif plan.variant == "spatial":
        _channel_mask(plan, mask)
        _kernel("channels", x.size)(x, y, mask, plan.channel_len, plan.scale, plan.zero)
    else:
        _elementwise(x, y, mask, True, plan, backward=False)


def backward(dy, dx, mask, plan: Plan) -> None:
    zero = plan.zero
    if plan.variant == "gaussian":
        _kernel("gaussian", dy.size)(dy, dx, plan.sigma, *_keys(plan))
    elif plan.variant == "spatial":
        if mask is None:
            mask = _channel_mask(plan, np.empty(plan.nbytes, np.uint8))
        _kernel("channels", dy.size)(dy, dx, mask, plan.channel_len, plan.scale, zero)
    elif mask is None:
        _elementwise(dy, dx, None, False, plan, backward=True)
    else:
        mode = COPY if plan.variant == "standard" else SCALE
        s = plan.alpha_a if plan.variant == "alpha" else plan.scale
        _kernel("from_mask", dy.size)(dy, dx, mask, mode, s, zero,
                                      streaming(dx) if dy.size >= SERIAL_BELOW else PLAIN)


def inference(x, y, plan: Plan) -> None:
    if plan.variant == "standard":
        _kernel("scale", x.size)(x, y, plan.infer_scale)
    elif not np.may_share_memory(x, y):  # out is x: nothing to do
        _kernel("copy", x.size)(x, y)
