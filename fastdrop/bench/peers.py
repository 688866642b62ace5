"""Peers timed beside fastdrop with the same semantics: numpy naive dropout and PyTorch.

PyTorch is optional: `torch_or_none()` is None when it is not installed, and the torch
cases are then left out of the run (and say so).
"""

from __future__ import annotations

import numpy as np


class NumpyNaive:
    """Dropout as people write it in numpy: a float draw per element, a bool mask, multiply."""

    def __init__(self, p: float, seed: int = 0):
        self.p = p
        self.scale = np.float32(1.0 / (1.0 - p))
        self.rng = np.random.default_rng(seed)

    def forward(self, x, y):
        keep = self.rng.random(x.size, dtype=np.float32) >= self.p  # (n,) bool: 1 byte each
        np.multiply(x, keep, out=y)
        y *= self.scale
        return keep

    def backward(self, dy, keep, dx):
        np.multiply(dy, keep, out=dx)
        dx *= self.scale


def torch_or_none():
    try:
        import torch
    except ImportError:
        return None
    return torch


def check_dropout_semantics(name: str, x, y, p: float, keep=None) -> None:
    """A peer's output must be dropout: kept = x / (1-p) (to float32 rounding), dropped = 0,
    keep rate within 5 binomial standard deviations of 1 - p."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    kept = y != 0 if keep is None else np.asarray(keep, bool)
    n = x.size
    rate = kept.mean()
    sd = np.sqrt((1 - p) * p / n)
    if abs(rate - (1 - p)) > 5 * sd + 1e-12:
        raise AssertionError(f"{name}: keep rate {rate:.5f}, expected {1 - p:.5f}")
    if not np.allclose(y[kept], x[kept] / (1 - p), rtol=1e-6, atol=0):
        raise AssertionError(f"{name}: kept elements are not x / (1 - p)")
    if np.any(y[~kept] != 0):
        raise AssertionError(f"{name}: dropped elements are not 0")
