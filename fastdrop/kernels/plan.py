"""The per-call constants every backend's kernels take: computed once, from spec.py.

A `Plan` is what the ops layer hands a kernel after validation: the threshold, the scales
already rounded to x's dtype, the Philox key and offset words, and the mask geometry.
Kernels read it and never recompute the spec's scalar math, so every backend applies the
same constants bit for bit.

The trainer calls dropout on small arrays thousands of times, so building a plan must
cost little next to a kernel on 10^4 elements: the dtype- and rate-dependent constants are
cached per (dtype, p, variant), and a Plan is a NamedTuple (NOTES.md: 38 us -> ~2 us).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from .. import spec

_M32 = spec.MASK32


class Plan(NamedTuple):
    variant: str  # one of spec.VARIANTS
    n: int  # elements of x
    nbits: int  # mask entries: n, or N*C channels for spatial
    channel_len: int  # elements per mask entry: 1, or prod(shape[2:]) for spatial
    t: int  # keep threshold on the 16-bit uniform, 0..65536
    scale: np.generic  # training multiplier of kept elements, in x's dtype
    infer_scale: np.generic  # inference multiplier (1 - p_hat for standard), x's dtype
    alpha_a: np.generic  # alpha: kept y = a*x + b (a, b in x's dtype)
    alpha_b: np.generic
    alpha_drop: np.generic  # alpha: the value of a dropped element, a*A + b
    zero: np.generic  # 0 in x's dtype: the dropped value of the other variants
    sigma: float  # gaussian: noise std, sqrt(p / (1 - p)), float64
    k0: int  # Philox key words: seed low / high 32 bits
    k1: int
    o0: int  # counter words 2 and 3: offset low / high 32 bits
    o1: int

    @property
    def nbytes(self) -> int:
        """Packed mask bytes, ceil(nbits / 8)."""
        return (self.nbits + 7) // 8


@functools.lru_cache(maxsize=1024)
def _constants(dt: np.dtype, p: float, variant: str) -> tuple:
    """(t, scale, infer_scale, a, b, dropped, zero, sigma) for a dtype, rate and variant."""
    t = spec.threshold(p)
    scale = spec.train_scale(p, variant)
    a, b, drop = spec.alpha_params(p)
    sigma = spec.gaussian_sigma(p) if (variant == "gaussian" and p < 1) else 0.0
    cast = dt.type
    return (
        t,
        # inf when everything is dropped; never multiplied then (kernels select).
        cast(scale) if math.isfinite(scale) else cast(0),
        cast(spec.inference_scale(p, variant)),
        cast(a),
        cast(b),
        cast(drop),
        cast(0),
        sigma,
    )


@functools.lru_cache(maxsize=1024)
def _shape_part(shape: tuple, dtype, p: float, variant: str) -> tuple:
    """The Plan's fields before the key words: everything but seed and offset, which change
    every call in training (a cached tuple + one tuple build: 0.80 -> ~0.3 us, NOTES.md)."""
    n = math.prod(shape)
    if variant == "spatial" and n:
        nbits = shape[0] * shape[1]
        channel_len = n // nbits
    else:
        nbits, channel_len = n, 1
    return (variant, n, nbits, channel_len, *_constants(np.dtype(dtype), p, variant))


def key_words(seed: int, offset: int) -> tuple[int, int, int, int]:
    """(k0, k1, o0, o1): the Philox key words (seed low / high 32 bits) and counter words 2
    and 3 (offset low / high), SPEC.md section 1."""
    return seed & _M32, seed >> 32, offset & _M32, offset >> 32


def make_plan(shape, dtype, p: float, seed: int, offset: int, variant: str) -> Plan:
    """Constants for one call; inputs are already validated."""
    shape = shape if type(shape) is tuple else tuple(shape)
    return _new_plan(Plan, (*_shape_part(shape, dtype, p, variant), *key_words(seed, offset)))


_new_plan = tuple.__new__  # a NamedTuple from a ready tuple, without its keyword __new__
