"""Layers with forward and backward side by side, written for small fast training steps.

Every layer has the same two methods, with the same argument order:

    y  = layer.forward(x, training, offset)   # offset: the dropout step (a fresh mask per step)
    dx = layer.backward(dy)                   # after forward; fills the parameter gradients

Parameters are numpy arrays named in `params` (e.g. "W", "b"); the gradient of `W` lives
in `dW`. Gradients are overwritten by backward, not accumulated. A model packs all of them
into one flat buffer (see models.py), so an optimizer updates every parameter in one call.

Speed: each layer keeps its output and scratch arrays between calls (one set per input
shape), matmuls go to BLAS through np.dot(..., out=), and the loops BLAS cannot do
(im2col, the recurrent time loop) are Numba kernels in kernels.py. So the arrays returned
by forward and backward belong to the layer and are overwritten by its next call.

Dropout of every variant in SPEC.md goes through fastdrop.dropout / dropout_backward:

- `Dropout`: inverted, standard, spatial (whole channels of (N, C, L) maps), alpha (SELU
  nets) and gaussian, on activations. It stores the packed mask, or (store_mask=False)
  keeps only (seed, offset) and regenerates the mask in backward.
- DropConnect: `Linear(..., dropconnect=p)` / `Conv1d(..., dropconnect=p)` drop entries of
  the weight (mask over the weight's flat index; one mask per step, shared by the batch).
- `VariationalDropout` (sequence outputs) and `GRU`/`LSTM(recurrent_dropout=p)` (the state
  fed back into the gates): one mask per (batch, feature) per sequence, reused at every step.
"""

from __future__ import annotations

import math

import numpy as np

import fastdrop as fd
from fastdrop import spec

from . import kernels as K

ELEMENT_VARIANTS = ("inverted", "standard", "spatial", "alpha", "gaussian")


class Layer:
    """Base class: parameter bookkeeping and the per-shape buffer cache."""

    params: tuple[str, ...] = ()
    # False on a model's first layer: its input gradient is never used, so skip it.
    input_grad: bool = True

    def __init__(self):
        self._bufs: dict = {}

    def buffer(self, name: str, shape, dtype) -> np.ndarray:
        """An array owned by this layer, reused while the shape and dtype stay the same
        (a new shape, e.g. an evaluation chunk, replaces it)."""
        buf = self._bufs.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = np.empty(shape, dtype=dtype)
            self._bufs[name] = buf
        return buf

    def ones(self, n: int, dtype) -> np.ndarray:
        """A vector of n ones (for bias gradients as one BLAS call: ones @ dy)."""
        buf = self.buffer("ones", (n,), dtype)
        buf.fill(1)
        return buf

    def clear_buffers(self) -> None:
        self._bufs.clear()
        for layer in self.children():
            layer.clear_buffers()

    def children(self) -> list[Layer]:
        return []

    def forward(self, x, training=True, offset=0):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    def stochastic(self) -> list:
        """Objects with a `seed` attribute that draw dropout masks (this layer or children)."""
        out = [self] if getattr(self, "seed", None) is not None and self.is_stochastic() else []
        for layer in self.children():
            out.extend(layer.stochastic())
        return out

    def is_stochastic(self) -> bool:
        return False

    def describe(self) -> str:
        return type(self).__name__


def _uniform(rng, bound, shape, dtype):
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def _check_p(p, name="p"):
    p = float(p)
    if not 0.0 <= p <= 1.0 or math.isnan(p):
        raise ValueError(f"{name} must be in [0, 1], got {p}")
    return p


# ---------------------------------------------------------------------------------------
# DropConnect: a mask over the weight's flat index, shared by Linear and Conv1d
# ---------------------------------------------------------------------------------------


class _DropConnect:
    """Mixin: in training, use W * mask (inverted scaling) instead of W; the gradient of W
    is the gradient of the masked weight with the same mask applied."""

    dropconnect: float = 0.0
    seed = None
    backend = "auto"
    store_mask = True

    def is_stochastic(self) -> bool:
        return self.dropconnect > 0

    def _weight(self, training: bool, offset: int) -> np.ndarray:
        self._dc_active = training and self.dropconnect > 0
        if not self._dc_active:
            return self.W
        w, mask = fd.dropout(
            self.W, self.dropconnect, seed=self.seed, offset=offset,
            backend=self.backend, out=self.buffer("Wdrop", self.W.shape, self.W.dtype),
        )
        self._dc_mask = mask if self.store_mask else None
        self._dc_offset = offset
        return w

    def _weight_grad(self) -> None:
        """dW holds the gradient of the masked weight: apply the mask to it, in place."""
        if self._dc_active:
            fd.dropout_backward(
                self.dW, self.dropconnect, mask=self._dc_mask, seed=self.seed,
                offset=self._dc_offset, backend=self.backend, out=self.dW,
            )


