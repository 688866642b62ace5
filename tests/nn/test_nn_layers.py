"""Every layer's backward against central finite differences in float64, on tiny shapes."""

from __future__ import annotations

import numpy as np
import pytest
from nn_helpers import BACKEND, gradcheck

import fastdrop as fd
import fastdrop.nn as L

F64 = np.float64


def test_linear(rng):
    layer = L.Linear(5, 4, rng=rng, dtype=F64)
    gradcheck(layer, rng.standard_normal((3, 5)))


def test_linear_dropconnect(rng):
    layer = L.Linear(6, 5, rng=rng, dtype=F64, dropconnect=0.4, seed=11, backend=BACKEND)
    y = gradcheck(layer, rng.standard_normal((3, 6)))
    # the weight used is W masked by fastdrop.dropout of the weight's flat index
    w, _ = fd.dropout(layer.W, 0.4, seed=11, offset=3, backend="numpy")
    x = rng.standard_normal((3, 6))
    np.testing.assert_allclose(layer.forward(x, True, 3), x @ w + layer.b, rtol=1e-12)
    assert not np.allclose(y, 0)


def test_linear_dropconnect_regenerated(rng):
    layer = L.Linear(6, 5, rng=rng, dtype=F64, dropconnect=0.5, seed=2, backend=BACKEND,
                     store_mask=False)
    gradcheck(layer, rng.standard_normal((2, 6)), offset=9)


def test_linear_inference_ignores_dropconnect(rng):
    layer = L.Linear(6, 5, rng=rng, dtype=F64, dropconnect=0.5, seed=2, backend=BACKEND)
    x = rng.standard_normal((2, 6))
    np.testing.assert_allclose(layer.forward(x, False, 0), x @ layer.W + layer.b)


@pytest.mark.parametrize("stride,pad,k,length", [(1, 0, 3, 7), (2, 1, 5, 11), (2, 1, 3, 6)])
def test_conv1d(rng, stride, pad, k, length):
    layer = L.Conv1d(2, 3, k, stride=stride, padding=pad, rng=rng, dtype=F64)
    gradcheck(layer, rng.standard_normal((2, 2, length)))


def test_conv1d_matches_direct_definition(rng):
    layer = L.Conv1d(3, 4, 3, stride=2, padding=1, rng=rng, dtype=F64)
    x = rng.standard_normal((2, 3, 10))
    y = layer.forward(x, False, 0)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1)))
    want = np.empty_like(y)
    for lo in range(y.shape[2]):
        seg = xp[:, :, 2 * lo : 2 * lo + 3]  # (B, Cin, K)
        want[:, :, lo] = np.einsum("bik,oik->bo", seg, layer.W) + layer.b
    np.testing.assert_allclose(y, want, rtol=1e-12)
    assert layer.out_length(40) == 20


def test_conv1d_dropconnect(rng):
    layer = L.Conv1d(2, 3, 3, stride=2, padding=1, rng=rng, dtype=F64, dropconnect=0.3,
                     seed=5, backend=BACKEND)
    gradcheck(layer, rng.standard_normal((2, 2, 9)))


def test_relu(rng):
    x = rng.standard_normal((3, 7))
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kink
    gradcheck(L.ReLU(), x)


def test_selu(rng):
    x = rng.standard_normal((3, 7))
    x[np.abs(x) < 1e-3] = 0.5
    y = gradcheck(L.SELU(), x)
    lam, alpha = 1.0507009873554805, 1.6732632423543772
    np.testing.assert_allclose(y, np.where(x > 0, lam * x, lam * alpha * np.expm1(x)),
                               rtol=1e-12)


def test_flatten_reshape(rng):
    x = rng.standard_normal((2, 3, 4))
    layer = L.Sequential(L.Flatten(), L.Reshape(4, 3))
    y = layer.forward(x, True, 0)
    assert y.shape == (2, 4, 3)
    assert layer.backward(y).shape == x.shape


@pytest.mark.parametrize("variant", ["inverted", "standard", "alpha", "gaussian"])
@pytest.mark.parametrize("store_mask", [True, False])
def test_dropout_variants(rng, variant, store_mask):
    layer = L.Dropout(0.3, variant, seed=7, backend=BACKEND, store_mask=store_mask)
    x = rng.standard_normal((4, 9))
    y = gradcheck(layer, x, offset=5)
    want, _ = fd.dropout(x, 0.3, seed=7, offset=5, variant=variant, backend="numpy")
    np.testing.assert_allclose(y, want, rtol=1e-12)


