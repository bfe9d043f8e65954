"""The review session in the real window: the highlighted row, the beat detail and the review target
are one beat through sort, filter and threshold changes (issue 16's wrong-beat bug on record 208),
and a hypothesis run drives the Qt table model with random sequences (pytest-qt, offscreen)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt

from ecgviewer.core import review
from ecgviewer.core.review import BeatReview, ReviewState, read_review_file
from ecgviewer.core.session import COLUMNS, SCORE, TIME

from ui_support import ROOT, SAMPLE

REC_208 = ROOT / "resources" / "samples" / "208"


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(review.DATA_DIR_ENV, str(tmp_path / "userdata"))


def copy_record(src, folder):
    folder.mkdir(exist_ok=True)
    for ext in ("hea", "dat", "atr"):
        shutil.copy(src.with_suffix(f".{ext}"), folder / f"{src.name}.{ext}")
    return folder / src.name


def highlighted(window) -> int | None:
    rows = window.table.selectionModel().selectedRows()
    return window.table.beat_at(rows[0].row()) if rows else None


def assert_one_beat(window, index: int) -> None:
    """Table highlight, detail, review panel and the session all on beat ``index``."""
    s = window.session
    assert window.selected_beat == index == s.selected_index
    assert highlighted(window) == index
    assert window.detail.beat == index
    from ecgviewer.ui.paper import format_time

    assert format_time(float(s.time[index]), 0.01) in window.review.panel.title.text()


def test_208_selection_survives_sort_by_time_and_d_acts_on_it(qtbot, window, scorer, tmp_path):
    from ecgviewer.core.record import load_record

    rec = load_record(copy_record(REC_208, tmp_path / "rec"))
    beats = scorer.beats(rec)
    result = scorer.score(beats)
    window.set_record(rec, score=False)
    window.set_scores(beats, result)
    table = window.table
    assert table.flags.sort_column == SCORE
    # the flagged row at 0:23:04.56 (or, with another model, the flagged beat nearest it)
    flagged = window.flagged()
    target = int(flagged[np.argmin(np.abs(beats.time[flagged] - (23 * 60 + 4.56)))])
    row = table.flags.row_of(target)
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton,
                     pos=table.visualRect(table.flags.index(row, 0)).center())
    assert_one_beat(window, target)
    table.horizontalHeader().setSortIndicator(TIME, Qt.SortOrder.AscendingOrder)  # what a click on "Time" does
    assert table.flags.sort_column == TIME
    assert table.flags.row_of(target) != row  # the beat moved to another row (the case that went wrong)
    assert_one_beat(window, target)
    window.signal_view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_D)
    rev = read_review_file(window.session.store.save_path).reviews
    assert rev == {int(beats.sample[target]): BeatReview(ReviewState.DISMISSED)}
    qtbot.keyClick(window, Qt.Key.Key_N)  # N goes on from that row, in time order
    nxt = window.selected_beat
    assert table.flags.row_of(nxt) == table.flags.row_of(target) + 1 and beats.time[nxt] > beats.time[target]
    assert_one_beat(window, nxt)
    qtbot.keyClick(window, Qt.Key.Key_A)
    assert read_review_file(window.session.store.save_path).reviews == {
        int(beats.sample[target]): BeatReview(ReviewState.DISMISSED),
        int(beats.sample[nxt]): BeatReview(ReviewState.CONFIRMED)}
    # the threshold rises above both: reviewed beats stay listed, the selection stays
    window.set_threshold(float(np.nanmax(result.score)) + 1)
    assert table.flags.row_of(target) is not None and table.flags.row_of(nxt) is not None
    assert_one_beat(window, nxt)


def test_click_trace_selects_shift_click_adds_delete_and_undo(qtbot, window, scored_119, tmp_path):
    from ecgviewer.core.record import load_record

    rec = load_record(copy_record(SAMPLE, tmp_path / "rec"))
    window.set_record(rec, score=False)
    window.set_scores(*scored_119)
    beats = scored_119[0]
    s = window.session
    window.signal_view.traceClicked.emit(float(beats.time[10]) + 0.05, False)  # near beat 10
    assert window.selected_beat == 10 and window.detail.beat == 10
    window.activateWindow()
    window.signal_view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_V, Qt.KeyboardModifier.ShiftModifier)  # relabel V, unflagged or not
    assert s.store.get(int(beats.sample[10])).label == "V"
    # a beat the detector "missed": halfway between two beats, snapped to the local peak
    mid = (beats.time[20] + beats.time[21]) / 2
    window.signal_view.traceClicked.emit(float(mid), True)
    added = s.selected
    assert added is not None and s.index_of(added) >= s.n_scored
    assert abs(added - mid * rec.fs) <= 0.08 * rec.fs + 1
    qtbot.keyClick(window, Qt.Key.Key_Delete)
    assert s.index_of(added) is None
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert s.index_of(added) is not None
    qtbot.keyClick(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert s.index_of(added) is None
    import wfdb

    ann = wfdb.rdann(str(rec.path), "rev")
    assert list(ann.sample) == [0, int(beats.sample[10])] and ann.symbol[1] == "V"
    # filters: the relabelled beat is listed under "reviewed" and class V
    window.show_box.setCurrentText("reviewed")
    window.class_box.setCurrentText("V")
    assert [window.table.beat_at(r) for r in range(window.table.flags.rowCount())] == [10]
    assert highlighted(window) is None or highlighted(window) == window.selected_beat


ui_ops = st.one_of(
    st.tuples(st.just("sort"), st.integers(0, len(COLUMNS) - 1), st.booleans()),
    st.tuples(st.just("show"), st.sampled_from(["flagged or reviewed", "flagged", "reviewed", "all beats"])),
    st.tuples(st.just("threshold"), st.floats(50, 100)),
    st.tuples(st.just("click_row"), st.integers(0, 200)),
    st.tuples(st.just("key"), st.sampled_from([Qt.Key.Key_A, Qt.Key.Key_D, Qt.Key.Key_U, Qt.Key.Key_N, Qt.Key.Key_P])),
    st.tuples(st.just("undo")),
    st.tuples(st.just("redo")),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(st.lists(ui_ops, min_size=1, max_size=15))
def test_random_sequences_in_the_qt_table(qtbot, window, scored_119, tmp_path, seq):
    from ecgviewer.core.record import load_record

    folder = tmp_path / "h"
    shutil.rmtree(folder, ignore_errors=True)
    rec = load_record(copy_record(SAMPLE, folder))
    window.set_record(rec, score=False)
    window.set_scores(*scored_119)
    table, s = window.table, window.session
    pct = np.percentile(np.asarray(scored_119[1].score), [50, 100])
    model: dict[int, BeatReview] = {}
    done, undone = [], []
    for op in seq:
        if op[0] == "sort":
            table.horizontalHeader().setSortIndicator(op[1], Qt.SortOrder.DescendingOrder if op[2]
                                                      else Qt.SortOrder.AscendingOrder)
        elif op[0] == "show":
            window.show_box.setCurrentText(op[1])
        elif op[0] == "threshold":
            window.set_threshold(float(np.interp(op[1], [50, 100], pct)))
        elif op[0] == "click_row" and table.flags.rowCount():
            row = op[1] % table.flags.rowCount()
            table.scrollTo(table.flags.index(row, 0))
            qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton,
                             pos=table.visualRect(table.flags.index(row, 0)).center())
            assert window.selected_beat == table.beat_at(row)
        elif op[0] == "key":
            target = s.selected
            window.signal_view.setFocus()
            qtbot.keyClick(window, op[1])
            state = {Qt.Key.Key_A: ReviewState.CONFIRMED, Qt.Key.Key_D: ReviewState.DISMISSED,
                     Qt.Key.Key_U: ReviewState.UNREVIEWED}.get(op[1])
            if state is not None and target is not None:
                before = model.get(target, BeatReview())
                after = BeatReview(state, before.note)
                if after != before:
                    done.append(dict(model))
                    undone.clear()
                    model.pop(target, None) if after.is_empty else model.__setitem__(target, after)
        elif op[0] == "undo":
            qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
            if done:
                undone.append(dict(model))
                model = done.pop()
        elif op[0] == "redo":
            qtbot.keyClick(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
            if undone:
                done.append(dict(model))
                model = undone.pop()
        if s.selected_index is not None:
            assert highlighted(window) in (None, s.selected_index)
            if table.flags.row_of(s.selected_index) is not None:
                assert highlighted(window) == s.selected_index
            assert window.detail.beat == s.selected_index
        path = s.store.save_path
        assert (read_review_file(path).reviews if path.exists() else {}) == model


def test_template_filter_and_rescore_after_cancel(qtbot, window, scored_119, tmp_path):
    from ecgviewer.core.record import load_record

    rec = load_record(copy_record(SAMPLE, tmp_path / "rec"))
    window.set_record(rec, score=False)
    window.set_scores(*scored_119)
    n = len(scored_119[0])
    window.set_templates(np.arange(n) % 4)
    assert window.template_box.isEnabled() and window.template_box.count() == 5
    window.show_box.setCurrentText("all beats")
    window.template_box.setCurrentIndex(3)  # template 2
    listed = [window.table.beat_at(r) for r in range(window.table.flags.rowCount())]
    assert len(listed) == len(range(2, n, 4)) and all(i % 4 == 2 for i in listed)
    # Rescore: in the Beats menu, and a button after Cancel
    names = [a.text() for a in window.menuBar().actions()[3].menu().actions()]
    assert window.actions["rescore"].text() in names
    with qtbot.waitSignal(window.scoringDone, timeout=120_000) as done:
        window.rescore()
        window.cancel_scoring()
    if done.args == [False]:  # the cancel won the race
        assert window.rescore_button.isVisibleTo(window) and "scoring cancelled" in window.info.text()
    with qtbot.waitSignal(window.scoringDone, timeout=300_000) as again:
        window.rescore_button.click()
    assert again.args == [True] and window.session is not None and not window.rescore_button.isVisibleTo(window)
    assert "scoring cancelled" not in window.info.text()
