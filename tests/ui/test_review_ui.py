"""Issue 6 in the viewer: review keys, undo, reopen, sidecar, read-only fallback, mismatch, metrics,
exports, calipers, crosshair and RR trend (pytest-qt, offscreen, on a copy of record 119)."""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
import subprocess

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from ecgviewer.core import review
from ecgviewer.core.review import BeatReview, LoadStatus, ReviewFile, ReviewState, write_review_file
from ecgviewer.core.session import NOTE, REVIEW

from ui_support import SAMPLE, open_and_score


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    d = tmp_path / "userdata"
    monkeypatch.setenv(review.DATA_DIR_ENV, str(d))
    return d


@pytest.fixture
def rec_copy(tmp_path):
    """Record 119 copied to tmp_path, so sidecars and exports never touch the bundled sample."""
    d = tmp_path / "rec"
    d.mkdir()
    for ext in ("hea", "dat", "atr"):
        shutil.copy(SAMPLE.with_suffix(f".{ext}"), d / f"119.{ext}")
    return d / "119"


def inject(window, path, scored_119):
    """Open ``path`` with the Scorer's own beats and scores (fast; scoring itself is tested once)."""
    from ecgviewer.core.record import load_record

    window.set_record(load_record(path), score=False)
    window.set_scores(*scored_119)


def _sha(p) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _flagged_beats(window, n):
    window.set_threshold(float(np.percentile(np.asarray(window.result.score), 95)))
    return [window.table.beat_at(r) for r in range(n)]


def test_review_keys_undo_redo_and_reopen(qtbot, window, scorer, rec_copy, errors):
    import wfdb

    from ecgviewer.ui.main_window import MainWindow

    atr = rec_copy.with_suffix(".atr")
    atr_sha = _sha(atr)
    assert open_and_score(qtbot, window, rec_copy, timeout=300_000) is True
    rc = window.review
    assert rc.store is not None and rc.store.load_result.status == LoadStatus.NEW
    assert rc.store.save_path == rec_copy.with_name("119.rev")
    assert "next to the record" in window.save_label.text()
    b0, b1, b2 = _flagged_beats(window, 3)
    s = window.beats.sample

    window.select_beat(b0)
    qtbot.keyClick(window, Qt.Key.Key_A)  # confirm
    assert rc.store.state(s[b0]) == ReviewState.CONFIRMED
    window.select_beat(b1)
    qtbot.keyClick(window, Qt.Key.Key_D)  # dismiss
    assert rc.store.state(s[b1]) == ReviewState.DISMISSED
    window.select_beat(b2)
    qtbot.keyClick(window, Qt.Key.Key_A)
    qtbot.keyClick(window, Qt.Key.Key_U)  # back to unreviewed
    assert rc.store.state(s[b2]) == ReviewState.UNREVIEWED
    # note: E focuses the field, Enter saves
    window.select_beat(b0)
    qtbot.keyClick(window, Qt.Key.Key_E)
    assert rc.panel.note.hasFocus() or rc.panel.note.isEnabled()
    rc.panel.note.setFocus()
    qtbot.keyClicks(rc.panel.note, "bigeminy, V")
    qtbot.keyClick(rc.panel.note, Qt.Key.Key_Return)
    assert rc.store.get(s[b0]) == BeatReview(ReviewState.CONFIRMED, "bigeminy, V")
    window.activateWindow()
    rc.panel.note.setFocus()
    qtbot.keyClicks(rc.panel.note, " zzz")
    if rc.panel.note.hasFocus():  # Esc drops an unsaved edit (needs real focus, which offscreen may lack)
        qtbot.keyClick(rc.panel.note, Qt.Key.Key_Escape)
        assert rc.panel.note.text() == "bigeminy, V" and not rc.panel.note.hasFocus()
    else:
        rc.leave_note()
        rc.show_beat()
    assert rc.store.get(s[b0]).note == "bigeminy, V"

    # table and trace show it
    model = window.table.flags
    row = model.row_of(b0)
    assert model.index(row, REVIEW).data() == "Confirmed" and model.index(row, NOTE).data() == "bigeminy, V"
    assert model.index(model.row_of(b1), REVIEW).data() == "Dismissed"
    window.signal_view.center_on(float(window.beats.time[b0]))
    window.signal_view.refresh()
    assert any(abs(p.pos().x() - window.beats.time[b0]) < 1e-6 for p in rc.marks.item.points())

    # undo / redo with the keys: note, U, A(b2), D(b1) ...
    window.signal_view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo note
    assert rc.store.get(s[b0]).note == ""
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo U -> confirmed again
    assert rc.store.state(s[b2]) == ReviewState.CONFIRMED
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)  # redo U
    assert rc.store.state(s[b2]) == ReviewState.UNREVIEWED
    qtbot.keyClick(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)  # redo note
    assert rc.store.get(s[b0]).note == "bigeminy, V"
    assert window.actions["undo"].text().startswith("&Undo")
    assert model.index(model.row_of(b0), NOTE).data() == "bigeminy, V"

    # the sidecar is plain WFDB; the reference is untouched
    ann = wfdb.rdann(str(rec_copy), "rev")
    assert list(ann.sample) == [0] + sorted([int(s[b0]), int(s[b1])])
    got = dict(zip(ann.sample[1:].tolist(), ann.subtype[1:].tolist()))
    assert got == {int(s[b0]): 1, int(s[b1]): 2}
    assert _sha(atr) == atr_sha

    # close and reopen: marks restored
    window.close()
    w2 = MainWindow(scorer)
    qtbot.addWidget(w2)
    try:
        assert open_and_score(qtbot, w2, rec_copy, timeout=300_000) is True
        st = w2.review.store
        assert st.load_result.status == LoadStatus.RESTORED
        assert st.get(s[b0]) == BeatReview(ReviewState.CONFIRMED, "bigeminy, V")
        assert st.state(s[b1]) == ReviewState.DISMISSED and st.state(s[b2]) == ReviewState.UNREVIEWED
        w2.set_threshold(window.threshold)
        m2 = w2.table.flags
        assert m2.index(m2.row_of(b1), REVIEW).data() == "Dismissed"
        assert "(restored)" in w2.review.panel.saved.text()
    finally:
        w2._stop_job()
    assert _sha(atr) == atr_sha
    assert not errors


