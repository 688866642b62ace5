"""Fused layers at sizes the model tests do not reach: element counts that are not a
multiple of 8 (the last mask byte is partial) and arrays spanning several of the mask
draw's chunks (CH Philox calls = 8*CH entries each). Outputs, input and weight gradients
equal the unfused chain's bit for bit, with stored and regenerated masks."""

from __future__ import annotations

import numpy as np
import pytest

import fastdrop.nn as L
from fastdrop.nn.fused_draw import CH

MASKED = ("inverted", "standard", "alpha")


def _dense_pair(n_in, n_out, act, variant, store_mask):
    def make(fused):
        r = np.random.default_rng(1)
        drop = L.DropSite(0.3, variant, seed=11, store_mask=store_mask)
        lin = L.Linear(n_in, n_out, rng=r, activation=act if fused else None,
                       drop=drop if fused else None)
        if fused:
            return lin
        tail = {None: [], "relu": [L.ReLU()], "selu": [L.SELU()]}[act]
        return L.Sequential(lin, *tail, L.Dropout(0.3, variant, seed=11,
                                                   store_mask=store_mask))
    return make(True), make(False)


@pytest.mark.parametrize("store_mask", [True, False])
@pytest.mark.parametrize("variant", MASKED + ("gaussian",))
@pytest.mark.parametrize("act", [None, "relu", "selu"])
@pytest.mark.parametrize("batch, n_out", [(7, 13), (9, 8 * CH // 9 + 3), (3, 1)])
def test_fused_linear_odd_sizes(batch, n_out, act, variant, store_mask):
    assert (batch * n_out) % 8 or batch * n_out > 8 * CH
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 6)).astype(np.float32)
    dy = rng.standard_normal((batch, n_out)).astype(np.float32)
    f, u = _dense_pair(6, n_out, act, variant, store_mask)
    for step in range(2):
        np.testing.assert_array_equal(f.forward(x, True, step), u.forward(x, True, step))
        np.testing.assert_array_equal(f.backward(dy), u.backward(dy))
        np.testing.assert_array_equal(f.dW, u.layers[0].dW)
        np.testing.assert_array_equal(f.db, u.layers[0].db)


@pytest.mark.parametrize("store_mask", [True, False])
@pytest.mark.parametrize("variant", MASKED + ("spatial",))
@pytest.mark.parametrize("batch, length", [(5, 13), (11, 57)])
def test_fused_conv_odd_sizes(batch, length, variant, store_mask):
    """(5, 3, 7) = 105 elements and (11, 3, 29) = 957: partial last byte, several chunks."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 2, length)).astype(np.float64)
    lout = (length + 2 - 3) // 2 + 1

    def make(fused):
        r = np.random.default_rng(1)
        drop = L.DropSite(0.4, variant, seed=9, store_mask=store_mask)
        conv = L.Conv1d(2, 3, 3, stride=2, padding=1, rng=r, dtype=np.float64,
                        activation="relu" if fused else None, drop=drop if fused else None)
        if fused:
            return conv
        return L.Sequential(conv, L.ReLU(), L.Dropout(0.4, variant, seed=9,
                                                      store_mask=store_mask))

    f, u = make(True), make(False)
    dy = rng.standard_normal((batch, 3, lout))
    assert (batch * 3 * lout) % 8
    np.testing.assert_array_equal(f.forward(x, True, 3), u.forward(x, True, 3))
    np.testing.assert_array_equal(f.backward(dy), u.backward(dy))
    np.testing.assert_array_equal(f.dW, u.layers[0].dW)
    np.testing.assert_array_equal(f.db, u.layers[0].db)
