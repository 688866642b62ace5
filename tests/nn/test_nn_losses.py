"""Softmax cross-entropy against finite differences, and the metrics."""

from __future__ import annotations

import numpy as np

from fastdrop.nn import losses


def test_xent_value_and_gradient():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 5)) * 3
    y = np.array([0, 4, 2, 2])
    loss_fn = losses.SoftmaxCrossEntropy()
    loss = loss_fn.forward(logits, y)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    assert np.isclose(loss, -np.mean(np.log(p[np.arange(4), y])), rtol=1e-12)
    grad = loss_fn.backward().copy()
    eps = 1e-6
    for i in range(4):
        for j in range(5):
            lp, lm = logits.copy(), logits.copy()
            lp[i, j] += eps
            lm[i, j] -= eps
            num = (loss_fn.forward(lp, y) - loss_fn.forward(lm, y)) / (2 * eps)
            assert np.isclose(grad[i, j], num, rtol=1e-6, atol=1e-9)


def test_xent_stable_for_large_logits():
    logits = np.array([[1000.0, 0.0], [0.0, -1000.0]], dtype=np.float32)
    loss = losses.SoftmaxCrossEntropy().forward(logits, np.array([0, 0]))
    assert np.isfinite(loss) and loss < 1e-6


def test_loss_and_hits():
    logits = np.array([[2.0, 1.0], [0.0, 3.0], [5.0, 0.0]])
    total, hits = losses.loss_and_hits(logits, np.array([0, 1, 1]))
    assert hits == 2
    p = losses.softmax(logits)
    assert np.isclose(total, -np.sum(np.log(p[[0, 1, 2], [0, 1, 1]])))


def test_ece():
    # all predictions confident 0.9 and 90% right: perfectly calibrated
    probs = np.tile([0.9, 0.1], (10, 1))
    y = np.array([0] * 9 + [1])
    assert abs(losses.expected_calibration_error(probs, y)) < 1e-12
    # confident 0.9 but always wrong: ECE = 0.9
    assert np.isclose(losses.expected_calibration_error(probs, np.ones(10, int)), 0.9)
    # two bins: conf 0.6 (all right) and 0.95 (half right)
    probs = np.array([[0.6, 0.4]] * 2 + [[0.95, 0.05]] * 2)
    y = np.array([0, 0, 0, 1])
    want = 0.5 * abs(1 - 0.6) + 0.5 * abs(0.5 - 0.95)
    assert np.isclose(losses.expected_calibration_error(probs, y), want)


def test_nll_and_accuracy():
    probs = np.array([[0.5, 0.5], [0.2, 0.8]])
    y = np.array([0, 1])
    assert np.isclose(losses.nll(probs, y), -(np.log(0.5) + np.log(0.8)) / 2)
    assert losses.accuracy(probs, y) == 1.0  # argmax tie goes to the first class
