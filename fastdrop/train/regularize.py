"""Regularisers: L1/L2 penalties (added to the gradients of weights, not biases), the
max-norm constraint (after each update), and early stopping on the validation accuracy."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..nn.dense import Linear


@njit(cache=True, error_model="numpy")
def _penalty_grad(p, g, wmask, l1, l2):
    for i in range(p.size):
        if wmask[i] != 0:
            w = p[i]
            s = 1.0 if w > 0 else (-1.0 if w < 0 else 0.0)
            g[i] += l1 * s + l2 * w


def add_penalty_grad(params, grads, weight_mask, l1: float, l2: float) -> None:
    """grads += l1 * sign(W) + l2 * W on weights: the gradient of
    l1 * sum|W| + (l2 / 2) * sum W^2."""
    if l1 or l2:
        _penalty_grad(params, grads, weight_mask, float(l1), float(l2))


def penalty_value(params, weight_mask, l1: float, l2: float) -> float:
    """l1 * sum|W| + (l2 / 2) * sum W^2 over weights, in float64."""
    if not (l1 or l2):
        return 0.0
    w = params[weight_mask != 0].astype(np.float64)
    return float(l1 * np.abs(w).sum() + 0.5 * l2 * np.dot(w, w))


@njit(cache=True, error_model="numpy")
def _renorm_rows(w2, c):
    for r in range(w2.shape[0]):
        s = 0.0
        for j in range(w2.shape[1]):
            s += w2[r, j] * w2[r, j]
        n = math.sqrt(s)
        if n > c:
            f = c / n
            for j in range(w2.shape[1]):
                w2[r, j] *= f


@njit(cache=True, error_model="numpy")
def _renorm_cols(w2, c):
    for j in range(w2.shape[1]):
        s = 0.0
        for r in range(w2.shape[0]):
            s += w2[r, j] * w2[r, j]
        n = math.sqrt(s)
        if n > c:
            f = c / n
            for r in range(w2.shape[0]):
                w2[r, j] *= f


def apply_max_norm(model, c: float) -> None:
    """Rescale each unit's incoming weight vector to norm <= c (Srivastava et al. 2014):
    Linear W (n_in, n_out): each column; Conv1d W (C_out, C_in, K): each output channel."""
    if not c:
        return
    for layer, _, w in model.weights():
        if isinstance(layer, Linear):
            _renorm_cols(w, float(c))
        else:
            _renorm_rows(w.reshape(w.shape[0], -1), float(c))


class EarlyStopping:
    """Stop after `patience` evaluations without a better validation accuracy; keep a
    copy of the best parameters to restore.

    Accuracy, not loss, is the monitored quantity because accuracy is what the runs are
    scored on: the validation loss of a dropout network often rises (over-confident
    wrong answers) while its accuracy still improves, so stopping on loss stops early
    runs that would score higher. Equal accuracies (common on a 500-example split) are
    told apart by the lower validation loss."""

    def __init__(self, patience: int):
        self.patience = int(patience)
        self.best_accuracy = -math.inf
        self.best_loss = math.inf
        self.best_step = None
        self.best_params = None
        self.bad = 0

    def update(self, val_accuracy: float, val_loss: float, params: np.ndarray,
               step: int) -> bool:
        """Record an evaluation; True when training should stop."""
        better = val_accuracy > self.best_accuracy or (
            val_accuracy == self.best_accuracy and val_loss < self.best_loss)
        if better:
            self.best_accuracy = float(val_accuracy)
            self.best_loss = float(val_loss)
            self.best_step = int(step)
            self.best_params = params.copy()
            self.bad = 0
            return False
        self.bad += 1
        return self.bad >= self.patience

    def restore(self, params: np.ndarray) -> bool:
        """Copy the best parameters back; False when there were none."""
        if self.best_params is None:
            return False
        params[...] = self.best_params
        return True
