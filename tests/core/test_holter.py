"""The Holter analysis (classes, templates, events, trend) and the event review file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ecgviewer.core import review
from ecgviewer.core.beats import extract_beats
from ecgviewer.core.event_review import EventReviewStore
from ecgviewer.core.events import KINDS, Event
from ecgviewer.core.holter import analyse, events_payload, templates_payload
from ecgviewer.core.record import load_record
from ecgviewer.core.review import ReviewState

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples"


@pytest.fixture(scope="module")
def rec119():
    rec = load_record(SAMPLE / "119")
    return rec, extract_beats(rec)


def test_reference_classes_by_default_and_the_callers_when_given(rec119):
    rec, beats = rec119
    a = analyse(beats, rec.duration)
    assert a.class_source == "reference" and np.array_equal(a.classes, beats.cls)
    relabelled = np.where(beats.cls == "V", "N", beats.cls)  # a reviewer calls every V normal
    b = analyse(beats, rec.duration, classes=relabelled)
    assert b.class_source == "caller"
    assert not any(e.kind in ("bigeminy", "trigeminy", "couplet") for e in b.events)
    assert a.counts()["bigeminy"] > 20


@pytest.mark.parametrize("name, gap_s, detect", [("100", (600.0, 660.0), True), ("203", (222.1, 258.7), False)])
def test_a_signal_gap_makes_no_pause_and_no_run_across_it(mitdb, name, gap_s, detect):
    """A lead-off stretch (NaN samples): the interval across it is unknown, not a 60-s pause, and
    beats on either side are not consecutive (203: two couplets are no triplet)."""
    from dataclasses import replace

    rec = load_record(mitdb / name)
    sig = rec.signal.copy()
    sig[int(gap_s[0] * rec.fs):int(gap_s[1] * rec.fs)] = np.nan
    gapped = replace(rec, signal=sig)
    beats = extract_beats(gapped, detect=detect)
    a = analyse(beats, rec.duration)
    inside = [e for e in a.events if e.start < gap_s[1] and e.end > gap_s[0]]
    assert not any(e.kind == "pause" for e in inside)
    assert not any(e.kind in ("couplet", "triplet", "vt", "bigeminy", "trigeminy") and e.start < gap_s[0] < e.end
                   for e in a.events)
    t = beats.sample / rec.fs
    after = np.nonzero(t > gap_s[1])[0][0]
    assert np.isnan(beats.rr_pre[after])  # the first beat after the gap: its RR is unknown
    assert a.trend.summary()["min_bpm"] > 40  # no minute slowed by the gap


def test_artefact_beats_leave_the_hourly_counts(rec119):
    """A beat the reviewer called artefact is no V or S beat in the hourly table either."""
    rec, beats = rec119
    art = beats.cls == "V"
    a = analyse(beats, rec.duration, artefact=art)
    (row,) = a.hourly()
    assert row["V"] == 0 and row["beats"] == int((~art).sum())
    assert analyse(beats, rec.duration).hourly()[0]["V"] == int(art.sum())


def test_provisional_classes_without_labels_find_most_v_beats(rec119):
    rec, ref = rec119
    det = extract_beats(rec, detect=True)
    a = analyse(det, rec.duration)
    assert a.class_source == "provisional" and set(a.classes) <= {"N", "S", "V"}
    j = np.clip(np.searchsorted(ref.sample, det.sample), 0, len(ref) - 1)
    ok = np.abs(ref.sample[j] - det.sample) < 0.1 * rec.fs
    truth, got = ref.cls[j[ok]], a.classes[ok]
    se = ((got == "V") & (truth == "V")).sum() / (truth == "V").sum()
    ppv = ((got == "V") & (truth == "V")).sum() / (got == "V").sum()
    assert se > 0.9 and ppv > 0.9, (se, ppv)
    assert a.counts()["bigeminy"] > 10


def test_payloads(rec119):
    rec, beats = rec119
    scores = np.linspace(0, 1, len(beats))
    a = analyse(beats, rec.duration, scores=scores)
    ev = events_payload(a)
    assert ev["record"] == "119" and {e["kind"] for e in ev["events"]} <= set(KINDS)
    assert all({"kind", "start", "end", "beats"} <= set(e) for e in ev["events"])
    assert sum(ev["counts"].values()) == len(ev["events"])
    assert len(ev["hourly"]) == 1 and ev["heart_rate"]["mean_bpm"] > 50
    tp = templates_payload(a, beats)
    assert sum(t["count"] for t in tp["templates"]) == len(beats)
    assert sorted(s for t in tp["templates"] for s in t["samples"]) == sorted(beats.sample.tolist())
    t1 = tp["templates"][0]
    assert t1["id"] == 1 and t1["label"] == "N"
    assert t1["max_score"] == pytest.approx(max(scores[np.isin(beats.sample, t1["samples"])]), rel=1e-6)
    json.dumps(ev), json.dumps(tp)


# ---- event review file ------------------------------------------------------------------------

@pytest.fixture
def record_copy(tmp_path, monkeypatch):
    monkeypatch.setenv(review.DATA_DIR_ENV, str(tmp_path / "userdata"))
    d = tmp_path / "rec"
    d.mkdir()
    for ext in ("hea", "dat", "atr"):
        shutil.copy(SAMPLE / f"119.{ext}", d / f"119.{ext}")
    return d / "119"


def _events():
    return [Event("pause", 10, 11, 30.0, 32.5, 10800), Event("vt", 40, 45, 100.0, 102.0, 36000)]


def test_decisions_saved_beside_the_review_and_restored(record_copy):
    before = {p.name: p.read_bytes() for p in record_copy.parent.iterdir()}
    store = EventReviewStore(record_copy, 650000, 360.0)
    assert store.save_path == record_copy.parent / "119.events.json"
    ev = _events()
    store.set(ev[0], ReviewState.CONFIRMED)
    store.set(ev[1], ReviewState.DISMISSED)
    again = EventReviewStore(record_copy, 650000, 360.0)
    assert again.state(ev[0]) == ReviewState.CONFIRMED and again.state(ev[1]) == ReviewState.DISMISSED
    assert again.counts() == {"confirmed": 1, "dismissed": 1} and "Restored 2" in again.message
    again.set(ev[0], ReviewState.UNREVIEWED)
    assert EventReviewStore(record_copy, 650000, 360.0).state(ev[0]) == ReviewState.UNREVIEWED
    for name, data in before.items():  # the record's own files untouched
        assert (record_copy.parent / name).read_bytes() == data
    assert not [p for p in record_copy.parent.iterdir() if p.name.endswith(".tmp")]


def test_read_only_folder_goes_to_the_data_dir(record_copy, monkeypatch):
    monkeypatch.setattr(review, "dir_writable", lambda folder: False)
    store = EventReviewStore(record_copy, 650000, 360.0)
    assert store.save_path == review.fallback_path(record_copy).with_name("119.events.json")
    store.set(_events()[0], ReviewState.CONFIRMED)
    assert store.save_path.is_file() and not (record_copy.parent / "119.events.json").exists()


def test_a_foreign_or_mismatched_file_is_reported_and_kept(record_copy):
    path = record_copy.parent / "119.events.json"
    path.write_text("not json", encoding="utf-8")
    store = EventReviewStore(record_copy, 650000, 360.0)
    assert "cannot be read" in store.message and str(path) in store.message and not store.decisions
    store.set(_events()[0], ReviewState.CONFIRMED)
    assert [p.read_text() for p in path.parent.glob("119.events.old-*.json")] == ["not json"]
    other = EventReviewStore(record_copy, 640000, 360.0)
    assert "another version" in other.message and not other.decisions


def test_artefact_beats_leave_the_events_and_join_their_rr(rec119):
    rec, beats = rec119
    a = analyse(beats, rec.duration)
    v = beats.cls == "V"
    b = analyse(beats, rec.duration, artefact=v)  # the V template called artefact
    assert a.counts()["bigeminy"] > 0 and b.counts()["bigeminy"] == 0 and b.counts()["couplet"] == 0
    assert len(b.templates) == len(a.templates)  # the artefacts keep their template
    for e in b.events:  # indices still into the full beat set; the count leaves the artefacts out
        assert beats.time[e.first] == pytest.approx(e.start) and not v[e.first]
        assert e.beats == int((~v[e.first:e.last + 1]).sum())
    assert b.trend.beats.sum() == (~v).sum()