def test_read_only_folder_falls_back_to_data_dir(qtbot, window, rec_copy, scored_119, data_dir, monkeypatch):
    folder = rec_copy.parent
    real = review.dir_writable
    monkeypatch.setattr(review, "dir_writable", lambda f: False if f == folder else real(f))
    inject(window, rec_copy, scored_119)
    rc = window.review
    assert rc.store.in_data_dir and data_dir in rc.store.save_path.parents
    assert "read-only" in window.save_label.text() and "read-only" in rc.panel.saved.text()
    assert str(rc.store.save_path) in rc.panel.saved.text()
    b = _flagged_beats(window, 1)[0]
    window.select_beat(b)
    qtbot.keyClick(window, Qt.Key.Key_A)
    assert rc.store.save_path.is_file() and not rec_copy.with_name("119.rev").exists()
    assert str(rc.store.save_path) in window.statusBar().currentMessage()


def test_mismatched_review_file_is_reported_not_applied(qtbot, window, rec_copy, scored_119):
    beats = scored_119[0]
    s0 = int(beats.sample[3])
    write_review_file(rec_copy.with_name("119.rev"),
                      ReviewFile("119", 123, 360.0, {s0: BeatReview(ReviewState.CONFIRMED, "old")}))
    inject(window, rec_copy, scored_119)
    rc = window.review
    assert rc.store.load_result.status == LoadStatus.MISMATCH
    assert rc.store.reviews() == {}
    assert rc.panel.banner.isVisibleTo(rc.panel) and "not applied" in rc.panel.banner.text()
    assert rc.mismatch_box is not None and "does not match" in rc.mismatch_box.text()
    assert window.session.state.sum() == 0
    assert rc.apply_pending() == 1  # only on the user's say-so
    assert rc.store.get(s0).note == "old" and rc.mismatch_box is None


