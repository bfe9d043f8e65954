"""The review session: one record's beats, scores, threshold, selection, reviews and metrics.

Every widget of the viewer reads this one object and listens to it (plain callbacks, no Qt), so a
beat is "flagged" in one place (:meth:`ReviewSession.flagged_mask`) and the beat that the table
highlights, the beat detail shows and A/D act on is the same: the selection is a beat's identity
(its R-peak sample in the original record), never a row of some sorted, filtered table.

Beats are the scored beats (in the scorer's order) followed by the beats the reviewer added (in
time order); an added beat has no score (NaN) and is never flagged. A deleted beat keeps its place
(undo brings it back) but is no longer flagged and its review state reads "Deleted".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ecgviewer.core.classes import classify
from ecgviewer.core.review import LABELS, BeatKind, BeatReview, ReviewState, ReviewStore
from ecgviewer.core.session.history import Edit, History
from ecgviewer.core.session.snap import snap_to_peak

#: Events a listener can subscribe to, and what the callback receives.
THRESHOLD = "threshold"  # (threshold,)
SELECTION = "selection"  # (sample or None,)
REVIEWS = "reviews"  # (list of samples whose review changed,)
BEATS = "beats"  # () beats were added or removed: indices changed
HISTORY = "history"  # () undo/redo availability changed
EVENTS = (THRESHOLD, SELECTION, REVIEWS, BEATS, HISTORY)

#: An added beat closer than this to an existing one is refused (it is the same beat).
MIN_BEAT_GAP_S = 0.15

Listener = Callable[..., None]


class ReviewSession:
    """One record under review. Build with :meth:`from_scoring` (viewer) or the plain constructor."""

    def __init__(self, store: ReviewStore, sample: np.ndarray, score: np.ndarray, fs: float, *,
                 threshold: float = 0.0, symbol: np.ndarray | None = None, templates: np.ndarray | None = None,
                 metrics: Any = None, signal: np.ndarray | None = None, record: Any = None, lead: int = 0) -> None:
        self.store = store
        self.fs = float(fs)
        self.record = record
        self.metrics = metrics  # FlagMetrics or None (no reference annotations)
        self.signal = signal  # the lead an added beat snaps to
        self.lead = int(lead)  # that lead's channel in the record (marks are drawn on it)
        #: The rhythm events and morphology templates the viewer shows (CLI ``events`` /
        #: ``templates`` JSON lists, None until computed): the one hook the exports read them from.
        self.events: list[dict] | None = None
        self.template_list: list[dict] | None = None
        self.history = History(store)
        self._listeners: dict[str, list[Listener]] = {e: [] for e in EVENTS}
        self._threshold = float(threshold)
        self._selected: int | None = None
        n = len(sample)
        self._base_sample = np.asarray(sample, dtype=np.int64)
        self._base_score = np.asarray(score)  # own dtype: `score >= t` as the CLI compares it
        if not np.issubdtype(self._base_score.dtype, np.floating):
            self._base_score = self._base_score.astype(np.float64)
        self._base_symbol = (np.asarray(symbol).astype(str) if symbol is not None and len(symbol) == n
                             else np.full(n, "", dtype="<U1"))
        self._base_template = (np.asarray(templates, dtype=np.int64) if templates is not None
                               else np.full(n, -1, dtype=np.int64))
        if self._base_score.shape != (n,) or self._base_template.shape != (n,):
            raise ValueError(f"{n} beats but {len(self._base_score)} scores / {len(self._base_template)} template ids")
        self.n_scored = n
        self._build()
        store.add_listener(self._store_changed)

    @classmethod
    def from_scoring(cls, record, beats, scores: np.ndarray, threshold: float, *,
                     templates: np.ndarray | None = None, store: ReviewStore | None = None) -> ReviewSession:
        """Session for a loaded Record and its BeatSet and scores; opens (or creates) the .rev sidecar.

        Raises OSError / ValueError when the review store cannot be opened (the caller says so).
        """
        from ecgviewer.core.flag_metrics import FlagMetrics

        scores = np.asarray(scores)
        store = store or ReviewStore.for_record(record, beats.sample)
        symbol = beats.symbol
        ann = record.annotations
        if (not len(symbol) or not (np.asarray(symbol) != "").any()) and ann is not None and len(ann):
            from ecgviewer.core.flag_metrics import reference_labels  # detected beats: matched labels

            symbol = reference_labels(beats.sample, ann.sample, ann.symbol, record.fs)
        names = record.channel_names
        lead = names.index(beats.leads[0]) if beats.leads and beats.leads[0] in names else 0
        signal = record.signal[:, lead] if record.signal.ndim == 2 and record.signal.shape[1] else None
        return cls(store, beats.sample, scores, record.fs, threshold=threshold, symbol=symbol,
                   templates=templates, metrics=FlagMetrics.for_record(record, beats.sample, scores),
                   signal=signal, record=record, lead=lead)

    # ---- observing ----------------------------------------------------------------------------
    def subscribe(self, event: str, callback: Listener) -> None:
        if event not in self._listeners:
            raise ValueError(f"unknown session event {event!r} (one of {', '.join(EVENTS)})")
        self._listeners[event].append(callback)

    def _emit(self, event: str, *args) -> None:
        for cb in list(self._listeners[event]):
            cb(*args)

    # ---- the beats ----------------------------------------------------------------------------
    def _build(self) -> None:
        """Beat arrays from the scored beats plus the reviewer's added beats, and their reviews."""
        reviews = self.store.reviews()
        added = np.array(sorted(s for s, r in reviews.items() if r.kind == BeatKind.ADDED), dtype=np.int64)
        k = len(added)
        self.sample = np.concatenate([self._base_sample, added])
        self.time = self.sample / self.fs
        self.score = np.concatenate([self._base_score, np.full(k, np.nan, dtype=self._base_score.dtype)])
        self.symbol = np.concatenate([self._base_symbol, np.full(k, "")]).astype(str)
        self.ref_class = classify(self.symbol)
        self.template = np.concatenate([self._base_template, np.full(k, -1, dtype=np.int64)])
        self._index = {int(s): i for i, s in enumerate(self.sample)}
        self.state = np.zeros(len(self.sample), dtype=np.int8)
        self.kind = np.zeros(len(self.sample), dtype=np.int8)
        self.label = np.full(len(self.sample), "", dtype="<U8")
        self.note = {}
        for s, r in reviews.items():
            self._put(s, r)
        self.version = getattr(self, "version", 0) + 1  # BeatList caches by it

    def _put(self, sample: int, r: BeatReview) -> None:
        i = self._index.get(int(sample))
        if i is None:
            return
        self.state[i], self.kind[i], self.label[i] = int(r.state), int(r.kind), r.label
        if r.note:
            self.note[i] = r.note
        else:
            self.note.pop(i, None)

    def __len__(self) -> int:
        return len(self.sample)

    def set_templates(self, templates: np.ndarray | None) -> None:
        """Per scored beat template ids (core/templates.py; -1: none), for the template filter."""
        t = np.full(self.n_scored, -1, dtype=np.int64) if templates is None else np.asarray(templates, dtype=np.int64)
        if t.shape != (self.n_scored,):
            raise ValueError(f"{len(t)} template ids for {self.n_scored} beats")
        self._base_template = t
        self._build()
        self._emit(BEATS)

    def index_of(self, sample: int | None) -> int | None:
        """Position of the beat at ``sample`` in this session's arrays (None when there is none)."""
        return None if sample is None else self._index.get(int(sample))

    def effective_class(self) -> np.ndarray:
        """The reviewer's class where a beat was relabelled, else the reference class ('' unknown)."""
        out = self.ref_class.astype("<U8")
        relabelled = self.label != ""
        out[relabelled] = self.label[relabelled]
        return out

    def reviewed_mask(self) -> np.ndarray:
        """Beats with any review: a state, note, class, or added/deleted."""
        m = (self.state != 0) | (self.kind != 0) | (self.label != "")
        if self.note:
            m[list(self.note)] = True
        return m

    # ---- threshold and flags ------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        return self._threshold

    def set_threshold(self, value: float) -> None:
        value = float(value)
        if value == self._threshold:
            return
        self._threshold = value
        self._emit(THRESHOLD, value)

    def flagged_mask(self) -> np.ndarray:
        """The one definition of a flag: scored, at or over the threshold, not deleted."""
        with np.errstate(invalid="ignore"):
            return (self.score >= self._threshold) & (self.kind != BeatKind.DELETED)

    def flagged(self) -> np.ndarray:
        """Indices of the flagged beats in time order."""
        idx = np.nonzero(self.flagged_mask())[0]
        return idx[np.argsort(self.sample[idx], kind="stable")]

    def metrics_now(self) -> dict | None:
        """Flag metrics against the reference at the current threshold (None without a reference)."""
        return None if self.metrics is None else self.metrics.at(self._threshold)

    # ---- selection ----------------------------------------------------------------------------
    @property
    def selected(self) -> int | None:
        """The selected beat's sample, or None."""
        return self._selected

    @property
    def selected_index(self) -> int | None:
        return self.index_of(self._selected)

    def select(self, sample: int | None) -> None:
        """Select the beat at ``sample`` (None clears); a sample that is no beat clears too."""
        sample = None if sample is None or int(sample) not in self._index else int(sample)
        if sample == self._selected:
            return
        self._selected = sample
        self._emit(SELECTION, sample)

    def select_index(self, index: int | None) -> None:
        self.select(None if index is None or not 0 <= index < len(self.sample) else int(self.sample[index]))

    def nearest_beat(self, sample: float) -> int | None:
        """Sample of the beat nearest to ``sample`` (for a click on the trace)."""
        if not len(self.sample):
            return None
        order = np.argsort(self.sample, kind="stable")
        s = self.sample[order]
        i = int(np.clip(np.searchsorted(s, sample), 1, len(s) - 1)) if len(s) > 1 else 0
        if len(s) > 1 and abs(s[i - 1] - sample) <= abs(s[i] - sample):
            i -= 1
        return int(s[i])

    # ---- reviewing (the selected beat unless a sample is given) -------------------------------
    def review_of(self, sample: int | None = None) -> BeatReview:
        s = self._target(sample)
        return self.store.get(s) if s is not None else BeatReview()

    def _target(self, sample: int | None) -> int | None:
        return self._selected if sample is None else int(sample)

    def _edit(self, text: str, sample: int | None, make: Callable[[BeatReview], BeatReview],
              merge_key: tuple | None = None) -> bool:
        s = self._target(sample)
        if s is None or s not in self._index:
            return False
        before = self.store.get(s)
        after = make(before)
        if after == before:
            return False
        self.history.push(Edit(text, {s: before}, {s: after}, merge_key))
        self._emit(HISTORY)
        return True

    def set_state(self, state: ReviewState, sample: int | None = None) -> bool:
        """Confirm / dismiss / back to unreviewed; False when there is no beat or nothing changes."""
        state = ReviewState(state)
        verb = {ReviewState.CONFIRMED: "Confirm", ReviewState.DISMISSED: "Dismiss",
                ReviewState.UNREVIEWED: "Clear review of"}[state]
        return self._edit(f"{verb} beat", sample, lambda r: BeatReview(state, r.note, r.label, r.kind))

    def set_note(self, note: str, sample: int | None = None) -> bool:
        s = self._target(sample)
        return self._edit("Edit note", sample, lambda r: BeatReview(r.state, note, r.label, r.kind),
                          merge_key=("note", s))

    def relabel(self, label: str, sample: int | None = None) -> bool:
        """Set the beat's class (one of LABELS; '' goes back to the reference class)."""
        if label and label not in LABELS:
            raise ValueError(f"unknown beat class {label!r} (one of {', '.join(LABELS)})")
        return self._edit(f"Relabel beat as {label or 'reference'}", sample,
                          lambda r: BeatReview(r.state, r.note, label, r.kind))

    def add_beat(self, sample: int, snap: bool = True) -> int | None:
        """Add a beat the detector missed at ``sample`` (snapped to the local R peak); selects it.

        Returns its sample, or None when a beat already lies within MIN_BEAT_GAP_S (that beat is
        selected instead) or the sample is outside the record.
        """
        s = snap_to_peak(self.signal, int(sample), self.fs) if snap else int(sample)
        if not 0 < s < self.store.n_samples:
            return None
        if s in self._index and self.kind[self._index[s]] == BeatKind.DELETED:  # that very beat: bring it back
            self._edit("Restore beat", s, lambda r: BeatReview(r.state, r.note, r.label, BeatKind.DETECTED))
            self.select(s)
            return s
        # every live beat within the gap counts, not only the nearest (which may be a deleted one)
        d = np.abs(self.sample - s)
        live = (d < MIN_BEAT_GAP_S * self.fs) & (self.kind != BeatKind.DELETED)
        if live.any():
            self.select(int(self.sample[np.flatnonzero(live)[np.argmin(d[live])]]))
            return None
        self.history.push(Edit("Add beat", {s: BeatReview()}, {s: BeatReview(kind=BeatKind.ADDED)}))
        self._emit(HISTORY)
        self.select(s)
        return s

    def delete_beat(self, sample: int | None = None) -> bool:
        """Delete a false beat: an added one goes, a scored one is marked deleted (undo restores it)."""
        s = self._target(sample)
        i = self.index_of(s)
        if i is None or self.kind[i] == BeatKind.DELETED:
            return False
        if self.kind[i] == BeatKind.ADDED:
            before = self.store.get(s)
            self.history.push(Edit("Delete added beat", {s: before}, {s: BeatReview()}))
            self._emit(HISTORY)
            if self._selected == s:
                self.select(None)
            return True
        return self._edit("Delete beat", s, lambda r: BeatReview(r.state, r.note, r.label, BeatKind.DELETED))

    def undo(self) -> bool:
        done = self.history.undo()
        if done:
            self._emit(HISTORY)
        return done

    def redo(self) -> bool:
        done = self.history.redo()
        if done:
            self._emit(HISTORY)
        return done

    # ---- following the store -------------------------------------------------------------------
    def _store_changed(self, samples: list[int]) -> None:
        reviews = self.store.reviews()
        structural = any((reviews.get(s, BeatReview()).kind == BeatKind.ADDED) != (
            self.index_of(s) is not None and self.index_of(s) >= self.n_scored) for s in samples)
        if structural:
            self._build()
            if self._selected is not None and self._selected not in self._index:
                self._selected = None
                self._emit(SELECTION, None)
            self._emit(BEATS)
        else:
            for s in samples:
                self._put(s, reviews.get(s, BeatReview()))
        self._emit(REVIEWS, list(samples))
