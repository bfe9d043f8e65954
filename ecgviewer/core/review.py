"""The clinician's review of the beats, saved as a WFDB annotation sidecar (``<record>.rev``).

Review marks must outlive the session and must be readable by ordinary WFDB tools
(``rdann 119 rev``), so they live in an annotation file of their own annotator next to the record,
never in the reference ``.atr``. When the record's folder cannot be written (a read-only share),
the same file goes to the user data directory, in a folder keyed by a hash of the record's absolute
path so two records named ``100`` do not collide. Every change is saved at once and atomically: a
crash leaves the previous or the new file, never a torn one. A review file that does not fit the
record (other length or rate, beats that the record does not have) is reported, not applied.
Besides confirm/dismiss and a note, a review can relabel a beat's class, add a beat the detector
missed or delete a false one.
See docs/review.md for the file format.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import os
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ecgviewer.core.resources import is_bundled

#: Annotator (file extension) of the review sidecar.
REVIEW_ANNOTATOR = "rev"
#: First word of the header annotation's aux note; identifies our files and their version.
MAGIC = "ecgviewer-review"
FORMAT_VERSION = 2
#: Environment variable that overrides the user data directory (tests, portable installs).
DATA_DIR_ENV = "ECGVIEWER_DATA_DIR"
#: WFDB symbols: the header is a MEASURE annotation at sample 0 (rdann drops NOTEs at sample 0,
#: which it takes for file definitions); each reviewed beat is a NOTE (a comment, not a beat, so
#: tools that count beats are not misled).
HEADER_SYMBOL = "="
BEAT_SYMBOL = '"'
#: A relabelled or added beat is written with its WFDB beat code, so ``rdann`` shows the corrected
#: class (artefact: '|', WFDB's isolated QRS-like artefact).
LABELS = ("N", "S", "V", "F", "Q", "artefact")
LABEL_SYMBOLS = {"N": "N", "S": "S", "V": "V", "F": "F", "Q": "Q", "artefact": "|"}
SYMBOL_LABELS = {v: k for k, v in LABEL_SYMBOLS.items()}
#: WFDB stores an aux note in at most 255 bytes; longer notes are split over several annotations.
AUX_MAX = 255
_TMP_PREFIX = "ecgviewer_tmp_"


class ReviewState(enum.IntEnum):
    """A beat's review state; the value is the annotation subtype written to the file."""

    UNREVIEWED = 0
    CONFIRMED = 1
    DISMISSED = 2

    @property
    def label(self) -> str:
        return self.name.capitalize()


class BeatKind(enum.IntEnum):
    """Where a beat comes from; the value is the annotation's ``num`` field in the file."""

    DETECTED = 0  # one of the record's scored beats
    ADDED = 1  # a beat the reviewer added (the detector missed it)
    DELETED = 2  # a scored beat the reviewer deleted (not a beat)


@dataclass(frozen=True)
class BeatReview:
    """What the clinician said about one beat: state, note, corrected class (one of LABELS or '')."""

    state: ReviewState = ReviewState.UNREVIEWED
    note: str = ""
    label: str = ""
    kind: BeatKind = BeatKind.DETECTED

    def __post_init__(self) -> None:
        if self.label and self.label not in LABEL_SYMBOLS:
            raise ValueError(f"unknown beat class {self.label!r} (one of {', '.join(LABELS)})")

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to save (unreviewed, no note, no relabel, not added or deleted)."""
        return (self.state == ReviewState.UNREVIEWED and not self.note and not self.label
                and self.kind == BeatKind.DETECTED)


EMPTY = BeatReview()


class LoadStatus(enum.Enum):
    """What opening a record's review file found."""

    NEW = "new"  # no review file yet
    RESTORED = "restored"  # a matching file was read
    MISMATCH = "mismatch"  # a file exists but belongs to another version of the record
    UNREADABLE = "unreadable"  # a file exists but is not a review file we can read


