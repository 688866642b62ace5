"""The fused layers (bias + activation + dropout in one pass) against the unfused reference
chain (Linear/Conv1d -> ReLU/SELU -> Dropout through fastdrop.dropout): outputs, input
gradients and weight gradients equal bit for bit (np.array_equal, no tolerance) for every
variant, stored or regenerated masks, over a few training steps."""

from __future__ import annotations

import numpy as np
import pytest

import fastdrop as fd
import fastdrop.nn as L
from fastdrop.nn import SoftmaxCrossEntropy, build_model

VARIANTS = ("inverted", "standard", "spatial", "alpha", "gaussian", "dropconnect")


def _steps(model, x, y, steps=3, lr=0.05):
    """(logits, flat gradients) of each step; SGD between steps so later steps see new
    weights."""
    loss, out = SoftmaxCrossEntropy(), []
    for s in range(steps):
        logits = model.forward(x, True, s).copy()
        loss.forward(logits, y)
        model.backward(loss.backward())
        out.append((logits, model.grads.copy()))
        model.params -= model.dtype.type(lr) * model.grads
    out.append((model.forward(x, False, 0).copy(), None))  # inference after training
    return out


@pytest.mark.parametrize("store_mask", [True, False])
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", ["mlp", "selu_mlp", "cnn"])
def test_fused_model_equals_unfused_bit_for_bit(name, variant, store_mask):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 40)).astype(np.float32)
    y = rng.integers(0, 10, 16)
    kw = dict(dropout=0.3, variant=variant, seed=5, store_mask=store_mask)
    fused, plain = build_model(name, fused=True, **kw), build_model(name, fused=False, **kw)
    if variant != "dropconnect":  # DropConnect sites drop weights: nothing to fuse
        assert len(fused.root.layers) < len(plain.root.layers)
    assert fused.train_seeds == plain.train_seeds
    for (lf, gf), (lp, gp) in zip(_steps(fused, x, y), _steps(plain, x, y), strict=True):
        np.testing.assert_array_equal(lf, lp)
        if gf is not None:
            np.testing.assert_array_equal(gf, gp)


@pytest.mark.parametrize("act", [None, "relu", "selu"])
@pytest.mark.parametrize("variant", ["inverted", "standard", "spatial", "alpha", "gaussian"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_conv_layer_input_gradient(act, variant, dtype):
    """One Conv1d with every activation: y and dx (the input gradient) bit for bit."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3, 21)).astype(dtype)
    dy = rng.standard_normal((6, 4, 11)).astype(dtype)

    def make(fused):
        r = np.random.default_rng(1)
        drop = L.DropSite(0.4, variant, seed=9) if fused else None
        conv = L.Conv1d(3, 4, 3, stride=2, padding=1, rng=r, dtype=dtype,
                        activation=act if fused else None, drop=drop)
        if fused:
            return conv
        tail = {None: [], "relu": [L.ReLU()], "selu": [L.SELU()]}[act]
        return L.Sequential(conv, *tail, L.Dropout(0.4, variant, seed=9))

    f, u = make(True), make(False)
    np.testing.assert_array_equal(f.forward(x, True, 7), u.forward(x, True, 7))
    np.testing.assert_array_equal(f.backward(dy), u.backward(dy))
    np.testing.assert_array_equal(f.dW, u.layers[0].dW)
    np.testing.assert_array_equal(f.db, u.layers[0].db)


def test_fused_mask_is_the_spec_mask():
    """The packed mask a fused Linear keeps is fd.keep_mask of (seed, offset), and the
    dropped outputs are exactly the mask's zeros."""
    rng = np.random.default_rng(0)
    lin = L.Linear(8, 13, rng=rng, drop=L.DropSite(0.5, seed=123))
    x = rng.standard_normal((7, 8)).astype(np.float32)
    y = lin.forward(x, True, 42)
    mask = fd.keep_mask(7 * 13, 0.5, seed=123, offset=42)
    np.testing.assert_array_equal(lin.tail._last[0].mask, mask)
    keep = np.unpackbits(mask, count=91, bitorder="little").reshape(7, 13).astype(bool)
    assert np.all(y[~keep] == 0)
    assert lin.tail.mask_nbytes() == mask.nbytes


def test_fused_sites_are_model_sites():
    """A fused dropout is a site with a seed, so Monte Carlo seeds reach it."""
    m = build_model("cnn", dropout=0.3, seed=2)
    assert len(m.sites) == 3 and all(isinstance(s, L.DropSite) for s in m.sites)
    m.set_seeds([1, 2, 3])
    assert [s.seed for s in m.sites] == [1, 2, 3]


def test_drop_site_rejects_bad_input_naming_it():
    with pytest.raises(ValueError, match="p must be"):
        L.DropSite(1.5)
    with pytest.raises(ValueError, match="variant must be one of"):
        L.DropSite(0.1, "nope")
    with pytest.raises(ValueError, match="activation must be one of"):
        L.Linear(2, 2, rng=np.random.default_rng(0), activation="tanh")
    with pytest.raises(ValueError, match="dropconnect: p must be"):
        L.Linear(2, 2, rng=np.random.default_rng(0), dropconnect=-1)


@pytest.mark.parametrize("fused", [True, False])
def test_model_memory_counts_the_kept_masks(fused):
    """MLP, batch 20, p = 0.3: two sites of 20 x 100 -> 2 x 250 packed bytes; none when the
    mask is regenerated or at inference."""
    x = np.zeros((20, 40), np.float32)
    for store, expect in ((True, 500), (False, 0)):
        m = build_model("mlp", dropout=0.3, fused=fused, store_mask=store)
        m.forward(x, True, 0)
        assert m.memory()["mask"] == expect
    m.forward(x, False, 0)
    assert m.memory()["mask"] == 0
    assert m.memory()["parameters"] == 2 * 4 * m.num_parameters
