"""Reviewing in the viewer: the review panel, review columns in the flag table, marks on the trace,
and the controller that ties a ReviewStore and a QUndoStack to the main window.

The controller creates the :class:`~ecgviewer.core.review.ReviewStore` when a record's beats and
scores are known, routes every change through undo commands (so Ctrl+Z undoes it and the store
saves it), and follows the store with a listener to repaint the table, the trace marks, the panel
and the status bar. It also owns the measuring tools (calipers, crosshair), the metrics panel and
the exports, so MainWindow only forwards a few events to it.

Signal-view hooks used (public items only): ``plot.addItem``, ``rangeChanged``, ``visible_range()``,
``offset(c)``, ``gain``, ``record``, ``viewport()``, ``scene().sigMouseMoved``, ``vb``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QBrush, QColor, QUndoStack
from PySide6.QtWidgets import (QDockWidget, QHBoxLayout, QLabel, QLineEdit, QMessageBox, QPushButton,
                               QVBoxLayout, QWidget)

from ecgviewer.core.review import LoadStatus, ReviewState, ReviewStore
from ecgviewer.ui.calipers import Calipers, Crosshair
from ecgviewer.ui.flag_table import FlagModel, FlagTable
from ecgviewer.ui.metrics_panel import MetricsPanel
from ecgviewer.ui.review_commands import SetNote, SetReviewState

log = logging.getLogger(__name__)

REVIEW_COLUMNS = ("Time", "Score", "Label", "Review", "Note")
REVIEW, NOTE = 3, 4
STATE_COLORS = {ReviewState.CONFIRMED: "#008a3a", ReviewState.DISMISSED: "#808080"}
ROW_BG = {ReviewState.CONFIRMED: QColor(214, 240, 220), ReviewState.DISMISSED: QColor(232, 232, 232)}
MAX_REVIEW_MARKS = 400


# ---- flag table with review columns ----------------------------------------------------------

class ReviewFlagModel(FlagModel):
    """FlagModel plus each beat's review state and note (columns Review and Note)."""

    def __init__(self, parent=None) -> None:
        self.states = np.zeros(0, np.int8)
        self.notes: dict[int, str] = {}
        super().__init__(parent)

    def set_data(self, times, scores, labels, threshold) -> None:
        self.states = np.zeros(len(times), np.int8)
        self.notes = {}
        super().set_data(times, scores, labels, threshold)

    def set_reviews(self, states: np.ndarray, notes: dict[int, str]) -> None:
        """All beats' states (int8 per beat) and notes (beat index -> note)."""
        self.layoutAboutToBeChanged.emit()
        self.states = np.asarray(states, np.int8)
        self.notes = dict(notes)
        self._order()
        self.layoutChanged.emit()

    def update_beat(self, beat: int, state: int, note: str) -> None:
        if beat >= len(self.states):
            return
        self.states[beat] = state
        if note:
            self.notes[beat] = note
        else:
            self.notes.pop(beat, None)
        row = self.row_of(beat)
        if row is not None:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(REVIEW_COLUMNS) - 1))

    def _order(self) -> None:
        if self.sort_column not in (REVIEW, NOTE) or len(self.states) != len(self.times):
            super()._order()
            return
        if self.sort_column == REVIEW:
            key = self.states[self.rows]
        else:
            key = np.array([bool(self.notes.get(int(b))) for b in self.rows], dtype=np.int8)
        order = np.lexsort((self.times[self.rows], key))
        if self.sort_order == Qt.SortOrder.DescendingOrder:
            order = order[::-1]
        self.rows = self.rows[order]

    def columnCount(self, parent=None) -> int:  # noqa: N802 - Qt API
        return 0 if parent is not None and parent.isValid() else len(REVIEW_COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return REVIEW_COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        beat = int(self.rows[index.row()])
        state = ReviewState(int(self.states[beat])) if beat < len(self.states) else ReviewState.UNREVIEWED
        if index.column() >= REVIEW:
            if role == Qt.ItemDataRole.DisplayRole:
                if index.column() == REVIEW:
                    return "" if state == ReviewState.UNREVIEWED else state.label
                return self.notes.get(beat, "").replace("\n", " ")
            if role == Qt.ItemDataRole.ToolTipRole and index.column() == NOTE:
                return self.notes.get(beat) or None
            if role == Qt.ItemDataRole.ForegroundRole and index.column() == REVIEW and state in STATE_COLORS:
                return QBrush(QColor(STATE_COLORS[state]))
            if role == Qt.ItemDataRole.UserRole:
                return beat
        elif role not in (Qt.ItemDataRole.BackgroundRole,):
            return super().data(index, role)
        if role == Qt.ItemDataRole.BackgroundRole and state in ROW_BG:
            return QBrush(ROW_BG[state])
        return None


class ReviewFlagTable(FlagTable):
    """The flagged-beats table with the review columns."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.flags = ReviewFlagModel(self)
        self.setModel(self.flags)
        self.selectionModel().currentRowChanged.connect(self._current_changed)
        self.horizontalHeader().setSortIndicator(self.flags.sort_column, self.flags.sort_order)
        from PySide6.QtWidgets import QHeaderView

        h = self.horizontalHeader()
        for c in range(len(REVIEW_COLUMNS) - 1):
            h.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        h.setSectionResizeMode(NOTE, QHeaderView.ResizeMode.Stretch)


# ---- marks on the trace ----------------------------------------------------------------------

class ReviewMarks:
    """Reviewed beats on the trace: a green ring (confirmed) or grey cross (dismissed) on the R peak,
    drawn for the beats in view only (redrawn on the view's ``rangeChanged``)."""

    def __init__(self, view) -> None:
        self.view = view
        self.item = pg.ScatterPlotItem(pxMode=True)
        self.item.setZValue(20)
        view.plot.addItem(self.item, ignoreBounds=True)
        self.times = np.zeros(0)
        self.samples = np.zeros(0, np.int64)
        self.states = np.zeros(0, np.int8)
        self.lead = 0
        view.rangeChanged.connect(self.redraw)

    def set_reviews(self, record, lead: int, samples: np.ndarray, states: np.ndarray) -> None:
        order = np.argsort(samples)
        self.samples = np.asarray(samples, np.int64)[order]
        self.states = np.asarray(states, np.int8)[order]
        self.times = self.samples / record.fs if record is not None else np.zeros(0)
        self.lead = lead
        self.redraw()

    def clear(self) -> None:
        self.set_reviews(None, 0, np.zeros(0, np.int64), np.zeros(0, np.int8))

    def redraw(self, *_args) -> None:
        v = self.view
        if v.record is None or not len(self.times):
            self.item.setData([])
            return
        t0, t1 = v.visible_range()
        i0, i1 = np.searchsorted(self.times, t0), np.searchsorted(self.times, t1)
        if i1 - i0 > MAX_REVIEW_MARKS:
            self.item.setData([])
            return
        sig = v.record.signal[self.samples[i0:i1], self.lead]
        y = v.plot_y(self.lead, np.nan_to_num(sig))  # on the trace as drawn (clipped to its lead band)
        # a tall R wave may run off the view: keep its mark on the edge rather than lose it
        (_, _), (ylo, yhi) = v.vb.viewRange()
        pad = 0.04 * (yhi - ylo)
        y = np.clip(y, ylo + pad, yhi - pad)
        spots = []
        for t, yy, s in zip(self.times[i0:i1], y, self.states[i0:i1]):
            color = STATE_COLORS.get(ReviewState(int(s)))
            if color is None:
                continue
            confirmed = s == ReviewState.CONFIRMED
            spots.append({"pos": (float(t), float(yy)), "size": 19 if confirmed else 15,
                          "symbol": "o" if confirmed else "x",
                          "pen": pg.mkPen(color, width=3 if confirmed else 1),
                          "brush": pg.mkBrush(0, 138, 58, 60) if confirmed else pg.mkBrush(color)})
        self.item.setData(spots)


# ---- the panel -------------------------------------------------------------------------------

class ReviewPanel(QWidget):
    """Selected beat's review: state, buttons, note field; counts, save place, mismatch banner."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.title = QLabel("No beat selected", self)
        self.state = QLabel("", self)
        self.state.setMinimumWidth(90)
        self.confirm = QPushButton("Confirm (A)", self)
        self.dismiss = QPushButton("Dismiss (D)", self)
        self.clear = QPushButton("Unreviewed (U)", self)
        self.note = QLineEdit(self)
        self.note.setPlaceholderText("Note: E to edit, Enter to save, Esc to leave")
        self.note.setClearButtonEnabled(True)
        self.counts = QLabel("", self)
        self.saved = QLabel("", self)
        self.saved.setWordWrap(True)
        self.saved.setStyleSheet("color: #606060; font-size: 8pt")
        self.saved.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner = QLabel("", self)
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background: #fff0c0; border: 1px solid #d09000; padding: 4px; color: #603000")
        self.apply_button = QPushButton("Apply the marks that fit", self)
        self.banner.hide()
        self.apply_button.hide()
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.state)
        buttons = QHBoxLayout()
        for b in (self.confirm, self.dismiss, self.clear):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            buttons.addWidget(b)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(3)
        lay.addWidget(self.banner)
        lay.addWidget(self.apply_button)
        lay.addLayout(top)
        lay.addLayout(buttons)
        lay.addWidget(self.note)
        lay.addWidget(self.counts)
        lay.addWidget(self.saved)
        self.set_enabled(False)

    def set_enabled(self, on: bool) -> None:
        for w in (self.confirm, self.dismiss, self.clear, self.note):
            w.setEnabled(on)

    def show_state(self, state: ReviewState | None) -> None:
        if state is None:
            self.state.setText("")
            return
        color = STATE_COLORS.get(state, "#303030")
        self.state.setText(f"<b style='color:{color}'>{state.label}</b>")


def show_mismatch(parent, text: str, details: str, on_apply) -> QMessageBox:
    """A window-modal, non-blocking warning: the review file is not applied unless the user asks."""
    box = QMessageBox(QMessageBox.Icon.Warning, "Review file does not match", text,
                      QMessageBox.StandardButton.Ignore, parent)
    apply = box.addButton("Apply the marks that fit", QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(QMessageBox.StandardButton.Ignore)
    box.setInformativeText("The file was left as it is; it is moved aside (kept as a backup) before the "
                           "first new mark is saved.")
    if details:
        box.setDetailedText(details)
    box.buttonClicked.connect(lambda b: on_apply() if b is apply else None)
    box.open()
    return box


# ---- the controller --------------------------------------------------------------------------

class ReviewController(QObject):
    """Review, measuring, metrics and export for a MainWindow (``w``)."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.w = window
        self.store: ReviewStore | None = None
        self.undo_stack = QUndoStack(self)
        self.mismatch_box: QMessageBox | None = None
        self._beat_index: dict[int, int] = {}

        self.panel = ReviewPanel(window)
        self.panel.confirm.clicked.connect(lambda: self.mark(ReviewState.CONFIRMED))
        self.panel.dismiss.clicked.connect(lambda: self.mark(ReviewState.DISMISSED))
        self.panel.clear.clicked.connect(lambda: self.mark(ReviewState.UNREVIEWED))
        self.panel.note.returnPressed.connect(self.commit_note)
        self.panel.apply_button.clicked.connect(self.apply_pending)
        self.metrics = MetricsPanel(window)

        dock = QDockWidget("Review", window)
        dock.setObjectName("review_dock")
        dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        mdock = QDockWidget("Flag metrics", window)
        mdock.setObjectName("metrics_dock")
        mdock.setWidget(self.metrics)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, mdock)
        self.review_dock, self.metrics_dock = dock, mdock

        self.marks = ReviewMarks(window.signal_view)
        self.calipers = Calipers(window.signal_view, self)
        self.crosshair = Crosshair(window.signal_view, self)
        self.cursor_label = QLabel("", window)
        self.cursor_label.setMinimumWidth(380)
        self.save_label = QLabel("", window)
        window.statusBar().addPermanentWidget(self.cursor_label)
        window.statusBar().addPermanentWidget(self.save_label)
        self.crosshair.moved.connect(self.cursor_label.setText)
        self.calipers.measured.connect(lambda m: window.statusBar().showMessage("Calipers: " + m.text(), 0))

    # ---- record life cycle ------------------------------------------------------------------
    def record_opened(self, record) -> None:
        self.store = None
        self.undo_stack.clear()
        self.sync_undo_actions()
        self._beat_index = {}
        self.marks.clear()
        self.calipers.clear()
        self.metrics.clear()
        self.panel.set_enabled(False)
        self.panel.banner.hide()
        self.panel.apply_button.hide()
        self.panel.counts.setText("")
        self.panel.saved.setText("")
        self.save_label.setText("")
        self._close_mismatch()
        self.show_beat()

    def scores_set(self, beats, result) -> None:
        """Beats and scores are known: open the review file, fill the metrics."""
        w = self.w
        record = w.record
        self.undo_stack.clear()
        self.sync_undo_actions()
        self._beat_index = {int(s): i for i, s in enumerate(np.asarray(beats.sample))}
        self.metrics.set_data(record, beats.sample, np.asarray(result.score), w.threshold)
        self.metrics_dock.setWindowTitle("Flag metrics" if self.metrics.metrics is not None
                                         else "Flag metrics (no reference)")
        try:
            self.store = ReviewStore.for_record(record, beats.sample)
        except (OSError, ValueError) as e:
            self.store = None
            log.warning("review store for %s: %s", record.path, e)
            w.statusBar().showMessage(f"Reviews are off for this record: {e}", 0)
            return
        self.store.add_listener(self._store_changed)
        self.panel.set_enabled(True)
        lr = self.store.load_result
        self._show_save_place(restored=lr.status == LoadStatus.RESTORED)
        if lr.status in (LoadStatus.MISMATCH, LoadStatus.UNREADABLE):
            self.panel.banner.setText(f"<b>Review file not applied.</b> {lr.message}")
            self.panel.banner.show()
            self.panel.apply_button.setVisible(lr.status == LoadStatus.MISMATCH and bool(lr.pending))
            w.statusBar().showMessage(lr.message, 0)
            self.review_dock.raise_()
            details = "\n".join([f"File: {lr.path}"] + lr.problems)
            self.mismatch_box = show_mismatch(w, lr.message, details,
                                              self.apply_pending if lr.status == LoadStatus.MISMATCH else lambda: None)
        elif lr.status == LoadStatus.RESTORED:
            w.statusBar().showMessage(lr.message, 10000)
        self._refresh_all()

    def _close_mismatch(self) -> None:
        if self.mismatch_box is not None:
            self.mismatch_box.close()
            self.mismatch_box = None

    def apply_pending(self) -> int:
        if self.store is None:
            return 0
        n = self.store.apply_pending()
        self.panel.banner.hide()
        self.panel.apply_button.hide()
        self._close_mismatch()
        self._refresh_all()
        self.w.statusBar().showMessage(f"Applied {n} review mark(s) from the mismatched file", 10000)
        return n

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

    # ---- reviewing --------------------------------------------------------------------------
    def _selected_sample(self) -> int | None:
        w = self.w
        if self.store is None:
            w.statusBar().showMessage("Reviewing needs a scored record", 5000)
            return None
        if w.selected_beat is None or w.beats is None:
            w.statusBar().showMessage("Select a beat first (N / P, or click the table)", 5000)
            return None
        return int(w.beats.sample[w.selected_beat])

    def _push(self, cmd) -> bool:
        try:
            self.undo_stack.push(cmd)
        except OSError as e:
            self.sync_undo_actions()
            from ecgviewer.ui import dialogs

            dialogs.show_error(self.w, "Cannot save the review", f"{self.store.save_path}: {e}")
            self._refresh_all()
            return False
        self.sync_undo_actions()
        return True

    def mark(self, state: ReviewState) -> None:
        """Set the selected beat's review state (A / D / U), undoable."""
        s = self._selected_sample()
        if s is None:
            return
        if self.store.get(s).state == state:
            return
        self._push(SetReviewState(self.store, s, state))

    def edit_note(self) -> None:
        """E: focus the note field of the selected beat."""
        if self._selected_sample() is None:
            return
        self.review_dock.raise_()
        self.panel.note.setFocus()
        self.panel.note.selectAll()

    def commit_note(self, text: str | None = None) -> None:
        """Enter in the note field (or a call): save the selected beat's note, undoable."""
        s = self._selected_sample()
        if s is None:
            return
        text = self.panel.note.text() if text is None else text
        if text != self.store.get(s).note:
            self._push(SetNote(self.store, s, text))
        self.w.signal_view.setFocus()

    def leave_note(self) -> bool:
        """Esc while the note field has focus: drop the edit, give the keys back; False otherwise."""
        if not self.panel.note.hasFocus():
            return False
        self.panel.note.clearFocus()
        self.show_beat()
        self.w.signal_view.setFocus()
        return True

    def undo(self) -> None:
        self.undo_stack.undo()
        self.sync_undo_actions()

    def redo(self) -> None:
        self.undo_stack.redo()
        self.sync_undo_actions()

    def sync_undo_actions(self) -> None:
        """Edit > Undo / Redo enabled state and text.

        Set by hand after each stack operation rather than from the stack's signals: QUndoStack
        emits them from its destructor too, into Python slots of half-destroyed objects, which
        crashes PySide 6.12 at interpreter exit (bool_dealloc / none_dealloc).
        """
        st, acts = self.undo_stack, getattr(self.w, "actions", {})
        for name, can, text in (("undo", st.canUndo(), st.undoText()), ("redo", st.canRedo(), st.redoText())):
            act = acts.get(name)
            if act is not None:
                act.setEnabled(can)
                act.setText(f"&{name.capitalize()} {text}".strip())

    # ---- following the store ----------------------------------------------------------------
    def _store_changed(self, samples: list[int]) -> None:
        table = self.w.table.flags
        for s in samples:
            i = self._beat_index.get(int(s))
            if i is not None:
                r = self.store.get(s)
                table.update_beat(i, int(r.state), r.note)
        self._refresh_marks()
        self._refresh_counts()
        self._show_save_place()
        self.w.statusBar().showMessage(f"Review saved to {self.store.save_path}", 5000)
        self.show_beat()

    def _refresh_all(self) -> None:
        w = self.w
        if self.store is None or w.beats is None:
            return
        states = self.store.states_for(w.beats.sample)
        notes = {self._beat_index[s]: r.note for s, r in self.store.reviews().items()
                 if r.note and s in self._beat_index}
        w.table.flags.set_reviews(states, notes)
        w.table.show_beat(w.selected_beat)
        self._refresh_marks()
        self._refresh_counts()
        self.show_beat()

    def _refresh_marks(self) -> None:
        w = self.w
        if self.store is None or w.record is None:
            self.marks.clear()
            return
        rev = {s: r for s, r in self.store.reviews().items() if r.state != ReviewState.UNREVIEWED}
        samples = np.fromiter(rev.keys(), np.int64, len(rev))
        states = np.fromiter((int(r.state) for r in rev.values()), np.int8, len(rev))
        lead = w.record.channel_names.index(w.beats.leads[0]) if w.beats.leads and \
            w.beats.leads[0] in w.record.channel_names else 0
        self.marks.set_reviews(w.record, lead, samples, states)

    def _refresh_counts(self) -> None:
        w = self.w
        if self.store is None:
            self.panel.counts.setText("")
            return
        from ecgviewer.core.report_content import review_counts  # the report counts with it too

        c = review_counts(self.store.states_for(w.beats.sample), np.asarray(w.result.score) >= w.threshold)
        self.panel.counts.setText(f"Confirmed {c['Confirmed']}, dismissed {c['Dismissed']}; "
                                  f"{c['Open']} flagged beats not reviewed yet")

    def show_beat(self) -> None:
        """Panel shows the selected beat's review."""
        w, p = self.w, self.panel
        i = w.selected_beat
        if i is None or w.beats is None or self.store is None:
            p.title.setText("No beat selected" if self.store is not None or w.beats is None
                            else "Reviews start when scoring is done")
            p.show_state(None)
            p.note.blockSignals(True)
            p.note.clear()
            p.note.blockSignals(False)
            p.set_enabled(False)
            return
        from ecgviewer.ui.paper import format_time

        r = self.store.get(int(w.beats.sample[i]))
        p.set_enabled(True)
        p.title.setText(f"Beat {i + 1} at {format_time(float(w.beats.time[i]), 0.01)}")
        p.show_state(r.state)
        if not p.note.hasFocus() or p.note.text() == r.note:
            p.note.setText(r.note)

    def beat_selected(self, _index) -> None:
        self.panel.note.clearFocus()
        self.show_beat()

    def threshold_changed(self, value: float) -> None:
        self.metrics.set_threshold(value)
        self._refresh_counts()

    # ---- measuring --------------------------------------------------------------------------
    def toggle_calipers(self, on: bool | None = None) -> None:
        on = (not self.calipers.active) if on is None else bool(on)
        self.calipers.set_active(on)
        act = self.w.actions.get("calipers")
        if act is not None and act.isChecked() != on:
            act.setChecked(on)
        self.w.statusBar().showMessage("Calipers on: drag on a lead to measure (M to turn off)" if on
                                       else "Calipers off", 5000)

    # ---- export -----------------------------------------------------------------------------
    def export_csv(self, path: str | Path | None = None) -> Path | None:
        """File > Export CSV: every beat; asks where (default: Documents) unless ``path`` is given."""
        from ecgviewer.ui.export_actions import run_export

        return run_export(self.w, "csv", path, self.store.reviews() if self.store is not None else {})

    def export_pdf(self, path: str | Path | None = None) -> Path | None:
        """File > Export PDF report (default: Documents)."""
        from ecgviewer.ui.export_actions import run_export

        return run_export(self.w, "pdf", path, self.store.reviews() if self.store is not None else {})