@dataclass
class LoadResult:
    """Outcome of opening the review file; ``message`` is one line fit to show the user."""

    status: LoadStatus
    path: Path | None = None
    message: str = ""
    problems: list[str] = field(default_factory=list)
    #: Reviews read from a mismatched file, kept aside so the UI can offer to apply them.
    pending: dict[int, BeatReview] = field(default_factory=dict)
    #: Where a mismatched or unreadable file was moved before the first save overwrote its place.
    backup: Path | None = None


class ReviewFileError(Exception):
    """A review file cannot be parsed."""


@dataclass(frozen=True)
class ReviewFile:
    """Contents of a review file: the record it was made for and the beats' reviews."""

    record: str
    n_samples: int
    fs: float
    reviews: dict[int, BeatReview]


# --- note encoding --------------------------------------------------------------------------

def encode_note(note: str) -> str:
    """Note -> printable ASCII (Python escapes): wfdb writes aux notes byte per character."""
    return note.encode("unicode_escape").decode("ascii")


def decode_note(text: str) -> str:
    return text.encode("latin-1").decode("unicode_escape")


def split_note(note: str, limit: int = AUX_MAX) -> list[str]:
    """Encoded chunks of at most ``limit`` bytes, never splitting one character's escape."""
    chunks: list[str] = []
    cur = ""
    for ch in note:
        enc = encode_note(ch)
        if len(cur) + len(enc) > limit:
            chunks.append(cur)
            cur = ""
        cur += enc
    chunks.append(cur)
    return chunks


# --- reading and writing the sidecar --------------------------------------------------------

def _header_note(record: str, n_samples: int, fs: float) -> str:
    meta = {"v": FORMAT_VERSION, "record": record, "n_samples": int(n_samples), "fs": float(fs)}
    text = f"{MAGIC} {json.dumps(meta, separators=(',', ':'), ensure_ascii=True)}"
    if len(text) > AUX_MAX:  # only a record name of ~180 characters gets here
        meta["record"] = record[:100]
        text = f"{MAGIC} {json.dumps(meta, separators=(',', ':'), ensure_ascii=True)}"
    return text


def write_review_file(path: Path, content: ReviewFile) -> None:
    """Write ``content`` to ``path`` (``<dir>/<name>.rev``) atomically.

    wfdb.wrann only writes ``<record_name>.<ext>`` into a folder, so it writes under a temporary
    record name in the same folder; the file is then fsynced and renamed over the old one
    (os.replace is atomic on one file system), and the folder is fsynced so the rename persists.
    The same scheme as ``core.atomic``, whose helpers cannot serve here: they hand the caller an open
    file, and wfdb.wrann opens its own.
    """
    import wfdb  # wfdb pulls pandas: import it only when needed

    samples: list[int] = [0]
    symbols: list[str] = [HEADER_SYMBOL]
    subtypes: list[int] = [0]
    nums: list[int] = [0]
    aux: list[str] = [_header_note(content.record, content.n_samples, content.fs)]
    for s in sorted(content.reviews):
        r = content.reviews[s]
        if r.is_empty:
            continue
        if s <= 0:
            raise ValueError(f"a beat cannot sit at sample {s}")
        for chunk in split_note(r.note):
            samples.append(int(s))
            symbols.append(LABEL_SYMBOLS[r.label] if r.label else BEAT_SYMBOL)
            subtypes.append(int(r.state))
            nums.append(int(r.kind))
            aux.append(chunk)
    folder = path.parent
    tmp_name = f"{_TMP_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    tmp = folder / f"{tmp_name}.{REVIEW_ANNOTATOR}"
    try:
        wfdb.wrann(tmp_name, REVIEW_ANNOTATOR, np.asarray(samples, dtype=np.int64), symbol=symbols,
                   subtype=np.asarray(subtypes, dtype=np.int64),
                   num=np.asarray(nums, dtype=np.int64), aux_note=aux,
                   fs=_wfdb_fs(content.fs), write_dir=str(folder))
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(folder)


def _wfdb_fs(fs: float) -> int | float:
    return int(fs) if float(fs).is_integer() else float(fs)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform (Windows); the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class ReviewConflict(OSError):
    """The review file changed on disk since this store last read or wrote it."""


