"""Main window behaviour on record 119 (pytest-qt, offscreen)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from ui_support import SAMPLE, broken_copy


def assert_centred(window, beat: int) -> None:
    """The beat is in the middle of the view, or the view is clamped at a record end."""
    t = float(window.beats.time[beat])
    t0, t1 = window.signal_view.visible_range()
    w, dur = t1 - t0, window.record.duration
    expected = min(max(t, w / 2), dur - w / 2)
    assert (t0 + t1) / 2 == pytest.approx(expected, abs=1e-3)
    assert t0 <= t <= t1


@pytest.fixture
def loaded(window, scored_119):
    """Window with 119 shown and the Scorer's own beats and scores injected (fast)."""
    from ecgviewer.core.record import load_record

    window.set_record(load_record(SAMPLE), score=False)
    window.set_scores(*scored_119)
    window.set_threshold(float(np.percentile(scored_119[1].score, 90)))
    return window


def test_open_scores_in_background_and_fills_sorted_table(qtbot, window, scored_119):
    with qtbot.waitSignal(window.scoringDone, timeout=60_000) as done:
        assert window.open_record(SAMPLE)
        assert window.is_scoring() or window.result is not None  # returns before scoring ends
        window.signal_view.page(1)  # the view stays usable meanwhile
    assert done.args == [True]
    beats, result = scored_119
    np.testing.assert_allclose(window.result.score, result.score, rtol=1e-5)
    rows = window.table.flags.rowCount()
    assert rows == int((result.score >= window.threshold).sum()) > 0
    shown = [float(window.table.flags.scores[window.table.beat_at(r)]) for r in range(rows)]
    assert shown == sorted(shown, reverse=True)
    assert "119" in window.info.text() and "360 Hz" in window.info.text() and str(len(beats)) in window.info.text()
    assert window.threshold == pytest.approx(window.scorer.threshold)


def test_cancel_scoring(qtbot, window):
    with qtbot.waitSignal(window.scoringDone, timeout=60_000) as done:
        window.open_record(SAMPLE)
        window.cancel_scoring()
    assert done.args == [False] or window.result is not None  # cancel may lose the race on a fast machine
    assert not window.progress.isVisible()


def test_clicking_a_row_centres_and_selects_the_beat(qtbot, loaded):
    table = loaded.table
    row = 3
    rect = table.visualRect(table.flags.index(row, 0))
    with qtbot.waitSignal(loaded.beatSelected) as sel:
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    beat = table.beat_at(row)
    assert sel.args == [beat] and loaded.selected_beat == beat
    assert_centred(loaded, beat)
    assert loaded.detail.beat == beat


def test_enter_and_arrow_keys_in_table(qtbot, loaded):
    table = loaded.table
    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_Down)
    qtbot.keyClick(table, Qt.Key.Key_Down)
    assert loaded.selected_beat == table.beat_at(table.currentIndex().row())
    loaded.signal_view.center_on(0)
    qtbot.keyClick(table, Qt.Key.Key_Return)
    assert_centred(loaded, loaded.selected_beat)


def test_n_and_p_walk_the_flagged_beats(qtbot, loaded):
    loaded.signal_view.setFocus()
    order = [loaded.table.beat_at(r) for r in range(3)]
    qtbot.keyClick(loaded, Qt.Key.Key_N)
    assert loaded.selected_beat == order[0]
    qtbot.keyClick(loaded, Qt.Key.Key_N)
    qtbot.keyClick(loaded, Qt.Key.Key_N)
    assert loaded.selected_beat == order[2]
    qtbot.keyClick(loaded, Qt.Key.Key_P)
    assert loaded.selected_beat == order[1]
    assert_centred(loaded, order[1])


def test_threshold_spin_box_and_line_stay_in_sync_with_scorer_count(loaded, scored_119):
    scores = scored_119[1].score
    for q in (50, 95, 99.5):
        th = float(np.percentile(scores, q))
        loaded.threshold_box.setValue(th)
        expected = int((scores >= loaded.threshold).sum())
        assert loaded.table.flags.rowCount() == expected == len(loaded.flagged())
        assert loaded.signal_view.threshold_line.value() == pytest.approx(loaded.threshold)
    th = float(np.percentile(scores, 70))
    loaded.signal_view.threshold_line.setValue(th)  # what a drag does
    assert loaded.threshold == pytest.approx(th)
    assert loaded.threshold_box.value() == pytest.approx(th, abs=0.51 * 10 ** -loaded.threshold_box.decimals())
    assert loaded.table.flags.rowCount() == int((scores >= th).sum())
    assert f"{int((scores >= th).sum())} of {len(scores)}" in loaded.count_label.text()


def test_sort_by_time(loaded):
    loaded.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    times = [loaded.beats.time[loaded.table.beat_at(r)] for r in range(loaded.table.flags.rowCount())]
    assert times == sorted(times)


