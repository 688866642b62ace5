"""The CUDA kernels (numba-cuda): SPEC.md on an NVIDIA GPU, bit for bit with the reference.

Same names as reference.py: forward(x, y, mask, plan), backward(dy, dx, mask, plan),
inference(x, y, plan), over flat contiguous device arrays and a validated `Plan`, plus a
`stream` keyword (0: numba's default stream). Kernels assume valid input and never raise;
fastdrop/cuda_dispatch.py adapts device arrays to them. Device functions (Philox, keep
bits, Box-Muller, 16-byte loads and stores) are in cuda_device.py.

This module is imported only where numba.cuda is usable (a GPU, or the simulator with
NUMBA_ENABLE_CUDASIM=1); `import fastdrop` never imports it.

Shaped like a copy (docs/GPU.md has the long version):

- A unit is 8 elements, one mask byte, one Philox call. Each thread owns whole units
  (grid-stride): it loads the unit's 8 elements with 16-byte vector loads (float16: one
  vector, float32: two), runs Philox, keeps the 8 keep bits in registers, and writes the
  mask byte and the 8 results with 16-byte stores. No shared memory, no barriers, no
  per-element bounds checks: the loop covers whole units only, and the one partial unit
  at the end (n % 8 elements) is done by the one thread whose index lands on it.
- Specialised at compile time, by closure constants: the storage dtype; where keep comes
  from (Philox and store the mask / Philox only / the stored mask: three kernels, so
  backward from a mask carries no Philox code); the index width (uint32 below 2^31
  elements, else uint64); and vector or scalar access (vector when x and y are 16-byte
  aligned, which every allocation is; a misaligned view takes the scalar kernel).
- float16 stays float16 in registers until the select that uses it, where it is
  converted to float32 (exact) and the product rounded once to float16.
- Launch bounds cap registers so that MIN_BLOCKS blocks of BLOCK threads fit on an SM;
  the grid is one wave of the blocks the compiled kernel can keep resident (from its
  register count), so large inputs do not pay for block scheduling.
- Dropped elements are selected, never multiplied (NaN/Inf dropped give the dropped
  value). Alpha's a*x uses fmul_rn, which may not contract into an FMA, so it matches
  numpy's separate multiply and add bit for bit. Gaussian noise is float64, as the
  reference's, rounded once to x's dtype.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np
from numba import cuda

from .cuda_device import (
    SIMULATOR,
    UNIT,
    VECTOR_BYTES,
    box_muller,
    byte_bits,
    device,
    hmul,
    keep_byte,
    mover,
    mul_rn,
    philox_at,
)
from .cuda_launch import BLOCK, GAUSS_MIN_BLOCKS, address, current_device_id, jit, launch
from .plan import Plan

__all__ = ["SIMULATOR", "address", "backward", "channel_mask", "forward", "inference"]

NARROW_LIMIT = 2**31  # arrays below this many elements use uint32 indices

# Where a masked kernel's keep bits come from: one compiled kernel per mode.
MODE_FORWARD = "forward"  # Philox, and store the mask bytes
MODE_REGEN = "regen"  # Philox, store nothing (backward regenerated from seed / offset)
MODE_STORED = "stored"  # load the stored mask bytes (backward from a mask): no Philox


@device
def _fmul(a, b):
    """float32 product."""
    return a * b


# --- kernels, specialised per dtype, index width and alignment ------------------------------
@functools.cache
def _kernels(dtype_name: str, wide: bool, aligned: bool) -> SimpleNamespace:
    """Every kernel for float16 or float32 data with uint64 (wide) or uint32 indices and
    vector (aligned) or scalar access. Each is a closure over these constants, so each
    combination compiles to its own code, and numba caches each signature for the life
    of the process."""
    dtype = np.dtype(dtype_name)
    cast = dtype.type
    idx = np.uint64 if wide else np.uint32
    load, store = mover(dtype, aligned)
    dmul = hmul if dtype == np.float16 else _fmul

    @device
    def first_unit():
        return idx(idx(cuda.blockIdx.x) * idx(BLOCK) + idx(cuda.threadIdx.x))

    @device
    def grid_stride():
        return idx(idx(cuda.gridDim.x) * idx(BLOCK))

    @device
    def apply_scale(out, raw, bits, scale, valid):
        """out[j] = keep_j ? x_j * scale : +0, for the elements in `valid`'s bits. scale
        is in the data's dtype, and so is the product: a float16 multiply rounds the exact
        product once, the bits a float32 product rounded to float16 would give, without
        converting either operand."""
        for j in range(UNIT):
            if (valid >> np.uint32(j)) & np.uint32(1):
                kept = dmul(raw[j], scale)
                out[j] = kept if (bits >> np.uint32(j)) & np.uint32(1) else cast(0.0)

    def masked(mode):
        """dst = keep ? src * scale : 0 (inverted / standard forward, and backward of every
        masked variant but spatial), keep bits from `mode`."""

        @device
        def full_bits(mask, c, t, k0, k1, o0, o1):
            """Keep bits of whole unit c (no tail to mask)."""
            if mode == MODE_STORED:
                return np.uint32(mask[c])
            r0, r1, r2, r3 = philox_at(c, o0, o1, k0, k1)
            bits = byte_bits(r0, r1, r2, r3, t)
            if mode == MODE_FORWARD:
                mask[c] = np.uint8(bits)
            return bits

        @device
        def unit_bits(mask, c, last, tail_bits, t, k0, k1, o0, o1):
            """Keep bits of unit c, ANDed with tail_bits when c is the last."""
            if mode == MODE_STORED:
                return np.uint32(mask[c])
            bits = np.uint32(keep_byte(c, last, tail_bits, t, k0, k1, o0, o1))
            if mode == MODE_FORWARD:
                mask[c] = np.uint8(bits)
            return bits

        def kernel(src, dst, mask, full, tail_bits, t, k0, k1, o0, o1, scale):
            raw = cuda.local.array(UNIT, cast)
            out = cuda.local.array(UNIT, cast)
            c = first_unit()
            stride = grid_stride()
            while c < full:  # whole units: no bounds checks
                e = idx(c * idx(UNIT))
                load(src, e, raw)  # issued before Philox: the loads' latency overlaps it
                bits = full_bits(mask, c, t, k0, k1, o0, o1)
                apply_scale(out, raw, bits, scale, np.uint32(0xFF))
                store(dst, e, out)
                c = idx(c + stride)
            if c == full and tail_bits != 0:  # the partial last unit: one thread
                e = idx(c * idx(UNIT))
                for j in range(UNIT):
                    if (tail_bits >> np.uint32(j)) & np.uint32(1):
                        raw[j] = src[e + np.uint32(j)]
                bits = unit_bits(mask, c, c, tail_bits, t, k0, k1, o0, o1)
                apply_scale(out, raw, bits, scale, tail_bits)
                for j in range(UNIT):
                    if (tail_bits >> np.uint32(j)) & np.uint32(1):
                        dst[e + np.uint32(j)] = out[j]

        # A name a profiler can select (ncu -k regex:dropout_forward), one per mode.
        kernel.__name__ = kernel.__qualname__ = f"dropout_{mode}"
        return jit(kernel)

    @device
    def apply_affine(out, raw, bits, a, b, drop, valid):
        """alpha: out = keep ? a*x + b : drop, product and sum each rounded to the dtype
        as numpy rounds them (fmul_rn blocks FMA contraction; for float16 the float32 sum
        of two float16 values rounds to the float16 sum: 24 >= 2*11 + 2)."""
        for j in range(UNIT):
            if (valid >> np.uint32(j)) & np.uint32(1):
                kept = cast(np.float32(cast(mul_rn(a, np.float32(raw[j])))) + b)
                out[j] = kept if (bits >> np.uint32(j)) & np.uint32(1) else cast(drop)

    @jit
    def affine(x, y, mask, full, tail_bits, t, k0, k1, o0, o1, a, b, drop):
        """alpha forward: y = keep ? a*x + b : drop, and the mask."""
        raw = cuda.local.array(UNIT, cast)
        out = cuda.local.array(UNIT, cast)
        c = first_unit()
        stride = grid_stride()
        while c < full:
            e = idx(c * idx(UNIT))
            load(x, e, raw)
            r0, r1, r2, r3 = philox_at(c, o0, o1, k0, k1)
            bits = byte_bits(r0, r1, r2, r3, t)
            mask[c] = np.uint8(bits)
            apply_affine(out, raw, bits, a, b, drop, np.uint32(0xFF))
            store(y, e, out)
            c = idx(c + stride)
        if c == full and tail_bits != 0:
            e = idx(c * idx(UNIT))
            for j in range(UNIT):
                if (tail_bits >> np.uint32(j)) & np.uint32(1):
                    raw[j] = x[e + np.uint32(j)]
            bits = np.uint32(keep_byte(c, c, tail_bits, t, k0, k1, o0, o1))
            mask[c] = np.uint8(bits)
            apply_affine(out, raw, bits, a, b, drop, tail_bits)
            for j in range(UNIT):
                if (tail_bits >> np.uint32(j)) & np.uint32(1):
                    y[e + np.uint32(j)] = out[j]

    @device
    def gauss_factors(fac, c, k0, k1, o0, o1, sigma):
        """fac[0..7] = 1 + sigma*z of the unit's 8 elements (Philox calls 2c and 2c + 1),
        in float64 rounded once to the dtype, as the reference does."""
        m = np.uint64(c) * np.uint64(2)
        for h in range(2):
            r0, r1, r2, r3 = philox_at(m + np.uint64(h), o0, o1, k0, k1)
            z0, z1 = box_muller(r0, r1)
            z2, z3 = box_muller(r2, r3)
            fac[4 * h] = np.float32(cast(1.0 + sigma * z0))
            fac[4 * h + 1] = np.float32(cast(1.0 + sigma * z1))
            fac[4 * h + 2] = np.float32(cast(1.0 + sigma * z2))
            fac[4 * h + 3] = np.float32(cast(1.0 + sigma * z3))

    def gaussian(src, dst, full, tail_bits, k0, k1, o0, o1, sigma):
        """dst = src * (1 + sigma*z): forward and backward alike, 8 elements a trip."""
        raw = cuda.local.array(UNIT, cast)
        out = cuda.local.array(UNIT, cast)
        fac = cuda.local.array(UNIT, np.float32)
        c = first_unit()
        stride = grid_stride()
        while c < full:
            e = idx(c * idx(UNIT))
            load(src, e, raw)
            gauss_factors(fac, c, k0, k1, o0, o1, sigma)
            for j in range(UNIT):
                out[j] = cast(np.float32(raw[j]) * fac[j])
            store(dst, e, out)
            c = idx(c + stride)
        if c == full and tail_bits != 0:
            e = idx(c * idx(UNIT))
            gauss_factors(fac, c, k0, k1, o0, o1, sigma)
            for j in range(UNIT):
                if (tail_bits >> np.uint32(j)) & np.uint32(1):
                    dst[e + np.uint32(j)] = cast(np.float32(src[e + np.uint32(j)]) * fac[j])

    gaussian = jit(gaussian, GAUSS_MIN_BLOCKS)

    @device
    def channel_keep(mask, ch):
        return (np.uint32(mask[ch >> idx(3)]) >> np.uint32(ch & idx(7))) & np.uint32(1)

    @device
    def spatial_bits(mask, e, channel_len, valid):
        """Keep bits of the unit at element e: element e + j keeps channel (e + j) // L.
        One division per unit where a unit spans at most two channels (L >= 8)."""
        ch = idx(e // channel_len)
        if channel_len >= idx(UNIT):
            rem = idx(e - ch * channel_len)
            k_first = channel_keep(mask, ch)
            k_next = k_first
            if idx(rem + idx(UNIT - 1)) >= channel_len and (valid >> np.uint32(7)):
                k_next = channel_keep(mask, idx(ch + idx(1)))
            bits = np.uint32(0)
            for j in range(UNIT):
                kj = k_next if idx(rem + np.uint32(j)) >= channel_len else k_first
                bits |= np.uint32(kj << np.uint32(j))
            return bits
        bits = np.uint32(0)
        for j in range(UNIT):
            if (valid >> np.uint32(j)) & np.uint32(1):
                chj = idx(idx(e + np.uint32(j)) // channel_len)
                bits |= np.uint32(channel_keep(mask, chj) << np.uint32(j))
        return bits

    @jit
    def spatial(src, dst, mask, full, tail_bits, channel_len, scale):
        """spatial: dst = keep[i // channel_len] ? src * scale : 0, 8 elements a trip."""
        raw = cuda.local.array(UNIT, cast)
        out = cuda.local.array(UNIT, cast)
        c = first_unit()
        stride = grid_stride()
        while c < full:
            e = idx(c * idx(UNIT))
            load(src, e, raw)
            bits = spatial_bits(mask, e, channel_len, np.uint32(0xFF))
            apply_scale(out, raw, bits, scale, np.uint32(0xFF))
            store(dst, e, out)
            c = idx(c + stride)
        if c == full and tail_bits != 0:
            e = idx(c * idx(UNIT))
            for j in range(UNIT):
                if (tail_bits >> np.uint32(j)) & np.uint32(1):
                    raw[j] = src[e + np.uint32(j)]
            bits = spatial_bits(mask, e, channel_len, tail_bits)
            apply_scale(out, raw, bits, scale, tail_bits)
            for j in range(UNIT):
                if (tail_bits >> np.uint32(j)) & np.uint32(1):
                    dst[e + np.uint32(j)] = out[j]

    @jit
    def scale_copy(src, dst, full, tail_bits, scale):
        """dst = src * scale (standard inference): one IEEE multiply per element."""
        raw = cuda.local.array(UNIT, cast)
        out = cuda.local.array(UNIT, cast)
        c = first_unit()
        stride = grid_stride()
        while c < full:
            e = idx(c * idx(UNIT))
            load(src, e, raw)
            apply_scale(out, raw, np.uint32(0xFF), scale, np.uint32(0xFF))
            store(dst, e, out)
            c = idx(c + stride)
        if c == full and tail_bits != 0:
            e = idx(c * idx(UNIT))
            for j in range(UNIT):
                if (tail_bits >> np.uint32(j)) & np.uint32(1):
                    dst[e + np.uint32(j)] = dmul(src[e + np.uint32(j)], scale)

    return SimpleNamespace(
        forward=masked(MODE_FORWARD), regen=masked(MODE_REGEN), stored=masked(MODE_STORED),
        affine=affine, gaussian=gaussian, spatial=spatial, scale_copy=scale_copy,
    )


@functools.cache
def _mask_kernel(wide: bool):
    """The packed mask alone, one thread per byte (spatial: one bit per channel)."""
    idx = np.uint64 if wide else np.uint32

    @jit
    def channel_mask(mask, nbytes, tail_bits, t, k0, k1, o0, o1):
        c = idx(idx(cuda.blockIdx.x) * idx(BLOCK) + idx(cuda.threadIdx.x))
        stride = idx(idx(cuda.gridDim.x) * idx(BLOCK))
        last = idx(nbytes - idx(1))
        while c < nbytes:
            mask[c] = keep_byte(c, last, tail_bits, t, k0, k1, o0, o1)
            c = idx(c + stride)

    return channel_mask


# --- launch configuration ----------------------------------------------------------------
def _set(src, dst) -> SimpleNamespace:
    """The kernels for these arrays: their dtype, index width and alignment."""
    aligned = (address(src) | address(dst)) % VECTOR_BYTES == 0
    return _kernels(src.dtype.name, src.size >= NARROW_LIMIT, aligned)


def _units(n: int) -> tuple[int, np.uint32]:
    """(whole units, bits of the partial last unit's elements: 0 when there is none)."""
    return n // UNIT, np.uint32((1 << (n % UNIT)) - 1)


def _index(n: int, value: int):
    return np.uint64(value) if n >= NARROW_LIMIT else np.uint32(value)


def _words(plan: Plan):
    """(t, k0, k1, o0, o1) as the uint32 scalars the kernels take."""
    return tuple(np.uint32(w) for w in (plan.t, plan.k0, plan.k1, plan.o0, plan.o1))


@functools.cache
def _scratch_byte(device_id: int):
    """A one-byte device array passed as `mask` where a kernel stores none, per device."""
    return cuda.device_array(1, dtype=np.uint8)


def channel_mask(mask, plan: Plan, stream=0) -> None:
    """Write the packed mask of plan (all nbits entries) into the uint8 device array."""
    nbytes = plan.nbytes
    wide = nbytes * UNIT >= NARROW_LIMIT
    tail = plan.nbits - UNIT * (nbytes - 1)
    launch(_mask_kernel(wide), nbytes, stream, mask, _index(nbytes * UNIT, nbytes),
            np.uint32((1 << tail) - 1), *_words(plan))


def _masked(src, dst, mask, mode: str, plan: Plan, scale, stream) -> None:
    full, tail = _units(plan.n)
    kernel = getattr(_set(src, dst), mode)
    launch(kernel, -(-plan.n // UNIT), stream, src, dst, mask, _index(plan.n, full), tail,
            *_words(plan), src.dtype.type(scale))


def _spatial(src, dst, mask, plan: Plan, scale, stream) -> None:
    if mask is None:  # regenerate the channel mask: ceil(N*C / 8) bytes, tiny next to x
        mask = cuda.device_array(plan.nbytes, dtype=np.uint8, stream=stream)
        channel_mask(mask, plan, stream)
    full, tail = _units(plan.n)
    launch(_set(src, dst).spatial, -(-plan.n // UNIT), stream, src, dst, mask,
            _index(plan.n, full), tail, _index(plan.n, plan.channel_len), src.dtype.type(scale))


def _gaussian(src, dst, plan: Plan, stream) -> None:
    full, tail = _units(plan.n)
    _, k0, k1, o0, o1 = _words(plan)
    launch(_set(src, dst).gaussian, -(-plan.n // UNIT), stream, src, dst,
            _index(plan.n, full), tail, k0, k1, o0, o1, np.float64(plan.sigma))


# --- the kernel interface of reference.py --------------------------------------------------
def forward(x, y, mask, plan: Plan, stream=0) -> None:
    """Training forward: write y and (for every variant but gaussian) the packed mask."""
    if plan.variant == "gaussian":
        _gaussian(x, y, plan, stream)
        return
    if mask is None:  # kernels always store the mask: give them somewhere to put it
        mask = cuda.device_array(plan.nbytes, dtype=np.uint8, stream=stream)
    if plan.variant == "spatial":
        channel_mask(mask, plan, stream)
        _spatial(x, y, mask, plan, plan.scale, stream)
    elif plan.variant == "alpha":
        full, tail = _units(plan.n)
        launch(_set(x, y).affine, -(-plan.n // UNIT), stream, x, y, mask,
                _index(plan.n, full), tail, *_words(plan), np.float32(plan.alpha_a),
                np.float32(plan.alpha_b), np.float32(plan.alpha_drop))
    else:  # inverted (scale s) and standard (scale 1)
        _masked(x, y, mask, MODE_FORWARD, plan, plan.scale, stream)


def backward(dy, dx, mask, plan: Plan, stream=0) -> None:
    """dx from dy with the stored mask, or (mask None) regenerated from the seed."""
    if plan.variant == "gaussian":
        _gaussian(dy, dx, plan, stream)
        return
    scale = plan.alpha_a if plan.variant == "alpha" else plan.scale  # keep ? scale*dy : 0
    if plan.variant == "spatial":
        _spatial(dy, dx, mask, plan, scale, stream)
    elif mask is None:
        _masked(dy, dx, _scratch_byte(current_device_id()), MODE_REGEN, plan, scale, stream)
    else:
        _masked(dy, dx, mask, MODE_STORED, plan, scale, stream)


def inference(x, y, plan: Plan, stream=0) -> None:
    """Dropout off: y = x (a device copy), or x * (1 - p_hat) for the standard variant."""
    if plan.variant == "standard":
        full, tail = _units(plan.n)
        launch(_set(x, y).scale_copy, -(-plan.n // UNIT), stream, x, y,
                _index(plan.n, full), tail, x.dtype.type(plan.infer_scale))
    elif address(x) != address(y):  # out is x: nothing to do
        y.copy_to_device(x, stream=stream)