def _stamp(path: Path) -> tuple[int, int] | None:
    """(modification time ns, size) of a file, None when there is none."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def read_review_file(path: Path) -> ReviewFile:
    """Parse a review sidecar; raises :class:`ReviewFileError` when it is not one of ours."""
    import wfdb

    if path.suffix != f".{REVIEW_ANNOTATOR}":
        raise ReviewFileError(f"{path.name}: not a .{REVIEW_ANNOTATOR} file")
    try:
        ann = wfdb.rdann(str(path.with_suffix("")), REVIEW_ANNOTATOR)
    except Exception as e:  # wfdb raises many types on a broken file
        raise ReviewFileError(f"{path.name}: cannot read annotations ({type(e).__name__}: {e})") from None
    sample = np.asarray(ann.sample, dtype=np.int64)
    symbol = list(ann.symbol or [])
    subtype = np.asarray(ann.subtype if ann.subtype is not None else np.zeros(len(sample)), dtype=np.int64)
    aux = list(ann.aux_note or [""] * len(sample))
    num = np.asarray(ann.num if ann.num is not None else np.zeros(len(sample)), dtype=np.int64)
    if not len(sample) or sample[0] != 0 or symbol[0] != HEADER_SYMBOL or not aux[0].startswith(MAGIC + " "):
        raise ReviewFileError(f"{path.name}: no ecgviewer review header")
    try:
        meta = json.loads(aux[0][len(MAGIC) + 1:])
        record, n_samples, fs = str(meta["record"]), int(meta["n_samples"]), float(meta["fs"])
        version = int(meta["v"])
    except (ValueError, KeyError, TypeError, OverflowError) as e:  # Infinity, 1e999: OverflowError
        raise ReviewFileError(f"{path.name}: bad review header ({e})") from None
    if not math.isfinite(fs) or fs <= 0 or n_samples <= 0 or version < 1:
        raise ReviewFileError(f"{path.name}: bad review header (rate {fs:g} Hz, {n_samples} samples, format {version})")
    if version > FORMAT_VERSION:
        raise ReviewFileError(f"{path.name}: review format {version} is newer than this viewer")
    reviews: dict[int, BeatReview] = {}
    parts: dict[int, list[str]] = {}
    for i in range(1, len(sample)):
        if symbol[i] != BEAT_SYMBOL and symbol[i] not in SYMBOL_LABELS:
            continue  # room for future annotation kinds
        s = int(sample[i])
        try:
            state = ReviewState(int(subtype[i]))
            kind = BeatKind(int(num[i]))
        except ValueError:
            raise ReviewFileError(f"{path.name}: unknown review state {int(subtype[i])} or beat kind "
                                  f"{int(num[i])} at sample {s}") from None
        if s not in parts:
            parts[s] = []
            reviews[s] = BeatReview(state, "", SYMBOL_LABELS.get(symbol[i], ""), kind)
        parts[s].append(aux[i] or "")
    for s, chunks in parts.items():
        try:
            note = decode_note("".join(chunks))
        except UnicodeDecodeError:
            raise ReviewFileError(f"{path.name}: bad note encoding at sample {s}") from None
        r = reviews[s]
        reviews[s] = BeatReview(r.state, note, r.label, r.kind)
    return ReviewFile(record, n_samples, fs, reviews)


# --- where the sidecar lives ----------------------------------------------------------------

def data_dir() -> Path:
    """The user data directory (``ECGVIEWER_DATA_DIR`` overrides platformdirs)."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("ecgviewer", appauthor=False))


