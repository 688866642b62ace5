"""The numpy reference: SPEC.md written as vectorised numpy. It is the oracle.

Every function takes flat, C-contiguous arrays and a `Plan` (validated input); the same
names exist in cpu.py and cuda.py. Clarity beats speed here.
"""

from __future__ import annotations

import numpy as np

from .. import spec
from .plan import Plan

_U64 = np.uint64
_M32 = _U64(spec.MASK32)


def philox(c0, c1, c2, c3, k0: int, k1: int):
    """Philox4x32-10 over arrays of counter words (any shape); returns four uint32 arrays."""
    c0, c1, c2, c3 = (np.asarray(c, dtype=_U64) & _M32 for c in (c0, c1, c2, c3))
    m0, m1 = _U64(spec.PHILOX_M0), _U64(spec.PHILOX_M1)
    for r in range(spec.PHILOX_ROUNDS):
        if r:
            k0 = (k0 + spec.PHILOX_W0) & spec.MASK32
            k1 = (k1 + spec.PHILOX_W1) & spec.MASK32
        p0 = m0 * c0  # 32 x 32 -> 64 bits, no overflow in uint64
        p1 = m1 * c2
        c0, c1, c2, c3 = (
            (p1 >> _U64(32)) ^ c1 ^ _U64(k0),
            p1 & _M32,
            (p0 >> _U64(32)) ^ c3 ^ _U64(k1),
            p0 & _M32,
        )
    return tuple(c.astype(np.uint32) for c in (c0, c1, c2, c3))


def _call_words(calls: int, plan: Plan):
    """Philox outputs of calls 0..calls-1 at this plan's key and offset."""
    c = np.arange(calls, dtype=_U64)
    return philox(c & _M32, c >> _U64(32), plan.o0, plan.o1, plan.k0, plan.k1)


def uniforms16(nbits: int, plan: Plan) -> np.ndarray:
    """The 16-bit uniform u of every mask entry, shape (nbits,), as uint32."""
    calls = spec.mask_bytes(nbits)
    r = _call_words(calls, plan)
    u = np.empty((calls, spec.ELEMENTS_PER_CALL), dtype=np.uint32)
    for j in range(spec.ELEMENTS_PER_CALL):
        u[:, j] = (r[j // 2] >> np.uint32(16 * (j % 2))) & np.uint32(0xFFFF)
    return u.reshape(-1)[:nbits]


def keep_bits(plan: Plan) -> np.ndarray:
    """Boolean keep of every mask entry, shape (nbits,)."""
    return uniforms16(plan.nbits, plan) >= plan.t


def gaussian_z(n: int, plan: Plan) -> np.ndarray:
    """Standard normal z of each element by Box-Muller on Philox words (float64)."""
    calls = -(-n // spec.GAUSS_PER_CALL)
    r = _call_words(calls, plan)
    z = np.empty((calls, spec.GAUSS_PER_CALL), dtype=np.float64)
    for pair, (ra, rb) in enumerate(((r[0], r[1]), (r[2], r[3]))):
        u1 = (ra.astype(np.float64) + 0.5) / 2.0**32
        u2 = rb.astype(np.float64) / 2.0**32
        radius = np.sqrt(-2.0 * np.log(u1))
        z[:, 2 * pair] = radius * np.cos(2.0 * np.pi * u2)
        z[:, 2 * pair + 1] = radius * np.sin(2.0 * np.pi * u2)
    return z.reshape(-1)[:n]


def gaussian_factor(n: int, plan: Plan, dtype) -> np.ndarray:
    """1 + sigma*z computed in float64, then rounded to dtype."""
    return (1.0 + plan.sigma * gaussian_z(n, plan)).astype(dtype)


def _element_keep(plan: Plan, mask) -> np.ndarray:
    """Keep per element, from a stored packed mask or regenerated from the seed."""
    if mask is None:
        bits = keep_bits(plan)
    else:
        bits = np.unpackbits(mask, count=plan.nbits, bitorder="little").astype(bool)
    return np.repeat(bits, plan.channel_len) if plan.channel_len != 1 else bits


def pack(bits: np.ndarray) -> np.ndarray:
    """Packed mask: bit j of byte c is entry 8c + j; unused high bits are 0."""
    return np.packbits(bits, bitorder="little")


def keep_mask(plan: Plan) -> np.ndarray:
    return pack(keep_bits(plan))


def forward(x, y, mask, plan: Plan) -> None:
    """Training forward: write y (and the packed mask, when mask is not None)."""
    if plan.variant == "gaussian":
        with np.errstate(over="ignore", invalid="ignore"):
            np.multiply(x, gaussian_factor(plan.n, plan, x.dtype), out=y)
        return
    bits = keep_bits(plan)
    if mask is not None:
        mask[:] = pack(bits)
    keep = np.repeat(bits, plan.channel_len) if plan.channel_len != 1 else bits
    zero = x.dtype.type(0)
    with np.errstate(over="ignore", invalid="ignore"):
        if plan.variant == "standard":
            kept = x
            dropped = zero
        elif plan.variant == "alpha":
            kept = plan.alpha_a * x + plan.alpha_b
            dropped = plan.alpha_drop
        else:  # inverted, spatial
            kept = x * plan.scale
            dropped = zero
        y[:] = np.where(keep, kept, dropped)


def backward(dy, dx, mask, plan: Plan) -> None:
    """Backward: dx from dy, with the stored mask or (mask None) regenerated from the seed."""
    if plan.variant == "gaussian":
        with np.errstate(over="ignore", invalid="ignore"):
            np.multiply(dy, gaussian_factor(plan.n, plan, dy.dtype), out=dx)
        return
    keep = _element_keep(plan, mask)
    zero = dy.dtype.type(0)
    with np.errstate(over="ignore", invalid="ignore"):
        if plan.variant == "standard":
            kept = dy
        elif plan.variant == "alpha":
            kept = plan.alpha_a * dy
        else:
            kept = dy * plan.scale
        dx[:] = np.where(keep, kept, zero)


def inference(x, y, plan: Plan) -> None:
    """Dropout off: y = x, or x * (1 - p_hat) for the standard variant."""
    if plan.variant == "standard":
        with np.errstate(over="ignore", invalid="ignore"):
            np.multiply(x, plan.infer_scale, out=y)
    else:
        y[:] = x
