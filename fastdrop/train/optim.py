"""Optimisers over a model's flat parameter buffer: one Numba loop per step updates every
parameter (PyTorch's update rules, so runs compare with the PyTorch peers)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Kernels compute in the parameters' dtype (float32 like PyTorch's optimisers): the
# constants come in as an array of that dtype. error_model="numpy" lets LLVM vectorise the
# division and square root (no ZeroDivisionError branch).


@njit(cache=True, error_model="numpy")
def _sgd(p, g, buf, c):
    lr, momentum, wd = c[0], c[1], c[2]
    for i in range(p.size):
        b = momentum * buf[i] + (g[i] + wd * p[i])
        buf[i] = b
        p[i] -= lr * b


@njit(cache=True, error_model="numpy")
def _adam(p, g, m, v, c):
    """c = (lr / bc1, b1, 1 - b1, b2, 1 - b2, 1 / sqrt(bc2), eps, wd): L2 in the gradient."""
    step, b1, c1, b2, c2, rs, eps, wd = c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
    for i in range(p.size):
        gi = g[i] + wd * p[i]
        mi = b1 * m[i] + c1 * gi
        vi = b2 * v[i] + c2 * gi * gi
        m[i] = mi
        v[i] = vi
        p[i] -= step * mi / (np.sqrt(vi) * rs + eps)


@njit(cache=True, error_model="numpy")
def _adamw(p, g, m, v, c):
    """As _adam, with decoupled decay: p *= 1 - lr * wd first (c[7] = 1 - lr * wd)."""
    step, b1, c1, b2, c2, rs, eps, shrink = c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
    for i in range(p.size):
        gi = g[i]
        mi = b1 * m[i] + c1 * gi
        vi = b2 * v[i] + c2 * gi * gi
        m[i] = mi
        v[i] = vi
        p[i] = p[i] * shrink - step * mi / (np.sqrt(vi) * rs + eps)


class SGD:
    """SGD with momentum (PyTorch: buf = momentum * buf + (g + wd * p); p -= lr * buf)."""

    def __init__(self, params, grads, *, lr, momentum=0.9, weight_decay=0.0):
        self.params, self.grads = params, grads
        self.lr, self.momentum, self.weight_decay = float(lr), float(momentum), float(weight_decay)
        self.buf = np.zeros_like(params)
        self.t = 0

    def step(self):
        self.t += 1
        c = np.array([self.lr, self.momentum, self.weight_decay], dtype=self.params.dtype)
        _sgd(self.params, self.grads, self.buf, c)

    def warmup(self):
        """Compile (or load from the cache) the kernel on a throwaway array."""
        z = np.zeros(1, dtype=self.params.dtype)
        _sgd(z, z.copy(), z.copy(), np.zeros(3, dtype=z.dtype))


class Adam:
    """Adam (Kingma & Ba 2015) with PyTorch's bias correction. weight_decay is L2 added
    to the gradient; AdamW (Loshchilov & Hutter 2019) decays the parameters directly:
    p *= 1 - lr * weight_decay before the Adam update."""

    decoupled = False

    def __init__(self, params, grads, *, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.params, self.grads = params, grads
        self.lr, self.eps, self.weight_decay = float(lr), float(eps), float(weight_decay)
        self.b1, self.b2 = (float(b) for b in betas)
        self.m = np.zeros_like(params)
        self.v = np.zeros_like(params)
        self.t = 0

    def step(self):
        self.t += 1
        bc1 = 1.0 - self.b1**self.t
        bc2 = 1.0 - self.b2**self.t
        last = 1.0 - self.lr * self.weight_decay if self.decoupled else self.weight_decay
        c = np.array([self.lr / bc1, self.b1, 1.0 - self.b1, self.b2, 1.0 - self.b2,
                      1.0 / math.sqrt(bc2), self.eps, last], dtype=self.params.dtype)
        (_adamw if self.decoupled else _adam)(self.params, self.grads, self.m, self.v, c)

    def warmup(self):
        """Compile (or load from the cache) the kernel on a throwaway array."""
        z = np.zeros(1, dtype=self.params.dtype)
        c = np.ones(8, dtype=z.dtype)
        (_adamw if self.decoupled else _adam)(z, z.copy(), z.copy(), z.copy(), c)


class AdamW(Adam):
    decoupled = True


def make_optimizer(name: str, params, grads, *, lr, momentum=0.9, betas=(0.9, 0.999),
                   eps=1e-8, weight_decay=0.0):
    """SGD, Adam or AdamW over flat params/grads."""
    if name == "sgd":
        return SGD(params, grads, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return Adam(params, grads, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    if name == "adamw":
        return AdamW(params, grads, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be one of sgd, adam, adamw; got {name!r}")