def test_metrics_panel_agrees_with_flag_metrics_and_hand_count(window, rec_copy, scored_119):
    from ecgviewer.core.classes import ANOMALY_CLASSES, BEATGAN_CLASSES
    from ecgviewer.core.flag_metrics import FlagMetrics

    beats, result = scored_119
    inject(window, rec_copy, scored_119)
    scores = np.asarray(result.score)
    t = float(np.percentile(scores, 80))
    window.set_threshold(t)
    panel = window.metrics
    ref = FlagMetrics.for_record(window.record, beats.sample, scores).at(t)
    assert panel.values == ref
    # hand count on 119: reference beats are the scored beats' own annotations (N and V)
    ann = window.record.annotations
    cls = np.array([BEATGAN_CLASSES.get(str(x), "") for x in ann.symbol])
    n_pos = int(np.isin(cls, ANOMALY_CLASSES).sum())
    n_neg = int((cls == "N").sum())
    bcls = np.array([BEATGAN_CLASSES.get(str(x), "") for x in beats.symbol])
    flag = scores >= t
    tp = int((np.isin(bcls, ANOMALY_CLASSES) & flag).sum())
    fp = int(((bcls == "N") & flag).sum())
    v_ref = int((cls == "V").sum())
    v_hit = int(((bcls == "V") & flag).sum())
    assert (ref["tp"], ref["fp"], ref["tp"] + ref["fn"], ref["tn"] + ref["fp"]) == (tp, fp, n_pos, n_neg)
    assert panel.cell("All", "Ref") == str(n_pos) and panel.cell("All", "Flagged") == str(tp)
    assert panel.cell("All", "Se") == f"{100 * tp / n_pos:.1f}%"
    assert panel.cell("All", "Sp") == f"{100 * (n_neg - fp) / n_neg:.1f}%"
    assert panel.cell("All", "+P") == f"{100 * tp / flag.sum():.1f}%"
    assert panel.cell("V", "Ref") == str(v_ref) and panel.cell("V", "Flagged") == str(v_hit)
    assert panel.cell("V", "Se") == f"{100 * v_hit / v_ref:.1f}%"
    assert panel.cell("S", "Se") == "-"
    # moves with the threshold (spin box / line all go through set_threshold)
    window.threshold_box.setValue(float(np.percentile(scores, 97)))
    assert panel.values["threshold"] == window.threshold and panel.values["flagged"] == int((scores >= window.threshold).sum())