def test_dropout_spatial_on_feature_maps(rng):
    layer = L.Dropout(0.5, "spatial", seed=3, backend=BACKEND)
    x = rng.standard_normal((3, 4, 6))  # (N, C, L)
    y = gradcheck(layer, x)
    dropped = np.all(y == 0, axis=2)
    kept = np.all(y != 0, axis=2)
    assert np.all(dropped | kept)  # whole channels go
    assert dropped.any() and kept.any()


@pytest.mark.parametrize("variant", ["inverted", "standard", "spatial", "alpha", "gaussian"])
def test_dropout_inference(rng, variant):
    layer = L.Dropout(0.25, variant, seed=1, backend=BACKEND)
    x = rng.standard_normal((2, 3, 4))
    y = layer.forward(x, False, 0)
    scale = 1 - fd.spec.p_hat(0.25) if variant == "standard" else 1.0
    np.testing.assert_allclose(y, x * scale)
    np.testing.assert_allclose(layer.backward(np.ones_like(x)), np.full_like(x, scale))


def test_dropout_fresh_mask_per_offset(rng):
    layer = L.Dropout(0.5, seed=1, backend=BACKEND)
    x = np.ones((8, 16))
    a = layer.forward(x, True, 0).copy()
    b = layer.forward(x, True, 1).copy()
    c = layer.forward(x, True, 0).copy()
    assert not np.array_equal(a, b)
    assert np.array_equal(a, c)


def test_dropout_rejects_unknown_variant():
    with pytest.raises(ValueError, match="inverted, standard, spatial, alpha, gaussian"):
        L.Dropout(0.5, "dropconnect")


def test_variational_dropout(rng):
    layer = L.VariationalDropout(0.4, seed=9, backend=BACKEND)
    x = rng.standard_normal((3, 5, 4))  # (B, T, F)
    y = gradcheck(layer, x)
    # one mask per (batch, feature), the same at every step: spatial dropout of (B, F, T)
    want, _ = fd.dropout(np.ascontiguousarray(x.transpose(0, 2, 1)), 0.4, seed=9, offset=3,
                         variant="spatial", backend="numpy")
    np.testing.assert_allclose(y, want.transpose(0, 2, 1), rtol=1e-12)


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("rdrop", [0.0, 0.4])
@pytest.mark.parametrize("cell", [L.GRU, L.LSTM])
def test_recurrent(rng, cell, bidirectional, rdrop):
    layer = cell(2, 3, bidirectional=bidirectional, rng=rng, dtype=F64,
                 recurrent_dropout=rdrop, seed=4 if rdrop else None, backend=BACKEND)
    x = rng.standard_normal((2, 5, 2))
    y = gradcheck(layer, x, limit=20)
    assert y.shape == (2, 5, 3 * (2 if bidirectional else 1))


def test_recurrent_dropout_is_shared_over_time(rng):
    """With recurrent dropout, the mask on the fed-back state is the same at every step."""
    layer = L.GRU(1, 4, rng=rng, dtype=F64, recurrent_dropout=0.5, seed=3, backend=BACKEND)
    layer.forward(rng.standard_normal((3, 6, 1)), True, 2)
    hm = layer._saves[0]  # (D, B, T, H): h_prev * mask
    out = layer._out
    mask = layer._hmask_used
    for t in range(1, 6):
        np.testing.assert_allclose(hm[0, :, t, :], out[:, t - 1, :4] * mask[0])
    want = fd.dropout(np.ones((2, 3, 4)), 0.5, seed=3, offset=2, backend="numpy")[0]
    np.testing.assert_array_equal(mask, want)


def test_residual(rng):
    layer = L.Residual(L.Linear(4, 4, rng=rng, dtype=F64), L.ReLU())
    gradcheck(layer, rng.standard_normal((3, 4)))


def test_sequential_first_layer_skips_input_grad(rng):
    lin = L.Linear(4, 2, rng=rng, dtype=F64)
    lin.input_grad = False
    seq = L.Sequential(L.Reshape(4), lin)
    seq.forward(rng.standard_normal((3, 4)), True, 0)
    assert seq.backward(np.ones((3, 2))) is None
