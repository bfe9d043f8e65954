"""Review store: sidecar round trip, reopen, mismatch detection, read-only fallback, atomic saves, undo,
relabelled / added / deleted beats."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from ecgviewer.core import review
from ecgviewer.core.review import (
    BeatReview,
    LoadStatus,
    ReviewFile,
    ReviewState,
    ReviewStore,
    read_review_file,
    write_review_file,
)

from testdata import MITDB, needs_mitdb

NOTES = ["plain", "comma, and \"quotes\"", "two\nlines\r\nand a tab\t", "Café, naïve, 心电图, 🫀",
         "back\\slash \\x41 \\n literal", "long " + "é" * 400 + " end"]


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(review.DATA_DIR_ENV, str(tmp_path / "userdata"))


@pytest.fixture
def rec119(tmp_path):
    """A copy of record 119 (never the shared original) and its beat samples."""
    from ecgviewer.core.beats import reference_peaks
    from ecgviewer.core.record import load_record

    d = tmp_path / "rec"
    d.mkdir()
    for ext in ("hea", "dat", "atr"):
        shutil.copy(MITDB / f"119.{ext}", d / f"119.{ext}")
    rec = load_record(d / "119")
    samples, _ = reference_peaks(rec)
    return rec, samples


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@needs_mitdb
def test_marks_survive_reopen_and_sidecar_reads_with_rdann(rec119):
    import wfdb

    rec, beats = rec119
    atr_before = _sha(rec.path.with_suffix(".atr"))
    store = ReviewStore.for_record(rec, beats)
    assert store.load_result.status == LoadStatus.NEW and not store.in_data_dir
    store.set(int(beats[5]), ReviewState.CONFIRMED, "bigeminy, V beat")
    store.set(int(beats[6]), ReviewState.DISMISSED)
    store.set(int(beats[7]), ReviewState.UNREVIEWED, "ask Dr. Ø")
    store.set(int(beats[8]), ReviewState.CONFIRMED)
    store.set(int(beats[8]), ReviewState.UNREVIEWED)  # back to nothing: not kept
    assert store.save_path == rec.path.with_name("119.rev")

    again = ReviewStore.for_record(rec, beats)
    assert again.load_result.status == LoadStatus.RESTORED
    assert again.reviews() == {int(beats[5]): BeatReview(ReviewState.CONFIRMED, "bigeminy, V beat"),
                               int(beats[6]): BeatReview(ReviewState.DISMISSED, ""),
                               int(beats[7]): BeatReview(ReviewState.UNREVIEWED, "ask Dr. Ø")}
    assert list(again.states_for(beats[4:9])) == [0, 1, 2, 0, 0]

    ann = wfdb.rdann(str(rec.path), "rev")  # plain WFDB reads it
    assert list(ann.sample) == [0, beats[5], beats[6], beats[7]]
    assert list(ann.subtype) == [0, 1, 2, 0]
    assert ann.symbol == ["=", '"', '"', '"']
    assert ann.aux_note[0].startswith("ecgviewer-review ") and '"n_samples":650000' in ann.aux_note[0]
    assert ann.aux_note[1] == "bigeminy, V beat" and ann.fs == 360
    assert _sha(rec.path.with_suffix(".atr")) == atr_before  # the reference is never written


@pytest.mark.parametrize("note", NOTES)
def test_notes_round_trip(tmp_path, note):
    path = tmp_path / "r.rev"
    write_review_file(path, ReviewFile("r", 1000, 250.0, {10: BeatReview(ReviewState.CONFIRMED, note)}))
    back = read_review_file(path)
    assert back.reviews == {10: BeatReview(ReviewState.CONFIRMED, note)}
    assert (back.record, back.n_samples, back.fs) == ("r", 1000, 250.0)


def test_mismatched_length_is_reported_not_applied_and_kept(tmp_path):
    base = tmp_path / "a"
    ReviewStore(base, 5000, 360).set(100, ReviewState.CONFIRMED, "keep me")
    other = ReviewStore(base, 5001, 360)
    lr = other.load_result
    assert lr.status == LoadStatus.MISMATCH and "record length" in lr.message
    assert other.reviews() == {} and lr.pending == {100: BeatReview(ReviewState.CONFIRMED, "keep me")}
    other.set(200, ReviewState.DISMISSED)  # first save moves the foreign file aside, never loses it
    assert lr.backup is not None and read_review_file(lr.backup).reviews[100].note == "keep me"
    assert read_review_file(base.with_name("a.rev")).reviews == {200: BeatReview(ReviewState.DISMISSED)}


def test_mismatched_rate_and_beats(tmp_path):
    base = tmp_path / "b"
    ReviewStore(base, 5000, 360, [100, 200]).set(100, ReviewState.CONFIRMED)
    assert ReviewStore(base, 5000, 250, [100, 200]).load_result.status == LoadStatus.MISMATCH
    moved = ReviewStore(base, 5000, 360, [101, 200])
    assert moved.load_result.status == LoadStatus.MISMATCH
    assert "not among the record's beats" in moved.load_result.problems[0]
    assert moved.apply_pending() == 0 and moved.reviews() == {}
    same = ReviewStore(base, 5000, 360, [100, 200])
    assert same.load_result.status == LoadStatus.RESTORED


def test_unreadable_file(tmp_path):
    (tmp_path / "c.rev").write_bytes(b"\x00garbage" * 7)
    store = ReviewStore(tmp_path / "c", 5000, 360)
    assert store.load_result.status == LoadStatus.UNREADABLE and store.reviews() == {}


def test_rejects_samples_that_are_not_beats(tmp_path):
    store = ReviewStore(tmp_path / "d", 5000, 360, [100])
    with pytest.raises(ValueError):
        store.set(101, ReviewState.CONFIRMED)
    with pytest.raises(ValueError):
        ReviewStore(tmp_path / "e", 5000, 360).set(0, ReviewState.CONFIRMED)


def test_dir_writable_really_tries(tmp_path):
    assert review.dir_writable(tmp_path)
    assert not review.dir_writable(tmp_path / "missing")
    assert not [p for p in tmp_path.iterdir()]  # the probe file is gone


@needs_mitdb
def test_read_only_folder_falls_back_to_data_dir(rec119, tmp_path, monkeypatch):
    rec, beats = rec119
    folder = rec.path.parent
    folder.chmod(0o555)
    # Tests run as root, where chmod does not stop writes; the store detects writability by
    # really creating a file, so the read-only share is simulated by patching that probe.
    monkeypatch.setattr(review, "dir_writable", lambda d: Path(d) != folder and os.access(d, os.W_OK))
    try:
        store = ReviewStore.for_record(rec, beats)
        assert store.in_data_dir
        assert store.save_path.is_relative_to(tmp_path / "userdata")
        store.set(int(beats[3]), ReviewState.CONFIRMED, "from a read-only share")
        assert not (folder / "119.rev").exists()
        assert ReviewStore.for_record(rec, beats).get(int(beats[3])).note == "from a read-only share"
        # Another record named 119 elsewhere gets its own folder.
        assert review.fallback_path(tmp_path / "elsewhere" / "119") != store.save_path
    finally:
        folder.chmod(0o755)


_SAVER = textwrap.dedent("""
    import sys
    from ecgviewer.core.review import ReviewStore, ReviewState
    base, n = sys.argv[1], int(sys.argv[2])
    store = ReviewStore(base, 10_000_000, 360)
    i = 0
    while True:
        store.set_many({1000 + 500 * k: (ReviewState.CONFIRMED if (i + k) % 2 else ReviewState.DISMISSED,
                                         f"iteration {i}, beat {k}: " + "x" * (k % 50)) for k in range(n)})
        if i == 0:
            print("saved", flush=True)
        i += 1
