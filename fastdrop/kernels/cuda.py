"""The CUDA kernels (numba-cuda): SPEC.md on an NVIDIA GPU, bit for bit with the reference.

Same names and signatures as reference.py: forward(x, y, mask, plan), backward(dy, dx, mask,
plan), inference(x, y, plan), over flat contiguous device arrays and a validated `Plan`.
`CudaBackend` at the bottom adapts device arrays (numba, CuPy, PyTorch: anything with
`__cuda_array_interface__`) to those flat buffers for fastdrop.ops.

This module is imported only where numba.cuda is usable (a GPU, or the simulator with
NUMBA_ENABLE_CUDASIM=1); `import fastdrop` never imports it.

How the kernels spend memory bandwidth (docs/GPU.md has the long version):

- One Philox4x32-10 call gives one mask byte, 8 elements. A block of TILE threads owns a
  tile of TILE mask bytes = 8*TILE elements. Phase 1: thread t computes (or, in backward,
  loads) mask byte t of the tile and keeps it in shared memory; mask bytes are written with
  one coalesced uint8 store per thread. Phase 2: the block walks the tile's elements in
  coalesced order (element 8*TILE*tile + j*TILE + t for j = 0..7), each thread reading its
  keep bit out of shared memory. A warp thus reads and writes 32 consecutive elements per
  instruction (128 bytes of float32), where "8 contiguous elements per thread" would have
  each store touch 32 different sectors.
- Grid-stride over tiles, with the grid capped at one full wave (SM count x 2048 / TILE
  blocks), so large inputs do not pay for block scheduling and small ones launch few blocks.
- No warp intrinsics (the simulator has none): only shared memory and syncthreads.
- Philox runs in 32-bit registers: mulhi via libdevice umulhi (mul.hi.u32) and the low
  word as a truncated product (mul.lo.u32). 64-bit math only for indices and counters
  (counter = (c mod 2^32, c >> 32, offset lo, offset hi)).
- Element math in float32 for float16 and float32 data: a float16 product is exact in
  float32, so rounding it once on the store gives the IEEE float16 product's bits.
  Dropped elements are selected (never multiplied): NaN/Inf dropped give exactly the
  dropped value. Alpha's a*x uses fmul_rn, which the compiler may not contract into an
  FMA, so alpha matches numpy's separate multiply and add bit for bit as well.
- Gaussian noise is computed in float64 (log, sqrt, cos, sin of libdevice), as the
  reference does, then rounded once to x's dtype: agreement to about 1 ulp of x's dtype.
"""

from __future__ import annotations

import functools
import math
import sys
from types import SimpleNamespace

import numpy as np
from numba import cuda

from .. import _validate as v
from .. import spec
from .plan import Plan


def _simulator_enabled() -> bool:
    """True when numba.cuda is the simulator (NUMBA_ENABLE_CUDASIM=1 at its import)."""
    try:
        from numba.cuda.core import config  # numba-cuda >= 0.20
    except ImportError:  # older numba-cuda keeps the flag in numba's config
        from numba.core import config
    return bool(config.ENABLE_CUDASIM)


SIMULATOR = _simulator_enabled()

# --- launch geometry ---------------------------------------------------------------------
TILE = 256  # threads per block = mask bytes per tile (8 * TILE elements per tile)
GAUSS_LANES = spec.GAUSS_PER_CALL  # gaussian: one Philox call per 4 elements
GAUSS_TILE_ELEMS = GAUSS_LANES * TILE
THREADS_PER_SM = 2048  # resident threads per SM on sm_70..sm_90: the grid is one wave
SIMULATOR_BLOCKS = 2  # the simulator runs every thread in Python: keep grids tiny
# Cap on blocks per launch; None = one full wave of the device. Tests set it to 1 to make
# every block walk several tiles of the grid-stride loop, on the simulator or a GPU.
GRID_LIMIT: int | None = None