def test_export_csv_and_pdf(qtbot, window, rec_copy, scored_119, tmp_path, monkeypatch):
    from ecgviewer.ui import export_actions as ea
    from ecgviewer.ui.report import choose_strips

    beats, result = scored_119
    inject(window, rec_copy, scored_119)
    rc = window.review
    b0, b1 = _flagged_beats(window, 2)
    window.select_beat(b0)
    window.actions["confirm"].trigger()
    rc.commit_note('V, "coupled"\nsecond line')
    window.select_beat(b1)
    window.actions["dismiss"].trigger()

    assert ea.default_export_dir() != rec_copy.parent
    asked = []
    out_dir = tmp_path / "out"
    out_dir.mkdir()

    def fake_ask(parent, title, default, flt):
        asked.append(default)
        return str(out_dir / ("beats.csv" if "CSV" in title else "report.pdf"))

    monkeypatch.setattr(ea, "ask_save_path", fake_ask)
    monkeypatch.setattr(ea, "ask_reviewer", lambda parent: "Dr Test")
    window.actions["export_csv"].trigger()
    assert asked[0].parent == ea.default_export_dir() and asked[0].name == "119_beats.csv"
    with open(out_dir / "beats.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["time_s", "sample", "reference", "reference_class", "class", "beat", "score", "flagged",
                       "review_state", "note", "template", "events"]
    assert len(rows) == len(beats) + 1
    by_sample = {int(r[1]): r for r in rows[1:]}
    r0 = by_sample[int(beats.sample[b0])]
    assert r0[8] == "Confirmed" and r0[9] == 'V, "coupled"\nsecond line' and r0[7] == "1"
    assert r0[2] == beats.symbol[b0] and float(r0[6]) == pytest.approx(float(result.score[b0]), rel=1e-5)
    assert r0[0] == f"{beats.sample[b0] / 360.0:.3f}"
    assert by_sample[int(beats.sample[b1])][8] == "Dismissed"
    assert sum(r[7] == "1" for r in rows[1:]) == len(window.flagged())
    assert sum(r[8] == "Unreviewed" for r in rows[1:]) == len(beats) - 2
    with open(out_dir / "beats_summary.csv", encoding="utf-8-sig", newline="") as f:
        summary = {(r[0], r[1]): r[2] for r in list(csv.reader(f))[1:]}
    assert summary[("review", "reviewer")] == "Dr Test" and summary[("record", "name")] == "119"
    assert summary[("findings", "confirmed")] == "1" and summary[("findings", "dismissed")] == "1"
    assert summary[("findings", "flagged")] == str(len(window.flagged()))
    assert summary[("reference", "V")] == str(int((beats.cls == "V").sum()))

    window.actions["export_pdf"].trigger()
    pdf = out_dir / "report.pdf"
    assert pdf.is_file() and asked[1].name == "119_report.pdf"
    reviews = rc.store.reviews()
    strips = choose_strips(beats.sample, np.asarray(result.score), window.threshold, beats.symbol, reviews, 10,
                           record=window.record)
    assert [st.sample for st in strips[:1]] == [int(beats.sample[b0])]  # the confirmed beat, once
    assert int(beats.sample[b1]) not in [st.sample for st in strips]  # dismissed: listed, no strip
    expected = int(re.search(r"\((\d+) pages\)", window.statusBar().currentMessage()).group(1))
    n_pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf.read_bytes()))
    assert n_pages == expected >= 3
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        assert re.search(rf"Pages:\s+{expected}\b", info)
    if shutil.which("pdftotext"):  # the report's numbers are the panels' numbers
        import unicodedata

        text = unicodedata.normalize("NFKC", subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True,
                                                            text=True, check=True).stdout)
        text = " ".join(text.split())
        c, d, o = map(int, re.findall(r"\d+", rc.panel.counts.text()))
        assert f"Review: {c} confirmed, {d} dismissed, {o} flagged beats not reviewed yet" in text
        assert (c, d) == (1, 1)
        assert f"V {window.metrics.cell('V', 'Ref')}," in text and f"by class S {window.metrics.cell('S', 'Flagged')}/" in text
    # nothing was written next to the record but the sidecar
    assert sorted(p.name for p in rec_copy.parent.iterdir()) == ["119.atr", "119.dat", "119.hea", "119.rev"]


