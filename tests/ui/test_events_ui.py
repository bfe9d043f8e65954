"""The Holter docks: events, templates and trend show what ``ecgviewer events`` / ``templates``
print; jump-to, confirm/dismiss saved and restored, a template relabelled in one action."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from ecgviewer.core import review
from ecgviewer.core.events import KIND_SHORT
from ecgviewer.core.holter import analyse, analyse_reviewed, events_payload, templates_payload
from ecgviewer.core.review import ReviewState

from ui_support import ROOT, SAMPLE, open_and_score


def shot_dir(tmp_path) -> Path:
    """docs/ with ECGVIEWER_SCREENSHOTS=1 (to refresh the docs' grabs), else a temp folder."""
    return ROOT / "docs" if os.environ.get("ECGVIEWER_SCREENSHOTS") == "1" else tmp_path


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(review.DATA_DIR_ENV, str(tmp_path / "userdata"))


@pytest.fixture
def copy_119(tmp_path):
    """Record 119 copied (the sidecar files go beside the copy, never into the checkout)."""
    import shutil

    (tmp_path / "rec").mkdir()
    for ext in ("hea", "dat", "atr"):
        shutil.copy(SAMPLE.with_suffix(f".{ext}"), tmp_path / "rec" / f"119.{ext}")
    return tmp_path / "rec" / "119"


def open_and_analyse(qtbot, window, path) -> None:
    """Open, score, and wait until the Holter docks show the analysis."""
    with qtbot.waitSignal(window.holter.ready, timeout=60_000):
        assert open_and_score(qtbot, window, path)


@pytest.fixture
def opened(qtbot, window, copy_119):
    open_and_analyse(qtbot, window, copy_119)
    return window


def test_panels_show_what_the_cli_prints(opened, scored_119):
    w, h = opened, opened.holter
    beats, result = scored_119
    a = analyse_reviewed(beats, w.record.duration, result.score, h.store)  # what the CLI runs
    ev = events_payload(a, h.store.decided())["events"]
    rows = h.events.model.events
    assert [dict(e.as_dict(), review=None) for e in rows] == ev and len(rows) == h.events.model.rowCount() > 20
    assert h.events.model.data(h.events.model.index(0, 0)) == KIND_SHORT[ev[0]["kind"]]
    assert "Ventricular bigeminy 37" in h.events.summary.text()
    tp = templates_payload(a, beats)["templates"]
    table = h.templates.table
    assert table.rowCount() == len(tp)
    for r, t in enumerate(tp):
        assert table.item(r, 0).text() == str(t["id"]) and table.item(r, 1).text() == str(t["count"])
        assert table.item(r, 2).text() == (t["label"] or "-") and table.item(r, 3).text() == f"{t['max_score']:.4g}"
    assert h.trend.trend.summary() == events_payload(a)["heart_rate"]


def test_clicking_an_event_selects_its_first_beat(qtbot, opened):
    h = opened.holter
    e = h.events.model.events[5]
    rect = h.events.table.visualRect(h.events.model.index(5, 1))
    qtbot.mouseClick(h.events.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened.selected_beat == e.first
    t0, t1 = opened.signal_view.visible_range()
    assert t0 <= e.start <= t1


def test_decisions_are_saved_and_restored(qtbot, opened, window, copy_119):
    h = opened.holter
    h.events.table.selectRow(2)
    e2 = h.events.current_event()
    h.events.decide(ReviewState.CONFIRMED)
    h.events.kind_box.setCurrentIndex(h.events.kind_box.findData("trigeminy"))
    assert all(e.kind == "trigeminy" for e in h.events.model.events)
    h.events.table.selectRow(next(i for i, e in enumerate(h.events.model.events) if e.key != e2.key))
    e_t = h.events.current_event()
    h.events.decide(ReviewState.DISMISSED)  # acts on the highlighted row of the filtered list
    data = json.loads(h.store.save_path.read_text())
    assert data["decisions"][e2.key]["state"] == "confirmed"
    assert data["decisions"][e_t.key]["state"] == "dismissed" and len(data["decisions"]) == 2
    assert h.store.save_path == copy_119.parent / "119.events.json"
    open_and_analyse(qtbot, window, copy_119)  # reopen: the decisions come back
    m = h.events.model
    assert m.states[e2.key] == ReviewState.CONFIRMED and m.states[e_t.key] == ReviewState.DISMISSED
    row = next(i for i, e in enumerate(m.events) if e.key == e_t.key)
    assert m.data(m.index(row, 5)) == "Dismissed"


def test_relabel_a_whole_template(opened, window, qtbot, copy_119):
    h = opened.holter
    before = h.analysis.counts()
    v_rows = [r for r, t in enumerate(h.templates.shown) if t.label == "V"]
    assert v_rows and before["bigeminy"] > 0
    n_shown = len(h.templates.shown)
    for _ in v_rows:  # every V template called artefact, one action each
        r = next(r for r, t in enumerate(h.templates.shown) if t.label == "V")
        h.templates.table.selectRow(r)
        h.templates.label_box.setCurrentText("artefact")
        with qtbot.waitSignal(h.ready, timeout=30_000):
            h.templates.relabel_current()
    assert len(h.templates.shown) == n_shown - len(v_rows)
    after = h.analysis.counts()
    assert after["bigeminy"] == 0 and after["trigeminy"] == 0
    assert "artefact" in h.templates.summary.text()
    open_and_analyse(qtbot, window, copy_119)  # the relabels are kept with the events
    assert len(h.templates.shown) == n_shown - len(v_rows) and h.analysis.counts()["bigeminy"] == 0


def test_template_overlay_draws_a_capped_number_of_members(opened):
    from ecgviewer.ui.templates_panel import MAX_DRAWN

    h = opened.holter
    h.templates.table.selectRow(0)
    curves = h.templates.plot.getPlotItem().listDataItems()
    assert len(curves) == min(MAX_DRAWN, h.templates.shown[0].count) + 1
    assert "of " + str(h.templates.shown[0].count) in h.templates.caption.text()


def test_trend_click_jumps(qtbot, opened):
    h = opened.holter
    assert len(h.trend.trend) == int(np.ceil(opened.record.duration / 60))
    with qtbot.waitSignal(h.trend.jumpRequested) as sig:
        h.trend.jump_to(900.0)
    t = sig.args[0]
    assert abs(t - 900) < 0.01 * opened.record.duration + 1
    t0, t1 = opened.signal_view.visible_range()
    assert t0 <= t <= t1


def test_screenshot(opened, tmp_path):
    """Offscreen grab of the window with the Holter docks (docs/events.png, templates.png; looked at by hand)."""
    h = opened.holter
    h.events.table.selectRow(3)
    h.go_to_event(h.events.current_event())
    opened.resize(1600, 1000)
    assert opened.grab().save(str(shot_dir(tmp_path) / "events.png"))
    h.docks["templates"].raise_()
    h.templates.table.selectRow(1)
    assert opened.grab().save(str(shot_dir(tmp_path) / "templates.png"))


def test_trend_marks_every_event_by_kind(opened):
    h = opened.holter
    marked = {item.name(): len(item.data) for item in h.trend.marks}
    from ecgviewer.core.events import KIND_SHORT

    assert marked == {KIND_SHORT[k]: n for k, n in h.analysis.counts().items() if n}


def test_trend_of_a_24_hour_record_has_the_hourly_table(qtbot, scored_119, tmp_path):
    """48 back-to-back copies of 119's beats: 24 hours, one hourly row each (grab kept in docs/)."""
    from ecgviewer.core.beats import BeatSet
    from ecgviewer.ui.trend_view import TrendView

    b, n, k = scored_119[0], 650000, 48
    rep = lambda a: np.tile(a, (k,) + (1,) * (a.ndim - 1))  # noqa: E731
    day = BeatSet("119x48", b.fs, b.leads, rep(b.x), (b.sample[None] + (np.arange(k) * n)[:, None]).ravel(),
                  rep(b.symbol), rep(b.cls), rep(b.rr_pre), rep(b.rr_post), rep(b.rr_local), b.source)
    a = analyse(day, n * k / b.fs)
    view = TrendView()
    qtbot.addWidget(view)
    view.resize(1400, 520)
    view.set_trend(a.trend, a.events, a.hourly())
    view.show()
    hours = int(np.ceil(n * k / b.fs / 3600))  # 48 x 30:06 is 24 h 4 min: 25 rows, the last partial
    assert view.hourly.isVisibleTo(view) and view.hourly.rowCount() == hours == 25
    assert view.hourly.item(23, 1).text() == str(a.hourly()[23]["beats"])
    assert len(a.trend) == int(np.ceil(n * k / b.fs / 60))
    assert view.grab().save(str(shot_dir(tmp_path) / "trend24h.png"))


def test_beat_by_beat_classes_from_the_caller(qtbot, opened):
    """The hook for a per-beat relabel store: classes given beat by beat drive the events."""
    h = opened.holter
    assert h.analysis.counts()["bigeminy"] > 0
    cls = np.where(opened.beats.cls == "V", "N", opened.beats.cls)
    with qtbot.waitSignal(h.ready, timeout=30_000):
        h.set_beat_classes(cls)
    assert h.analysis.class_source == "caller" and h.analysis.counts()["bigeminy"] == 0
    assert "given by the caller" in h.events.summary.text()


def test_the_session_gets_what_the_panels_show(opened, scored_119):
    """The report and CSV read events and templates from the review session: the same lists as the
    panels (and the CLI), and every beat's template id reaches the beat list's template filter."""
    w, h = opened, opened.holter
    a = h.analysis
    assert w.session.events == events_payload(a, {})["events"]
    assert w.session.template_list == templates_payload(a, w.beats)["templates"]
    assert np.array_equal(w.session.template[: w.session.n_scored], a.templates.assignment)
    assert w.template_box.count() == 1 + len(set(a.templates.assignment.tolist()) - {-1})


def test_relabelling_a_beat_moves_the_events(qtbot, opened):
    """A beat relabelled in the review session becomes that class for the rhythm analysis."""
    w, h = opened, opened.holter
    first_v = int(np.flatnonzero(h.analysis.classes == "V")[0])
    sample = int(w.beats.sample[first_v])
    with qtbot.waitSignal(h.ready, timeout=60_000):
        assert w.session.relabel("N", sample)
    assert h.analysis.class_source == "caller" and h.analysis.classes[first_v] == "N"
