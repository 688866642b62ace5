"""Constants and scalar math of SPEC.md: the one definition every backend follows.

Nothing here is fast; it is the readable statement of the contract, used by the
reference kernels, the fast kernels (for their per-call constants) and the tests.
"""

from __future__ import annotations

import math

# --- Philox4x32-10 (Salmon et al., SC11) -------------------------------------------------
PHILOX_M0 = 0xD2511F53  # multiplier for lane 0
PHILOX_M1 = 0xCD9E8D57  # multiplier for lane 2
PHILOX_W0 = 0x9E3779B9  # key bump, golden ratio
PHILOX_W1 = 0xBB67AE85  # key bump, sqrt(3) - 1
PHILOX_ROUNDS = 10
MASK32 = 0xFFFFFFFF

# --- the keep mask ------------------------------------------------------------------------
RESOLUTION = 65536  # p is applied in steps of 1/65536: one 16-bit uniform per element
ELEMENTS_PER_CALL = 8  # one Philox call -> four 32-bit words -> eight 16-bit uniforms
GAUSS_PER_CALL = 4  # one Philox call -> two Box-Muller pairs

# --- variants -----------------------------------------------------------------------------
VARIANTS = ("inverted", "standard", "spatial", "alpha", "gaussian")
MASKED_VARIANTS = ("inverted", "standard", "spatial", "alpha")
# -lambda * alpha of SELU (Klambauer et al. 2017): the value a dropped unit saturates to.
ALPHA_PRIME = -1.7580993408473766


def philox4x32(counter, key, rounds: int = PHILOX_ROUNDS) -> tuple[int, int, int, int]:
    """Philox4x32-10 on Python ints: the scalar statement of SPEC.md section 1."""
    c0, c1, c2, c3 = (int(c) & MASK32 for c in counter)
    k0, k1 = (int(k) & MASK32 for k in key)
    for r in range(rounds):
        if r:
            k0 = (k0 + PHILOX_W0) & MASK32
            k1 = (k1 + PHILOX_W1) & MASK32
        p0 = PHILOX_M0 * c0
        p1 = PHILOX_M1 * c2
        hi0, lo0 = p0 >> 32, p0 & MASK32
        hi1, lo1 = p1 >> 32, p1 & MASK32
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return c0, c1, c2, c3


def threshold(p: float) -> int:
    """t = floor(p * 65536 + 0.5): element is kept when its 16-bit uniform is >= t."""
    return int(math.floor(p * RESOLUTION + 0.5))


def p_hat(p: float) -> float:
    """The drop probability actually applied, t / 65536."""
    return threshold(p) / RESOLUTION


def inverted_scale(p: float) -> float:
    """s = 65536 / (65536 - t), exact in float64; inf when everything is dropped."""
    t = threshold(p)
    return math.inf if t == RESOLUTION else RESOLUTION / (RESOLUTION - t)


def train_scale(p: float, variant: str) -> float:
    """Multiplier applied to kept elements in training (forward and backward)."""
    return 1.0 if variant == "standard" else inverted_scale(p)


def inference_scale(p: float, variant: str) -> float:
    """Multiplier applied at inference: 1 - p_hat for standard, 1 otherwise."""
    return 1.0 - p_hat(p) if variant == "standard" else 1.0


def alpha_params(p: float) -> tuple[float, float, float]:
    """(a, b, dropped value a*A + b) of alpha dropout in float64.

    q = 1 - p_hat, a = (q + A^2 q (1-q))^(-1/2), b = -a A (1-q). The dropped value
    a*A + b equals a*A*q, which tends to 0 as q -> 0; at p_hat = 1 nothing is kept, so
    a = b = 0 and the output is all zeros (no inf * 0 = NaN).
    """
    q = 1.0 - p_hat(p)
    if q == 0.0:
        return 0.0, 0.0, 0.0
    a = (q + ALPHA_PRIME * ALPHA_PRIME * q * (1.0 - q)) ** -0.5
    b = -a * ALPHA_PRIME * (1.0 - q)
    return a, b, a * ALPHA_PRIME + b


def gaussian_sigma(p: float) -> float:
    """sigma = sqrt(p / (1 - p)) of multiplicative Gaussian noise (p < 1)."""
    return math.sqrt(p / (1.0 - p))


def mask_bytes(n: int) -> int:
    """Bytes of a packed mask over n elements: ceil(n / 8)."""
    return (n + 7) // 8