def test_calipers_crosshair_and_rr_trend(qtbot, window, rec_copy, scored_119):
    from ecgviewer.ui.calipers import format_hms_ms

    beats, _ = scored_119
    inject(window, rec_copy, scored_119)
    qtbot.keyClick(window, Qt.Key.Key_M)
    assert window.calipers.active and window.actions["calipers"].isChecked()
    m = window.calipers.set_points_mv(1, 10.0, 0.25, 10.8, 1.45)
    assert m.dt_ms == pytest.approx(800.0) and m.bpm == pytest.approx(75.0) and m.dmv == pytest.approx(1.2)
    assert m.lead == window.record.channel_names[1]
    assert "800 ms" in window.calipers.label.toPlainText() and "75 bpm" in window.calipers.label.toPlainText()
    window.signal_view.set_gain(2.0)  # amplitude is read in mV whatever the display gain
    m = window.calipers.set_points_mv(0, 5.0, -0.5, 5.25, 0.5)
    assert (m.dt_ms, m.bpm, m.dmv) == (pytest.approx(250.0), pytest.approx(240.0), pytest.approx(1.0))
    # a mouse drag measures too
    v = window.signal_view
    window.signal_view.set_window(10.0, 14.0)
    v.refresh()
    to_px = lambda t, y: v.mapFromScene(v.vb.mapViewToScene(QPointF(t, y)))  # noqa: E731
    qtbot.mousePress(v.viewport(), Qt.MouseButton.LeftButton, pos=to_px(11.0, 0.0))
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    p1 = to_px(12.0, 0.0)
    QApplication.sendEvent(v.viewport(), QMouseEvent(QEvent.Type.MouseMove, QPointF(p1), QPointF(v.viewport().mapToGlobal(p1)),
                                                     Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton,
                                                     Qt.KeyboardModifier.NoModifier))
    qtbot.mouseRelease(v.viewport(), Qt.MouseButton.LeftButton, pos=p1)
    assert window.calipers.measurement.dt_ms == pytest.approx(1000.0, abs=15)
    assert v.visible_range() == pytest.approx((10.0, 14.0))  # the drag did not pan
    qtbot.keyClick(window, Qt.Key.Key_M)
    assert not window.calipers.active and not window.calipers.label.isVisible()

    # crosshair read-out
    assert format_hms_ms(3723.4567) == "1:02:03.457" and format_hms_ms(0.0) == "0:00:00.000"
    text = window.crosshair.read(12.5, v.offset(0) + 2.0 * 0.5)
    assert text.startswith("0:00:12.500") and "+0.500 mV (cursor)" in text
    assert f"{window.record.signal[4500, 0]:+.3f} mV (signal)" in text

    # RR trend: one point per beat pair, x-linked to the trace
    tr = window.rr_trend
    assert len(tr.times) == len(beats) - 1
    np.testing.assert_allclose(tr.rr_ms, np.diff(beats.sample) / 360.0 * 1000.0)
    np.testing.assert_allclose(tr.times, beats.sample[1:] / 360.0)
    (_, (y0, y1)) = tr.plot.getViewBox().viewRange()
    hr = 60000.0 / tr.rr_ms
    assert y0 <= hr.min() and y1 >= hr.max()  # every beat on the axis: 119's premature beats too
    v.set_window(100.0, 130.0)
    # pyqtgraph links by screen position: same left edge, same seconds per pixel
    tvb = tr.plot.getViewBox()
    (x0, x1), _ = tvb.viewRange()
    assert tvb.screenGeometry().x() == pytest.approx(v.vb.screenGeometry().x(), abs=2)
    assert x0 == pytest.approx(100.0, abs=0.1)
    assert (x1 - x0) / tvb.width() == pytest.approx(30.0 / v.vb.width(), rel=5e-3)


def test_shortcuts_listed_in_help():
    from ecgviewer.ui.shortcuts import SHORTCUTS, help_rows

    names = {s.name: s.keys for s in SHORTCUTS}
    assert names["confirm"] == ("A",) and names["dismiss"] == ("D",) and names["unreview"] == ("U",)
    assert names["undo"] == ("Ctrl+Z",) and "Ctrl+Y" in names["redo"] and names["calipers"] == ("M",)
    keys = [k for k, _ in help_rows()]
    assert "A" in keys and "M" in keys and "Ctrl+E" in keys and "Ctrl+P" in keys
    all_keys = [k for s in SHORTCUTS for k in s.keys]
    assert len(all_keys) == len(set(all_keys))  # no key does two things


