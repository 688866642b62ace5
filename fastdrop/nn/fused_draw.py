"""The random draws of the fused layers (fused.py): SPEC.md's keep mask (as keep bytes
and the packed mask) and Gaussian factors, and the entry points Python calls: one call per
layer and direction that draws (forward) or restores (backward) and runs the fused pass of
fused_loops.py.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..kernels._numba_ext import (
    AFFINE,
    COPY,
    SCALE,
    U64,
    keep_byte,
    prefer_512,
    select8,
)
from ..kernels.cpu import CH, gaussian_call, philox_words
from .fused_loops import (
    D_AFFINE,
    D_COPY,
    D_GAUSS,
    D_NONE,
    D_SCALE,
    conv_backward,
    conv_forward,
    dense_backward,
    dense_forward,
)

_SPREAD = U64(0x0101010101010101)  # a byte copied into all 8 bytes
_BITSEL = U64(0x8040201008040201)  # byte j keeps bit j

# ---------------------------------------------------------------------------------------
# the mask and the Gaussian factor
# ---------------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def draw_mask(kb8, nbits, t, key0, key1, off0, off1, w64, mask):
    """Keep bytes kb8 (nonzero where mask entry m < nbits is kept, 0 on the padding to a
    multiple of 8) and, unless `mask` is empty (a regenerated mask), the packed mask.

    The technique of kernels/cpu.py: per chunk of CH calls, Philox with 512-bit vectors
    where AVX-512 exists (prefer_512), then one compare + movemask per 8 entries
    (keep_byte) gives the mask byte, spread to its 8 keep bytes by one multiply.
    w64: scratch of 2*CH uint64."""
    prefer_512()
    k0, k1, o0, o1 = U64(key0), U64(key1), U64(off0), U64(off1)
    calls = (nbits + 7) // 8
    t32 = np.int32(t)
    u16 = w64.view(np.uint16)
    kb64 = kb8[: 8 * calls].view(np.uint64)
    store = mask.size != 0
    for cb in range(0, calls, CH):
        philox_words(w64, cb, k0, k1, o0, o1)
        for k in range(min(CH, calls - cb)):
            byte = keep_byte(u16, 8 * k, t32)
            kb64[cb + k] = (U64(byte) * _SPREAD) & _BITSEL
            if store:
                mask[cb + k] = byte
    rest = nbits - 8 * (calls - 1)
    if calls and rest < 8:  # the last, partial byte: padding entries are not kept
        byte = np.uint8(mask[calls - 1] if store else 0)
        keep = U64((1 << rest) - 1)
        kb64[calls - 1] &= (keep * _SPREAD) & _BITSEL
        if store:
            mask[calls - 1] = byte & np.uint8(keep)


@njit(cache=True, error_model="numpy")
def drop_flat(x, y, mode, s, beta, other, t, key0, key1, off0, off1, w64, mask):
    """y = dropout(x) over flat x for the masked modes, drawing the mask as it goes: the
    floor kernel's technique (kernels/cpu.py), per chunk Philox, then per 8 entries one
    compare + movemask (keep_byte) whose byte selects the 8 outputs (select8) and is stored
    into `mask` unless that is empty. No keep bytes are written: the forward does not need
    them, and backward unpacks the mask (or draws it again). w64: scratch of 2*CH uint64.

    Values are the fused loop's `_drop` (kept x*s, x, s*x + beta; dropped `other`: 0, or
    alpha's dropped value), so bit for bit the same."""
    prefer_512()
    k0, k1, o0, o1 = U64(key0), U64(key1), U64(off0), U64(off1)
    n = x.size
    nfull = n // 8  # mask bytes whose 8 entries all exist
    t32 = np.int32(t)
    u16 = w64.view(np.uint16)
    store = mask.size != 0
    for cb in range(0, (n + 7) // 8, CH):
        philox_words(w64, cb, k0, k1, o0, o1)
        nb = min(CH, nfull - cb)
        for k in range(nb):
            byte = keep_byte(u16, 8 * k, t32)
            if store:
                mask[cb + k] = byte
            if mode == D_SCALE:
                select8(x, y, 8 * (cb + k), byte, s, beta, other, SCALE, False)
            elif mode == D_COPY:
                select8(x, y, 8 * (cb + k), byte, s, beta, other, COPY, False)
            else:
                select8(x, y, 8 * (cb + k), byte, s, beta, other, AFFINE, False)
        e0 = 8 * (cb + nb)
        if nb < CH and e0 < n:  # the last, partial mask byte; its padding bits are 0
            byte = keep_byte(u16, 8 * nb, t32) & ((1 << (n - e0)) - 1)
            if store:
                mask[cb + nb] = byte
            for e in range(e0, n):
                v = x[e]
                if mode == D_SCALE:
                    v = v * s
                elif mode == D_AFFINE:
                    v = s * v + beta
                y[e] = v if (byte >> (e - e0)) & 1 else other


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
    for m in range((n + 3) // 4):
        z = gaussian_call(m, k0, k1, o0, o1)
        for j in range(min(4, n - 4 * m)):
            f[4 * m + j] = 1.0 + sigma * z[j]


# --- one call per layer and direction: the draw (or restore) and the fused pass ---------
# Each Numba call from Python costs ~0.4-0.6 us of dispatch, about a tenth of a site's
# dropout work on 10^4 elements, so the mask draw goes into the forward's call and the
# mask restore into the backward's (NOTES.md).


@njit(cache=True, error_model="numpy")
def draw(mode, kb8, f, nbits, t, sigma, key0, key1, off0, off1, w64, mask):
    """This step's keep bytes (and packed mask unless `mask` is empty) or Gaussian
    factors; nothing for the modes without a random draw."""
    if mode == D_GAUSS:
        gaussian_factors(f, sigma, key0, key1, off0, off1)
    elif mode == D_SCALE or mode == D_COPY or mode == D_AFFINE:
        draw_mask(kb8, nbits, t, key0, key1, off0, off1, w64, mask)


@njit(cache=True, error_model="numpy")
def restore(mode, kb8, f, nbits, t, sigma, key0, key1, off0, off1, w64, mask):
    """The forward's keep bytes / factors for backward: unpacked from the stored mask, or
    drawn again from (seed, offset) when the mask was not kept."""
    if mask.size and (mode == D_SCALE or mode == D_COPY or mode == D_AFFINE):
        unpack(mask, kb8)
    else:
        draw(mode, kb8, f, nbits, t, sigma, key0, key1, off0, off1, w64, mask)


@njit(cache=True, error_model="numpy")
def dense_forward_drawn(z, b, act, mode, kb8, f, s, beta, dval, zero, y,
                        nbits, t, sigma, key0, key1, off0, off1, w64, mask):
    """draw, then dense_forward: one call from Python. The masked modes run the activation
    alone, then drop_flat (mask drawn and applied in one pass, no keep bytes)."""
    if mode == D_SCALE or mode == D_COPY or mode == D_AFFINE:
        dense_forward(z, b, act, D_NONE, kb8, f, s, beta, dval, zero, z)
        drop_flat(z.reshape(z.size), y.reshape(y.size), mode, s, beta,
                  dval if mode == D_AFFINE else zero, t,
                  key0, key1, off0, off1, w64, mask)
    else:
        draw(mode, kb8, f, nbits, t, sigma, key0, key1, off0, off1, w64, mask)
        dense_forward(z, b, act, mode, kb8, f, s, beta, dval, zero, y)


@njit(cache=True, error_model="numpy")
def dense_backward_drawn(dy, a, act, mode, kb8, f, s, zero, dz,
                         nbits, t, sigma, key0, key1, off0, off1, w64, mask):
    """restore, then dense_backward: one call from Python."""
    restore(mode, kb8, f, nbits, t, sigma, key0, key1, off0, off1, w64, mask)
    dense_backward(dy, a, act, mode, kb8, f, s, zero, dz)


@njit(cache=True, error_model="numpy")
def conv_forward_drawn(y2, b, act, mode, spatial, kb8, f, s, beta, dval, zero, a, y,
                       nbits, t, sigma, key0, key1, off0, off1, w64, mask):
    """draw, then conv_forward: one call from Python. Element dropout in the masked modes:
    the activation alone, then drop_flat, as dense_forward_drawn."""
    if not spatial and (mode == D_SCALE or mode == D_COPY or mode == D_AFFINE):
        conv_forward(y2, b, act, D_NONE, spatial, kb8, f, s, beta, dval, zero, a, a)
        drop_flat(a.reshape(a.size), y.reshape(y.size), mode, s, beta,
                  dval if mode == D_AFFINE else zero, t,
                  key0, key1, off0, off1, w64, mask)
    else:
        draw(mode, kb8, f, nbits, t, sigma, key0, key1, off0, off1, w64, mask)
        conv_forward(y2, b, act, mode, spatial, kb8, f, s, beta, dval, zero, a, y)


@njit(cache=True, error_model="numpy")
def conv_backward_drawn(dy, a, act, mode, spatial, kb8, f, s, zero, dz, dy2, db,
                        nbits, t, sigma, key0, key1, off0, off1, w64, mask):
    """restore, then conv_backward: one call from Python."""
    restore(mode, kb8, f, nbits, t, sigma, key0, key1, off0, off1, w64, mask)
    conv_backward(dy, a, act, mode, spatial, kb8, f, s, zero, dz, dy2, db)
