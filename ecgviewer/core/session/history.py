"""Undo and redo of review edits, Qt-free, so the same history serves the viewer and the tests.

An edit is the reviews of some beats before and after; doing and undoing it both go through the
ReviewStore, which saves at once, so what undo leaves is what the file holds. Consecutive edits of
one beat's note merge into one step, so undo does not go a keystroke at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecgviewer.core.review import BeatReview, ReviewStore


@dataclass
class Edit:
    text: str
    before: dict[int, BeatReview]
    after: dict[int, BeatReview]
    merge_key: tuple | None = None  # edits with the same key merge (a note typed in steps)


class History:
    """A linear undo stack over one ReviewStore."""

    def __init__(self, store: ReviewStore) -> None:
        self.store = store
        self._done: list[Edit] = []
        self._undone: list[Edit] = []
        self._open = False  # the last edit may still take a merge (no undo or redo asked since)

    def push(self, edit: Edit) -> None:
        """Apply ``edit`` and record it; a failed save (OSError) leaves nothing recorded."""
        self.store.set_many(edit.after)
        self._undone.clear()
        last = self._done[-1] if self._done else None
        if self._open and last is not None and edit.merge_key is not None and last.merge_key == edit.merge_key:
            last.after = edit.after
        else:
            self._done.append(edit)
        self._open = True

    def undo(self) -> bool:
        self._open = False  # asked for, even with nothing to undo: the next note is a step of its own
        return self._move(self._done, self._undone, "before")

    def redo(self) -> bool:
        self._open = False
        return self._move(self._undone, self._done, "after")

    def _move(self, src: list[Edit], dst: list[Edit], side: str) -> bool:
        """Apply the top edit of ``src`` (its ``side``) and move it to ``dst``; saved before it moves."""
        if not src:
            return False
        self.store.set_many(getattr(src[-1], side))
        dst.append(src.pop())
        return True

    def clear(self) -> None:
        self._done.clear()
        self._undone.clear()
        self._open = False

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    @property
    def undo_text(self) -> str:
        return self._done[-1].text if self._done else ""

    @property
    def redo_text(self) -> str:
        return self._undone[-1].text if self._undone else ""

    def __len__(self) -> int:
        return len(self._done)