def record_key(record_path: Path) -> str:
    """A folder name for a record in the data directory: its name plus a hash of its absolute path."""
    absolute = str(Path(os.path.abspath(record_path)))
    digest = hashlib.sha256(absolute.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return f"{record_path.name}-{digest}"


def fallback_path(record_path: Path) -> Path:
    """Where the sidecar goes when the record's folder is not writable."""
    return data_dir() / "reviews" / record_key(record_path) / f"{record_path.name}.{REVIEW_ANNOTATOR}"


def sidecar_path(record_path: Path) -> Path:
    return record_path.with_name(f"{record_path.name}.{REVIEW_ANNOTATOR}")


def dir_writable(folder: Path) -> bool:
    """True when a file can really be created in ``folder``.

    os.access lies for root and on some network shares, so this creates and removes a temp file.
    """
    try:
        fd = os.open(folder / f"{_TMP_PREFIX}probe_{os.getpid()}_{secrets.token_hex(4)}",
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return False
    os.close(fd)
    for p in folder.glob(f"{_TMP_PREFIX}probe_{os.getpid()}_*"):
        p.unlink(missing_ok=True)
    return True


def _remove_stale_temps(folder: Path, older_than_s: float = 60.0) -> None:
    """Delete temp files a killed save left behind (never ones a live save may be writing)."""
    now = time.time()
    for p in folder.glob(f"{_TMP_PREFIX}*"):
        try:
            if now - p.stat().st_mtime > older_than_s:
                p.unlink()
        except OSError:
            pass


# --- the store ------------------------------------------------------------------------------

Listener = Callable[[list[int]], None]


class ReviewStore:
    """Review state of one record's beats, saved to its sidecar after every change.

    Beats are keyed by the R peak's sample index in the original record. Qt-free: the UI wraps
    changes in undo steps (ecgviewer/core/session/history.py) and listens with
    :meth:`add_listener`.
    """

    def __init__(self, record_path: str | os.PathLike[str], n_samples: int, fs: float,
                 beat_samples: Iterable[int] | np.ndarray | None = None, *, record_name: str | None = None,
                 autosave: bool = True) -> None:
        self.record_path = Path(record_path)
        self.record_name = record_name or self.record_path.name
        self.n_samples = int(n_samples)
        self.fs = float(fs)
        self.beat_samples = None if beat_samples is None else np.unique(np.asarray(beat_samples, dtype=np.int64))
        self.autosave = autosave
        self._reviews: dict[int, BeatReview] = {}
        self._listeners: list[Listener] = []
        self.save_path = self._choose_save_path()
        self._seen = _stamp(self.save_path)  # the save file's stamp when last read or written
        self.load_result = self._load()

    @classmethod
    def for_record(cls, record, beat_samples: Iterable[int] | np.ndarray | None = None, **kw) -> ReviewStore:
        """Store for a loaded :class:`~ecgviewer.core.record.Record` and its scored beats."""
        return cls(record.path, record.n_samples, record.fs, beat_samples, record_name=record.name, **kw)

    # where ------------------------------------------------------------------------------------
    def _choose_save_path(self) -> Path:
        folder = self.record_path.parent
        if not is_bundled(self.record_path) and dir_writable(folder):
            return sidecar_path(self.record_path)
        return fallback_path(self.record_path)

    @property
    def in_data_dir(self) -> bool:
        """True when reviews are kept in the user data directory, not beside the record."""
        return self.save_path != sidecar_path(self.record_path)

    def _candidates(self) -> list[Path]:
        """Files to restore from, best first: the one we will write, then the other place."""
        first = self.save_path
        other = fallback_path(self.record_path) if not self.in_data_dir else sidecar_path(self.record_path)
        return [first, other]

    # loading ----------------------------------------------------------------------------------
    def _load(self) -> LoadResult:
        found = [p for p in self._candidates() if p.is_file()]
        # both places hold a review (the record's folder was read-only once, writable another time):
        # the one written last is the reviewer's latest work
        path = max(found, key=lambda p: _stamp(p) or (0, 0)) if found else None
        if path is None:
            return LoadResult(LoadStatus.NEW, None, "No earlier review of this record.")
        try:
            content = read_review_file(path)
        except ReviewFileError as e:
            return LoadResult(LoadStatus.UNREADABLE, path, f"Review file cannot be read: {e}", [str(e)])
        problems = self.check(content)
        if problems:
            msg = f"Review file {path.name} does not match this record ({problems[0]}); it was not applied."
            return LoadResult(LoadStatus.MISMATCH, path, msg, problems, dict(content.reviews))
        self._reviews = {s: r for s, r in content.reviews.items() if not r.is_empty}
        n = len(self._reviews)
        return LoadResult(LoadStatus.RESTORED, path, f"Restored the review of {n} beat{'s' if n != 1 else ''}.")

    def check(self, content: ReviewFile) -> list[str]:
        """Why ``content`` does not belong to this record (empty when it does)."""
        problems = []
        if content.n_samples != self.n_samples:
            problems.append(f"record length {content.n_samples} samples in the file, {self.n_samples} now")
        if abs(content.fs - self.fs) > 1e-6 * max(1.0, self.fs):
            problems.append(f"sampling rate {content.fs:g} Hz in the file, {self.fs:g} Hz now")
        outside = [s for s in content.reviews if not 0 < s < self.n_samples]
        if outside:
            problems.append(f"{len(outside)} reviewed beat(s) outside the record, first at sample {outside[0]}")
        added = [s for s, r in content.reviews.items() if r.kind == BeatKind.ADDED and 0 < s < self.n_samples]
        if self.beat_samples is not None and added:
            twice = np.asarray(added, dtype=np.int64)
            twice = twice[np.isin(twice, self.beat_samples)]
            if twice.size:  # the detector (or another lead) now finds the beat the reviewer added
                problems.append(f"{twice.size} added beat(s) are now among the record's beats, "
                                f"first at sample {int(twice[0])}")
        own = [s for s, r in content.reviews.items() if r.kind != BeatKind.ADDED]
        if self.beat_samples is not None and own:
            keys = np.asarray(own, dtype=np.int64)
            unknown = keys[~np.isin(keys, self.beat_samples)]
            if unknown.size:
                problems.append(f"{unknown.size} reviewed beat(s) not among the record's beats, "
                                f"first at sample {int(unknown[0])}")
        return problems

    def apply_pending(self) -> int:
        """Apply the reviews of a mismatched file that fall on this record's beats; returns how many.

        For the UI's "apply anyway" choice; the mismatched file is backed up on the next save.
        """
        pending = self.load_result.pending
        keep = {s: r for s, r in pending.items()
                if 0 < s < self.n_samples and (self._is_beat(s) != (r.kind == BeatKind.ADDED)
                                               or self.beat_samples is None)}
        self._reviews.update(keep)
        self.load_result.pending = {}
        self._changed(sorted(keep))
        if self.autosave:
            self.save()
        return len(keep)

    # reading ----------------------------------------------------------------------------------
    def get(self, sample: int) -> BeatReview:
        return self._reviews.get(int(sample), EMPTY)

    def state(self, sample: int) -> ReviewState:
        return self.get(sample).state

    def reviews(self) -> dict[int, BeatReview]:
        """A copy of all non-empty reviews, keyed by sample."""
        return dict(self._reviews)

    def states_for(self, samples: np.ndarray) -> np.ndarray:
        """ReviewState values (int8) for an array of beat samples, for colouring and counting."""
        out = np.zeros(len(samples), dtype=np.int8)
        if not self._reviews:
            return out
        keys = np.fromiter(self._reviews.keys(), dtype=np.int64, count=len(self._reviews))
        vals = np.fromiter((int(r.state) for r in self._reviews.values()), dtype=np.int8, count=len(keys))
        order = np.argsort(keys)
        keys, vals = keys[order], vals[order]
        samples = np.asarray(samples, dtype=np.int64)
        pos = np.clip(np.searchsorted(keys, samples), 0, len(keys) - 1)
        hit = keys[pos] == samples
        out[hit] = vals[pos[hit]]
        return out

    def counts(self) -> dict[str, int]:
        c = {s.label: 0 for s in ReviewState if s != ReviewState.UNREVIEWED}
        for r in self._reviews.values():
            if r.state != ReviewState.UNREVIEWED:
                c[r.state.label] += 1
        return c

    def edit_counts(self) -> dict[str, int]:
        """How many beats were relabelled, added and deleted."""
        rs = self._reviews.values()
        return {"Relabelled": sum(bool(r.label) for r in rs), "Added": sum(r.kind == BeatKind.ADDED for r in rs),
                "Deleted": sum(r.kind == BeatKind.DELETED for r in rs)}

    def __len__(self) -> int:
        return len(self._reviews)

    # changing ---------------------------------------------------------------------------------
    def set(self, sample: int, state: ReviewState, note: str | None = None) -> BeatReview:
        """Set a beat's state (and note, unless None keeps it); saves; returns the previous review."""
        return self.set_many({int(sample): (state, note)})[int(sample)]

    def set_many(self, changes: Mapping[int, tuple[ReviewState, str | None] | BeatReview]) -> dict[int, BeatReview]:
        """Several beats in one save (e.g. "dismiss all in view"); returns their previous reviews."""
        previous: dict[int, BeatReview] = {}
        before = dict(self._reviews)
        for sample, change in changes.items():
            s = int(sample)
            old = self.get(s)
            new = change if isinstance(change, BeatReview) else BeatReview(
                ReviewState(change[0]), old.note if change[1] is None else str(change[1]), old.label, old.kind)
            self._validate(s, new)
            previous[s] = old
            if new.is_empty:
                self._reviews.pop(s, None)
            else:
                self._reviews[s] = new
        if self.autosave:
            try:
                self.save()
            except BaseException:
                self._reviews = before  # not saved: not made (the UI says the change is not recorded)
                raise
        self._changed(sorted(previous))
        return previous

    def _validate(self, s: int, new: BeatReview) -> None:
        if not 0 < s < self.n_samples:
            raise ValueError(f"sample {s} is outside the record (1..{self.n_samples - 1})")
        if self._is_beat(s):
            if new.kind == BeatKind.ADDED and self.beat_samples is not None:
                raise ValueError(f"sample {s} is already one of the record's beats")
        elif new.kind != BeatKind.ADDED and not (new.is_empty and s in self._reviews):
            raise ValueError(f"sample {s} is not one of the record's beats")

    def _is_beat(self, s: int) -> bool:
        """True when ``s`` is one of the record's beats (always, when the store was given none)."""
        b = self.beat_samples
        if b is None:
            return True
        i = int(np.searchsorted(b, s))
        return i < len(b) and int(b[i]) == s

    def add_listener(self, callback: Listener) -> None:
        """``callback(samples)`` after every change, so views can repaint those beats."""
        self._listeners.append(callback)

    def _changed(self, samples: list[int]) -> None:
        for cb in list(self._listeners):
            cb(samples)

    # saving -----------------------------------------------------------------------------------
    def save(self) -> Path:
        """Write the review file now (atomic). A mismatched or unreadable file is moved aside first."""
        path = self.save_path
        path.parent.mkdir(parents=True, exist_ok=True)
        now = _stamp(path)
        if now is not None and now != self._seen and self.load_result.status not in (LoadStatus.MISMATCH, LoadStatus.UNREADABLE):
            # another window or reviewer wrote this file since this store read or wrote it: writing
            # our whole state over it would drop their decisions
            raise ReviewConflict(f"{path.name} was changed by another window or user since this record was "
                                 "opened: reopen the record to see both reviews (nothing was overwritten)")
        self._backup_foreign_file()
        _remove_stale_temps(path.parent)
        write_review_file(path, ReviewFile(self.record_name, self.n_samples, self.fs, dict(self._reviews)))
        self._seen = _stamp(path)
        return path

    def _backup_foreign_file(self) -> None:
        lr = self.load_result
        if lr.status not in (LoadStatus.MISMATCH, LoadStatus.UNREADABLE) or lr.backup is not None or lr.path is None:
            return
        if lr.path.is_file():
            stamp = time.strftime("%Y%m%dT%H%M%S")
            # Still a .rev file, so WFDB tools and read_review_file can open it.
            backup = lr.path.with_name(f"{lr.path.stem}.{lr.status.value}-{stamp}.{REVIEW_ANNOTATOR}")
            try:
                os.replace(lr.path, backup)
            except OSError:  # e.g. the old file sits in a read-only record folder: nothing to overwrite
                return
            lr.backup = backup
