"""Defects a user test under Xvfb found: the overview after switching records, the window on a 1366x768
screen, docks over docks, the beat detail's lead, the template relabel default, a stale cursor read-out,
the threshold box keeping the keys and a clipped column header (pytest-qt, offscreen)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRect, Qt
from PySide6.QtWidgets import QApplication, QDockWidget

from ecgviewer.core import review
from ecgviewer.core.record import load_record

from ui_support import SAMPLE


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(review.DATA_DIR_ENV, str(tmp_path / "userdata"))


def copy_record(src, dest) -> object:
    """``src`` (a record path without extension) copied into ``dest``: sidecar files never go beside the data."""
    dest.mkdir(exist_ok=True)
    for ext in ("hea", "dat", "atr"):
        shutil.copy(src.with_suffix(f".{ext}"), dest / f"{src.name}.{ext}")
    return dest / src.name


@pytest.fixture
def rec119(tmp_path):
    return copy_record(SAMPLE, tmp_path / "rec")


@pytest.fixture
def sele0104(tmp_path, qtdb):
    return copy_record(qtdb / "sele0104", tmp_path / "rec")


def show_scored(qtbot, window, path, scorer, scored=None) -> None:
    """``path`` shown with the Scorer's beats and scores injected, and the Holter docks filled."""
    rec = load_record(path)
    window.set_record(rec, score=False)
    if scored is None:
        beats = scorer.beats(rec)
        scored = beats, scorer.score(beats)
    window.set_scores(*scored)
    with qtbot.waitSignal(window.holter.ready, timeout=60_000):
        window.holter.refresh()
    QApplication.processEvents()


# ---- 1: the overview ---------------------------------------------------------------------------
def test_overview_covers_the_long_record_after_a_short_one(window, rec119, sele0104):
    long_rec, short_rec = load_record(rec119), load_record(sele0104)
    assert short_rec.duration < long_rec.duration / 1.5
    for rec in (long_rec, short_rec, long_rec):
        window.set_record(rec, score=False)
        vb = window.overview.getViewBox()
        assert vb.viewRange()[0] == pytest.approx([0, rec.duration])
        assert vb.state["limits"]["xLimits"] == pytest.approx([0, rec.duration])
    v = window.signal_view
    window.overview.jump_to(long_rec.duration - 5)  # a click near the right end
    t0, t1 = v.visible_range()
    assert t1 == pytest.approx(long_rec.duration, abs=0.01)
    window.actions["end"].trigger()
    r0, r1 = window.overview.region.getRegion()
    assert r1 == pytest.approx(long_rec.duration, abs=0.01) and r0 > short_rec.duration  # the marker is drawn


# ---- 2 and 3: a 1366x768 screen ---------------------------------------------------------------------
def test_window_fits_a_1366_screen(qtbot, scorer, errors, rec119, scored_119):
    from ecgviewer.ui.main_window import MainWindow

    w = MainWindow(scorer)
    qtbot.addWidget(w)
    w.show()
    free = w.screen().availableGeometry()
    assert w.width() <= free.width() and w.height() <= free.height()
    show_scored(qtbot, w, rec119, scorer, scored_119)
    w.holter.trend.summary.setText("Heart rate per minute: " + "a long summary of the record " * 20)
    QApplication.processEvents()
    assert w.minimumSizeHint().width() <= 1366 and w.minimumWidth() <= 1366
    assert w.minimumSizeHint().height() <= 768 - 40 and w.minimumHeight() <= 768 - 40  # a taskbar
    assert w.width() <= free.width()
    w.resize(free.width() + 2000, free.height() + 1000)  # e.g. a geometry saved on a bigger screen
    w.fit_to_screen()
    assert w.width() <= free.width() and w.height() <= free.height()
    w._stop_job()


@pytest.mark.parametrize("size", [(1366, 768), (1300, 900), (1600, 1000)])
def test_docks_do_not_overlap(qtbot, window, scorer, rec119, scored_119, size):
    window.resize(*size)
    show_scored(qtbot, window, rec119, scorer, scored_119)
    qtbot.wait(50)
    assert (window.width(), window.height()) == size  # the layout fits: not pushed past the screen by its minimum
    docks = [d for d in window.findChildren(QDockWidget) if d.isVisible() and not d.isFloating()]
    rects = {d.objectName(): d.geometry() for d in docks}
    rects["central"] = window.centralWidget().geometry()
    assert {"metrics_dock", "trend_dock"} <= set(rects)
    # tabified docks share one place: compare one of each tab group
    seen: list[tuple[str, QRect]] = []
    for name, r in rects.items():
        if any(r == s for _, s in seen):
            continue
        for other, s in seen:
            assert not r.intersects(s), f"{name} {r} overlaps {other} {s} at {size}"
        seen.append((name, r))
    m = window.metrics
    assert m.table.isVisible() and m.table.visibleRegion().boundingRect().height() > 0


