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

One Numba call per layer and direction (fused_draw.py). Forward, for element masks
(inverted, standard, alpha): bias + activation, then one pass that draws the mask the way
kernels/cpu.py does (Philox in chunks, 512-bit where AVX-512 exists; one compare +
movemask per 8 entries) and selects the 8 outputs with the same byte. Spatial draws its
channel mask and Gaussian its factors first, then the fused loop runs. Backward unpacks
the stored mask into keep bytes (or draws it again) and runs the fused backward loop.
Single-threaded on purpose: the trainer's arrays (10^4 - 5*10^4 elements) are far below
the size where a parallel region pays for waking threads (kernels/cpu.py: SERIAL_BELOW).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .. import spec
from .._validate import check_p, check_variant
from ..kernels.plan import make_plan
from .fused_draw import (
    CH,
    conv_backward_drawn,
    conv_forward_drawn,
    dense_backward_drawn,
    dense_forward_drawn,
)
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
)

M32 = spec.MASK32
ACTIVATIONS = {None: ACT_NONE, "relu": ACT_RELU, "selu": ACT_SELU}

# ---------------------------------------------------------------------------------------
# the site: a dropout layer's settings, held by the layer it is fused into
# ---------------------------------------------------------------------------------------

_EMPTY_U8 = np.zeros(0, np.uint8)  # stands in for keep bytes / a mask a pass does not read


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


class _Pass(NamedTuple):
    """Everything a fused pass needs for one (shape, dtype, training), prepared once."""

    mode: int  # D_* of fused_loops
    consts: tuple  # forward (s, beta, dropped value, zero), in x's dtype
    gconsts: tuple  # backward (s, zero)
    nbits: int  # mask entries
    spatial: bool
    t: int  # keep threshold
    sigma: float
    kb8: np.ndarray  # keep bytes (a one-element stand-in when the mode has none)
    words: np.ndarray  # Philox scratch
    mask: np.ndarray  # packed mask kept for backward (empty when regenerated)
    f: np.ndarray  # Gaussian factors (stand-in when not gaussian)
    act: np.ndarray | None  # conv: the activation a, kept for backward
    out: np.ndarray | None  # the dropout output (None: the output is the activation)
    dz: np.ndarray  # the gradient at the GEMM's output


