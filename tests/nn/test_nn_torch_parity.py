"""Our GRU, LSTM and Conv1d compute PyTorch's functions (skipped without torch)."""

from __future__ import annotations

import numpy as np
import pytest

import fastdrop.nn as L

torch = pytest.importorskip("torch")


def _to_torch_rnn(layer, mod):
    """Copy our (Wi, bi, Wh, bh) into torch.nn.GRU/LSTM's weight_ih_l0[_reverse] etc."""
    G = layer.Wh.shape[2]
    with torch.no_grad():
        for d in range(layer.D):
            sfx = "_reverse" if d else ""
            getattr(mod, "weight_ih_l0" + sfx).copy_(
                torch.from_numpy(layer.Wi[:, d * G : (d + 1) * G].T.copy()))
            getattr(mod, "bias_ih_l0" + sfx).copy_(
                torch.from_numpy(layer.bi[d * G : (d + 1) * G].copy()))
            getattr(mod, "weight_hh_l0" + sfx).copy_(torch.from_numpy(layer.Wh[d].T.copy()))
            getattr(mod, "bias_hh_l0" + sfx).copy_(torch.from_numpy(layer.bh[d].copy()))


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_recurrent_matches_torch(kind):
    rng = np.random.default_rng(0)
    cell = L.GRU if kind == "gru" else L.LSTM
    layer = cell(3, 4, bidirectional=True, rng=rng, dtype=np.float64)
    mod = (torch.nn.GRU if kind == "gru" else torch.nn.LSTM)(
        3, 4, batch_first=True, bidirectional=True).double()
    _to_torch_rnn(layer, mod)
    x = rng.standard_normal((2, 6, 3))
    y = layer.forward(x, False, 0)
    xt = torch.from_numpy(x).requires_grad_()
    yt, _ = mod(xt)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(y.shape)
    dx = layer.backward(g)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    G = layer.Wh.shape[2]
    np.testing.assert_allclose(layer.dWh[1], mod.weight_hh_l0_reverse.grad.numpy().T,
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(layer.dbi[:G], mod.bias_ih_l0.grad.numpy(), rtol=1e-9,
                               atol=1e-12)


def test_conv1d_matches_torch():
    rng = np.random.default_rng(0)
    layer = L.Conv1d(3, 5, 3, stride=2, padding=1, rng=rng, dtype=np.float64)
    mod = torch.nn.Conv1d(3, 5, 3, stride=2, padding=1).double()
    with torch.no_grad():
        mod.weight.copy_(torch.from_numpy(layer.W))
        mod.bias.copy_(torch.from_numpy(layer.b))
    x = rng.standard_normal((2, 3, 19))
    np.testing.assert_allclose(layer.forward(x, False, 0),
                               mod(torch.from_numpy(x)).detach().numpy(), rtol=1e-10)
