"""The beat list: which beats the table shows (filter) and in what order (sort), Qt-free.

Rows are indices into the session's beats. The sort order of all beats is computed once per sort
key (and again only when what it sorts by changes); a threshold step then only filters that order
with a boolean mask, O(n) with numpy, which keeps dragging the threshold fluid on a 24-hour record.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ecgviewer.core.review import BeatKind, ReviewState
from ecgviewer.core.session.session import ReviewSession

COLUMNS = ("Time", "Score", "Label", "Class", "Review", "Note")
TIME, SCORE, LABEL, CLASS, REVIEW, NOTE = range(len(COLUMNS))

#: Which beats are listed, by flag and review.
SHOW_CHOICES = ("flagged or reviewed", "flagged", "reviewed", "all beats")


@dataclass(frozen=True)
class BeatFilter:
    """``show``: one of SHOW_CHOICES; ``classes``: listed classes (empty: any); ``template``: one id or None."""

    show: str = "flagged or reviewed"
    classes: frozenset[str] = field(default_factory=frozenset)
    template: int | None = None

    def __post_init__(self) -> None:
        if self.show not in SHOW_CHOICES:
            raise ValueError(f"unknown beat filter {self.show!r}")

    def with_(self, **kw) -> BeatFilter:
        return replace(self, **kw)


def review_text(state: int, kind: int) -> str:
    """What the Review column says."""
    if kind == BeatKind.DELETED:
        return "Deleted"
    s = ReviewState(int(state))
    text = "" if s == ReviewState.UNREVIEWED else s.label
    if kind == BeatKind.ADDED:
        return f"Added, {text.lower()}" if text else "Added"
    return text


class BeatList:
    """Rows of the beat table for one session; call :meth:`update` after the session changes."""

    def __init__(self, session: ReviewSession | None = None) -> None:
        self.session = session
        self.filter = BeatFilter()
        self.sort_column = SCORE
        self.descending = True
        self.rows = np.zeros(0, np.int64)
        self._order: np.ndarray | None = None
        self._order_key: tuple | None = None
        self.update()

    def set_session(self, session: ReviewSession | None) -> None:
        self.session = session
        self._order = None
        self.update()

    def set_filter(self, f: BeatFilter) -> None:
        self.filter = f
        self.update()

    def sort(self, column: int, descending: bool) -> None:
        self.sort_column, self.descending = int(column), bool(descending)
        self.update()

    def reviews_changed(self) -> None:
        """Reviews changed: orders that depend on them are recomputed."""
        if self.sort_column in (CLASS, REVIEW, NOTE):
            self._order = None
        self.update()

    # ---- computing ------------------------------------------------------------------------------
    def mask(self) -> np.ndarray:
        s = self.session
        f = self.filter
        if f.show == "flagged":
            m = s.flagged_mask()
        elif f.show == "reviewed":
            m = s.reviewed_mask()
        elif f.show == "all beats":
            m = np.ones(len(s), bool)
        else:
            m = s.flagged_mask() | s.reviewed_mask()
        if f.classes:
            m &= np.isin(s.effective_class(), list(f.classes))
        if f.template is not None:
            m &= s.template == f.template
        return m

    def _full_order(self) -> np.ndarray:
        s = self.session
        key = (self.sort_column, self.descending, s.version, len(s))
        if self._order is not None and self._order_key == key:
            return self._order
        c = self.sort_column
        if c == SCORE:
            primary = np.where(np.isnan(s.score), -np.inf, s.score)
        elif c == LABEL:
            primary = s.symbol
        elif c == CLASS:
            primary = s.effective_class()
        elif c == REVIEW:
            primary = np.where(s.kind == BeatKind.DELETED, 9, s.state * 2 + (s.kind == BeatKind.ADDED))
        elif c == NOTE:
            primary = np.zeros(len(s), np.int8)
            if s.note:
                primary[list(s.note)] = 1
        else:
            primary = None
        order = np.argsort(s.sample, kind="stable") if primary is None else np.lexsort((s.sample, primary))
        if self.descending:
            order = order[::-1]
        self._order, self._order_key = order, key
        return order

    def update(self) -> None:
        s = self.session
        if s is None or not len(s):
            self.rows = np.zeros(0, np.int64)
            return
        order = self._full_order()
        self.rows = order[self.mask()[order]]

    # ---- reading ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.rows)

    def beat_at(self, row: int) -> int:
        """The sample (identity) of the beat on ``row``."""
        return int(self.session.sample[self.rows[row]])

    def row_of(self, sample: int | None) -> int | None:
        i = None if self.session is None else self.session.index_of(sample)
        if i is None:
            return None
        hit = np.nonzero(self.rows == i)[0]
        return int(hit[0]) if len(hit) else None

    def samples(self) -> np.ndarray:
        return self.session.sample[self.rows] if self.session is not None else np.zeros(0, np.int64)
