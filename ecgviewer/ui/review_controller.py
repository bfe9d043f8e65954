"""Reviewing in the viewer: the panel and the trace marks follow the ReviewSession, and the review
keys act on the session's selected beat (its identity, never a table row).

Every change goes through the session (which saves it and records it for undo); the controller
only turns failures into a dialog and keeps the panel, the marks and the status line current.
It knows the window only as a parent for dialogs and a ``status(text, ms)`` callback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

from ecgviewer.core.report_content import review_counts
from ecgviewer.core.review import LoadStatus, ReviewState
from ecgviewer.core.session import HISTORY, REVIEWS, SELECTION, THRESHOLD, ReviewSession, review_text
from ecgviewer.ui.paper import format_time
from ecgviewer.ui.review_marks import ReviewMarks
from ecgviewer.ui.review_panel import CLASS_CHOICES, ReviewPanel, show_mismatch

log = logging.getLogger(__name__)


class ReviewController(QObject):
    """Review panel + marks for one window; ``set_session`` when a record's scores arrive."""

    historyChanged = Signal()  # undo / redo availability or text changed

    def __init__(self, panel: ReviewPanel, marks: ReviewMarks, status: Callable[[str, int], None],
                 save_label: QLabel, parent: QWidget) -> None:
        super().__init__(parent)
        self.parent_widget = parent
        self.panel, self.marks, self.status, self.save_label = panel, marks, status, save_label
        self.session: ReviewSession | None = None
        self.mismatch_box: QMessageBox | None = None
        self.focus_back: Callable[[], None] = lambda: None  # where the keys go after a note
        p = panel
        p.confirm.clicked.connect(lambda: self.mark(ReviewState.CONFIRMED))
        p.dismiss.clicked.connect(lambda: self.mark(ReviewState.DISMISSED))
        p.clear.clicked.connect(lambda: self.mark(ReviewState.UNREVIEWED))
        p.delete.clicked.connect(self.delete_beat)
        p.klass.currentIndexChanged.connect(lambda i: self.relabel("" if i == 0 else CLASS_CHOICES[i]))
        p.note.returnPressed.connect(self.commit_note)
        p.apply_button.clicked.connect(self.apply_pending)

    @property
    def store(self):
        return self.session.store if self.session is not None else None

    # ---- life cycle ---------------------------------------------------------------------------
    def set_session(self, session: ReviewSession | None, reason: str = "") -> None:
        """Follow ``session`` (None: no scored record; ``reason`` says why reviews are off)."""
        self._close_mismatch()
        self.session = session
        p = self.panel
        p.banner.hide()
        p.apply_button.hide()
        p.counts.setText("")
        p.saved.setText(reason)
        self.save_label.setText("")
        self.marks.set_session(session, session.lead if session is not None else 0)
        self.historyChanged.emit()
        if session is None:
            self.show_beat()
            return
        session.subscribe(SELECTION, lambda _s: self._selection_changed())
        session.subscribe(REVIEWS, self._reviews_changed)
        session.subscribe(THRESHOLD, lambda _t: self._refresh_counts())
        session.subscribe(HISTORY, self.historyChanged.emit)
        lr = session.store.load_result
        self._show_save_place(restored=lr.status == LoadStatus.RESTORED)
        if lr.status in (LoadStatus.MISMATCH, LoadStatus.UNREADABLE):
            p.banner.setText(f"<b>Review file not applied.</b> {lr.message}")
            p.banner.show()
            p.apply_button.setVisible(lr.status == LoadStatus.MISMATCH and bool(lr.pending))
            self.status(lr.message, 0)
            details = "\n".join([f"File: {lr.path}"] + lr.problems)
            self.mismatch_box = show_mismatch(self.parent_widget, lr.message, details,
                                              self.apply_pending if lr.status == LoadStatus.MISMATCH else lambda: None)
        elif lr.status == LoadStatus.RESTORED:
            self.status(lr.message, 10000)
        self._refresh_counts()
        self.show_beat()

    def _close_mismatch(self) -> None:
        if self.mismatch_box is not None:
            self.mismatch_box.close()
            self.mismatch_box = None

    def apply_pending(self) -> int:
        if self.session is None:
            return 0
        n = self._guard(self.session.store.apply_pending)
        self.panel.banner.hide()
        self.panel.apply_button.hide()
        self._close_mismatch()
        self.status(f"Applied {n or 0} review mark(s) from the mismatched file", 10000)
        return n or 0

    def _show_save_place(self, restored: bool = False) -> None:
        s = self.store
        if s is None:
            return
        where = str(s.save_path)
        if s.in_data_dir:
            text = f"Record folder is read-only: reviews are saved in the user data folder: {where}"
            short = "Review: record folder read-only, saved in user data folder"
        else:
            text = f"Reviews are saved next to the record: {where}"
            short = f"Review: {s.save_path.name} next to the record"
        if restored:
            text += " (restored)"
        self.panel.saved.setText(text)
        self.save_label.setText(short)
        self.save_label.setToolTip(where)

    # ---- reviewing ----------------------------------------------------------------------------
    def _ready(self) -> bool:
        if self.session is None:
            self.status("Reviewing needs a scored record", 5000)
            return False
        if self.session.selected is None:
            self.status("Select a beat first (N / P, click the table or the trace)", 5000)
            return False
        return True

    def _guard(self, action: Callable, *args):
        """Run a session change; a failed save becomes a dialog (the change is not recorded)."""
        try:
            return action(*args)
        except OSError as e:
            from ecgviewer.ui import dialogs

            dialogs.show_error(self.parent_widget, "Cannot save the review", f"{self.store.save_path}: {e}")
            self.historyChanged.emit()
            return None

    def mark(self, state: ReviewState) -> None:
        """A / D / U: the selected beat's review state, undoable."""
        if self._ready():
            self._guard(self.session.set_state, state)

    def relabel(self, label: str) -> None:
        """The selected beat's class (one of LABELS, '' for the reference class), undoable."""
        if self._ready():
            self._guard(self.session.relabel, label)
        self.show_beat()

    def delete_beat(self) -> None:
        if self._ready():
            if self._guard(self.session.delete_beat):
                self.status("Beat deleted (Ctrl+Z brings it back)", 5000)

    def add_beat(self, sample: int) -> int | None:
        """Shift+click on the trace: a beat the detector missed, snapped to the local R peak."""
        if self.session is None:
            self.status("Adding beats needs a scored record", 5000)
            return None
        got = self._guard(self.session.add_beat, sample)
        if got is None and self.session.selected is not None:
            self.status("A beat is already there: it is selected", 5000)
        elif got is not None:
            self.status(f"Beat added at {format_time(got / self.session.fs, 0.01)}", 5000)
        return got

    def edit_note(self) -> None:
        """E: focus the note field of the selected beat."""
        if not self._ready():
            return
        self.panel.note.setFocus()
        self.panel.note.selectAll()

    def commit_note(self, text: str | None = None) -> None:
        """Enter in the note field (or a call): save the selected beat's note, undoable."""
        if not self._ready():
            return
        self._guard(self.session.set_note, self.panel.note.text() if text is None else text)
        self.focus_back()

    def leave_note(self) -> bool:
        """Esc while the note field has focus: drop the edit, give the keys back; False otherwise."""
        if not self.panel.note.hasFocus():
            return False
        self.panel.note.clearFocus()
        self.show_beat()
        self.focus_back()
        return True

    def undo(self) -> None:
        if self.session is not None:
            self._guard(self.session.undo)

    def redo(self) -> None:
        if self.session is not None:
            self._guard(self.session.redo)

    # ---- following the session ----------------------------------------------------------------
    def _selection_changed(self) -> None:
        self.panel.note.clearFocus()
        self.show_beat()

    def _reviews_changed(self, _samples: list[int]) -> None:
        self.marks.refresh()
        self._refresh_counts()
        self._show_save_place()
        self.status(f"Review saved to {self.store.save_path}", 5000)
        self.show_beat()

    def _refresh_counts(self) -> None:
        s = self.session
        if s is None:
            self.panel.counts.setText("")
            return
        c, e = review_counts(s.state, s.flagged_mask()), s.store.edit_counts()  # the report counts alike
        edits = "".join(f", {k.lower()} {v}" for k, v in e.items() if v)
        self.panel.counts.setText(f"Confirmed {c['Confirmed']}, dismissed {c['Dismissed']}{edits}; "
                                  f"{c['Open']} flagged beats not reviewed yet")

    def show_beat(self) -> None:
        """The panel shows the selected beat's review."""
        p, s = self.panel, self.session
        i = None if s is None else s.selected_index
        if i is None:
            p.title.setText("No beat selected" if s is not None else "Reviews start when scoring is done")
            p.show_state(None)
            p.show_class("")
            p.note.blockSignals(True)
            p.note.clear()
            p.note.blockSignals(False)
            p.set_enabled(False)
            return
        r = s.store.get(int(s.sample[i]))
        p.set_enabled(True)
        what = "Added beat" if i >= s.n_scored else f"Beat {i + 1}"
        p.title.setText(f"{what} at {format_time(float(s.time[i]), 0.01)}")
        p.show_state(r.state, review_text(int(r.state), int(r.kind)) or r.state.label)
        p.klass.setItemText(0, f"reference ({s.ref_class[i] or s.symbol[i] or 'none'})")
        p.show_class(r.label or "reference")
        if not p.note.hasFocus() or p.note.text() == r.note:
            p.note.setText(r.note)
