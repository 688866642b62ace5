"""Shared helpers for the layer tests: the dropout backend to use and a central
finite-difference gradient check in float64."""

from __future__ import annotations

import importlib.util

import numpy as np

# The Numba CPU backend when it is installed, else the numpy reference (same masks).
BACKEND = "cpu" if importlib.util.find_spec("fastdrop.kernels.cpu") else "numpy"


def walk(layer):
    yield layer
    for child in layer.children():
        yield from walk(child)


def param_pairs(layer):
    """(name, param, grad) of every parameter under layer."""
    out = []
    for i, lay in enumerate(walk(layer)):
        for name in lay.params:
            out.append((f"{i}.{type(lay).__name__}.{name}", getattr(lay, name),
                        getattr(lay, "d" + name)))
    return out


def _indices(shape, rng, limit):
    n = int(np.prod(shape))
    flat = np.arange(n) if n <= limit else rng.choice(n, size=limit, replace=False)
    return [np.unravel_index(i, shape) for i in flat]


def gradcheck(layer, x, *, training=True, offset=3, eps=1e-6, limit=30, rtol=1e-5,
              atol=1e-8, check_input=True):
    """Compare layer.backward with central differences of f = sum(forward(x) * g)."""
    rng = np.random.default_rng(1)
    y = np.array(layer.forward(x, training, offset))
    g = rng.standard_normal(y.shape)
    dx = layer.backward(g)
    dx = None if dx is None else np.array(dx)
    pairs = [(n, p, np.array(d)) for n, p, d in param_pairs(layer)]

    def f():
        return float(np.sum(layer.forward(x, training, offset) * g))

    def numeric(arr, idx):
        orig = arr[idx]
        arr[idx] = orig + eps
        fp = f()
        arr[idx] = orig - eps
        fm = f()
        arr[idx] = orig
        return (fp - fm) / (2 * eps)

    checked = 0
    if check_input and layer.input_grad:
        assert dx is not None and dx.shape == x.shape
        for idx in _indices(x.shape, rng, limit):
            np.testing.assert_allclose(dx[idx], numeric(x, idx), rtol=rtol, atol=atol,
                                       err_msg=f"input grad at {idx}")
            checked += 1
    for name, p, d in pairs:
        for idx in _indices(p.shape, rng, limit):
            np.testing.assert_allclose(d[idx], numeric(p, idx), rtol=rtol, atol=atol,
                                       err_msg=f"grad of {name} at {idx}")
            checked += 1
    assert checked > 0
    return y
