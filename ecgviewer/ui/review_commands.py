"""Undoable review actions: QUndoCommands that drive a (Qt-free) ReviewStore.

Each command records the beats' previous reviews when first done, so undo puts back exactly what
was there, note included; every redo and undo goes through the store and is therefore saved.
Consecutive edits of one beat's note merge into one undo step, so undo does not go a keystroke
at a time.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtGui import QUndoCommand

from ecgviewer.core.review import BeatReview, ReviewState, ReviewStore

_NOTE_EDIT_ID = 0x7265  # 're'


def _describe(state: ReviewState, n: int) -> str:
    verb = {ReviewState.CONFIRMED: "Confirm", ReviewState.DISMISSED: "Dismiss",
            ReviewState.UNREVIEWED: "Clear review of"}[state]
    return f"{verb} {n} beats" if n != 1 else f"{verb} beat"


class SetReviewState(QUndoCommand):
    """Set one beat's state and, unless ``note`` is None, its note."""

    def __init__(self, store: ReviewStore, sample: int, state: ReviewState, note: str | None = None,
                 parent: QUndoCommand | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.sample = int(sample)
        self.before = store.get(self.sample)
        self.after = BeatReview(ReviewState(state), self.before.note if note is None else note)
        self.setText(_describe(self.after.state, 1) if self.after.state != self.before.state
                     else "Edit note")

    def redo(self) -> None:
        self.store.set_many({self.sample: self.after})

    def undo(self) -> None:
        self.store.set_many({self.sample: self.before})

    def id(self) -> int:
        # Only pure note edits merge; a state change is always its own undo step.
        return _NOTE_EDIT_ID if self.after.state == self.before.state else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetReviewState) or other.sample != self.sample or other.id() != self.id():
            return False
        self.after = other.after
        return True


class SetNote(SetReviewState):
    """Change only a beat's note (its state stays)."""

    def __init__(self, store: ReviewStore, sample: int, note: str, parent: QUndoCommand | None = None) -> None:
        super().__init__(store, sample, store.get(sample).state, note, parent)


class SetReviewStates(QUndoCommand):
    """The same state for many beats at once (e.g. "dismiss all flags in view"), one save, one undo step."""

    def __init__(self, store: ReviewStore, samples: Iterable[int], state: ReviewState,
                 parent: QUndoCommand | None = None) -> None:
        super().__init__(parent)
        self.store = store
        samples = sorted({int(s) for s in samples})
        self.before = {s: store.get(s) for s in samples}
        self.after = {s: BeatReview(ReviewState(state), self.before[s].note) for s in samples}
        self.setText(_describe(ReviewState(state), len(samples)))

    def redo(self) -> None:
        self.store.set_many(self.after)

    def undo(self) -> None:
        self.store.set_many(self.before)
