"""Numba CPU-parallel kernels: the same function as reference.py, bit for bit, fast.

Layout of the work (NOTES.md has the measurements behind each choice):

- The flat array is cut into chunks of CH mask bytes (CH * 8 elements). Each parallel
  block owns a contiguous run of chunks and one small scratch area (L1-resident), taken
  from a cache allocated once per thread count: no allocation per call beyond the outputs.
- Per chunk, stage 1 runs Philox for CH consecutive counters in a loop over independent
  lanes, which LLVM vectorises (vpmuludq), and stores each call's four words as two
  little-endian uint64 (r0 | r1 << 32, r2 | r3 << 32). Viewed as uint16, that scratch is
  exactly the 16-bit uniform of each element in element order.
- Stage 2 is then a plain contiguous loop over the chunk's elements: compare, select,
  write y and a 0/1 keep byte; both vectorise. Stage 3 packs 8 keep bytes into a mask
  byte with one multiply ((v * 0x0102040810204080) >> 56 gathers the low bit of each byte).
  While stage 1 computes, the next chunk's x is prefetched, so its loads overlap Philox.

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
from ._numba_ext import M32, U64, philox_lazy, prefetch

if sys.byteorder != "little":  # the uint16 view of the Philox words assumes it
    raise ImportError("fastdrop's cpu kernels need a little-endian machine; use backend='numpy'")
from .plan import Plan

CH = 64  # Philox calls (= mask bytes) per chunk
CHE = CH * spec.ELEMENTS_PER_CALL  # elements per chunk
BLOCKS_PER_THREAD = 4  # parallel blocks per thread: some slack for uneven progress
_S32 = U64(32)
_S56 = U64(56)
_GATHER = U64(0x0102040810204080)  # 8 bytes of 0/1 -> 8 bits in the top byte
_SPREAD = U64(0x0101010101010101)  # a byte copied into all 8 bytes
_BITSEL = U64(0x8040201008040201)  # byte j keeps bit j

# element stage modes: what a kept element becomes
SCALE, COPY, AFFINE = 0, 1, 2


# --- chunk stages (inlined into the parallel kernels) ---------------------------------------


@njit(inline="always")
def _words(w64, cb, k0, k1, o0, o1):
    """Philox words of calls cb .. cb+CH-1 into w64 (2*CH uint64, element order as u16).

    Two independent calls per iteration (k and k + CH/2) give the core two dependency
    chains to overlap: +22% over one call per iteration, single thread (NOTES.md).
    """
    half = CH // 2
    for k in range(half):
        c = U64(cb + k)
        d = U64(cb + k + half)
        r0, r1, r2, r3 = philox_lazy(c & M32, c >> _S32, o0, o1, k0, k1)
        q0, q1, q2, q3 = philox_lazy(d & M32, d >> _S32, o0, o1, k0, k1)
        w64[2 * k] = r0 | (r1 << _S32)
        w64[2 * k + 1] = r2 | (r3 << _S32)
        w64[2 * (k + half)] = q0 | (q1 << _S32)
        w64[2 * (k + half) + 1] = q2 | (q3 << _S32)


@njit(inline="always")
def _apply_u16(xs, ys, u16, kb8, cnt, t, mode, s, b, drop, zero):
    """ys = select(u16 >= t, kept(xs), dropped) over cnt elements; kb8 gets the 0/1 keeps."""
    if mode == SCALE:
        for e in range(cnt):
            keep = np.int32(u16[e]) >= t
            kb8[e] = keep
            v = xs[e] * s
            ys[e] = v if keep else zero
    elif mode == COPY:
        for e in range(cnt):
            keep = np.int32(u16[e]) >= t
            kb8[e] = keep
            v = xs[e]
            ys[e] = v if keep else zero
    else:
        for e in range(cnt):
            keep = np.int32(u16[e]) >= t
            kb8[e] = keep
            v = s * xs[e] + b
            ys[e] = v if keep else drop


@njit(inline="always")
def _apply_kb(xs, ys, kb8, cnt, mode, s, zero):
    """ys = select(kb8 != 0, kept(xs), 0): the backward from a stored mask."""
    if mode == SCALE:
        for e in range(cnt):
            v = xs[e] * s
            ys[e] = v if kb8[e] != 0 else zero
    else:
        for e in range(cnt):
            v = xs[e]
            ys[e] = v if kb8[e] != 0 else zero


@njit(inline="always")
def _pack(kb64, mask, cb, nb):
    for k in range(nb):
        mask[cb + k] = np.uint8((kb64[k] * _GATHER) >> _S56)


# --- parallel kernels -----------------------------------------------------------------------


@njit(inline="always")
def _masked_body(x, y, mask, store_mask, mode, t, s, b, drop, zero, key0, key1, off0, off1,
                 w64s, kbs):
    """Forward of inverted/standard/alpha (mask stored), or backward regenerating it."""
    k0, k1, o0, o1 = U64(key0), U64(key1), U64(off0), U64(off1)
    n = x.size
    nbytes = (n + 7) // 8
    nchunks = (n + CHE - 1) // CHE
    nblk = min(w64s.shape[0], nchunks)
    t32 = np.int32(t)
    line = 64 // x.itemsize  # elements per cache line
    for blk in prange(nblk):
        w64 = w64s[blk]
        u16 = w64.view(np.uint16)
        kb64 = kbs[blk]
        kb8 = kb64.view(np.uint8)
        for ch in range(blk * nchunks // nblk, (blk + 1) * nchunks // nblk):
            cb = ch * CH
            eb = cb * 8
            # Ask for the next chunk's x while Philox computes this chunk's words: the loads
            # overlap the arithmetic (0.49 -> 0.56 of the ceiling at 2^26, NOTES.md).
            if eb + 2 * CHE <= n:
                for q in range(eb + CHE, eb + 2 * CHE, line):
                    prefetch(x, q, 0)
            _words(w64, cb, k0, k1, o0, o1)
            if eb + CHE <= n:
                _apply_u16(x[eb:eb + CHE], y[eb:eb + CHE], u16, kb8, CHE, t32, mode, s, b,
                           drop, zero)
                if store_mask:
                    _pack(kb64, mask, cb, CH)
            else:  # the last, partial chunk
                cnt = n - eb
                _apply_u16(x[eb:n], y[eb:n], u16, kb8, cnt, t32, mode, s, b, drop, zero)
                for e in range(cnt, CHE):
                    kb8[e] = 0  # unused high bits of the last mask byte are 0
                if store_mask:
                    _pack(kb64, mask, cb, nbytes - cb)


@njit(inline="always")
def _from_mask_body(dy, dx, mask, mode, s, zero, kbs):
    """Backward from a stored packed mask: expand each byte to 8 keep bytes, then select."""
    n = dy.size
    nbytes = (n + 7) // 8
    nchunks = (n + CHE - 1) // CHE
    nblk = min(kbs.shape[0], nchunks)
    for blk in prange(nblk):
        kb64 = kbs[blk]
        kb8 = kb64.view(np.uint8)
        for ch in range(blk * nchunks // nblk, (blk + 1) * nchunks // nblk):
            cb = ch * CH
            eb = cb * 8
            if eb + CHE <= n:
                for k in range(CH):
                    kb64[k] = (U64(mask[cb + k]) * _SPREAD) & _BITSEL
                _apply_kb(dy[eb:eb + CHE], dx[eb:eb + CHE], kb8, CHE, mode, s, zero)
            else:
                for k in range(nbytes - cb):
                    kb64[k] = (U64(mask[cb + k]) * _SPREAD) & _BITSEL
                _apply_kb(dy[eb:n], dx[eb:n], kb8, n - eb, mode, s, zero)


@njit(inline="always")
def _mask_only_body(mask, nbits, t, key0, key1, off0, off1, w64s, kbs):
    """Packed keep mask of nbits entries (the spatial variant's per-channel mask)."""
    k0, k1, o0, o1 = U64(key0), U64(key1), U64(off0), U64(off1)
    nbytes = (nbits + 7) // 8
    nchunks = (nbits + CHE - 1) // CHE
    nblk = min(w64s.shape[0], nchunks)
    t32 = np.int32(t)
    for blk in prange(nblk):
        w64 = w64s[blk]
        u16 = w64.view(np.uint16)
        kb64 = kbs[blk]
        kb8 = kb64.view(np.uint8)
        for ch in range(blk * nchunks // nblk, (blk + 1) * nchunks // nblk):
            cb = ch * CH
            cnt = min(CHE, nbits - cb * 8)
            _words(w64, cb, k0, k1, o0, o1)
            for e in range(CHE):
                kb8[e] = np.int32(u16[e]) >= t32 and e < cnt
            _pack(kb64, mask, cb, min(CH, nbytes - cb))


@njit(inline="always")
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
def _gaussian_body(x, y, sigma, key0, key1, off0, off1):
    """y = x * (1 + sigma*z), z by Box-Muller on Philox call i // 4 (float64 math)."""
    k0, k1, o0, o1 = U64(key0), U64(key1), U64(off0), U64(off1)
    n = x.size
    calls = (n + 3) // 4
    two32 = 4294967296.0
    for m in prange(calls):
        c = U64(m)
        r0, r1, r2, r3 = philox_lazy(c & M32, c >> _S32, o0, o1, k0, k1)
        for pair in range(2):
            ra = r0 if pair == 0 else r2
            rb = r1 if pair == 0 else r3
            u1 = (float(ra) + 0.5) / two32
            u2 = float(rb) / two32
            radius = math.sqrt(-2.0 * math.log(u1))
            angle = 2.0 * math.pi * u2
            for h in range(2):
                i = 4 * m + 2 * pair + h
                if i < n:
                    z = radius * math.cos(angle) if h == 0 else radius * math.sin(angle)
                    xi = x[i]
                    y[i] = 1.0 + sigma * z  # rounds the factor to y's dtype, as the spec says
                    y[i] = xi * y[i]


@njit(inline="always")
def _copy_body(x, y):
    for i in prange(x.size):
        y[i] = x[i]


@njit(inline="always")
def _scale_body(x, y, s):
    for i in prange(x.size):
        y[i] = x[i] * s


# --- entry points: each body compiled parallel (all threads) and serial -------------------
# A parallel region wakes every thread; on a busy machine a woken thread can wait a whole
# scheduler slice (~4-8 ms measured here with the other core loaded, NOTES.md) for work
# of microseconds. Arrays under SERIAL_BELOW elements therefore run on the calling thread.
# (prange in an inlined body becomes a parfor only in the parallel entry point.)

SERIAL_BELOW = 1 << 16


@njit(parallel=True, cache=True)
def _masked_par(x, y, mask, store_mask, mode, t, s, b, drop, zero, k0, k1, o0, o1, w64s, kbs):
    _masked_body(x, y, mask, store_mask, mode, t, s, b, drop, zero, k0, k1, o0, o1, w64s, kbs)


@njit(cache=True)
def _masked_ser(x, y, mask, store_mask, mode, t, s, b, drop, zero, k0, k1, o0, o1, w64s, kbs):
    _masked_body(x, y, mask, store_mask, mode, t, s, b, drop, zero, k0, k1, o0, o1, w64s, kbs)


@njit(parallel=True, cache=True)
def _from_mask_par(dy, dx, mask, mode, s, zero, kbs):
    _from_mask_body(dy, dx, mask, mode, s, zero, kbs)


@njit(cache=True)
def _from_mask_ser(dy, dx, mask, mode, s, zero, kbs):
    _from_mask_body(dy, dx, mask, mode, s, zero, kbs)


@njit(parallel=True, cache=True)
def _mask_only_par(mask, nbits, t, k0, k1, o0, o1, w64s, kbs):
    _mask_only_body(mask, nbits, t, k0, k1, o0, o1, w64s, kbs)


@njit(cache=True)
def _mask_only_ser(mask, nbits, t, k0, k1, o0, o1, w64s, kbs):
    _mask_only_body(mask, nbits, t, k0, k1, o0, o1, w64s, kbs)


@njit(parallel=True, cache=True)
def _channels_par(x, y, mask, length, s, zero):
    _channels_body(x, y, mask, length, s, zero)


@njit(cache=True)
def _channels_ser(x, y, mask, length, s, zero):
    _channels_body(x, y, mask, length, s, zero)


@njit(parallel=True, cache=True)
def _gaussian_par(x, y, sigma, k0, k1, o0, o1):
    _gaussian_body(x, y, sigma, k0, k1, o0, o1)


@njit(cache=True)
def _gaussian_ser(x, y, sigma, k0, k1, o0, o1):
    _gaussian_body(x, y, sigma, k0, k1, o0, o1)


@njit(parallel=True, cache=True)
def _copy_par(x, y):
    _copy_body(x, y)


@njit(cache=True)
def _copy_ser(x, y):
    _copy_body(x, y)


@njit(parallel=True, cache=True)
def _scale_par(x, y, s):
    _scale_body(x, y, s)


@njit(cache=True)
def _scale_ser(x, y, s):
    _scale_body(x, y, s)


_ENTRY = {
    "masked": (_masked_par, _masked_ser),
    "from_mask": (_from_mask_par, _from_mask_ser),
    "mask_only": (_mask_only_par, _mask_only_ser),
    "channels": (_channels_par, _channels_ser),
    "gaussian": (_gaussian_par, _gaussian_ser),
    "copy": (_copy_par, _copy_ser),
    "scale": (_scale_par, _scale_ser),
}


def _kernel(name: str, n: int):
    """The parallel entry point of a kernel, or its serial one for small arrays."""
    par, ser = _ENTRY[name]
    return ser if n < SERIAL_BELOW else par


# --- scratch ---------------------------------------------------------------------------

_SCRATCH: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _blocks(blocks: int) -> tuple[np.ndarray, np.ndarray]:
    pair = _SCRATCH.get(blocks)
    if pair is None:
        pair = (np.zeros((blocks, 2 * CH), np.uint64), np.zeros((blocks, CH), np.uint64))
        _SCRATCH[blocks] = pair
    return pair


def _scratch(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Scratch (Philox words, keep bytes) for a kernel over n entries, allocated once: one
    block for the serial path, BLOCKS_PER_THREAD per thread for the parallel one."""
    if n < SERIAL_BELOW:
        return _blocks(1)
    return _blocks(BLOCKS_PER_THREAD * numba.get_num_threads())


def _keys(plan: Plan):
    return plan.k0, plan.k1, plan.o0, plan.o1


def _channel_mask(plan: Plan, mask: np.ndarray) -> np.ndarray:
    """The spatial variant's packed mask over N*C channels, written into `mask`."""
    _kernel("mask_only", plan.nbits)(mask, plan.nbits, plan.t, *_keys(plan),
                                     *_scratch(plan.nbits))
    return mask


_NO_MASK = np.empty(0, np.uint8)


def _elementwise(x, y, mask, store_mask: bool, plan: Plan, backward: bool) -> None:
    if plan.variant == "alpha":
        # forward: a*x + b / dropped value; backward: a*dy / 0
        mode = SCALE if backward else AFFINE
        s = plan.alpha_a
    elif plan.variant == "standard":
        mode, s = COPY, plan.scale
    else:
        mode, s = SCALE, plan.scale
    n = x.size
    _kernel("masked", n)(x, y, mask if store_mask else _NO_MASK, store_mask, mode, plan.t, s,
                         plan.alpha_b, plan.alpha_drop, plan.zero, *_keys(plan), *_scratch(n))


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
        _kernel("from_mask", dy.size)(dy, dx, mask, mode, s, zero, _scratch(dy.size)[1])


def inference(x, y, plan: Plan) -> None:
    if plan.variant == "standard":
        _kernel("scale", x.size)(x, y, plan.infer_scale)
    elif not np.may_share_memory(x, y):  # out is x: nothing to do
        _kernel("copy", x.size)(x, y)