""")


def _expected(i: int, n: int) -> dict[int, BeatReview]:
    return {1000 + 500 * k: BeatReview(ReviewState.CONFIRMED if (i + k) % 2 else ReviewState.DISMISSED,
                                       f"iteration {i}, beat {k}: " + "x" * (k % 50)) for k in range(n)}


@pytest.mark.slow
def test_bundled_sample_reviews_go_to_the_data_dir(tmp_path):
    """The installed app's sample records live in its (often writable) install folder: never write there."""
    from ecgviewer.core.record import load_record
    from ecgviewer.core.resources import is_bundled, sample_record_path

    sample = sample_record_path()
    before = sorted(p.name for p in sample.parent.iterdir())
    rec = load_record(sample)
    store = ReviewStore(rec.path, rec.n_samples, rec.fs, np.asarray(rec.annotations.sample[:50]), record_name="119")
    assert is_bundled(rec.path) and store.in_data_dir
    assert store.save_path.is_relative_to(tmp_path / "userdata")
    store.set(int(rec.annotations.sample[10]), ReviewState.CONFIRMED, "sample")
    assert store.save_path.is_file()
    assert sorted(p.name for p in sample.parent.iterdir()) == before  # nothing written beside the sample
    assert not is_bundled(tmp_path / "119")


