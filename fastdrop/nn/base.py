"""The layer protocol and the layers without parameters of their own: activations,
shape changes and containers.

Every layer has the same two methods, with the same argument order:

    y  = layer.forward(x, training, offset)   # offset: the dropout step (a fresh mask per step)
    dx = layer.backward(dy)                   # after forward; fills the parameter gradients

Parameters are numpy arrays named in `params` (e.g. "W", "b"); the gradient of `W` lives
in `dW`. Gradients are overwritten by backward, not accumulated. A model packs all of them
into one flat buffer (see models.py), so an optimizer updates every parameter in one call.

Speed: each layer keeps its output and scratch arrays between calls (one set per input
shape), matmuls go to BLAS through np.dot(..., out=), and the loops BLAS cannot do are
Numba loops (loops.py, fused.py). So the arrays returned by forward and backward belong to
the layer and are overwritten by its next call.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_p
from . import loops as K


def checked_rate(value, name: str) -> float:
    """A dropout rate in [0, 1] (_validate.check_p), the error naming the argument."""
    try:
        return check_p(value)
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None

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

    def mask_nbytes(self) -> int:
        """Bytes of dropout mask this layer keeps for its backward (0: none)."""
        return 0

    def describe(self) -> str:
        return type(self).__name__



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
