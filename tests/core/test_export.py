"""CSV export: every beat, exact columns, notes with commas, quotes, line breaks and non-ASCII intact."""

from __future__ import annotations

import csv

import numpy as np

from ecgviewer.core.export import COLUMNS, export_csv
from ecgviewer.core.review import BeatReview, ReviewState

NOTE = 'V beat, "couplet"?\nsecond line; Café 心 🫀'


def _read(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def test_csv_content(tmp_path):
    sample = np.array([720, 360, 1080])
    scores = np.array([0.2, 0.01, 0.05])
    ref = np.array(["V", "N", ""])
    reviews = {720: BeatReview(ReviewState.CONFIRMED, NOTE), 1080: BeatReview(ReviewState.DISMISSED)}
    path = export_csv(tmp_path / "beats.csv", sample, 360.0, scores, 0.05, ref, reviews)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads it as UTF-8
    rows = _read(path)
    assert tuple(rows[0]) == COLUMNS
    assert rows[1:] == [
        ["1.000", "360", "N", "N", "N", "original", "0.01", "0", "Unreviewed", "", "", ""],
        ["2.000", "720", "V", "V", "V", "original", "0.2", "1", "Confirmed", NOTE, "", ""],
        ["3.000", "1080", "", "", "", "original", "0.05", "1", "Dismissed", "", "", ""],
    ]
    assert not [p for p in tmp_path.iterdir() if p.name != "beats.csv"]  # no temp file left


def test_csv_without_reference_or_reviews(tmp_path):
    path = export_csv(tmp_path / "b.csv", np.array([10, 20]), 250.0, np.array([1.5, 0.5]), 1.0)
    rows = _read(path)
    assert [r[2:9] for r in rows[1:]] == [["", "", "", "original", "1.5", "1", "Unreviewed"],
                                          ["", "", "", "original", "0.5", "0", "Unreviewed"]]
    assert rows[1][0] == "0.040"


def test_csv_names_each_beats_template_and_events(tmp_path):
    sample = np.array([360, 720, 1080, 1440])
    templates = [{"id": 0, "count": 2, "label": "N", "max_score": 0.1, "samples": [360, 1440]},
                 {"id": 1, "count": 1, "label": "V", "max_score": 0.9, "samples": [720]}]
    events = [{"kind": "couplet", "start": 1.9, "end": 3.0, "beats": [720, 1080]},
              {"kind": "pause", "start": 3.0, "end": 4.0, "beats": [1080, 1440]}]
    path = export_csv(tmp_path / "b.csv", sample, 360.0, np.zeros(4), 1.0, templates=templates, events=events)
    rows = _read(path)
    assert [r[10:] for r in rows[1:]] == [["0", ""], ["1", "couplet"], ["", "couplet;pause"], ["0", "pause"]]


def test_csv_shows_relabelled_added_and_deleted_beats(tmp_path):
    """The reviewer's class and the beat's origin; an added beat has no score, a deleted one no flag."""
    from ecgviewer.core.review import BeatKind

    sample = np.array([360, 720, 1080, 900])
    scores = np.array([0.9, 0.8, 0.01, np.nan])  # 900: added by the reviewer, never scored
    ref = np.array(["N", "V", "N", ""])
    reviews = {360: BeatReview(ReviewState.CONFIRMED, label="V"), 720: BeatReview(kind=BeatKind.DELETED),
               900: BeatReview(label="F", kind=BeatKind.ADDED)}
    rows = _read(export_csv(tmp_path / "b.csv", sample, 360.0, scores, 0.05, ref, reviews))
    by = {r[1]: r for r in rows[1:]}
    assert by["360"][3:8] == ["N", "V", "original", "0.9", "1"]
    assert by["720"][3:8] == ["V", "V", "deleted", "0.8", "0"]
    assert by["900"][3:8] == ["", "F", "added", "", "0"]
    assert [r[1] for r in rows[1:]] == ["360", "720", "900", "1080"]  # time order


def test_csv_flags_a_beat_exactly_as_the_viewer_does(tmp_path):
    """float32 scores against a threshold within one float32 step: the CSV's flag is the viewer's
    (it compared in float64 and could differ)."""
    from ecgviewer.core.export import beat_rows

    scores = np.array([0.1, 0.3], dtype=np.float32)
    thr = float(np.float32(0.1)) + 1e-10  # above the score in float64, equal to it in float32
    viewer = scores >= thr  # as ReviewSession.flagged_mask compares
    rows = beat_rows(np.array([360, 720]), 360.0, scores, thr)
    assert [r[7] == "1" for r in rows] == viewer.tolist() == [True, True]
