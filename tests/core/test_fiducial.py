"""One fiducial: a record's windows and scores do not depend on where the beat marks were put, on
the recorder's gain or on the electrode's polarity; a record without MLII says which lead it used.

Real MIT-BIH records, scored with the worktree's bundled model card (its ``robust_score`` rule).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ecgviewer.core.beats import BeatParams, extract_beats
from ecgviewer.core.record import load_record
from trainer.crossdb import shifted

ROOT = Path(__file__).resolve().parents[2]
CARD = ROOT / "resources" / "models" / "si-beatgan-v2.json"


@pytest.fixture(scope="module")
def scorer():
    pytest.importorskip("torch")
    from ecgviewer.core.scorer import Scorer

    return Scorer.load(CARD, backend="torch")


def _common(a, b):
    """Indices into a and b of the beats both kept (a shifted copy may lose a beat at an edge)."""
    _, ia, ib = np.intersect1d(a.centre, b.centre, return_indices=True)
    return ia, ib


@pytest.mark.parametrize("name", ["119", "208"])
@pytest.mark.parametrize("ms", [-30.0, 30.0])
def test_scores_do_not_move_with_the_marks(mitdb, scorer, name, ms):
    rec = load_record(mitdb / name)
    base = scorer.beats(rec)
    moved = scorer.beats(shifted(rec, ms))
    ia, ib = _common(base, moved)
    assert len(ia) >= 0.99 * len(base)  # the same fiducial point for (nearly) every beat
    r0, r1 = scorer.score(base), scorer.score(moved)
    assert np.quantile(np.abs(r0.score[ia] - r1.score[ib]), 0.99) < 0.05
    assert np.quantile(np.abs(np.log(r1.mse[ib] / r0.mse[ia])), 0.99) < 0.01  # the network sees the same beats
    # the marks shown to the user are the shifted ones, not the centres
    assert np.all(np.abs(moved.sample - moved.centre) <= 0.15 * rec.fs)


def test_without_alignment_the_same_shift_changes_the_scores(mitdb, scorer):
    """The check above can fail: cut at the marks, a 30 ms shift makes every beat reconstruct worse."""
    from ecgviewer.core.scorer import Scorer

    raw = Scorer(scorer.model, align="none")
    rec = load_record(mitdb / "119")
    m0 = raw.score(raw.beats(rec)).mse
    m1 = raw.score(raw.beats(shifted(rec, 30.0))).mse
    n = min(len(m0), len(m1))
    assert np.median(np.log(m1[:n] / m0[:n])) > 0.5


@pytest.mark.parametrize("change", ["gain", "invert"])
def test_gain_and_polarity_leave_scores_alone(mitdb, scorer, change):
    rec = load_record(mitdb / "100")
    factor = 0.5 if change == "gain" else -1.0
    other = replace(rec, signal=rec.signal * np.float32(factor))
    a, b = scorer.beats(rec), scorer.beats(other)
    assert np.array_equal(a.centre, b.centre)
    assert b.polarity == ([-p for p in a.polarity] if change == "invert" else a.polarity)
    assert np.max(np.abs(a.x - b.x)) < 1e-4
    assert np.max(np.abs(scorer.score(a).score - scorer.score(b).score)) < 1e-3


def test_an_inverted_lead_is_turned_upright(mitdb):
    rec = load_record(mitdb / "100")
    inv = replace(rec, signal=-rec.signal)
    assert extract_beats(rec).polarity == [1.0]  # MLII of 100: upright R waves
    assert extract_beats(inv).polarity == [-1.0]
    cut = extract_beats(inv, BeatParams(align="none"))
    assert cut.polarity == [1.0]  # the legacy rule cuts what it is given


def test_record_without_mlii_reports_its_lead(mitdb, scorer):
    """MIT-BIH 102 (paced) was recorded with V5 and V2: no MLII."""
    rec = load_record(mitdb / "102")
    assert "MLII" not in rec.channel_names
    beats = scorer.beats(rec)
    assert beats.leads == ["V5"]
    res = scorer.score(beats.subset(np.arange(50)))
    assert "V5" in res.note and "MLII" in res.note
    assert extract_beats(load_record(mitdb / "100")).lead_note == ""


def test_lead_choice_by_name():
    from ecgviewer.core.leads import model_leads

    assert model_leads(["MLII", "V1"]) == ([0], "")
    assert model_leads(["V1", "MLII"], 2) == ([1, 0], "")
    idx, note = model_leads(["D3", "CM5"])
    assert idx == [1] and "CM5" in note
    idx, note = model_leads(["record 1, signal 0", "record 1, signal 1"], 2)
    assert idx == [0, 1] and "signal 0" in note
