"""Flagged-beats table: time, score and reference label of every beat at or over the threshold.

The model holds beat indices only; sorting reorders that index array with numpy, so a day's worth
of flags sorts at once. Clicking a row, Enter, or moving with the arrow keys emits the beat.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from ecgviewer.ui.paper import format_time

COLUMNS = ("Time", "Score", "Label")
TIME, SCORE, LABEL = range(3)


class FlagModel(QAbstractTableModel):
    """Rows are indices into the BeatSet of the beats with score >= threshold."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.times = np.zeros(0)
        self.scores = np.zeros(0)
        self.labels = np.zeros(0, str)
        self.rows = np.zeros(0, np.int64)
        self.threshold = 0.0
        self.sort_column = SCORE
        self.sort_order = Qt.SortOrder.DescendingOrder

    def set_data(self, times: np.ndarray, scores: np.ndarray, labels: np.ndarray, threshold: float) -> None:
        self.times, self.scores, self.labels = np.asarray(times), np.asarray(scores), np.asarray(labels)
        self.set_threshold(threshold)

    def clear(self) -> None:
        self.set_data(np.zeros(0), np.zeros(0), np.zeros(0, str), self.threshold)

    def set_threshold(self, threshold: float) -> None:
        self.beginResetModel()
        self.threshold = float(threshold)
        self.rows = np.nonzero(self.scores >= self.threshold)[0]
        self._order()
        self.endResetModel()

    def _order(self) -> None:
        key = self.times if self.sort_column in (TIME, LABEL) else self.scores
        if self.sort_column == LABEL:
            order = np.lexsort((self.times[self.rows], self.labels[self.rows]))
        else:
            order = np.argsort(key[self.rows], kind="stable")
        if self.sort_order == Qt.SortOrder.DescendingOrder:
            order = order[::-1]
        self.rows = self.rows[order]

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:  # noqa: D401
        self.layoutAboutToBeChanged.emit()
        self.sort_column, self.sort_order = column, order
        self._order()
        self.layoutChanged.emit()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        beat = int(self.rows[index.row()])
        if role == Qt.ItemDataRole.DisplayRole:
            if index.column() == TIME:
                return format_time(float(self.times[beat]), 0.01)
            if index.column() == SCORE:
                return f"{float(self.scores[beat]):.4g}"
            return str(self.labels[beat]) if len(self.labels) else ""
        if role == Qt.ItemDataRole.UserRole:
            return beat
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() != LABEL:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def row_of(self, beat: int) -> int | None:
        hit = np.nonzero(self.rows == beat)[0]
        return int(hit[0]) if len(hit) else None


class FlagTable(QTableView):
    """The flagged-beats table; ``beatActivated(index)`` when a row is clicked, entered or moved to."""

    beatActivated = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.flags = FlagModel(self)
        self.setModel(self.flags)
        self.setSortingEnabled(True)
        self.horizontalHeader().setSortIndicator(SCORE, Qt.SortOrder.DescendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(20)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.setAlternatingRowColors(True)
        self.clicked.connect(self._activate)
        self.activated.connect(self._activate)
        self.selectionModel().currentRowChanged.connect(self._current_changed)
        self._quiet = False

    def beat_at(self, row: int) -> int:
        return int(self.flags.rows[row])

    def _activate(self, index: QModelIndex) -> None:
        if index.isValid():
            self.beatActivated.emit(self.beat_at(index.row()))

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not self._quiet and current.isValid():
            self.beatActivated.emit(self.beat_at(current.row()))

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self._activate(self.currentIndex())
            return
        super().keyPressEvent(event)

    def show_beat(self, beat: int | None) -> None:
        """Make ``beat``'s row current without re-emitting (the window already selected it)."""
        row = None if beat is None else self.flags.row_of(beat)
        self._quiet = True
        try:
            if row is None:
                self.clearSelection()
            else:
                self.selectRow(row)
                self.scrollTo(self.flags.index(row, 0))
        finally:
            self._quiet = False

    def step(self, direction: int) -> int | None:
        """Move to the next (+1) or previous (-1) row; returns its beat, or None without rows."""
        n = self.flags.rowCount()
        if n == 0:
            return None
        cur = self.currentIndex().row() if self.currentIndex().isValid() else -1
        row = (0 if direction > 0 else n - 1) if cur < 0 else min(max(cur + direction, 0), n - 1)
        self.show_beat(self.beat_at(row))
        return self.beat_at(row)