# --- constants, typed for device code ----------------------------------------------------
_M0 = np.uint32(spec.PHILOX_M0)
_M1 = np.uint32(spec.PHILOX_M1)
_M0_64 = np.uint64(spec.PHILOX_M0)
_M1_64 = np.uint64(spec.PHILOX_M1)
_W0 = np.uint64(spec.PHILOX_W0)  # uint64 so the key bump never overflows before truncation
_W1 = np.uint64(spec.PHILOX_W1)
_SHIFT32 = np.uint64(32)
_LOW16 = np.uint32(0xFFFF)
_INV_2_32 = 1.0 / 2.0**32  # exact: dividing by 2^32 and multiplying by 2^-32 agree
_TWO_PI = 2.0 * math.pi  # the reference's 2.0 * np.pi, rounded the same way

# The mode of a tile kernel's phase 1: where the tile's keep bits come from.
MODE_FORWARD = 0  # Philox, and store the mask bytes
MODE_STORED = 1  # load the stored mask bytes (backward from a mask)
MODE_REGEN = 2  # Philox, store nothing (backward regenerated from seed / offset)


def _device(fn):
    """A device function: forceinlined on a GPU. On the simulator it stays a plain Python
    function (the kernels calling it are Python there too): the simulator's device-function
    wrapper adds ~15 us a call and the kernels make dozens of calls per mask byte."""
    if SIMULATOR:
        return fn
    return cuda.jit(device=True, forceinline=True)(fn)


if SIMULATOR:
    # The simulator has no libdevice: the same arithmetic on numpy scalars.
    @_device
    def _mulhi(a, b):
        """High 32 bits of the 64-bit product of two uint32."""
        return np.uint32((np.uint64(a) * np.uint64(b)) >> _SHIFT32)

    @_device
    def _mul_rn(a, b):
        """float32 product, rounded once (numpy scalars never fuse)."""
        return a * b

else:
    from numba.cuda import libdevice

    @_device
    def _mulhi(a, b):
        return libdevice.umulhi(a, b)  # mul.hi.u32: no 64-bit multiply in the Philox rounds

    @_device
    def _mul_rn(a, b):
        # __fmul_rn: a multiply the compiler may not contract into an FMA with the next add.
        return libdevice.fmul_rn(a, b)


