"""The per-call constants every backend's kernels take: computed once, from spec.py.

A `Plan` is what the ops layer hands a kernel after validation: the threshold, the scales
already rounded to x's dtype, the Philox key and offset words, and the mask geometry.
Kernels read it and never recompute the spec's scalar math, so every backend applies the
same constants bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import spec


@dataclass(frozen=True)
class Plan:
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
    sigma: float  # gaussian: noise std, sqrt(p / (1 - p)), float64
    k0: int  # Philox key words: seed low / high 32 bits
    k1: int
    o0: int  # counter words 2 and 3: offset low / high 32 bits
    o1: int

    @property
    def nbytes(self) -> int:
        """Packed mask bytes, ceil(nbits / 8)."""
        return spec.mask_bytes(self.nbits)

    @property
    def drops_all(self) -> bool:
        return self.t == spec.RESOLUTION


def make_plan(shape, dtype, p: float, seed: int, offset: int, variant: str) -> Plan:
    """Constants for one call; inputs are already validated."""
    dt = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    nbits = spec.mask_length(shape, variant) if n else 0
    channel_len = n // nbits if (variant == "spatial" and nbits) else 1
    t = spec.threshold(p)
    scale = spec.train_scale(p, variant)
    a, b, drop = spec.alpha_params(p)
    sigma = spec.gaussian_sigma(p) if (variant == "gaussian" and p < 1) else 0.0
    k0, k1 = spec.key_of(seed)
    o0, o1 = spec.split64(offset)
    return Plan(
        variant=variant,
        n=n,
        nbits=nbits,
        channel_len=channel_len,
        t=t,
        # inf when everything is dropped; never multiplied then (kernels select).
        scale=dt.type(scale) if np.isfinite(scale) else dt.type(0),
        infer_scale=dt.type(spec.inference_scale(p, variant)),
        alpha_a=dt.type(a),
        alpha_b=dt.type(b),
        alpha_drop=dt.type(drop),
        sigma=sigma,
        k0=k0,
        k1=k1,
        o0=o0,
        o1=o1,
    )
