"""How well predicted probabilities tell right from wrong, and whether a model collapsed.

    entropy_auroc(probs, y)   # AUROC of -entropy as a score for "this prediction is right"
    top_class_share(probs)    # share of the examples given the most predicted class

AUROC of predictive entropy (Hendrycks & Gimpel 2017's misclassification detection): the
probability that a right prediction has lower entropy than a wrong one (ties count one
half), computed from ranks (Mann-Whitney U). 0.5: entropy says nothing; 1: it separates
them perfectly. A collapsed model (one class for every input, e.g. a CNN at p = 0.9) has
a top-class share near 1, where a trained one on MNIST-1D's balanced test set is near 0.1.
"""

from __future__ import annotations

import numpy as np


def _ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ranks = np.empty(len(x), dtype=np.float64)
    start = 0
    n = len(x)
    # boundaries of runs of equal values
    edges = np.flatnonzero(np.diff(xs)) + 1
    for end in (*edges.tolist(), n):
        ranks[order[start:end]] = 0.5 * (start + 1 + end)
        start = end
    return ranks


def entropy_auroc(probs, y) -> float | None:
    """AUROC of negative predictive entropy for right (positive) vs wrong predictions;
    None when every prediction is right or every one is wrong."""
    p = np.asarray(probs, dtype=np.float64)
    right = p.argmax(axis=1) == np.asarray(y)
    n_pos = int(right.sum())
    n_neg = len(right) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    r = _ranks(-ent)
    u = r[right].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def top_class_share(probs) -> float:
    """Share of the examples whose predicted class is the most frequent prediction."""
    pred = np.asarray(probs).argmax(axis=1)
    if len(pred) == 0:
        return float("nan")
    return float(np.bincount(pred).max() / len(pred))
