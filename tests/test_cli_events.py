"""``ecgviewer events`` and ``ecgviewer templates``: JSON equal to the core analysis, text and CSV
forms, options, and a one-line error for a bad record."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from ecgviewer.cli import main
from ecgviewer.core.events import KINDS
from ecgviewer.core.review import ReviewState

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "samples" / "119"


def run(capsys, *args: str) -> str:
    assert main(list(args)) == 0
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def core_119():
    from ecgviewer.core.holter import analyse
    from ecgviewer.core.record import load_record
    from ecgviewer.core.scorer import Scorer

    scorer = Scorer.load()
    rec = load_record(SAMPLE)
    beats = scorer.beats(rec)
    return rec, beats, scorer.score(beats).score, analyse


def test_events_json_is_the_core_analysis(capsys, core_119):
    from ecgviewer.core.holter import events_payload

    rec, beats, _, analyse = core_119
    out = json.loads(run(capsys, "events", str(SAMPLE), "--json"))
    assert out["record"] == "119" and out["class_source"] == "reference"
    assert out == json.loads(json.dumps(events_payload(analyse(beats, rec.duration))))
    ev = out["events"]
    assert ev and {e["kind"] for e in ev} <= set(KINDS)
    for e in ev:
        assert {"kind", "start", "end", "beats"} <= set(e) and 0 <= e["start"] <= e["end"] <= rec.duration
    assert out["counts"]["bigeminy"] == sum(e["kind"] == "bigeminy" for e in ev) > 0


def test_events_options_change_the_criteria(capsys):
    base = json.loads(run(capsys, "events", str(SAMPLE), "--json"))
    tight = json.loads(run(capsys, "events", str(SAMPLE), "--json", "--pause", "1.2", "--tachy", "60"))
    assert tight["criteria"]["pause_s"] == 1.2 and tight["criteria"]["tachy_bpm"] == 60
    assert tight["counts"]["pause"] > base["counts"]["pause"]
    assert tight["counts"]["tachy"] > base["counts"]["tachy"]


def test_events_text_and_csv(capsys):
    text = run(capsys, "events", str(SAMPLE))
    assert text.splitlines()[0].startswith("kind\tstart") and "119:" in text and "Ventricular bigeminy" in text
    rows = list(csv.DictReader(io.StringIO(run(capsys, "events", str(SAMPLE), "--csv"))))
    js = json.loads(run(capsys, "events", str(SAMPLE), "--json"))["events"]
    assert [r["kind"] for r in rows] == [e["kind"] for e in js]
    assert [float(r["start"]) for r in rows] == [e["start"] for e in js]


def test_templates_json_has_scores_and_every_beat_once(capsys, core_119):
    rec, beats, scores, _ = core_119
    out = json.loads(run(capsys, "templates", str(SAMPLE), "--json"))
    t = out["templates"]
    assert out["record"] == "119" and [x["id"] for x in t] == list(range(1, len(t) + 1))
    assert sorted(s for x in t for s in x["samples"]) == sorted(beats.sample.tolist())
    assert [x["count"] for x in t] == [len(x["samples"]) for x in t]
    assert t[0]["label"] == "N" and any(x["label"] == "V" for x in t)
    idx = {int(s): i for i, s in enumerate(beats.sample)}
    for x in t:  # the highest score of the members, as ``ecgviewer score`` computes them
        assert x["max_score"] == pytest.approx(float(np.max(scores[[idx[s] for s in x["samples"]]])), rel=1e-6)
    text = run(capsys, "templates", str(SAMPLE))
    assert text.splitlines()[0].startswith("id\tcount\tlabel") and f"{len(beats)} beats in {len(t)} templates" in text


def test_detected_beats_get_provisional_classes(capsys):
    out = json.loads(run(capsys, "events", str(SAMPLE), "--json", "--detect"))
    assert out["class_source"] == "provisional"


def test_bad_record_is_one_line(tmp_path, helpers):
    proc = helpers.run_module("ecgviewer", "events", str(tmp_path / "nope"), "--json")
    helpers.assert_one_line_error(proc, "nope.hea", "not found")
    assert proc.returncode == 2


def test_the_viewers_decisions_and_relabels_are_printed(capsys, tmp_path, monkeypatch):
    """A review made in the viewer (here through its store) shows in the CLI; --no-review leaves it out."""
    import shutil

    from ecgviewer.core import review
    from ecgviewer.core.beats import extract_beats
    from ecgviewer.core.event_review import EventReviewStore
    from ecgviewer.core.holter import analyse
    from ecgviewer.core.record import load_record

    monkeypatch.setenv(review.DATA_DIR_ENV, str(tmp_path / "userdata"))
    for ext in ("hea", "dat", "atr"):
        shutil.copy(SAMPLE.with_suffix(f".{ext}"), tmp_path / f"119.{ext}")
    rec = load_record(tmp_path / "119")
    beats = extract_beats(rec)
    a = analyse(beats, rec.duration)
    store = EventReviewStore.for_record(rec)
    for t in a.templates.templates:
        if t.label == "V":
            store.set_template_label(t, "N", int(beats.sample[t.members[0]]))
    before = sorted(p.name for p in tmp_path.iterdir())
    out = json.loads(run(capsys, "events", str(tmp_path / "119"), "--json"))
    assert out["counts"]["bigeminy"] == 0 and out["template_labels"]
    assert all(v == "N" for v in out["template_labels"].values())
    tp = json.loads(run(capsys, "templates", str(tmp_path / "119"), "--json"))
    assert all(t["label"] == "N" for t in tp["templates"])
    plain = json.loads(run(capsys, "events", str(tmp_path / "119"), "--json", "--no-review"))
    assert plain["counts"]["bigeminy"] > 0 and plain["template_labels"] == {}
    assert plain["events"][0]["review"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # the CLI wrote nothing


def test_a_confirmed_event_is_marked(capsys, tmp_path, monkeypatch):
    import shutil

    from ecgviewer.core import review
    from ecgviewer.core.event_review import EventReviewStore
    from ecgviewer.core.events import Event

    monkeypatch.setenv(review.DATA_DIR_ENV, str(tmp_path / "userdata"))
    for ext in ("hea", "dat", "atr"):
        shutil.copy(SAMPLE.with_suffix(f".{ext}"), tmp_path / f"119.{ext}")
    first = json.loads(run(capsys, "events", str(tmp_path / "119"), "--json"))["events"][1]
    store = EventReviewStore(tmp_path / "119", 650000, 360.0)
    store.set(Event(first["kind"], 0, 1, first["start"], first["end"], first["start_sample"]), ReviewState.DISMISSED)
    out = json.loads(run(capsys, "events", str(tmp_path / "119"), "--json"))["events"]
    assert [e["review"] for e in out[:3]] == [None, "dismissed", None]
    assert "dismissed" in run(capsys, "events", str(tmp_path / "119")).splitlines()[2]


@pytest.mark.parametrize("option", ["--pause", "--brady", "--tachy"])
def test_event_criteria_must_be_finite(option, capsys):
    with pytest.raises(SystemExit) as info:
        main(["events", str(SAMPLE), option, "nan", "--json"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: must be a finite number, not 'nan'" in err and "Traceback" not in err


def test_events_say_the_detector_fallback(tmp_path, capsys):
    """An empty .atr beside the record: the events come from the detector's beats, and stderr says so."""
    for ext in ("hea", "dat"):
        (tmp_path / f"119.{ext}").write_bytes((SAMPLE.parent / f"119.{ext}").read_bytes())
    (tmp_path / "119.atr").write_bytes(b"")
    out = json.loads(run(capsys, "events", str(tmp_path / "119"), "--json", "--no-review"))
    assert out["class_source"] != "reference"
    assert main(["events", str(tmp_path / "119"), "--no-review"]) == 0
    assert "ecgviewer: note: 119: 119.atr is empty: beats from the QRS detector" in capsys.readouterr().err