# --- Philox4x32-10 and the keep bits (SPEC.md sections 1 and 2) ---------------------------
@_device
def _philox(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of one counter; all words uint32."""
    for _ in range(spec.PHILOX_ROUNDS):
        hi0 = _mulhi(c0, _M0)
        lo0 = np.uint32(np.uint64(c0) * _M0_64)  # truncated: compiles to mul.lo.u32
        hi1 = _mulhi(c2, _M1)
        lo1 = np.uint32(np.uint64(c2) * _M1_64)
        c0, c1, c2, c3 = np.uint32(hi1 ^ c1 ^ k0), lo1, np.uint32(hi0 ^ c3 ^ k1), lo0
        k0 = np.uint32(k0 + _W0)  # the bump after the last round is dead code
        k1 = np.uint32(k1 + _W1)
    return c0, c1, c2, c3


@_device
def _philox_at(c, o0, o1, k0, k1):
    """Philox call number c (int64): counter (c mod 2^32, c >> 32, offset lo, offset hi)."""
    return _philox(np.uint32(c & 0xFFFFFFFF), np.uint32(c >> 32), o0, o1, k0, k1)


@_device
def _pair_bits(r, t):
    """Keep bits of the two 16-bit uniforms in word r: bit 0 low half, bit 1 high half."""
    return np.uint32((r & _LOW16) >= t) | (np.uint32((r >> 16) >= t) << 1)


@_device
def _keep_byte(c, nbits, t, k0, k1, o0, o1):
    """Mask byte c: bit j keeps entry 8c + j; bits past entry nbits - 1 are 0."""
    r0, r1, r2, r3 = _philox_at(c, o0, o1, k0, k1)
    # np.uint32 around mixed expressions: numba types uint64 op int64 as float64.
    bits = np.uint32(
        _pair_bits(r0, t)
        | (_pair_bits(r1, t) << 2)
        | (_pair_bits(r2, t) << 4)
        | (_pair_bits(r3, t) << 6)
    )
    valid = nbits - c * 8
    if valid < 8:  # the last byte: unused high bits are 0 (np.packbits layout)
        bits = np.uint32(bits & ((1 << valid) - 1))
    return np.uint8(bits)


@_device
def _tile_bits(mask, mode, c, nbytes, nbits, t, k0, k1, o0, o1):
    """Phase 1 of a tile kernel for mask byte c: its keep bits (0 past the end)."""
    if c >= nbytes:
        return np.uint8(0)
    if mode == MODE_STORED:
        return mask[c]
    bits = _keep_byte(c, nbits, t, k0, k1, o0, o1)
    if mode == MODE_FORWARD:
        mask[c] = bits
    return bits


@_device
def _tile_bit(bits_s, local):
    """Keep bit of element `local` (0 .. 8*TILE - 1) of a tile, from the shared mask bytes."""
    return (bits_s[np.uint32(local >> 3)] >> np.uint32(local & 7)) & 1


@_device
def _load_tile(src, vals, start, n, per_thread):
    """Phase 0: this thread's elements of a tile, start + j*TILE + tid, as float32 (0 past
    the end). A warp reads 32 consecutive elements per load, and all loads are issued
    before the Philox work, so their latency overlaps it."""
    tid = cuda.threadIdx.x
    for j in range(per_thread):
        i = start + j * TILE + tid
        # An unsigned index: numba emits no negative-index wraparound code for it.
        vals[j] = np.float32(src[np.uint64(i)]) if i < n else np.float32(0.0)


@_device
def _box_muller(ra, rb):
    """Two standard normals from two uint32 words, in float64 like the reference."""
    u1 = (np.float64(ra) + 0.5) * _INV_2_32  # in (0, 1): the log is finite
    u2 = np.float64(rb) * _INV_2_32
    radius = math.sqrt(-2.0 * math.log(u1))
    angle = _TWO_PI * u2
    return radius * math.cos(angle), radius * math.sin(angle)


# --- kernels, specialised per storage dtype ----------------------------------------------
@functools.cache
def _kernels(dtype_name: str) -> SimpleNamespace:
    """The kernels for float16 or float32 data.

    Arithmetic is float32 (float64 for the gaussian noise); `store` rounds a result to the
    data's dtype. It is a closure constant, so each dtype gets its own compiled kernels,
    and numba's dispatcher caches each compiled signature for the life of the process.
    """
    store = np.float16 if dtype_name == "float16" else np.float32

    @_device
    def select_scaled(dst, vals, bits_s, start, n, scale):
        """Phase 2: dst = keep ? x * scale : +0 for the tile's elements this thread loaded."""
        tid = cuda.threadIdx.x
        for j in range(8):
            local = j * TILE + tid
            i = start + local
            if i < n:
                kept = vals[j] * scale
                dst[np.uint64(i)] = store(kept if _tile_bit(bits_s, local) else np.float32(0.0))

    @_device
    def select_affine(dst, vals, bits_s, start, n, a, b, drop):
        """Phase 2 of alpha: dst = keep ? a*x + b : drop, product and sum each rounded to
        the dtype as numpy rounds them (fmul_rn blocks FMA contraction; for float16 the
        float32 sum of two float16 values rounds to the float16 sum: 24 >= 2*11 + 2)."""
        tid = cuda.threadIdx.x
        for j in range(8):
            local = j * TILE + tid
            i = start + local
            if i < n:
                kept = np.float32(store(_mul_rn(a, vals[j]))) + b
                dst[np.uint64(i)] = store(kept if _tile_bit(bits_s, local) else drop)

    @cuda.jit
    def scaled_tiles(src, dst, mask, mode, n, nbytes, t, k0, k1, o0, o1, scale):
        """inverted / standard forward, and backward of every masked variant but spatial:
        dst = keep ? src * scale : 0. `mode` says where keep comes from (MODE_*)."""
        bits_s = cuda.shared.array(TILE, np.uint8)
        vals = cuda.local.array(8, np.float32)  # registers once the loops are unrolled
        tid = cuda.threadIdx.x
        tile = np.int64(cuda.blockIdx.x)
        ntiles = (nbytes + TILE - 1) // TILE
        while tile < ntiles:  # uniform per block: every thread reaches both syncthreads
            start = tile * TILE * 8
            _load_tile(src, vals, start, n, 8)  # in flight while Philox runs
            c = tile * TILE + tid
            bits_s[tid] = _tile_bits(mask, mode, c, nbytes, n, t, k0, k1, o0, o1)
            cuda.syncthreads()
            select_scaled(dst, vals, bits_s, start, n, scale)
            cuda.syncthreads()  # before the next tile overwrites bits_s
            tile += cuda.gridDim.x

    @cuda.jit
    def affine_tiles(x, y, mask, n, nbytes, t, k0, k1, o0, o1, a, b, drop):
        """alpha forward: y = keep ? a*x + b : drop, and the mask."""
        bits_s = cuda.shared.array(TILE, np.uint8)
        vals = cuda.local.array(8, np.float32)
        tid = cuda.threadIdx.x
        tile = np.int64(cuda.blockIdx.x)
        ntiles = (nbytes + TILE - 1) // TILE
        while tile < ntiles:
            start = tile * TILE * 8
            _load_tile(x, vals, start, n, 8)
            c = tile * TILE + tid
            bits_s[tid] = _tile_bits(mask, MODE_FORWARD, c, nbytes, n, t, k0, k1, o0, o1)
            cuda.syncthreads()
            select_affine(y, vals, bits_s, start, n, a, b, drop)
            cuda.syncthreads()
            tile += cuda.gridDim.x

    @cuda.jit
    def gaussian_tiles(src, dst, n, ncalls, k0, k1, o0, o1, sigma):
        """dst = src * (1 + sigma*z): forward and backward alike. Phase 1: thread t makes
        the 4 factors of Philox call t of the tile; phase 2 applies them coalesced."""
        fac_s = cuda.shared.array(GAUSS_TILE_ELEMS, np.float32)
        vals = cuda.local.array(GAUSS_LANES, np.float32)
        tid = cuda.threadIdx.x
        tile = np.int64(cuda.blockIdx.x)
        ntiles = (ncalls + TILE - 1) // TILE
        while tile < ntiles:
            start = tile * GAUSS_TILE_ELEMS
            _load_tile(src, vals, start, n, GAUSS_LANES)
            m = tile * TILE + tid
            if m < ncalls:
                r0, r1, r2, r3 = _philox_at(m, o0, o1, k0, k1)
                z0, z1 = _box_muller(r0, r1)
                z2, z3 = _box_muller(r2, r3)
                # 1 + sigma*z in float64, rounded once to the dtype, as the reference does.
                fac_s[4 * tid] = np.float32(store(1.0 + sigma * z0))
                fac_s[4 * tid + 1] = np.float32(store(1.0 + sigma * z1))
                fac_s[4 * tid + 2] = np.float32(store(1.0 + sigma * z2))
                fac_s[4 * tid + 3] = np.float32(store(1.0 + sigma * z3))
            cuda.syncthreads()
            for j in range(GAUSS_LANES):
                local = j * TILE + tid
                i = start + local
                if i < n:
                    dst[np.uint64(i)] = store(vals[j] * fac_s[np.uint32(local)])
            cuda.syncthreads()
            tile += cuda.gridDim.x

    @cuda.jit
    def spatial_apply(src, dst, mask, n, channel_len, scale):
        """spatial: dst[i] = keep[i // channel_len] ? src[i] * scale : 0, one element per
        thread per step (coalesced). The channel index advances by the grid stride's
        quotient and remainder, so the loop has no 64-bit division."""
        i = np.int64(cuda.grid(1))
        stride = np.int64(cuda.gridsize(1))
        channel = i // channel_len
        within = i - channel * channel_len
        step_channels = stride // channel_len
        step_within = stride - step_channels * channel_len
        while i < n:
            keep = (mask[np.uint64(channel >> 3)] >> np.uint32(channel & 7)) & 1
            at = np.uint64(i)
            kept = np.float32(src[at]) * scale
            dst[at] = store(kept if keep else np.float32(0.0))
            i += stride
            channel += step_channels
            within += step_within
            if within >= channel_len:
                within -= channel_len
                channel += 1

    @cuda.jit
    def scale_copy(src, dst, n, scale):
        """dst = src * scale (standard inference): one IEEE multiply per element."""
        i = np.int64(cuda.grid(1))
        stride = np.int64(cuda.gridsize(1))
        while i < n:
            at = np.uint64(i)
            dst[at] = store(np.float32(src[at]) * scale)
            i += stride

    return SimpleNamespace(
        scaled_tiles=scaled_tiles,
        affine_tiles=affine_tiles,
        gaussian_tiles=gaussian_tiles,
        spatial_apply=spatial_apply,
        scale_copy=scale_copy,
    )


