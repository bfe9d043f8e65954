"""Ranking metrics against hand-computed values and brute-force definitions (ties included)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainer.metrics import average_precision, roc_auc, threshold_at_specificity

# positives score 0.9, 0.8, 0.5; negatives 0.9, 0.5, 0.1: a tie at the top and one in the middle
LABELS = np.array([1, 0, 1, 1, 0, 0], dtype=bool)
SCORES = np.array([0.9, 0.9, 0.8, 0.5, 0.5, 0.1])


def auc_by_pairs(y: np.ndarray, s: np.ndarray) -> float:
    """P(score of a positive > score of a negative), a tie counting one half."""
    pos, neg = s[y], s[~y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def ap_by_definition(y: np.ndarray, s: np.ndarray) -> float:
    """sum over distinct thresholds t (high to low) of (R(t) - R(previous t)) * P(t), flag = score >= t."""
    total, prev_r = 0.0, 0.0
    for t in sorted(set(s.tolist()), reverse=True):
        flag = s >= t
        tp = int((flag & y).sum())
        p, r = tp / int(flag.sum()), tp / int(y.sum())
        total += (r - prev_r) * p
        prev_r = r
    return total


def test_auc_hand_case_with_ties():
    # pairs: 0.9 beats 0.5 and 0.1, ties 0.9 (2.5); 0.8 beats 0.5 and 0.1 (2); 0.5 ties 0.5, beats 0.1 (1.5)
    assert roc_auc(LABELS, SCORES) == pytest.approx(6 / 9, abs=1e-12)
    assert auc_by_pairs(LABELS, SCORES) == pytest.approx(6 / 9, abs=1e-12)


def test_ap_hand_case_with_ties():
    # thresholds 0.9: P 1/2, R 1/3; 0.8: P 2/3, R 2/3; 0.5: P 3/5, R 1; 0.1 adds no recall
    expected = (1 / 3) * (1 / 2) + (1 / 3) * (2 / 3) + (1 / 3) * (3 / 5)
    assert average_precision(LABELS, SCORES) == pytest.approx(expected, abs=1e-12)
    assert ap_by_definition(LABELS, SCORES) == pytest.approx(expected, abs=1e-12)
    # ties enter together: the order of tied items must not matter
    order = np.array([1, 0, 2, 4, 3, 5])
    assert average_precision(LABELS[order], SCORES[order]) == pytest.approx(expected, abs=1e-12)


def test_perfect_and_reversed_and_all_tied():
    y = np.array([0, 0, 1, 1], bool)
    s = np.array([0.1, 0.2, 0.3, 0.4])
    assert roc_auc(y, s) == 1.0 and average_precision(y, s) == 1.0
    assert roc_auc(y, -s) == 0.0
    assert average_precision(y, -s) == pytest.approx(0.5 * (1 / 3) + 0.5 * (2 / 4))
    assert roc_auc(y, np.zeros(4)) == 0.5
    assert average_precision(y, np.zeros(4)) == 0.5  # one threshold: precision = prevalence
    assert math.isnan(roc_auc(np.ones(3, bool), s[:3])) and math.isnan(roc_auc(np.zeros(3, bool), s[:3]))
    assert math.isnan(average_precision(np.zeros(3, bool), s[:3]))


@pytest.mark.parametrize("seed", range(5))
def test_random_cases_with_many_ties(seed):
    rng = np.random.default_rng(seed)
    n = 60
    y = rng.random(n) < 0.3
    y[0], y[1] = True, False
    s = rng.integers(0, 6, n).astype(float)  # six levels: ties everywhere
    assert roc_auc(y, s) == pytest.approx(auc_by_pairs(y, s), abs=1e-12)
    assert average_precision(y, s) == pytest.approx(ap_by_definition(y, s), abs=1e-12)
    # integer labels and lists work the same as bools and arrays
    assert roc_auc(y.astype(int).tolist(), s.tolist()) == pytest.approx(roc_auc(y, s), abs=1e-12)


def test_threshold_at_specificity():
    rng = np.random.default_rng(0)
    normal = rng.permutation(np.arange(100, dtype=float))
    thr = threshold_at_specificity(normal, 0.99)
    # exactly 99 of 100 normal beats lie below it, so flagging score >= thr keeps specificity 0.99
    assert (normal < thr).sum() == 99 and 98 < thr <= 99
    assert (normal >= thr).mean() == pytest.approx(0.01)
    thr95 = threshold_at_specificity(normal, 0.95)
    assert (normal < thr95).mean() == pytest.approx(0.95) and thr95 < thr
    # the median of a small set, by hand
    assert threshold_at_specificity(np.array([4.0, 1.0, 3.0, 2.0]), 0.5) == pytest.approx(2.5)
    assert threshold_at_specificity(np.array([1.0, 2.0, 3.0]), 1.0) == 3.0
    assert isinstance(thr, float)