# ---------------------------------------------------------------------------------------
# Linear and Conv1d
# ---------------------------------------------------------------------------------------


class Linear(_DropConnect, Layer):
    """y = x W + b with W (n_in, n_out). PyTorch's default init, U(+-1/sqrt(n_in)), or
    LeCun normal (std 1/sqrt(n_in), for SELU nets). dropconnect > 0: DropConnect."""

    params = ("W", "b")

    def __init__(self, n_in, n_out, *, rng, dtype=np.float32, init="uniform",
                 dropconnect=0.0, seed=None, backend="auto", store_mask=True):
        super().__init__()
        bound = 1.0 / math.sqrt(n_in)
        if init == "uniform":
            self.W = _uniform(rng, bound, (n_in, n_out), dtype)
            self.b = _uniform(rng, bound, (n_out,), dtype)
        elif init == "lecun_normal":
            self.W = (rng.standard_normal((n_in, n_out)) * bound).astype(dtype)
            self.b = np.zeros(n_out, dtype=dtype)
        else:
            raise ValueError(f"init must be one of uniform, lecun_normal; got {init!r}")
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self.n_in, self.n_out = n_in, n_out
        self.dropconnect = _check_p(dropconnect, "dropconnect")
        self.seed, self.backend, self.store_mask = seed, backend, store_mask

    def forward(self, x, training=True, offset=0):
        w = self._weight(training, offset)
        self._x, self._w = x, w  # (B, n_in), the weight actually used
        y = self.buffer("y", (x.shape[0], self.n_out), x.dtype)
        np.dot(x, w, out=y)
        K.add_bias(y, self.b)
        return y

    def backward(self, dy):
        np.dot(self._x.T, dy, out=self.dW)
        self._weight_grad()
        np.dot(self.ones(dy.shape[0], dy.dtype), dy, out=self.db)  # sum over the batch
        if not self.input_grad:
            return None
        dx = self.buffer("dx", self._x.shape, dy.dtype)
        np.dot(dy, self._w.T, out=dx)
        return dx

    def describe(self):
        dc = f", dropconnect={self.dropconnect}" if self.dropconnect else ""
        return f"Linear({self.n_in}->{self.n_out}{dc})"


class Conv1d(_DropConnect, Layer):
    """1-D convolution of x (B, C_in, L) with W (C_out, C_in, K), as im2col + one GEMM.

    L_out = (L + 2*padding - K) // stride + 1. PyTorch's default init,
    U(+-1/sqrt(C_in*K)). dropconnect > 0: DropConnect on W.
    """

    params = ("W", "b")

    def __init__(self, c_in, c_out, kernel_size, *, stride=1, padding=0, rng,
                 dtype=np.float32, dropconnect=0.0, seed=None, backend="auto",
                 store_mask=True):
        super().__init__()
        bound = 1.0 / math.sqrt(c_in * kernel_size)
        self.W = _uniform(rng, bound, (c_out, c_in, kernel_size), dtype)
        self.b = _uniform(rng, bound, (c_out,), dtype)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self.c_in, self.c_out, self.k = c_in, c_out, kernel_size
        self.stride, self.padding = stride, padding
        self.dropconnect = _check_p(dropconnect, "dropconnect")
        self.seed, self.backend, self.store_mask = seed, backend, store_mask

    def out_length(self, length: int) -> int:
        return (length + 2 * self.padding - self.k) // self.stride + 1

    def forward(self, x, training=True, offset=0):
        B, _, L = x.shape
        lout = self.out_length(L)
        w2 = self._weight(training, offset).reshape(self.c_out, self.c_in * self.k)
        cols = self.buffer("cols", (B * lout, self.c_in * self.k), x.dtype)
        K.im2col(x, cols, self.stride, self.padding, self.k)
        y2 = self.buffer("y2", (B * lout, self.c_out), x.dtype)  # (B*L_out, C_out)
        np.dot(cols, w2.T, out=y2)
        y = self.buffer("y", (B, self.c_out, lout), x.dtype)
        K.rows_to_ncl(y2, self.b, y)
        self._xshape, self._cols, self._w2 = x.shape, cols, w2
        return y

    def backward(self, dy):
        B, _, lout = dy.shape
        dy2 = self.buffer("dy2", (B * lout, self.c_out), dy.dtype)
        K.ncl_to_rows(dy, dy2, self.db)
        np.dot(dy2.T, self._cols, out=self.dW.reshape(self.c_out, -1))
        self._weight_grad()
        if not self.input_grad:
            return None
        dcols = self.buffer("dcols", self._cols.shape, dy.dtype)
        np.dot(dy2, self._w2, out=dcols)
        dx = self.buffer("dx", self._xshape, dy.dtype)
        K.col2im(dcols, dx, self.stride, self.padding, self.k)
        return dx

    def describe(self):
        dc = f", dropconnect={self.dropconnect}" if self.dropconnect else ""
        return (f"Conv1d({self.c_in}->{self.c_out}, k={self.k}, s={self.stride}, "
                f"p={self.padding}{dc})")


