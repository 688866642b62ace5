"""fastdrop.train.uncertainty: AUROC of predictive entropy against a brute-force count,
and the top-class share that flags a collapsed model."""

import numpy as np
import pytest

from fastdrop.train.uncertainty import entropy_auroc, top_class_share


def _brute(probs, y):
    ent = -(probs * np.log(probs)).sum(axis=1)
    right = probs.argmax(axis=1) == y
    pos, neg = ent[right], ent[~right]
    wins = sum((a < b) + 0.5 * (a == b) for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def test_auroc_matches_pairwise_count_with_ties():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 10))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    probs[:20] = probs[20:40]  # tied entropies
    y = rng.integers(0, 10, size=200)
    y[:60] = probs[:60].argmax(axis=1)
    assert entropy_auroc(probs, y) == pytest.approx(_brute(probs, y), abs=1e-12)


def test_auroc_extremes_and_collapse():
    sure = np.full((4, 10), 0.01)
    sure[:, 0] = 0.91
    unsure = np.full((4, 10), 0.1)
    unsure[:, 0] = 0.1 + 1e-9
    probs = np.vstack([sure, unsure])
    y = np.array([0] * 4 + [1] * 4)  # confident ones right, unsure ones wrong
    assert entropy_auroc(probs, y) == 1.0
    assert entropy_auroc(probs, np.array([1] * 4 + [0] * 4)) == 0.0
    assert entropy_auroc(sure, np.zeros(4, dtype=int)) is None  # nothing wrong
    assert top_class_share(probs) == 1.0
    assert top_class_share(np.eye(10)) == pytest.approx(0.1)