def test_keyboard_navigation_and_zoom(qtbot, loaded):
    v = loaded.signal_view
    v.set_window(100, 110)
    qtbot.keyClick(loaded, Qt.Key.Key_PageDown)
    t0, t1 = v.visible_range()
    assert t0 == pytest.approx(109, abs=0.01)
    qtbot.keyClick(loaded, Qt.Key.Key_PageUp)
    assert v.visible_range()[0] == pytest.approx(100, abs=0.01)
    loaded.actions["zoom_out"].trigger()
    assert v.visible_range()[1] - v.visible_range()[0] == pytest.approx(20, abs=0.01)
    loaded.actions["zoom_in"].trigger()
    loaded.actions["zoom_in"].trigger()
    assert v.visible_range()[1] - v.visible_range()[0] == pytest.approx(5, abs=0.01)
    g = v.gain
    qtbot.keyClick(loaded, Qt.Key.Key_Plus)
    assert v.gain == 2 * g
    loaded.actions["whole"].trigger()
    assert v.visible_range() == pytest.approx((0, loaded.record.duration), abs=0.01)
    loaded.overview.jump_to(600)
    t0, t1 = v.visible_range()
    assert (t0 + t1) / 2 == pytest.approx(600, abs=0.5) or t1 - t0 == pytest.approx(loaded.record.duration)


def test_calibrated_mode_uses_screen_dpi(loaded):
    v = loaded.signal_view
    loaded.actions["calibrated"].trigger()
    assert v.calibrated
    v.refresh()
    t0, t1 = v.visible_range()
    assert (t1 - t0) == pytest.approx(v.vb.width() / v.px_per_mm() * 0.04, rel=0.02)
    (y0, y1) = v.vb.viewRange()[1]
    assert (y1 - y0) == pytest.approx(v.vb.height() / v.px_per_mm() * 0.1, rel=0.02)
    loaded.actions["zoom_in"].trigger()  # free zoom leaves calibrated mode
    assert not v.calibrated and not loaded.actions["calibrated"].isChecked()


def test_only_annotations_in_view_are_drawn(loaded):
    v = loaded.signal_view
    v.set_window(60, 70)
    v.refresh()
    ann = loaded.record.annotations
    in_view = (ann.sample / loaded.record.fs >= 60) & (ann.sample / loaded.record.fs <= 70)
    assert len(v.labels) == int(in_view.sum()) > 0
    assert np.all((v.labels.x >= 60) & (v.labels.x <= 70))
    assert v.labels.texts == [str(s) for s in np.asarray(ann.symbol)[in_view]]
    v.show_whole()
    v.refresh()
    assert len(v.labels) == 0  # too many to read: none


def test_heatmap_toggle_and_opacity(loaded):
    v = loaded.signal_view
    v.set_window(10, 20)
    v.refresh()
    item = next(iter(v.heat_items.values()))
    assert item.isVisible() and item.image.max() > 0
    loaded.actions["heat_less"].trigger()
    assert item.opacity() == pytest.approx(0.4)
    loaded.actions["heatmap"].trigger()
    v.refresh()
    assert not item.isVisible()


def test_broken_record_shows_error_and_app_keeps_working(qtbot, loaded, errors, tmp_path):
    bad = broken_copy(tmp_path)
    assert not loaded.open_record(bad.with_suffix(".hea"))
    assert len(errors) == 1 and "truncated" in errors[0][1] and "119.dat" in errors[0][1]
    assert loaded.record.name == "119" and loaded.result is not None  # previous record still shown
    qtbot.keyClick(loaded, Qt.Key.Key_N)
    assert loaded.selected_beat is not None
    with qtbot.waitSignal(loaded.scoringDone, timeout=60_000):
        assert loaded.open_record(SAMPLE.with_suffix(".dat"))


def test_recent_files_and_layout_persist(qtbot, window, scorer, tmp_path):
    from ecgviewer.ui.main_window import MainWindow
    from ecgviewer.ui.settings import MAX_RECENT, Settings

    window.open_record(SAMPLE)
    window.resize(1111, 777)
    window.close()
    s = Settings()
    assert s.path.is_relative_to(tmp_path)
    assert s.recent() == [str(SAMPLE)]
    for i in range(MAX_RECENT + 3):
        s.add_recent(f"/x/r{i}")
    assert len(s.recent()) == MAX_RECENT and s.recent()[0] == f"/x/r{MAX_RECENT + 2}"
    w2 = MainWindow(scorer)
    qtbot.addWidget(w2)
    assert not s.get("window/geometry").isEmpty() and not s.get("window/state").isEmpty()
    assert w2.restoreState(s.get("window/state"))  # offscreen screens are 800x600: size is clamped
    assert len(w2.recent_menu.actions()) == MAX_RECENT
    assert w2.recent_menu.actions()[0].shortcut().toString() == "Ctrl+1"


def test_settings_typed_reads_fall_back_to_defaults(tmp_path):
    from ecgviewer.ui.settings import Settings

    s = Settings(tmp_path / "x.ini")
    s._q.setValue("view/gain", "not a number")
    s._q.setValue("view/heatmap", "false")
    assert s.get("view/gain") == 1.0 and s.get("view/heatmap") is False and s.get("recent") == []
    with pytest.raises(KeyError):
        s.set("nope", 1)


def test_drop_opens_record(qtbot, window):
    from PySide6.QtCore import QMimeData, QUrl

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(SAMPLE.with_suffix(".hea")))])
    assert window._dropped_record(mime) == str(SAMPLE.with_suffix(".hea"))
    mime.setUrls([QUrl.fromLocalFile("/tmp/a.txt")])
    assert window._dropped_record(mime) is None


def test_the_threshold_box_shows_the_digits_the_score_track_prints(loaded):
    """The box, the score track's label, the metrics and the report all read four significant digits
    (2.635, not 2.64 beside 2.635), so a beat scored between the two is never shown under its flag."""
    shown = loaded.threshold_box.textFromValue(loaded.threshold_box.value())
    assert shown == f"{loaded.threshold:.4g}"
    assert loaded.signal_view.threshold_line.label.toPlainText() == f"threshold {shown}"