def test_exports_carry_relabelled_added_and_deleted_beats(qtbot, window, rec_copy, scored_119, tmp_path,
                                                          monkeypatch):
    """One export path reads the session: the reviewer's classes and beats reach the CSV and the PDF,
    and the report's review counts are the panel's (one review_counts)."""
    from ecgviewer.ui import export_actions as ea

    beats, _ = scored_119
    inject(window, rec_copy, scored_119)
    monkeypatch.setattr(ea, "ask_reviewer", lambda parent: "Dr Edit")
    rc, s = window.review, window.session
    b0, b1 = _flagged_beats(window, 2)
    window.select_beat(b0)
    rc.relabel("F")
    rc.mark(ReviewState.CONFIRMED)
    window.select_beat(b1)
    rc.delete_beat()
    gap = int((beats.sample[10] + beats.sample[11]) // 2)  # halfway between two beats: a "missed" one
    added = rc.add_beat(gap)
    assert added is not None and s.index_of(added) >= s.n_scored
    t12 = float(beats.sample[12] / 360.0)
    s.events = [{"kind": "pause", "start": t12 - 0.1, "end": t12 + 0.1, "beats": 1}]  # the events panel's hook
    s.template_list = [{"id": 0, "count": 5, "label": "N", "max_score": 0.1, "samples": []}]

    rows = {int(r[1]): r for r in list(csv.reader(open(ea.run_export(window, "csv", tmp_path / "b.csv"),
                                                        encoding="utf-8-sig", newline="")))[1:]}
    assert len(rows) == len(beats) + 1
    assert rows[int(beats.sample[b0])][4:6] == ["F", "original"] and rows[int(beats.sample[b0])][8] == "Confirmed"
    assert rows[int(beats.sample[b1])][5] == "deleted" and rows[int(beats.sample[b1])][7] == "0"
    assert rows[added][5:8] == ["added", "", "0"]
    assert sum(r[7] == "1" for r in rows.values()) == len(window.flagged())
    assert rows[int(beats.sample[12])][11] == "pause"

    pdf = ea.run_export(window, "pdf", tmp_path / "r.pdf")
    if shutil.which("pdftotext"):
        import unicodedata

        text = " ".join(unicodedata.normalize("NFKC", subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout).split())
        c, d, *_, o = map(int, re.findall(r"\d+", rc.panel.counts.text()))
        assert f"Review: {c} confirmed, {d} dismissed, {o} flagged beats not reviewed yet" in text
        assert "Beats edited by the reviewer (3)" in text and "added (missed by the detector)" in text
        assert "deleted (not a beat)" in text and "class F (reviewer)" in text
        assert "Pauses: 1" in text and "Template 0: 5 beats" in text


def test_review_marks_sit_on_the_trace_as_drawn(qtbot, window, rec_copy, scored_119):
    """Marks use the view's plot_y: the lead band's offset, the gain and its clipping."""
    inject(window, rec_copy, scored_119)
    v, rc = window.signal_view, window.review
    b0 = _flagged_beats(window, 1)[0]
    window.select_beat(b0)
    rc.mark(ReviewState.CONFIRMED)
    v.set_gain(4.0)
    v.refresh()
    s = int(window.beats.sample[b0])
    want = float(v.plot_y(rc.marks.lead, np.array([window.record.signal[s, rc.marks.lead]]))[0])
    (_, _), (ylo, yhi) = v.vb.viewRange()
    want = min(max(want, ylo + 0.04 * (yhi - ylo)), yhi - 0.04 * (yhi - ylo))
    ys = [p.pos().y() for p in rc.marks.item.points() if abs(p.pos().x() - s / window.record.fs) < 1e-6]
    assert ys and ys[0] == pytest.approx(want)


def test_the_heart_rate_axis_shows_a_few_premature_beats():
    """A record's rare premature beats (3 in 1,000 here) stay on the axis; a percentile range lost them."""
    from ecgviewer.ui.rr_trend import HR_SHOWN, hr_range

    hr = np.r_[np.full(1000, 70.0), [118.0, 120.0, 121.0]]
    lo, hi = hr_range(hr)
    assert lo <= 70.0 and hi >= 121.0
    lo, hi = hr_range(np.r_[hr, 400.0, 4.0])  # a detector's double count and a long gap: outside what is kept
    assert (lo, hi) == (HR_SHOWN[0] - 5.0, HR_SHOWN[1] + 5.0)
