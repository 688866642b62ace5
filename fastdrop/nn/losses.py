"""Softmax cross-entropy (forward and backward) and the metrics of a prediction:
accuracy, negative log-likelihood and expected calibration error."""

from __future__ import annotations

import numpy as np

from . import loops as K


class SoftmaxCrossEntropy:
    """Mean cross-entropy of softmax(logits) against integer labels.

    forward(logits (B, C), y (B,)) -> loss (a Python float, summed in float64);
    backward() -> dlogits (B, C) = (softmax(logits) - onehot(y)) / B, computed by forward
    in the same pass (the layer owns the array: it is overwritten by the next forward).
    """

    def __init__(self):
        self._grad = None

    def forward(self, logits, y) -> float:
        if self._grad is None or self._grad.shape != logits.shape or \
                self._grad.dtype != logits.dtype:
            self._grad = np.empty_like(logits)
        return float(K.xent_forward(logits, y, self._grad))

    def backward(self, dloss: float = 1.0):
        if dloss != 1.0:
            return self._grad * self._grad.dtype.type(dloss)
        return self._grad


def softmax(logits) -> np.ndarray:
    """Row-wise softmax in float64 (stable: the row max is subtracted first)."""
    logits = np.ascontiguousarray(logits)
    probs = np.empty(logits.shape, dtype=np.float64)
    K.softmax(logits, probs)
    return probs


def loss_and_hits(logits, y) -> tuple[float, int]:
    """(summed cross-entropy, number of correct argmax predictions) of a batch."""
    total, hits = K.xent_eval(np.ascontiguousarray(logits), np.ascontiguousarray(y))
    return float(total), int(hits)


def accuracy(probs, y) -> float:
    """Share of rows whose argmax is the label."""
    return float(np.mean(np.argmax(probs, axis=1) == y)) if len(y) else float("nan")


def nll(probs, y, eps: float = 1e-12) -> float:
    """Mean negative log-likelihood of the labels under probs (clipped at eps)."""
    p = probs[np.arange(len(y)), y]
    return float(-np.mean(np.log(np.maximum(p, eps))))


def expected_calibration_error(probs, y, n_bins: int = 15) -> float:
    """ECE (Guo et al. 2017): split predictions into n_bins equal-width bins of confidence
    (the max probability); ECE = sum over bins of |accuracy - mean confidence| * share of
    predictions in the bin. 0 is perfectly calibrated. Bins are (lo, hi], the first [0, hi].
    """
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y)
    if len(y) == 0:
        return float("nan")
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(np.float64)
    # bin index: ceil(conf * n_bins) - 1, so conf exactly on an edge goes to the lower bin
    idx = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    np.bincount(idx, minlength=n_bins).astype(np.float64)
    conf_sum = np.bincount(idx, weights=conf, minlength=n_bins)
    acc_sum = np.bincount(idx, weights=correct, minlength=n_bins)
    return float(np.sum(np.abs(acc_sum - conf_sum)) / len(y))
