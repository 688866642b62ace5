"""Dropout of activations as separate layers, through the public fastdrop.dropout /
dropout_backward: every SPEC.md variant (the reference the fused layers are checked
against), and variational dropout of sequences.

- `Dropout`: inverted, standard, spatial (whole channels of (N, C, L) maps), alpha (SELU
  nets) and gaussian, on activations. It stores the packed mask, or (store_mask=False)
  keeps only (seed, offset) and regenerates the mask in backward.
- `VariationalDropout` (sequence outputs): one mask per (batch, feature) per sequence,
  reused at every step.
"""

from __future__ import annotations

import numpy as np

import fastdrop as fd
from fastdrop import spec

from .._validate import check_p, check_variant
from .base import Layer, checked_rate


class Dropout(Layer):
    """Dropout of activations at rate p through fastdrop.dropout (any SPEC variant).

    spatial drops whole channels of x (N, C, ...); alpha keeps SELU activations at mean 0,
    variance 1; gaussian multiplies by 1 + sigma*z and has no mask. In training the layer
    stores the packed mask (1 bit per element), or with store_mask=False only (seed,
    offset), and backward regenerates the mask. At inference it is the identity (standard:
    x * (1 - p)).
    """

    def __init__(self, p, variant="inverted", *, seed=0, backend="auto", store_mask=True):
        super().__init__()
        self.variant = check_variant(variant)
        self.p = check_p(p, variant)
        self.seed, self.backend = seed, backend
        self.store_mask = store_mask

    def is_stochastic(self):
        return self.p > 0

    def forward(self, x, training=True, offset=0):
        self._training = training and self.p > 0
        if not self._training:
            if self.variant == "standard" and self.p > 0:
                y, _ = fd.dropout(x, self.p, seed=0, variant="standard", training=False,
                                  backend=self.backend,
                                  out=self.buffer("y", x.shape, x.dtype))
                return y
            return x
        y, mask = fd.dropout(
            x, self.p, seed=self.seed, offset=offset, variant=self.variant,
            backend=self.backend, out=self.buffer("y", x.shape, x.dtype),
        )
        self._mask = mask if self.store_mask else None
        self._offset = offset
        return y

    def backward(self, dy):
        if not self._training:
            if self.variant == "standard" and self.p > 0:
                dx = self.buffer("dx", dy.shape, dy.dtype)
                np.multiply(dy, dy.dtype.type(1.0 - spec.p_hat(self.p)), out=dx)
                return dx
            return dy
        return fd.dropout_backward(
            dy, self.p, mask=self._mask, seed=self.seed, offset=self._offset,
            variant=self.variant, backend=self.backend,
            out=self.buffer("dx", dy.shape, dy.dtype),
        )

    def mask_nbytes(self):
        mask = getattr(self, "_mask", None) if getattr(self, "_training", False) else None
        return 0 if mask is None else mask.nbytes

    def describe(self):
        return f"Dropout(p={self.p}, {self.variant})"


def variational_mask(shape, p, *, seed, offset, backend, dtype, out=None) -> np.ndarray:
    """Multiplier array of `shape` (e.g. (B, F)): s = 1/(1 - p_hat) where kept, 0 where
    dropped: fastdrop.dropout of ones, so bit i of the packed mask keeps entry i."""
    ones = np.ones(shape, dtype=dtype)
    m, _ = fd.dropout(ones, p, seed=seed, offset=offset, backend=backend, out=out)
    return m


class VariationalDropout(Layer):
    """Dropout of a sequence x (B, T, F) with one mask per (batch, feature), reused at
    every time step (Gal & Ghahramani 2016). Equals the spatial variant on x.transpose(0,
    2, 1), without the transpose."""

    def __init__(self, p, *, seed=0, backend="auto"):
        super().__init__()
        self.p = checked_rate(p, "p")
        self.seed, self.backend = seed, backend

    def is_stochastic(self):
        return self.p > 0

    def forward(self, x, training=True, offset=0):
        self._training = training and self.p > 0
        if not self._training:
            return x
        B, _, F = x.shape
        m = variational_mask((B, F), self.p, seed=self.seed, offset=offset,
                             backend=self.backend, dtype=x.dtype,
                             out=self.buffer("m", (B, F), x.dtype))
        self._m = m[:, None, :]  # (B, 1, F)
        y = self.buffer("y", x.shape, x.dtype)
        np.multiply(x, self._m, out=y)
        return y

    def backward(self, dy):
        if not self._training:
            return dy
        dx = self.buffer("dx", dy.shape, dy.dtype)
        np.multiply(dy, self._m, out=dx)
        return dx

    def mask_nbytes(self):
        """The (B, F) multiplier kept for backward (in x's dtype, not packed)."""
        return self._m.nbytes if getattr(self, "_training", False) else 0

    def describe(self):
        return f"VariationalDropout(p={self.p})"
