"""Optimisers (against PyTorch's update rules) and regularisers."""

from __future__ import annotations

import numpy as np
import pytest

from fastdrop.train import optim, regularize


def _run(name, steps=5, dtype=np.float64, **kw):
    rng = np.random.default_rng(0)
    p = rng.standard_normal(7).astype(dtype)
    g = np.empty_like(p)
    opt = optim.make_optimizer(name, p, g, **kw)
    grads = [rng.standard_normal(7).astype(dtype) for _ in range(steps)]
    start = p.copy()
    for gi in grads:
        g[...] = gi
        opt.step()
    return start, grads, p


def test_adam_first_step_moves_by_lr():
    start, grads, p = _run("adam", steps=1, lr=0.1)
    # bias-corrected first step: lr * g / (|g| + eps) = lr * sign(g)
    np.testing.assert_allclose(start - p, 0.1 * np.sign(grads[0]), rtol=1e-6)


def test_sgd_momentum_by_hand():
    start, grads, p = _run("sgd", steps=2, lr=0.1, momentum=0.5)
    buf = grads[0]
    buf = 0.5 * buf + grads[1]
    np.testing.assert_allclose(p, start - 0.1 * grads[0] - 0.1 * buf, rtol=1e-12)


@pytest.mark.parametrize("name,wd", [("sgd", 0.0), ("sgd", 0.1), ("adam", 0.0), ("adam", 0.1),
                                     ("adamw", 0.1)])
def test_matches_torch(name, wd):
    torch = pytest.importorskip("torch")
    start, grads, p = _run(name, steps=6, lr=0.05, weight_decay=wd)
    t = torch.nn.Parameter(torch.from_numpy(start.copy()))
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[name]
    kw = {"momentum": 0.9} if name == "sgd" else {}
    opt = cls([t], lr=0.05, weight_decay=wd, **kw)
    for gi in grads:
        t.grad = torch.from_numpy(gi.copy())
        opt.step()
    np.testing.assert_allclose(p, t.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_float32_optimizer_stays_float32():
    _, _, p = _run("adamw", dtype=np.float32, lr=0.01, weight_decay=0.01)
    assert p.dtype == np.float32 and np.all(np.isfinite(p))


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="sgd, adam, adamw"):
        optim.make_optimizer("rmsprop", np.zeros(1), np.zeros(1), lr=0.1)


def test_penalty_gradient_matches_value():
    rng = np.random.default_rng(0)
    p = rng.standard_normal(20)
    mask = (np.arange(20) % 3 != 0).astype(np.float64)  # some biases
    g = np.zeros(20)
    regularize.add_penalty_grad(p, g, mask, 0.01, 0.3)
    eps = 1e-6
    for i in range(20):
        pp, pm = p.copy(), p.copy()
        pp[i] += eps
        pm[i] -= eps
        num = (regularize.penalty_value(pp, mask, 0.01, 0.3)
               - regularize.penalty_value(pm, mask, 0.01, 0.3)) / (2 * eps)
        assert np.isclose(g[i], num, rtol=1e-6, atol=1e-9)
    assert np.all(g[mask == 0] == 0)


def test_max_norm():
    from fastdrop.nn import build_model

    model = build_model("cnn", dtype="float64")
    for _, _, w in model.weights():
        w *= 10
    regularize.apply_max_norm(model, 0.5)
    for _layer, _, w in model.weights():
        if w.ndim == 2:  # Linear (n_in, n_out): per output column
            norms = np.linalg.norm(w, axis=0)
        else:  # Conv1d (C_out, C_in, K): per output channel
            norms = np.linalg.norm(w.reshape(w.shape[0], -1), axis=1)
        assert np.all(norms <= 0.5 + 1e-12)
        np.testing.assert_allclose(norms, 0.5)
    small = build_model("linear", dtype="float64")
    before = small.params.copy()
    regularize.apply_max_norm(small, 100.0)
    np.testing.assert_array_equal(small.params, before)


def test_early_stopping_monitors_validation_accuracy():
    es = regularize.EarlyStopping(2)
    p = np.zeros(3)
    assert not es.update(0.50, 1.0, p + 1, 10)
    assert not es.update(0.60, 1.2, p + 2, 20)  # better accuracy, worse loss: best
    assert not es.update(0.55, 0.5, p + 3, 30)  # lower loss, worse accuracy: not better
    assert es.update(0.58, 0.4, p + 4, 40)
    assert es.best_step == 20
    assert es.restore(p) and np.all(p == 2)


def test_early_stopping_breaks_accuracy_ties_by_loss():
    es = regularize.EarlyStopping(1)
    p = np.zeros(2)
    assert not es.update(0.7, 0.9, p + 1, 10)
    assert not es.update(0.7, 0.8, p + 2, 20)  # same accuracy, lower loss: better
    assert es.update(0.7, 0.85, p + 3, 30)
    assert es.best_step == 20 and es.restore(p) and np.all(p == 2)