@cuda.jit
def _channel_mask(mask, nbits, nbytes, t, k0, k1, o0, o1):
    """The packed mask alone, one thread per byte (spatial: one bit per channel)."""
    c = np.int64(cuda.grid(1))
    stride = np.int64(cuda.gridsize(1))
    while c < nbytes:
        mask[c] = _keep_byte(c, nbits, t, k0, k1, o0, o1)
        c += stride


# --- launch configuration ----------------------------------------------------------------
@functools.cache
def _wave_blocks() -> int:
    """Blocks of TILE threads in one full wave of the current device (or the simulator)."""
    if SIMULATOR:
        return SIMULATOR_BLOCKS
    sms = cuda.get_current_device().MULTIPROCESSOR_COUNT
    return sms * (THREADS_PER_SM // TILE)


def _blocks(work_items: int) -> int:
    """Blocks for `work_items` tiles (or elements / TILE): at most one wave, at least 1."""
    limit = GRID_LIMIT if GRID_LIMIT is not None else _wave_blocks()
    return max(1, min(work_items, limit))


def _tiles(count: int) -> int:
    return -(-count // TILE)


@functools.cache
def _scratch_byte():
    """A one-byte device array passed as `mask` where a kernel stores none (regeneration)."""
    return cuda.device_array(1, dtype=np.uint8)


def _words(plan: Plan):
    """(t, k0, k1, o0, o1) as the uint32 scalars the kernels take."""
    return tuple(np.uint32(w) for w in (plan.t, plan.k0, plan.k1, plan.o0, plan.o1))


def _f32(value) -> np.float32:
    """A plan scale (already rounded to x's dtype) as float32: exact for float16 too."""
    return np.float32(value)


def channel_mask(mask, plan: Plan) -> None:
    """Write the packed mask of plan (all nbits entries) into the uint8 device array."""
    nbytes = plan.nbytes
    _channel_mask[_blocks(_tiles(nbytes)), TILE](
        mask, np.int64(plan.nbits), np.int64(nbytes), *_words(plan)
    )


def _scaled(src, dst, mask, mode: int, plan: Plan, scale) -> None:
    k = _kernels(src.dtype.name)
    nbytes = plan.nbytes
    k.scaled_tiles[_blocks(_tiles(nbytes)), TILE](
        src, dst, mask, np.int64(mode), np.int64(plan.n), np.int64(nbytes), *_words(plan),
        _f32(scale),
    )


def _spatial(src, dst, mask, plan: Plan, scale) -> None:
    if mask is None:  # regenerate the channel mask: ceil(N*C / 8) bytes, tiny next to x
        mask = cuda.device_array(plan.nbytes, dtype=np.uint8)
        channel_mask(mask, plan)
    k = _kernels(src.dtype.name)
    k.spatial_apply[_blocks(_tiles(plan.n)), TILE](
        src, dst, mask, np.int64(plan.n), np.int64(plan.channel_len), _f32(scale)
    )


def _gaussian(src, dst, plan: Plan) -> None:
    k = _kernels(src.dtype.name)
    ncalls = -(-plan.n // spec.GAUSS_PER_CALL)
    _, k0, k1, o0, o1 = _words(plan)
    k.gaussian_tiles[_blocks(_tiles(ncalls)), TILE](
        src, dst, np.int64(plan.n), np.int64(ncalls), k0, k1, o0, o1, np.float64(plan.sigma)
    )


# --- the kernel interface of reference.py --------------------------------------------------
def forward(x, y, mask, plan: Plan) -> None:
    """Training forward: write y and (for every variant but gaussian) the packed mask."""
    if plan.variant == "gaussian":
        _gaussian(x, y, plan)
        return
    if mask is None:  # kernels always store the mask: give them somewhere to put it
        mask = cuda.device_array(plan.nbytes, dtype=np.uint8)
    if plan.variant == "spatial":
        channel_mask(mask, plan)
        _spatial(x, y, mask, plan, plan.scale)
    elif plan.variant == "alpha":
        k = _kernels(x.dtype.name)
        nbytes = plan.nbytes
        k.affine_tiles[_blocks(_tiles(nbytes)), TILE](
            x, y, mask, np.int64(plan.n), np.int64(nbytes), *_words(plan),
            _f32(plan.alpha_a), _f32(plan.alpha_b), _f32(plan.alpha_drop),
        )
    else:  # inverted (scale s) and standard (scale 1)
        _scaled(x, y, mask, MODE_FORWARD, plan, plan.scale)


def backward(dy, dx, mask, plan: Plan) -> None:
    """dx from dy with the stored mask, or (mask None) regenerated from the seed."""
    if plan.variant == "gaussian":
        _gaussian(dy, dx, plan)
        return
    scale = plan.alpha_a if plan.variant == "alpha" else plan.scale  # keep ? scale*dy : 0
    if plan.variant == "spatial":
        _spatial(dy, dx, mask, plan, scale)
    elif mask is None:
        _scaled(dy, dx, _scratch_byte(), MODE_REGEN, plan, scale)
    else:
        _scaled(dy, dx, mask, MODE_STORED, plan, scale)


def inference(x, y, plan: Plan) -> None:
    """Dropout off: y = x (a device copy), or x * (1 - p_hat) for the standard variant."""
    if plan.variant == "standard":
        k = _kernels(x.dtype.name)
        k.scale_copy[_blocks(_tiles(plan.n)), TILE](
            x, y, np.int64(plan.n), _f32(plan.infer_scale)
        )
    elif _address(x) != _address(y):  # out is x: nothing to do
        y.copy_to_device(x)


# --- device arrays for fastdrop.ops --------------------------------------------------------
MOVE_HINT = (
    "move it to the GPU first, e.g. numba.cuda.to_device(a), cupy.asarray(a) or "
    "torch.as_tensor(a, device='cuda')"
)


def _is_numba_device_array(a) -> bool:
    """numba's device arrays (the simulator's carry only this marker)."""
    return bool(getattr(a, "__cuda_ndarray__", False))


def _is_device_array(a) -> bool:
    return _is_numba_device_array(a) or hasattr(a, "__cuda_array_interface__")


def _as_numba(a):
    """A numba view of a device array: zero-copy for CuPy arrays and torch CUDA tensors."""
    if _is_numba_device_array(a):
        return a
    return cuda.as_cuda_array(a)


def _address(a) -> int:
    """Device address of a's first element (the simulator wraps a host numpy array)."""
    iface = getattr(a, "__cuda_array_interface__", None)
    if iface is None:
        iface = a.__array_interface__
    return int(iface["data"][0])


def _byte_extent(a) -> tuple[int, int]:
    """[lo, hi) of the bytes an array's elements touch."""
    lo = hi = _address(a)
    for dim, stride in zip(a.shape, a.strides, strict=True):
        reach = (dim - 1) * stride
        lo, hi = (lo + reach, hi) if reach < 0 else (lo, hi + reach)
    return lo, hi + a.dtype.itemsize


def _check_device_overlap(out, x, name: str) -> None:
    """out may be x itself (same address, layout) or apart from x's bytes; nothing between.
    Interleaved views that share no element but share an extent are refused too: without
    numpy's exact solver on device memory, the extent is the safe test."""
    if out.size == 0 or x.size == 0:
        return
    (olo, ohi), (xlo, xhi) = _byte_extent(out), _byte_extent(x)
    if ohi <= xlo or xhi <= olo:
        return
    same = (
        _address(out) == _address(x)
        and tuple(out.strides) == tuple(x.strides)
        and tuple(out.shape) == tuple(x.shape)
    )
    if not same:
        raise ValueError(
            f"{name} overlaps the input partially; pass out=x for in-place, or a separate "
            "buffer"
        )


def _contiguous_copy(a):
    """A C-contiguous device copy of a strided device array (numba copies on the device)."""
    copy = cuda.device_array(a.shape, dtype=a.dtype)
    copy[:] = a  # never 0-d: a 0-d array is contiguous
    return copy


class CudaBackend:
    """Device arrays on an NVIDIA GPU (or the numba-cuda simulator); kernels from this
    module. Outputs are numba device arrays: view them with cupy.asarray(y) or
    torch.as_tensor(y, device='cuda'), both zero-copy."""

    name = "cuda"
    # bfloat16 is not taken: numpy has no bfloat16 dtype, so numba device arrays cannot
    # hold one, and PyTorch does not export bfloat16 tensors via __cuda_array_interface__.
    dtypes = ("float16", "float32")

    @property
    def kernels(self):
        return sys.modules[__name__]  # forward, backward, inference above

    def asarray(self, x, name: str):
        if not _is_device_array(x):
            raise TypeError(
                f"{name} is a host array ({type(x).__name__}) but backend 'cuda' takes CUDA "
                f"device arrays; {MOVE_HINT}"
            )
        arr = _as_numba(x)
        v.check_dtype(arr.dtype, self.dtypes, self.name, name)
        return arr

    def flat(self, a):
        """A flat C-order view, or a contiguous device copy of a non-contiguous view."""
        if not a.is_c_contiguous():
            a = _contiguous_copy(a)
        return a.reshape(a.size)

    def empty(self, shape, dtype):
        return cuda.device_array(shape, dtype=np.dtype(dtype))

    def empty_mask(self, nbytes: int):
        return cuda.device_array(nbytes, dtype=np.uint8)

    def output(self, out, x, name: str = "out"):
        """(array returned to the caller, flat device buffer the kernel writes)."""
        if out is None:
            y = self.empty(x.shape, x.dtype)
            return y, y.reshape(y.size)
        if not _is_device_array(out):
            raise ValueError(
                f"{name} must be a CUDA device array for backend 'cuda', got "
                f"{type(out).__name__}"
            )
        view = _as_numba(out)
        v.check_out(view, x.shape, x.dtype, name)
        _check_device_overlap(view, x, name)
        if view.is_c_contiguous():
            return out, view.reshape(view.size)
        return out, self.empty((view.size,), view.dtype)  # copied into out by finish()

    def finish(self, y, y_flat) -> None:
        """Copy the kernel's result into a non-contiguous `out`."""
        view = _as_numba(y)
        if view.size and not view.is_c_contiguous():
            view[:] = y_flat.reshape(view.shape)

    def mask_array(self, mask):
        if not _is_device_array(mask):
            raise TypeError(
                f"mask is a host array ({type(mask).__name__}) but backend 'cuda' takes the "
                f"device mask that dropout returned; {MOVE_HINT}"
            )
        mask = _as_numba(mask)
        if mask.ndim == 1 and not mask.is_c_contiguous():
            mask = _contiguous_copy(mask)
        return mask