class FusedTail:
    """Bias + activation + (optional) dropout after a layer's GEMM, and its backward.

    Per (shape, dtype, training) it prepares once the mode, the constants and the arrays
    (registered in the layer's buffers: the activation, the output, the keep bytes and
    packed mask, or nothing with store_mask=False, the Gaussian factors); a call then only
    computes the Philox key and offset words and runs the kernels.
    """

    def __init__(self, layer, activation, drop: DropSite | None):
        if activation not in ACTIVATIONS:
            names = ", ".join(str(k) for k in ACTIVATIONS)
            raise ValueError(f"activation must be one of {names}; got {activation!r}")
        self.layer, self.activation, self.drop = layer, activation, drop
        self.act = ACTIVATIONS[activation]
        self._passes: dict = {}
        self._last = None

    def _constants(self, training: bool, dt):
        """(mode, forward constants, backward constants) for this call."""
        d = self.drop
        zero = dt.type(0)
        none = (D_NONE, (zero, zero, zero, zero), (zero, zero))
        if d is None or d.p == 0:
            return none
        c = d.constants(dt)
        if not training:
            if d.variant == "standard":
                return D_MULT, (c.infer_scale, zero, zero, zero), (c.infer_scale, zero)
            return none
        if d.variant == "standard":
            return D_COPY, (c.scale, zero, zero, c.zero), (c.scale, c.zero)
        if d.variant == "alpha":
            return D_AFFINE, (c.alpha_a, c.alpha_b, c.alpha_drop, c.zero), (c.alpha_a, c.zero)
        if d.variant == "gaussian":
            return D_GAUSS, (zero, zero, zero, c.zero), (zero, zero)
        return D_SCALE, (c.scale, zero, zero, c.zero), (c.scale, c.zero)

    def _prepare(self, shape, dt, training, conv: bool) -> _Pass:
        key = (shape, dt, training)
        ps = self._passes.get(key)
        if ps is not None:
            return ps
        mode, consts, gconsts = self._constants(training, dt)
        n = math.prod(shape)
        spatial = conv and self.drop is not None and self.drop.variant == "spatial"
        nbits = shape[0] * shape[1] if spatial else n
        calls = (nbits + 7) // 8
        # named by shape: a training and an evaluation pass of one shape share arrays, as
        # the unfused layers do (an evaluation never falls between forward and backward)
        lay, tag = self.layer, f"{shape}{dt.char}"
        kb8, words, mask, f = _EMPTY_U8, _EMPTY_U64, _EMPTY_U8, _EMPTY_F[dt.char]
        if mode in (D_SCALE, D_COPY, D_AFFINE):
            kb8 = lay.buffer("keep" + tag, (8 * calls,), np.uint8)
            words = lay.buffer("words" + tag, (2 * CH,), np.uint64)
            if self.drop.store_mask:
                mask = lay.buffer("mask" + tag, (calls,), np.uint8)
        elif mode == D_GAUSS:
            f = lay.buffer("factor" + tag, (n,), dt)
        d = self.drop
        ps = _Pass(mode, consts, gconsts, nbits, spatial,
                   d.constants(dt).t if d is not None and d.p > 0 else 0,
                   d.constants(dt).sigma if d is not None and d.p > 0 else 0.0,
                   kb8, words, mask, f,
                   lay.buffer("act" + tag, shape, dt) if conv else None,
                   None if mode == D_NONE else lay.buffer("out" + tag, shape, dt),
                   lay.buffer("dz" + tag, shape, dt))
        self._passes[key] = ps
        return ps

    def _rng(self, ps: _Pass, offset: int) -> tuple:
        """The draw's arguments after the pass's own: mask entries, threshold, sigma, the
        Philox key and offset words, scratch and the packed mask."""
        seed = self.drop.seed if ps.mode != D_NONE else 0
        return (ps.nbits, ps.t, ps.sigma, seed & M32, seed >> 32, offset & M32, offset >> 32,
                ps.words, ps.mask)

    # -- dense: one Numba call per direction (the draw / restore of the mask inside) ---
    def dense_forward(self, z, b, training, offset):
        ps = self._prepare(z.shape, z.dtype, training, conv=False)
        y = z if ps.out is None else ps.out
        rng = self._rng(ps, offset)
        dense_forward_drawn(z, b, self.act, ps.mode, ps.kb8, ps.f, *ps.consts, y, *rng)
        self._last, self._a = (ps, rng), z
        return y

    def dense_backward(self, dy):
        ps, rng = self._last
        dense_backward_drawn(dy, self._a, self.act, ps.mode, ps.kb8, ps.f, *ps.gconsts, ps.dz,
                             *rng)
        return ps.dz

    # -- conv ------------------------------------------------------------------------
    def conv_forward(self, y2, b, shape, training, offset):
        ps = self._prepare(shape, y2.dtype, training, conv=True)
        y = ps.act if ps.out is None else ps.out
        rng = self._rng(ps, offset)
        conv_forward_drawn(y2, b, self.act, ps.mode, ps.spatial, ps.kb8, ps.f, *ps.consts,
                           ps.act, y, *rng)
        self._last = (ps, rng)
        self._a = ps.act
        return y

    def conv_backward(self, dy, dy2, db):
        ps, rng = self._last
        conv_backward_drawn(dy, self._a, self.act, ps.mode, ps.spatial, ps.kb8, ps.f,
                            *ps.gconsts, ps.dz, dy2, db, *rng)

    def mask_nbytes(self) -> int:
        """Bytes kept for backward by the last training forward: the packed mask."""
        return 0 if self._last is None else self._last[0].mask.nbytes


_EMPTY_U64 = np.zeros(1, np.uint64)
# stands in for the Gaussian factors when a pass has none
_EMPTY_F = {np.dtype(t).char: np.zeros(1, t) for t in (np.float32, np.float64)}