def test_save_killed_midway_leaves_old_or_new_state(tmp_path):
    import wfdb

    base, n = tmp_path / "k", 300
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    rng = random.Random(1)
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(base), str(n)], stdout=subprocess.PIPE, env=env)
        assert proc.stdout.readline().strip() == b"saved"
        time.sleep(rng.uniform(0.02, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        ann = wfdb.rdann(str(base), "rev")  # readable by WFDB
        assert len(ann.sample) >= n + 1
        content = read_review_file(base.with_name("k.rev"))
        i = int(content.reviews[1000].note.split(",")[0].split()[1])
        assert content.reviews == _expected(i, n)  # one whole saved state, not a mix
    # Temp files a kill left behind are cleaned up by a later save once they are stale.
    for p in tmp_path.glob(f"{review._TMP_PREFIX}*"):
        os.utime(p, (time.time() - 3600, time.time() - 3600))
    ReviewStore(base, 10_000_000, 360).save()
    assert not list(tmp_path.glob(f"{review._TMP_PREFIX}*"))


def test_listeners_hear_changes(tmp_path):
    store = ReviewStore(tmp_path / "l", 5000, 360)
    heard = []
    store.add_listener(heard.append)
    store.set_many({300: (ReviewState.CONFIRMED, None), 100: (ReviewState.DISMISSED, "n")})
    assert heard == [[100, 300]]


def test_undo_redo_history(tmp_path):
    from ecgviewer.core.session import Edit, History

    base = tmp_path / "u"
    store = ReviewStore(base, 5000, 360, [100, 200, 300])
    h = History(store)
    empty = BeatReview()
    h.push(Edit("Confirm beat", {100: empty}, {100: BeatReview(ReviewState.CONFIRMED, "first")}))
    h.push(Edit("Dismiss beat", {100: store.get(100)}, {100: BeatReview(ReviewState.DISMISSED, "first")}))
    h.push(Edit("Confirm 2 beats", {200: empty, 300: empty},
                {200: BeatReview(ReviewState.CONFIRMED), 300: BeatReview(ReviewState.CONFIRMED)}))
    for text in ("a", "ab", "abc"):  # typing merges into one step
        h.push(Edit("Edit note", {200: store.get(200)}, {200: BeatReview(ReviewState.CONFIRMED, text)}, ("note", 200)))
    assert len(h) == 4 and h.undo_text == "Edit note"
    assert store.get(100) == BeatReview(ReviewState.DISMISSED, "first")
    assert store.get(200) == BeatReview(ReviewState.CONFIRMED, "abc")

    h.undo()
    assert store.get(200) == BeatReview(ReviewState.CONFIRMED, "")
    h.undo()
    assert store.get(200).state == store.get(300).state == ReviewState.UNREVIEWED
    h.undo()
    assert store.get(100) == BeatReview(ReviewState.CONFIRMED, "first")
    # What undo left is on disk.
    assert ReviewStore(base, 5000, 360).reviews() == {100: BeatReview(ReviewState.CONFIRMED, "first")}
    h.redo()
    h.redo()
    assert store.get(300).state == ReviewState.CONFIRMED and store.get(100).state == ReviewState.DISMISSED
    h.undo()
    h.undo()
    h.undo()
    assert not h.can_undo and h.can_redo
    assert store.reviews() == {} and ReviewStore(base, 5000, 360).reviews() == {}
    assert np.all(store.states_for(np.array([100, 200, 300])) == 0)


def test_relabel_add_delete_round_trip_and_rdann(tmp_path):
    import wfdb

    from ecgviewer.core.review import BeatKind

    base = tmp_path / "e"
    store = ReviewStore(base, 5000, 360, [100, 200, 300])
    store.set_many({100: BeatReview(ReviewState.CONFIRMED, "x", "V"), 200: BeatReview(kind=BeatKind.DELETED),
                    250: BeatReview(label="F", kind=BeatKind.ADDED)})
    with pytest.raises(ValueError):
        store.set_many({260: BeatReview(ReviewState.CONFIRMED)})  # not a beat and not added
    with pytest.raises(ValueError):
        store.set_many({300: BeatReview(kind=BeatKind.ADDED)})  # already a beat
    with pytest.raises(ValueError):
        BeatReview(label="X")
    again = ReviewStore(base, 5000, 360, [100, 200, 300])
    assert again.load_result.status == LoadStatus.RESTORED and again.reviews() == store.reviews()
    assert again.edit_counts() == {"Relabelled": 2, "Added": 1, "Deleted": 1}
    ann = wfdb.rdann(str(base), "rev")
    assert list(ann.sample) == [0, 100, 200, 250] and ann.symbol[1:] == ["V", '"', "F"]
    assert list(ann.num[1:]) == [0, 2, 1] and list(ann.subtype[1:]) == [1, 0, 0]
    store.set_many({250: BeatReview()})  # an added beat removed again (undo of the add)
    assert 250 not in ReviewStore(base, 5000, 360, [100, 200, 300]).reviews()


def test_a_save_never_overwrites_another_windows_newer_save(tmp_path):
    """Two stores on one record: the second save is refused, not written over the first's."""
    from ecgviewer.core.review import ReviewConflict

    base = tmp_path / "rec"
    a = ReviewStore(base, 5000, 360, [100, 200, 300])
    b = ReviewStore(base, 5000, 360, [100, 200, 300])
    a.set(100, ReviewState.CONFIRMED)
    with pytest.raises(ReviewConflict, match="changed by another window"):
        b.set(200, ReviewState.DISMISSED)
    assert b.get(200).state == ReviewState.UNREVIEWED  # refused: not made in memory either
    assert set(read_review_file(review.sidecar_path(base)).reviews) == {100}
    c = ReviewStore(base, 5000, 360, [100, 200, 300])  # reopened: sees a's decision, can add its own
    c.set(200, ReviewState.DISMISSED)
    assert set(read_review_file(review.sidecar_path(base)).reviews) == {100, 200}
    with pytest.raises(ReviewConflict):  # a is now stale too
        a.set(300, ReviewState.CONFIRMED)


def test_a_failed_save_leaves_the_review_as_it_was(tmp_path, monkeypatch):
    base = tmp_path / "rec"
    store = ReviewStore(base, 5000, 360, [100, 200])
    store.set(100, ReviewState.CONFIRMED)

    def full(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(review, "write_review_file", full)
    with pytest.raises(OSError):
        store.set(200, ReviewState.DISMISSED)
    assert store.get(200).state == ReviewState.UNREVIEWED and store.get(100).state == ReviewState.CONFIRMED
    monkeypatch.undo()
    store.set(100, ReviewState.DISMISSED)  # the next save writes only what was made
    assert set(read_review_file(review.sidecar_path(base)).reviews) == {100}


def test_an_added_beat_that_is_now_a_record_beat_is_a_mismatch(tmp_path):
    from ecgviewer.core.review import BeatKind

    base = tmp_path / "rec"
    store = ReviewStore(base, 5000, 360, [100, 200])
    store.set_many({300: BeatReview(ReviewState.CONFIRMED, "missed beat", "", BeatKind.ADDED)})
    again = ReviewStore(base, 5000, 360, [100, 200, 300])  # the detector now finds it
    assert again.load_result.status == LoadStatus.MISMATCH
    assert "added beat(s) are now among the record's beats" in again.load_result.message
    assert again.apply_pending() == 0  # applying anyway does not make it a second beat at 300


@pytest.mark.parametrize("meta", ['{"record": "r", "n_samples": Infinity, "fs": 360, "v": 1}',
                                  '{"record": "r", "n_samples": 5000, "fs": NaN, "v": 1}',
                                  '{"record": "r", "n_samples": 5000, "fs": 360, "v": -5}',
                                  '{"record": "r", "n_samples": 5000, "fs": 360, "v": 1e999}'])
def test_a_review_header_with_absurd_numbers_is_unreadable_not_a_crash(tmp_path, meta):
    import wfdb

    wfdb.wrann("rec", review.REVIEW_ANNOTATOR, np.array([0]), np.array([review.HEADER_SYMBOL]),
               aux_note=[f"{review.MAGIC} {meta}"], write_dir=str(tmp_path))
    store = ReviewStore(tmp_path / "rec", 5000, 360)
    assert store.load_result.status == LoadStatus.UNREADABLE and "bad review header" in store.load_result.message


def test_reopening_takes_the_newer_of_the_two_places(rec119, tmp_path, monkeypatch):
    """Read-only, then writable, then read-only again: the review beside the record, written last,
    is the one restored (the data folder's older copy was read first before)."""
    rec, beats = rec119
    folder = rec.path.parent
    read_only = {"on": True}
    monkeypatch.setattr(review, "dir_writable", lambda d: not (read_only["on"] and Path(d) == folder))
    ReviewStore.for_record(rec, beats).set(int(beats[1]), ReviewState.CONFIRMED)  # to the data folder
    read_only["on"] = False
    time.sleep(0.01)
    beside = ReviewStore.for_record(rec, beats)
    assert not beside.in_data_dir and beside.load_result.status == LoadStatus.RESTORED
    beside.set(int(beats[2]), ReviewState.DISMISSED)  # beside the record: both beats
    read_only["on"] = True
    again = ReviewStore.for_record(rec, beats)
    assert again.in_data_dir
    assert again.get(int(beats[1])).state == ReviewState.CONFIRMED
    assert again.get(int(beats[2])).state == ReviewState.DISMISSED
