"""GRU and LSTM over whole sequences: one GEMM for every step's input projection, the time
loop in Numba (loops.py), and recurrent (variational) dropout of the state fed back into
the gates: one mask per (batch, feature) per sequence, reused at every step."""

from __future__ import annotations

import math

import numpy as np

from . import loops as K
from .base import Layer, checked_rate
from .dense import _uniform
from .dropout import variational_mask


class _Recurrent(Layer):
    """Shared parts of GRU and LSTM: x (B, T, I) -> outputs (B, T, D*H), D = 2 when
    bidirectional (forward direction in the first H columns, as PyTorch).

    Parameters (G gates: 3 for GRU, 4 for LSTM, PyTorch's gate order):
      Wi (I, D*G*H), bi (D*G*H): input projection of every step, one GEMM for all steps;
      Wh (D, H, G*H), bh (D, G*H): recurrent projection. Init U(+-1/sqrt(H)).
    recurrent_dropout > 0: variational dropout of the state fed back into the gates, one
    mask per (direction, batch, unit) per sequence.
    """

    params = ("Wi", "bi", "Wh", "bh")
    gates = 0

    def __init__(self, n_in, hidden, *, bidirectional=True, rng, dtype=np.float32,
                 recurrent_dropout=0.0, seed=None, backend="auto"):
        super().__init__()
        D = 2 if bidirectional else 1
        G = self.gates * hidden
        bound = 1.0 / math.sqrt(hidden)
        self.Wi = _uniform(rng, bound, (n_in, D * G), dtype)
        self.bi = _uniform(rng, bound, (D * G,), dtype)
        self.Wh = _uniform(rng, bound, (D, hidden, G), dtype)
        self.bh = _uniform(rng, bound, (D, G), dtype)
        for name in self.params:
            setattr(self, "d" + name, np.zeros_like(getattr(self, name)))
        self.n_in, self.hidden, self.D = n_in, hidden, D
        self.recurrent_dropout = checked_rate(recurrent_dropout, "recurrent_dropout")
        self.seed, self.backend = seed, backend

    def is_stochastic(self):
        return self.recurrent_dropout > 0

    def _hmask(self, B, dtype, training, offset):
        shape = (self.D, B, self.hidden)
        if training and self.recurrent_dropout > 0:
            return variational_mask(shape, self.recurrent_dropout, seed=self.seed,
                                    offset=offset, backend=self.backend, dtype=dtype,
                                    out=self.buffer("hmask", shape, dtype))
        ones = self.buffer("hmask_ones", shape, dtype)
        ones.fill(1)
        return ones

    def _project(self, x):
        """Input projections of all steps: (B*T, I) @ (I, D*G*H) + bi -> (B, T, D, G*H)."""
        B, T, _ = x.shape
        x2 = x.reshape(B * T, self.n_in)
        xp = self.buffer("xp", (B * T, self.Wi.shape[1]), x.dtype)
        np.dot(x2, self.Wi, out=xp)
        xp += self.bi
        self._x2 = x2
        return xp.reshape(B, T, self.D, -1)

    def _input_grads(self, dxp, dhp_of, hm_s, B, T):
        """Weight gradients by GEMM from the per-step pre-activation gradients."""
        dxp2 = dxp.reshape(B * T, -1)
        np.dot(self._x2.T, dxp2, out=self.dWi)
        np.sum(dxp2, axis=0, out=self.dbi)
        for d in range(self.D):
            dhp = dhp_of(d)  # (B*T, G*H)
            np.dot(hm_s[d].reshape(B * T, self.hidden).T, dhp, out=self.dWh[d])
            np.sum(dhp, axis=0, out=self.dbh[d])
        if not self.input_grad:
            return None
        dx = self.buffer("dx", (B * T, self.n_in), dxp.dtype)
        np.dot(dxp2, self.Wi.T, out=dx)
        return dx.reshape(B, T, self.n_in)

    def describe(self):
        rd = f", recurrent_dropout={self.recurrent_dropout}" if self.recurrent_dropout else ""
        bi = ", bidirectional" if self.D == 2 else ""
        return f"{type(self).__name__}({self.n_in}->{self.hidden}{bi}{rd})"


class GRU(_Recurrent):
    """Gated recurrent unit, PyTorch's equations (gates r, z, n); see kernels.gru_forward."""

    gates = 3

    def forward(self, x, training=True, offset=0):
        B, T, _ = x.shape
        H, D, dt = self.hidden, self.D, x.dtype
        xp = self._project(x)
        hmask = self._hmask(B, dt, training, offset)
        out = self.buffer("out", (B, T, D * H), dt)
        s = [self.buffer(n, (D, B, T, H), dt) for n in ("hm", "r", "z", "n", "hn")]
        K.gru_forward(xp, self.Wh, self.bh, hmask, out, *s)
        self._hmask_used, self._out, self._saves = hmask, out, s
        return out

    def backward(self, dy):
        B, T, _ = dy.shape
        H, D, dt = self.hidden, self.D, dy.dtype
        dxp = self.buffer("dxp", (B, T, D, 3 * H), dt)
        dhp = self.buffer("dhp", (D, B, T, 3 * H), dt)
        scratch = [self.buffer(n, (B, H), dt) for n in ("dh_next", "dh_direct")]
        hm, r, z, n, hn = self._saves
        K.gru_backward(dy, self.Wh, self._hmask_used, self._out, r, z, n, hn, dxp, dhp,
                       *scratch)
        return self._input_grads(dxp, lambda d: dhp[d].reshape(B * T, 3 * H), hm, B, T)


class LSTM(_Recurrent):
    """Long short-term memory, PyTorch's equations (gates i, f, g, o); zero initial state."""

    gates = 4

    def forward(self, x, training=True, offset=0):
        B, T, _ = x.shape
        H, D, dt = self.hidden, self.D, x.dtype
        xp = self._project(x)
        hmask = self._hmask(B, dt, training, offset)
        out = self.buffer("out", (B, T, D * H), dt)
        s = [self.buffer(n, (D, B, T, H), dt) for n in ("hm", "i", "f", "g", "o", "c")]
        K.lstm_forward(xp, self.Wh, self.bh, hmask, out, *s)
        self._hmask_used, self._saves = hmask, s
        return out

    def backward(self, dy):
        B, T, _ = dy.shape
        H, D, dt = self.hidden, self.D, dy.dtype
        da = self.buffer("da", (B, T, D, 4 * H), dt)
        scratch = [self.buffer(n, (B, H), dt) for n in ("dh_next", "dc_next", "dh_tmp")]
        hm, i, f, g, o, c = self._saves
        K.lstm_backward(dy, self.Wh, self._hmask_used, i, f, g, o, c, da, *scratch)
        return self._input_grads(da, lambda d: da[:, :, d, :].reshape(B * T, 4 * H), hm, B, T)
