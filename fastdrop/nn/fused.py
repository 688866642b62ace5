"""The fused tail of Linear and Conv1d: bias + activation + dropout in one pass over the
activations, and in backward the dropout's mask and the activation's derivative in one pass.

The unfused layers (Linear, ReLU/SELU, Dropout through fastdrop.dropout) stay as the
reference: the fused pass computes every value with the same operations in the same order
and dtype (the activation rounded to x's dtype before dropout sees it, the scale rounded
to x's dtype and applied with one multiply, the Gaussian factor rounded before its
multiply), so outputs and gradients are bit-identical to it (tests/nn/test_nn_fused.py).

Mask bits are SPEC.md's: entry m of the keep mask is 16-bit lane m % 8 of Philox call
m // 8 at counter (m // 8, offset) under the key of `seed`, kept when it is >= t. The
forward writes the packed mask (1 bit per entry) or, with store_mask=False, nothing:
backward regenerates the bits from (seed, offset). Gaussian has no mask: backward
regenerates its factor 1 + sigma*z.

One pass per stage, each a plain loop LLVM vectorises: Philox words -> keep bytes
(compare) -> packed mask (gather multiply) -> the fused element loop. Single-threaded on
purpose: the trainer's arrays (10^4 - 5*10^4 elements) are far below the size where a
parallel region pays for waking threads (kernels/cpu.py: SERIAL_BELOW).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import spec
from .._validate import check_p, check_variant
from ..kernels._numba_ext import M32, U64, philox_lazy
from ..kernels.plan import make_plan
from .loops import SELU_ALPHA, SELU_LAMBDA

ACTIVATIONS = {None: 0, "relu": 1, "selu": 2}
ACT_NONE, ACT_RELU, ACT_SELU = 0, 1, 2
# what a kept element becomes: x*s (inverted, spatial), x (standard), a*x + b (alpha),
# x*f (gaussian, f = 1 + sigma*z), x*s always (standard at inference); NONE: no dropout
D_NONE, D_SCALE, D_COPY, D_AFFINE, D_GAUSS, D_MULT = range(6)

_S32 = U64(32)
_S56 = U64(56)
_GATHER = U64(0x0102040810204080)  # 8 bytes of 0/1 -> 8 bits in the top byte
_SPREAD = U64(0x0101010101010101)  # a byte copied into all 8 bytes
_BITSEL = U64(0x8040201008040201)  # byte j keeps bit j

# ---------------------------------------------------------------------------------------
# the mask and the Gaussian factor
# ---------------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def keep_bytes(kb8, nbits, t, key0, key1, off0, off1, w64):
    """kb8[m] = 1 where mask entry m is kept (m < nbits), 0 on the padding to a multiple
    of 8. w64: scratch of 2 * ceil(nbits / 8) uint64 (one Philox call per 8 entries)."""
    k0, k1, o0, o1 = U64(key0), U64(key1), U64(off0), U64(off1)
    calls = (nbits + 7) // 8
    for c in range(calls):
        cc = U64(c)
        r0, r1, r2, r3 = philox_lazy(cc & M32, cc >> _S32, o0, o1, k0, k1)
        w64[2 * c] = r0 | (r1 << _S32)
        w64[2 * c + 1] = r2 | (r3 << _S32)
    u16 = w64[: 2 * calls].view(np.uint16)  # the 16-bit uniform of entry m is u16[m]
    t32 = np.int32(t)
    for m in range(nbits):
        kb8[m] = np.int32(u16[m]) >= t32
    for m in range(nbits, 8 * calls):
        kb8[m] = 0


@njit(cache=True, error_model="numpy")
def pack(kb8, mask):
    """Packed mask (SPEC.md layout) of the keep bytes: 8 bytes -> 1 by one multiply."""
    kb64 = kb8[: 8 * mask.size].view(np.uint64)
    for c in range(mask.size):
        mask[c] = np.uint8((kb64[c] * _GATHER) >> _S56)


@njit(cache=True, error_model="numpy")
def unpack(mask, kb8):
    """Keep bytes (nonzero = kept) of a packed mask."""
    kb64 = kb8[: 8 * mask.size].view(np.uint64)
    for c in range(mask.size):
        kb64[c] = (U64(mask[c]) * _SPREAD) & _BITSEL


@njit(cache=True, error_model="numpy")
def gaussian_factors(f, sigma, key0, key1, off0, off1):
    """f[i] = 1 + sigma*z_i rounded to f's dtype: SPEC.md's Box-Muller on Philox call i // 4."""
    k0, k1, o0, o1 = U64(key0), U64(key1), U64(off0), U64(off1)
    n = f.size
    two32 = 4294967296.0
    for m in range((n + 3) // 4):
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
                    f[i] = 1.0 + sigma * z


# ---------------------------------------------------------------------------------------
# element steps (inlined): the same expressions as loops.py's activations and cpu.py's
# dropout, so the fused values are the unfused ones bit for bit
# ---------------------------------------------------------------------------------------


@njit(inline="always")
def _act(v, act):
    if act == ACT_RELU:
        return v if not v <= 0 else 0
    if act == ACT_SELU:
        return SELU_LAMBDA * v if v > 0 else SELU_LAMBDA * SELU_ALPHA * (math.exp(v) - 1.0)
    return v


@njit(inline="always")
def _act_grad(d, a, act):
    """Gradient through the activation from its output a (a > 0 exactly when x > 0)."""
    if act == ACT_RELU:
        return d if a > 0 else 0
    if act == ACT_SELU:
        return d * SELU_LAMBDA if a > 0 else d * (a + SELU_LAMBDA * SELU_ALPHA)
    return d


@njit(inline="always")
def _drop(a, keep, f, mode, s, beta, dval, zero):
    if mode == D_SCALE:
        v = a * s
        return v if keep else zero
    if mode == D_COPY:
        return a if keep else zero
    if mode == D_AFFINE:
        v = s * a + beta
        return v if keep else dval
    if mode == D_GAUSS:
        return a * f
    if mode == D_MULT:
        return a * s
    return a


@njit(inline="always")
def _drop_grad(d, keep, f, mode, s, zero):
    if mode == D_SCALE or mode == D_AFFINE:  # alpha's backward: a*dy (s holds a)
        v = d * s
        return v if keep else zero
    if mode == D_COPY:
        return d if keep else zero
    if mode == D_GAUSS:
        return d * f
    if mode == D_MULT:
        return d * s
    return d


# ---------------------------------------------------------------------------------------
# the fused passes: dense (B, F) and conv (GEMM rows (B*L, C) -> (B, C, L))
# ---------------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def dense_forward(z, b, act, mode, kb8, f, s, beta, dval, zero, y):
    """z (B, F) = x W on entry; on exit z holds act(z + b) (for backward) and
    y = dropout(act(z + b)) (y may be z when mode is D_NONE). Mask entry = element."""
    B, F = z.shape
    hk, hf = int(kb8.size > 1), int(f.size > 1)  # 0: a one-element stand-in, never read
    for n in range(B):
        for j in range(F):
            i = n * F + j
            z[n, j] = _act(z[n, j] + b[j], act)
            y[n, j] = _drop(z[n, j], kb8[i * hk] != 0, f[i * hf], mode, s, beta, dval, zero)


@njit(cache=True, error_model="numpy")
def dense_backward(dy, a, act, mode, kb8, f, s, zero, dz):
    """dz = act'(a) * dropout'(dy) for dense_forward's output a = act(z + b)."""
    B, F = dy.shape
    hk, hf = int(kb8.size > 1), int(f.size > 1)
    for n in range(B):
        for j in range(F):
            i = n * F + j
            d = _drop_grad(dy[n, j], kb8[i * hk] != 0, f[i * hf], mode, s, zero)
            dz[n, j] = d
            dz[n, j] = _act_grad(dz[n, j], a[n, j], act)


@njit(cache=True, error_model="numpy")
def conv_forward(y2, b, act, mode, spatial, kb8, f, s, beta, dval, zero, a, y):
    """a[n, c, l] = act(y2[n*L + l, c] + b[c]); y = dropout(a). The mask entry of
    element (n, c, l) is its flat index, or its channel n*C + c when spatial."""
    B, C, L = a.shape
    hk, hf = int(kb8.size > 1), int(f.size > 1)
    for n in range(B):
        for c in range(C):
            bc = b[c]
            ch = n * C + c
            for l in range(L):
                i = ch * L + l
                m = ch if spatial else i
                a[n, c, l] = _act(y2[n * L + l, c] + bc, act)
                y[n, c, l] = _drop(a[n, c, l], kb8[m * hk] != 0, f[i * hf], mode, s, beta,
                                   dval, zero)


@njit(cache=True, error_model="numpy")
def conv_backward(dy, a, act, mode, spatial, kb8, f, s, zero, dz, dy2, db):
    """dz = act'(a) * dropout'(dy) written as GEMM rows dy2[n*L + l, c], and db[c] = the
    sum of dz over n, l (in loops.ncl_to_rows' order). dz: (B, C, L) scratch."""
    B, C, L = dy.shape
    hk, hf = int(kb8.size > 1), int(f.size > 1)
    for c in range(C):
        db[c] = 0
    for n in range(B):
        for c in range(C):
            ch = n * C + c
            acc = db[c]
            for l in range(L):
                i = ch * L + l
                m = ch if spatial else i
                dz[n, c, l] = _drop_grad(dy[n, c, l], kb8[m * hk] != 0, f[i * hf], mode, s,
                                         zero)
                dz[n, c, l] = _act_grad(dz[n, c, l], a[n, c, l], act)
                v = dz[n, c, l]
                dy2[n * L + l, c] = v
                acc += v
            db[c] = acc


# ---------------------------------------------------------------------------------------
# the site: a dropout layer's settings, held by the layer it is fused into
# ---------------------------------------------------------------------------------------

_EMPTY_U8 = np.zeros(1, np.uint8)  # stands in for keep bytes a pass does not read


class DropSite:
    """Dropout fused into a Linear or Conv1d: rate p, SPEC variant, seed, and whether the
    packed mask is kept for backward (store_mask) or regenerated from (seed, offset).

    Validated once here; per call the layer only computes the key and offset words. The
    model's seed bookkeeping (Model.sites, Monte Carlo seeds) sees this object as a site.
    """

    def __init__(self, p, variant="inverted", *, seed=0, store_mask=True):
        self.variant = check_variant(variant)
        self.p = check_p(p, variant)
        self.seed, self.store_mask = seed, store_mask
        self._consts: dict = {}

    def is_stochastic(self) -> bool:
        return self.p > 0

    def stochastic(self) -> list:
        return [self] if self.p > 0 else []

    def constants(self, dtype):
        """The plan of kernels/plan.py for this rate, variant and dtype (cached)."""
        c = self._consts.get(dtype)
        if c is None:
            c = self._consts[dtype] = make_plan((1, 1), dtype, self.p, 0, 0, self.variant)
        return c

    def describe(self) -> str:
        return f"Dropout(p={self.p}, {self.variant})"


class FusedTail:
    """Bias + activation + (optional) dropout after a layer's GEMM, and its backward.

    Keeps per shape: the activation a (for backward), the output y, the keep bytes and the
    packed mask (or nothing with store_mask=False), the Gaussian factors while training.
    """

    def __init__(self, layer, activation, drop: DropSite | None):
        if activation not in ACTIVATIONS:
            names = ", ".join(str(k) for k in ACTIVATIONS)
            raise ValueError(f"activation must be one of {names}; got {activation!r}")
        self.layer, self.activation, self.drop = layer, activation, drop
        self.act = ACTIVATIONS[activation]

    def _mode(self, training: bool, dt):
        """(mode, s, beta, dropped value, zero) for this call."""
        d = self.drop
        zero = dt.type(0)
        if d is None or d.p == 0:
            return D_NONE, zero, zero, zero, zero
        c = d.constants(dt)
        if not training:
            if d.variant == "standard":
                return D_MULT, c.infer_scale, zero, zero, zero
            return D_NONE, zero, zero, zero, zero
        if d.variant == "standard":
            return D_COPY, c.scale, zero, zero, c.zero
        if d.variant == "alpha":
            return D_AFFINE, c.alpha_a, c.alpha_b, c.alpha_drop, c.zero
        if d.variant == "gaussian":
            return D_GAUSS, zero, zero, zero, c.zero
        return D_SCALE, c.scale, zero, zero, c.zero

    def _keys(self, offset):
        seed = self.drop.seed
        return seed & spec.MASK32, seed >> 32, offset & spec.MASK32, offset >> 32

    def _draw(self, n, nbits, dt, mode, offset):
        """(keep bytes, Gaussian factors) for this call; the mask is packed when stored."""
        lay = self.layer
        kb8, f = _EMPTY_U8, _EMPTY_F[dt.char]
        if mode in (D_SCALE, D_COPY, D_AFFINE):
            calls = (nbits + 7) // 8
            kb8 = lay.buffer("keep", (8 * calls,), np.uint8)
            keep_bytes(kb8, nbits, self.drop.constants(dt).t, *self._keys(offset),
                       lay.buffer("words", (2 * calls,), np.uint64))
            if self.drop.store_mask:
                pack(kb8, lay.buffer("mask", (calls,), np.uint8))
        elif mode == D_GAUSS:
            f = lay.buffer("factor", (n,), dt)
            gaussian_factors(f, self.drop.constants(dt).sigma, *self._keys(offset))
        return kb8, f

    def _redraw(self, n, nbits, dt):
        """The forward's keep bytes / factors again: from the stored mask, or regenerated."""
        mode, offset, lay = self._fmode, self._offset, self.layer
        if mode in (D_SCALE, D_COPY, D_AFFINE):
            kb8 = lay.buffer("keep", (8 * ((nbits + 7) // 8),), np.uint8)
            if self.drop.store_mask:
                unpack(lay.buffer("mask", ((nbits + 7) // 8,), np.uint8), kb8)
                return kb8, _EMPTY_F[dt.char]
            return self._draw(n, nbits, dt, mode, offset)
        if mode == D_GAUSS:
            return self._draw(n, nbits, dt, mode, offset)
        return _EMPTY_U8, _EMPTY_F[dt.char]

    # -- dense -----------------------------------------------------------------------
    def dense_forward(self, z, b, training, offset):
        dt = z.dtype
        mode, s, beta, dval, zero = self._mode(training, dt)
        self._fmode, self._offset = mode, offset
        kb8, f = self._draw(z.size, z.size, dt, mode, offset)
        y = z if mode == D_NONE else self.layer.buffer("out", z.shape, dt)
        dense_forward(z, b, self.act, mode, kb8, f, s, beta,
                      dval, zero, y)
        self._a = z
        return y

    def dense_backward(self, dy):
        dt = dy.dtype
        mode = self._fmode
        kb8, f = self._redraw(dy.size, dy.size, dt)
        s, zero = self._grad_scale(mode, dt)
        dz = self.layer.buffer("dz", dy.shape, dt)
        dense_backward(dy, self._a, self.act, mode, kb8, f,
                       s, zero, dz)
        return dz

    # -- conv ------------------------------------------------------------------------
    def conv_forward(self, y2, b, shape, training, offset):
        dt = y2.dtype
        mode, s, beta, dval, zero = self._mode(training, dt)
        self._fmode, self._offset = mode, offset
        n = shape[0] * shape[1] * shape[2]
        spatial = self.drop is not None and self.drop.variant == "spatial"
        nbits = shape[0] * shape[1] if spatial else n
        self._spatial, self._nbits = spatial, nbits
        kb8, f = self._draw(n, nbits, dt, mode, offset)
        a = self.layer.buffer("act", shape, dt)
        y = a if mode == D_NONE else self.layer.buffer("out", shape, dt)
        conv_forward(y2, b, self.act, mode, spatial, kb8, f, s, beta,
                     dval, zero, a, y)
        self._a = a
        return y

    def conv_backward(self, dy, dy2, db):
        dt = dy.dtype
        mode = self._fmode
        kb8, f = self._redraw(dy.size, self._nbits, dt)
        s, zero = self._grad_scale(mode, dt)
        dz = self.layer.buffer("dz", dy.shape, dt)
        conv_backward(dy, self._a, self.act, mode, self._spatial, kb8,
                      f, s, zero, dz, dy2, db)

    def _grad_scale(self, mode, dt):
        zero = dt.type(0)
        if mode == D_NONE or mode == D_GAUSS:
            return zero, zero
        c = self.drop.constants(dt)
        if mode == D_MULT:
            return c.infer_scale, zero
        if mode == D_AFFINE:
            return c.alpha_a, c.zero
        return c.scale, c.zero

    def mask_nbytes(self) -> int:
        """Bytes kept for backward by the last training forward: the packed mask."""
        if self.drop is None or not self.drop.store_mask:
            return 0
        m = self.layer._bufs.get("mask")
        return 0 if m is None else m.nbytes


# stands in for the Gaussian factors when a pass has none
_EMPTY_F = {np.dtype(t).char: np.zeros(1, t) for t in (np.float32, np.float64)}

