"""experiments.irregularity_study: rhythm labels at each beat, and the gate table on MIT-BIH."""

from __future__ import annotations

import numpy as np

from ecgviewer.core.robust import RhythmGate
from experiments.irregularity_study import detection_table, label, rhythm_labels


def test_rhythm_labels_follow_the_rhythm_marks():
    ann = np.array([0, 100, 500, 900])
    aux = ("(N", "", "(AFIB", "(N")
    lab = rhythm_labels(np.array([50, 200, 600, 950]), ann, aux)
    assert list(lab) == ["(N", "(N", "(AFIB", "(N"]
    assert list(rhythm_labels(np.array([5]), np.array([10]), ("(N",))) == [""]  # before the first mark
    assert label(None) == "off" and label(RhythmGate(0.2, 0.07, cap=1.0)) == "q0.2 > 0.07, cap 1"


def test_the_gates_find_af_in_mitdb_ds1(mitdb):
    """On DS1's annotators' AF/flutter episodes (201, 203): every gate mutes more inside than outside."""
    lines = detection_table(mitdb)
    assert lines[0].startswith("DS1 reference beats: 3805 in AF/flutter episodes")
    for row in lines[3:]:
        inside, outside = (float(c.strip(" %")) for c in row.split("|")[2:4])
        assert inside > 50 and outside < 10
