"""experiments.threshold_study: flag shares at a threshold, per record and per class."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.threshold_study import shares


def test_shares_counts_pooled_worst_and_floods():
    score = np.array([0, 5, 0, 0, 0, 0, 9, 9, 1, 0], dtype=float)
    cls = np.array(list("NNNNNNVVSN"))
    record = np.array(["a"] * 4 + ["b"] * 6)
    m = shares(score, cls, record, thr=4.0)
    assert m["n_flagged"] == pytest.approx(1 / 7)  # one of seven N beats
    assert m["worst"] == ("a", 0.25) and m["over"] == 1  # a: 1 of 4 > 10 %; b: 0 of 3
    assert m["se"]["V"] == 1.0 and m["se"]["S"] == 0.0 and m["se"]["F"] is None
