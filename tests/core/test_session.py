"""The review session (core, Qt-free): random sequences of sort, filter, threshold, selection,
review, undo, redo and reopen never put a decision on a beat other than the one selected, and the
saved file always holds exactly the decisions made (hypothesis)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ecgviewer.core import review
from ecgviewer.core.review import BeatKind, BeatReview, ReviewState, ReviewStore, read_review_file
from ecgviewer.core.session import COLUMNS, SHOW_CHOICES, BeatFilter, BeatList, ReviewSession

FS = 360.0
N_SAMPLES = 200_000
RNG = np.random.default_rng(7)
SAMPLES = np.cumsum(RNG.integers(250, 400, 60)).astype(np.int64)
SCORES = RNG.random(60)
SYMBOLS = np.array(list(RNG.choice(list("NNNNNVAF"), 60)))


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(review.DATA_DIR_ENV, str(tmp_path / "userdata"))


def open_session(folder: Path) -> ReviewSession:
    store = ReviewStore(folder / "rec", N_SAMPLES, FS, SAMPLES)
    return ReviewSession(store, SAMPLES, SCORES, FS, threshold=0.5, symbol=SYMBOLS,
                         templates=np.arange(60) % 3)


ops = st.one_of(
    st.tuples(st.just("sort"), st.integers(0, len(COLUMNS) - 1), st.booleans()),
    st.tuples(st.just("filter"), st.sampled_from(SHOW_CHOICES), st.sampled_from(["", "N", "V", "S"]),
              st.sampled_from([None, 0, 1])),
    st.tuples(st.just("threshold"), st.floats(0.0, 1.1)),
    st.tuples(st.just("select_row"), st.integers(0, 80)),
    st.tuples(st.just("select_none")),
    st.tuples(st.just("state"), st.sampled_from(list(ReviewState))),
    st.tuples(st.just("note"), st.sampled_from(["", "PVC", "ask Dr. Ø", "bigeminy"])),
    st.tuples(st.just("relabel"), st.sampled_from(["", "N", "V", "F", "artefact"])),
    st.tuples(st.just("add"), st.integers(1, int(SAMPLES[-1]) + 500)),
    st.tuples(st.just("delete")),
    st.tuples(st.just("undo")),
    st.tuples(st.just("redo")),
    st.tuples(st.just("reopen")),
)


def expected_after(op, r: BeatReview) -> BeatReview:
    """What a review op should make of the selected beat's review (the test's own model)."""
    if op[0] == "state":
        return BeatReview(op[1], r.note, r.label, r.kind)
    if op[0] == "note":
        return BeatReview(r.state, op[1], r.label, r.kind)
    if op[0] == "relabel":
        return BeatReview(r.state, r.note, op[1], r.kind)
    if op[0] == "delete":
        return BeatReview() if r.kind == BeatKind.ADDED else BeatReview(r.state, r.note, r.label, BeatKind.DELETED)
    raise AssertionError(op)


def check(session: ReviewSession, beats: BeatList, model: dict[int, BeatReview], selected: int | None) -> None:
    assert session.selected == selected
    row = beats.row_of(selected)
    if row is not None:  # the highlighted row is the selected beat
        assert beats.beat_at(row) == selected
    on_disk = read_review_file(session.store.save_path).reviews if session.store.save_path.exists() else {}
    assert on_disk == model
    assert session.store.reviews() == model
    # the session's arrays follow the store
    for s, r in model.items():
        i = session.index_of(s)
        assert i is not None and session.state[i] == r.state and session.kind[i] == r.kind
    flagged = session.flagged_mask()
    assert np.array_equal(flagged[: session.n_scored], (SCORES >= session.threshold)
                          & (session.kind[: session.n_scored] != BeatKind.DELETED))
    if beats.filter.show == "flagged or reviewed" and not beats.filter.classes and beats.filter.template is None:
        assert set(beats.samples().tolist()) == {int(session.sample[i]) for i in np.nonzero(
            flagged | session.reviewed_mask())[0]}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, min_size=1, max_size=30))
@example([("add", 1), ("delete",), ("undo",), ("add", 1), ("redo",)])  # found by CI's run: redo of a delete
# found locally (session 8): a redo with nothing to redo ended the note's undo step in the model, not the session
@example([("select_row", 0), ("note", "PVC"), ("redo",), ("note", ""), ("undo",)])
def test_random_review_sequences_land_on_the_selected_beat(seq):
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        session = open_session(folder)
        beats = BeatList(session)
        model: dict[int, BeatReview] = {}
        done: list[dict[int, BeatReview]] = []  # snapshots before each edit, for undo
        undone: list[dict[int, BeatReview]] = []
        selected = None
        last_note = None  # beat of the last note edit (the next one merges with it)
        for op in seq:
            kind = op[0]
            if kind == "sort":
                beats.sort(op[1], op[2])
            elif kind == "filter":
                beats.set_filter(BeatFilter(op[1], frozenset({op[2]} - {""}), op[3]))
            elif kind == "threshold":
                session.set_threshold(op[1])
                beats.update()
            elif kind == "select_row":
                if len(beats):
                    selected = beats.beat_at(op[1] % len(beats))
                    session.select(selected)
            elif kind == "select_none":
                selected = None
                session.select(None)
            elif kind in ("state", "note", "relabel", "delete"):
                changed = False
                if selected is not None:
                    before = model.get(selected, BeatReview())
                    after = expected_after(op, before)
                    changed = {"delete": session.delete_beat, "state": session.set_state,
                               "note": session.set_note, "relabel": session.relabel}[kind](*op[1:])
                    if kind == "delete" and before.kind == BeatKind.DELETED:
                        after = before
                    assert changed == (after != before)
                    if changed:
                        # a note typed after a note on the same beat merges into one undo step
                        merge = (kind == "note" and done and last_note == selected)
                        if not merge:
                            done.append(dict(model))
                        undone.clear()
                        if after.is_empty:
                            model.pop(selected, None)
                        else:
                            model[selected] = after
                        if kind == "delete" and before.kind == BeatKind.ADDED:
                            selected = None
                last_note = selected if kind == "note" and changed else None
                beats.reviews_changed()
            elif kind == "add":
                live = session.sample[session.kind != BeatKind.DELETED]  # a deleted beat does not block
                near = np.min(np.abs(live - op[1])) if len(live) else np.inf
                deleted_here = op[1] in set(session.sample[session.kind == BeatKind.DELETED].tolist())
                got = session.add_beat(op[1], snap=False)
                if near < 0.15 * FS:
                    assert got is None
                    selected = session.selected
                else:
                    assert got == op[1]
                    done.append(dict(model))
                    undone.clear()
                    if deleted_here:  # adding at a deleted beat brings it back
                        r = model[got]
                        restored = BeatReview(r.state, r.note, r.label)
                        model.pop(got) if restored.is_empty else model.__setitem__(got, restored)
                    else:
                        model[got] = BeatReview(kind=BeatKind.ADDED)
                    selected = got
                last_note = None
                beats.update()
            elif kind == "undo":
                assert session.undo() == bool(done)
                if done:
                    undone.append(dict(model))
                    model = done.pop()
                    if selected is not None and session.index_of(selected) is None:
                        selected = None
                last_note = None
                beats.update()
            elif kind == "redo":
                assert session.redo() == bool(undone)
                if undone:
                    done.append(dict(model))
                    model = undone.pop()
                    # a redone delete of an added beat removes it, and with it the selection
                    if selected is not None and session.index_of(selected) is None:
                        selected = None
                last_note = None
                beats.update()
            elif kind == "reopen":
                session = open_session(folder)
                f, col, desc = beats.filter, beats.sort_column, beats.descending
                beats = BeatList(session)
                beats.set_filter(f)
                beats.sort(col, desc)
                session.select(selected)
                done.clear()
                undone.clear()
                last_note = None
            check(session, beats, model, selected)


def test_selection_survives_sort_filter_and_threshold(tmp_path):
    session = open_session(tmp_path)
    beats = BeatList(session)
    top = beats.beat_at(0)  # highest score
    session.select(top)
    beats.sort(0, False)  # by time
    assert beats.beat_at(beats.row_of(top)) == top and session.selected == top
    session.set_threshold(2.0)  # nothing flagged: the row goes, the selection stays
    beats.update()
    assert beats.row_of(top) is None and session.selected == top
    assert session.set_state(ReviewState.DISMISSED)
    beats.update()  # reviewed beats stay listed when the threshold rises
    assert beats.beat_at(beats.row_of(top)) == top
    assert read_review_file(session.store.save_path).reviews == {top: BeatReview(ReviewState.DISMISSED)}


def test_filters_by_class_template_and_review(tmp_path):
    session = open_session(tmp_path)
    beats = BeatList(session)
    beats.set_filter(BeatFilter("all beats", frozenset({"V"})))
    assert set(session.symbol[beats.rows]) == {"V"}
    beats.set_filter(BeatFilter("all beats", template=2))
    assert len(beats) == 20 and set(session.template[beats.rows]) == {2}
    s = int(SAMPLES[0])
    session.relabel("V", s)
    beats.set_filter(BeatFilter("reviewed", frozenset({"V"})))
    assert beats.samples().tolist() == [s]


def test_add_snaps_to_the_r_peak_and_delete_undo(tmp_path):
    store = ReviewStore(tmp_path / "rec", N_SAMPLES, FS, SAMPLES)
    signal = np.zeros(N_SAMPLES)
    peak = int(SAMPLES[10] + 150)
    signal[peak] = -1.5  # an inverted QRS
    session = ReviewSession(store, SAMPLES, SCORES, FS, threshold=0.5, signal=signal)
    got = session.add_beat(peak + 12)
    assert got == peak and session.selected == peak and np.isnan(session.score[session.index_of(peak)])
    assert not session.flagged_mask()[session.index_of(peak)]
    import wfdb

    ann = wfdb.rdann(str(tmp_path / "rec"), "rev")
    assert list(ann.sample) == [0, peak] and list(ann.num) == [0, int(BeatKind.ADDED)]
    assert session.relabel("F") and wfdb.rdann(str(tmp_path / "rec"), "rev").symbol[1] == "F"
    assert session.delete_beat() and session.index_of(peak) is None and session.selected is None
    session.undo()
    assert session.index_of(peak) is not None
    s0 = int(SAMPLES[3])
    session.select(s0)
    assert session.delete_beat() and session.kind[session.index_of(s0)] == BeatKind.DELETED
    assert not session.flagged_mask()[3]
    reopened = ReviewSession(ReviewStore(tmp_path / "rec", N_SAMPLES, FS, SAMPLES), SAMPLES, SCORES, FS)
    assert reopened.kind[reopened.index_of(s0)] == BeatKind.DELETED and reopened.index_of(peak) is not None
    assert reopened.store.get(peak) == BeatReview(label="F", kind=BeatKind.ADDED)


def test_observers_hear_each_change(tmp_path):
    session = open_session(tmp_path)
    heard = []
    for e in ("threshold", "selection", "reviews", "beats", "history"):
        session.subscribe(e, lambda *a, e=e: heard.append((e,) + a))
    session.set_threshold(0.9)
    session.select(int(SAMPLES[1]))
    session.set_state(ReviewState.CONFIRMED)
    assert heard == [("threshold", 0.9), ("selection", int(SAMPLES[1])), ("reviews", [int(SAMPLES[1])]),
                     ("history",)]
    with pytest.raises(ValueError):
        session.subscribe("nope", print)


def test_a_record_without_beats(tmp_path):
    store = ReviewStore(tmp_path / "empty", N_SAMPLES, FS, np.zeros(0, np.int64))
    session = ReviewSession(store, np.zeros(0, np.int64), np.zeros(0, np.float32), FS)
    beats = BeatList(session)
    assert len(beats) == 0 and len(session.flagged()) == 0 and session.nearest_beat(100) is None
    session.select(100)
    assert session.selected is None and not session.set_state(ReviewState.CONFIRMED)
    assert session.add_beat(5000, snap=False) == 5000  # the reviewer can still mark a missed beat
    beats.update()
    assert beats.samples().tolist() == [5000]


def test_an_added_beat_keeps_its_distance_from_every_live_beat(tmp_path):
    """Beats 1000 and 1050 apart by 0.14 s; 1000 deleted: adding at 1010 is refused, since 1050 is
    still a beat within the minimum gap (only the nearest, the deleted one, was checked)."""
    from ecgviewer.core.session.session import MIN_BEAT_GAP_S

    samples = np.array([1000, 1050, 5000])
    store = ReviewStore(tmp_path / "gap", 20_000, 360.0, samples)
    session = ReviewSession(store, samples, np.zeros(3, np.float32), 360.0, threshold=0.5)
    assert 50 < MIN_BEAT_GAP_S * 360.0
    assert session.delete_beat(1000)
    assert session.add_beat(1010, snap=False) is None and session.selected == 1050
    assert session.add_beat(1000, snap=False) == 1000  # the deleted beat itself can come back
