"""Linear and Conv1d: a BLAS GEMM, then bias, activation and dropout.

With `activation` and/or `drop` (a fused.DropSite) the layer applies bias + activation +
dropout in one pass after its GEMM, and in backward the mask and the activation's
derivative in one pass (fused.py): the same values, bit for bit, as the unfused chain
Linear -> ReLU/SELU -> Dropout, at a fraction of the passes and calls. Without them the
layer is the plain affine map (the reference chain's first link).

DropConnect: `Linear(..., dropconnect=p)` / `Conv1d(..., dropconnect=p)` drop entries of
the weight (mask over the weight's flat index; one mask per step, shared by the batch).
"""

from __future__ import annotations

import math

import numpy as np

import fastdrop as fd

from .base import Layer, checked_rate
from .fused import DropSite, FusedTail
from .loops import add_bias, col2im, im2col, ncl_to_rows, rows_to_ncl


def _uniform(rng, bound, shape, dtype):
    return rng.uniform(-bound, bound, size=shape).astype(dtype)

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

    tail: FusedTail | None = None

    def is_stochastic(self) -> bool:
        return self.dropconnect > 0

    def stochastic(self) -> list:
        """The dropout sites in this layer: its DropConnect, then its fused dropout."""
        out = [self] if self.seed is not None and self.is_stochastic() else []
        if self.tail is not None and self.tail.drop is not None:
            out.extend(self.tail.drop.stochastic())
        return out

    def mask_nbytes(self) -> int:
        """The DropConnect mask and the fused dropout's packed mask, when kept."""
        dc = getattr(self, "_dc_mask", None) if getattr(self, "_dc_active", False) else None
        return (0 if dc is None else dc.nbytes) + (self.tail.mask_nbytes() if self.tail else 0)

    def _fuse(self, activation, drop: DropSite | None) -> None:
        self.tail = FusedTail(self, activation, drop) if (activation or drop) else None

    def _describe_tail(self) -> str:
        """", fused) -> ReLU -> Dropout(...)" for a fused layer: the chain it stands for."""
        if self.tail is None:
            return ")"
        names = {"relu": "ReLU", "selu": "SELU"}
        parts = [names[self.tail.activation]] if self.tail.activation else []
        if self.tail.drop is not None:
            parts.append(self.tail.drop.describe())
        return ", fused)" + "".join(f" -> {p}" for p in parts)

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
                 activation=None, drop=None, dropconnect=0.0, seed=None, backend="auto",
                 store_mask=True):
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
        self.dropconnect = checked_rate(dropconnect, "dropconnect")
        self.seed, self.backend, self.store_mask = seed, backend, store_mask
        self._fuse(activation, drop)

    def forward(self, x, training=True, offset=0):
        w = self._weight(training, offset)
        self._x, self._w = x, w  # (B, n_in), the weight actually used
        y = self.buffer("y", (x.shape[0], self.n_out), x.dtype)
        np.dot(x, w, out=y)
        if self.tail is not None:
            return self.tail.dense_forward(y, self.b, training, offset)
        add_bias(y, self.b)
        return y

    def backward(self, dy):
        if self.tail is not None:
            dy = self.tail.dense_backward(dy)  # through dropout and the activation
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
        return f"Linear({self.n_in}->{self.n_out}{dc}{self._describe_tail()}"


class Conv1d(_DropConnect, Layer):
    """1-D convolution of x (B, C_in, L) with W (C_out, C_in, K), as im2col + one GEMM.

    L_out = (L + 2*padding - K) // stride + 1. PyTorch's default init,
    U(+-1/sqrt(C_in*K)). dropconnect > 0: DropConnect on W.
    """

    params = ("W", "b")

    def __init__(self, c_in, c_out, kernel_size, *, stride=1, padding=0, rng,
                 dtype=np.float32, activation=None, drop=None, dropconnect=0.0, seed=None,
                 backend="auto", store_mask=True):
        super().__init__()
        bound = 1.0 / math.sqrt(c_in * kernel_size)
        self.W = _uniform(rng, bound, (c_out, c_in, kernel_size), dtype)
        self.b = _uniform(rng, bound, (c_out,), dtype)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self.c_in, self.c_out, self.k = c_in, c_out, kernel_size
        self.stride, self.padding = stride, padding
        self.dropconnect = checked_rate(dropconnect, "dropconnect")
        self.seed, self.backend, self.store_mask = seed, backend, store_mask
        self._fuse(activation, drop)

    def out_length(self, length: int) -> int:
        return (length + 2 * self.padding - self.k) // self.stride + 1

    def forward(self, x, training=True, offset=0):
        B, _, L = x.shape
        lout = self.out_length(L)
        w2 = self._weight(training, offset).reshape(self.c_out, self.c_in * self.k)
        cols = self.buffer("cols", (B * lout, self.c_in * self.k), x.dtype)
        im2col(x, cols, self.stride, self.padding, self.k)
        y2 = self.buffer("y2", (B * lout, self.c_out), x.dtype)  # (B*L_out, C_out)
        np.dot(cols, w2.T, out=y2)
        self._xshape, self._cols, self._w2 = x.shape, cols, w2
        if self.tail is not None:
            return self.tail.conv_forward(y2, self.b, (B, self.c_out, lout), training, offset)
        y = self.buffer("y", (B, self.c_out, lout), x.dtype)
        rows_to_ncl(y2, self.b, y)
        return y

    def backward(self, dy):
        B, _, lout = dy.shape
        dy2 = self.buffer("dy2", (B * lout, self.c_out), dy.dtype)
        if self.tail is not None:  # through dropout and the activation, into GEMM rows
            self.tail.conv_backward(dy, dy2, self.db)
        else:
            ncl_to_rows(dy, dy2, self.db)
        np.dot(dy2.T, self._cols, out=self.dW.reshape(self.c_out, -1))
        self._weight_grad()
        if not self.input_grad:
            return None
        dcols = self.buffer("dcols", self._cols.shape, dy.dtype)
        np.dot(dy2, self._w2, out=dcols)
        dx = self.buffer("dx", self._xshape, dy.dtype)
        col2im(dcols, dx, self.stride, self.padding, self.k)
        return dx

    def describe(self):
        dc = f", dropconnect={self.dropconnect}" if self.dropconnect else ""
        return (f"Conv1d({self.c_in}->{self.c_out}, k={self.k}, s={self.stride}, "
                f"p={self.padding}{dc}{self._describe_tail()}")