# ---------------------------------------------------------------------------------------
# activations and shape
# ---------------------------------------------------------------------------------------


class ReLU(Layer):
    def forward(self, x, training=True, offset=0):
        y = self.buffer("y", x.shape, x.dtype)
        K.relu_forward(x.reshape(-1), y.reshape(-1))
        self._y = y
        return y

    def backward(self, dy):
        dx = self.buffer("dx", dy.shape, dy.dtype)
        K.relu_backward(dy.reshape(-1), self._y.reshape(-1), dx.reshape(-1))
        return dx


class SELU(Layer):
    """Scaled ELU (Klambauer et al. 2017): lambda * (x if x > 0 else alpha * (e^x - 1))."""

    def forward(self, x, training=True, offset=0):
        y = self.buffer("y", x.shape, x.dtype)
        K.selu_forward(x.reshape(-1), y.reshape(-1))
        self._x, self._y = x, y
        return y

    def backward(self, dy):
        dx = self.buffer("dx", dy.shape, dy.dtype)
        K.selu_backward(dy.reshape(-1), self._x.reshape(-1), self._y.reshape(-1),
                        dx.reshape(-1))
        return dx


class Reshape(Layer):
    """A view with a new shape per example: (B, ...) -> (B, *shape); -1 allowed."""

    def __init__(self, *shape):
        super().__init__()
        self.shape = shape

    def forward(self, x, training=True, offset=0):
        self._xshape = x.shape
        return x.reshape((x.shape[0], *self.shape))

    def backward(self, dy):
        return dy.reshape(self._xshape)

    def describe(self):
        return f"Reshape{self.shape}"


class Flatten(Reshape):
    """(B, ...) -> (B, prod(...))."""

    def __init__(self):
        super().__init__(-1)

    def describe(self):
        return "Flatten"


# ---------------------------------------------------------------------------------------
# dropout on activations
# ---------------------------------------------------------------------------------------


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
        if variant not in ELEMENT_VARIANTS:
            raise ValueError(
                f"Dropout variant must be one of {', '.join(ELEMENT_VARIANTS)}; got {variant!r}"
            )
        self.p = _check_p(p)
        self.variant, self.seed, self.backend = variant, seed, backend
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
        self.p = _check_p(p)
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

    def describe(self):
        return f"VariationalDropout(p={self.p})"


# ---------------------------------------------------------------------------------------
# recurrent layers
# ---------------------------------------------------------------------------------------


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
        self.recurrent_dropout = _check_p(recurrent_dropout, "recurrent_dropout")
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


# ---------------------------------------------------------------------------------------
# containers
# ---------------------------------------------------------------------------------------


class Sequential(Layer):
    """Layers applied in order; backward in reverse."""

    def __init__(self, *layers):
        super().__init__()
        self.layers = list(layers)

    def children(self):
        return self.layers

    def forward(self, x, training=True, offset=0):
        for layer in self.layers:
            x = layer.forward(x, training, offset)
        return x

    def backward(self, dy):
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
            if dy is None:  # a first layer that skips its input gradient
                return None
        return dy

    def describe(self):
        return " -> ".join(layer.describe() for layer in self.layers)


class Residual(Layer):
    """y = x + inner(x) (the MNIST-1D reference MLP's second layer)."""

    def __init__(self, *layers):
        super().__init__()
        self.inner = Sequential(*layers)

    def children(self):
        return [self.inner]

    def forward(self, x, training=True, offset=0):
        y = self.buffer("y", x.shape, x.dtype)
        np.add(x, self.inner.forward(x, training, offset), out=y)
        return y

    def backward(self, dy):
        dx = self.buffer("dx", dy.shape, dy.dtype)
        np.add(dy, self.inner.backward(dy), out=dx)
        return dx

    def describe(self):
        return f"x + [{self.inner.describe()}]"
