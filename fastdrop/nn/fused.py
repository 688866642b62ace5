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

import numpy as np

from .. import spec
from .._validate import check_p, check_variant
from ..kernels.plan import make_plan
from .fused_loops import (
    ACT_NONE,
    ACT_RELU,
    ACT_SELU,
    D_AFFINE,
    D_COPY,
    D_GAUSS,
    D_MULT,
    D_NONE,
    D_SCALE,
    conv_backward,
    conv_forward,
    dense_backward,
    dense_forward,
    gaussian_factors,
    keep_bytes,
    pack,
    unpack,
)

ACTIVATIONS = {None: ACT_NONE, "relu": ACT_RELU, "selu": ACT_SELU}

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
        self._fmode = D_NONE

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
        if self.drop is None or not self.drop.store_mask or self._fmode not in (
                D_SCALE, D_COPY, D_AFFINE):
            return 0
        m = self.layer._bufs.get("mask")
        return 0 if m is None else m.nbytes


# stands in for the Gaussian factors when a pass has none
_EMPTY_F = {np.dtype(t).char: np.zeros(1, t) for t in (np.float32, np.float64)}