# ---- 4: the beat detail's lead -------------------------------------------------------------------
def lead_titles(window) -> list[str]:
    return [top.titleLabel.text for top, _bottom in window.detail._plots]


def has_data(window) -> bool:
    items = [item for top, bottom in window.detail._plots for item in top.listDataItems() + bottom.listDataItems()]
    return any(item.getData()[0] is not None and len(item.getData()[0]) for item in items)


def test_beat_detail_titles_the_current_records_lead(qtbot, window, scorer, rec119, sele0104, scored_119):
    show_scored(qtbot, window, sele0104, scorer)
    window.select_beat(0)
    assert lead_titles(window) and lead_titles(window)[0].startswith("D3,") and has_data(window)
    window.set_record(load_record(rec119), score=False)  # opened: not scored yet
    assert window.detail.title.text == "No beat selected"
    assert lead_titles(window)[0].startswith("MLII,") and not has_data(window)
    window.set_scores(*scored_119)
    assert lead_titles(window)[0].startswith("MLII,") and not has_data(window)
    window.set_record(load_record(sele0104), score=False)  # switched back
    assert lead_titles(window)[0].startswith("D3,") and not has_data(window)


# ---- 5: template relabel -----------------------------------------------------------------------
def test_relabel_combo_follows_the_template_and_asks_for_one(qtbot, window, scorer, rec119, scored_119):
    show_scored(qtbot, window, rec119, scorer, scored_119)
    t = window.holter.templates
    assert t.current_template() is None and t.label_box.currentIndex() == -1  # no template: no label
    with qtbot.assertNotEmitted(t.relabelRequested):
        t.relabel_button.click()
    assert "template" in window.statusBar().currentMessage().lower()
    for label in ("V", "N", "V"):
        r = next(r for r, tp in enumerate(t.shown) if tp.label == label)
        t.table.selectRow(r)
        assert t.current_template() is t.shown[r] and t.label_box.currentText() == label
    with qtbot.waitSignal(t.relabelRequested) as sig:  # one click keeps the template's own label
        t.relabel_button.click()
    assert sig.args == [t.current_template().id, "V"]


# ---- 6: the cursor read-out ---------------------------------------------------------------------
@pytest.mark.parametrize("key", [Qt.Key.Key_PageDown, Qt.Key.Key_N, Qt.Key.Key_Home, Qt.Key.Key_End])
def test_cursor_readout_cleared_when_keys_move_the_trace(qtbot, window, scored_119, key):
    window.set_record(load_record(SAMPLE), score=False)
    window.set_scores(*scored_119)
    v = window.signal_view
    v.set_window(600, 610)
    window.crosshair._moved(v.vb.mapViewToScene(QPointF(605.0, v.offset(0))))  # the mouse over the trace
    assert "0:10:05" in window.cursor_label.text()
    v.setFocus()
    qtbot.keyClick(window, key)
    assert v.visible_range()[0] != pytest.approx(600)
    assert window.cursor_label.text() == "" and not window.crosshair.vline.isVisible()


# ---- 7: the threshold box and the events' Review column --------------------------------------
def test_enter_in_the_threshold_box_gives_the_keys_back(qtbot, window, scored_119):
    window.set_record(load_record(SAMPLE), score=False)
    window.set_scores(*scored_119)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    window.actions["threshold"].trigger()
    box = window.threshold_box
    assert QApplication.focusWidget() in (box, box.lineEdit())
    box.lineEdit().setText(f"{float(np.percentile(scored_119[1].score, 95)):.2f}")
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)
    assert window.threshold == pytest.approx(float(np.percentile(scored_119[1].score, 95)), abs=0.01)
    assert QApplication.focusWidget() is window.signal_view
    first = window.table.beat_at(0)
    qtbot.keyClick(window, Qt.Key.Key_N)  # works at once
    assert window.selected_beat == first


@pytest.mark.parametrize("width", [260, 330, 420])
def test_review_column_shows_its_header(qtbot, width):
    from ecgviewer.ui.events_panel import COLUMNS, EventsPanel

    p = EventsPanel()
    qtbot.addWidget(p)
    p.resize(width, 400)
    p.show()
    QApplication.processEvents()
    h = p.table.horizontalHeader()
    last = len(COLUMNS) - 1
    assert h.sectionSize(last) >= h.sectionSizeFromContents(last).width()
    for col in range(last):
        assert h.sectionSize(col) >= h.sectionSizeFromContents(col).width()
