"""The beat table: one Qt model over the session's BeatList (filter and sort live in the core).

Rows hold beat indices; the model reads scores, labels and reviews from the ReviewSession, so the
table keeps no copy of its own. The highlighted row always follows the session's selection, which
is a beat's identity: after a sort, a filter or a threshold step the table re-finds that beat's row
(or highlights none when the beat is not listed), so what is highlighted is what A/D act on.

Columns have fixed widths (set once from the font): a threshold step resets the model, and
resize-to-contents would then read every row's text (~36k ``data()`` calls a step, issue 16).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from ecgviewer.core.review import BeatKind, ReviewState
from ecgviewer.core.session import (
    CLASS,
    COLUMNS,
    LABEL,
    NOTE,
    REVIEW,
    SCORE,
    TIME,
    BeatList,
    ReviewSession,
    review_text,
)
from ecgviewer.ui.paper import format_time

STATE_COLORS = {ReviewState.CONFIRMED: "#008a3a", ReviewState.DISMISSED: "#808080"}
ROW_BG = {ReviewState.CONFIRMED: QColor(214, 240, 220), ReviewState.DISMISSED: QColor(232, 232, 232)}
DELETED_BG = QColor(245, 220, 220)
#: Column widths in characters of the table's font ("0:00:00.00" is the widest time).
WIDTH_CHARS = {TIME: 11, SCORE: 7, LABEL: 5, CLASS: 7, REVIEW: 10}
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_ROLES = frozenset({Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.UserRole, Qt.ItemDataRole.TextAlignmentRole,
                    Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.BackgroundRole})


class BeatTableModel(QAbstractTableModel):
    """Rows of a BeatList; ``refresh()`` after the session changed which beats are listed."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.list = BeatList(None)

    # ---- data source ---------------------------------------------------------------------------
    @property
    def session(self) -> ReviewSession | None:
        return self.list.session

    def set_session(self, session: ReviewSession | None) -> None:
        self.beginResetModel()
        self.list.set_session(session)
        self.endResetModel()

    def clear(self) -> None:
        self.set_session(None)

    def refresh(self) -> None:
        """Threshold, filter or beats changed: rows are recomputed (cheap, see BeatList)."""
        self.beginResetModel()
        self.list.update()
        self.endResetModel()

    def reviews_changed(self, samples: list[int]) -> None:
        before = self.list.rows
        self.list.reviews_changed()
        if len(before) == len(self.list.rows) and np.array_equal(before, self.list.rows):
            for s in samples:  # same rows: repaint only the changed ones
                row = self.list.row_of(s)
                if row is not None:
                    self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        else:
            self.beginResetModel()
            self.endResetModel()

    @property
    def rows(self) -> np.ndarray:
        return self.list.rows

    @property
    def scores(self) -> np.ndarray:
        return self.session.score if self.session is not None else np.zeros(0)

    @property
    def sort_column(self) -> int:
        return self.list.sort_column

    @property
    def sort_order(self) -> Qt.SortOrder:
        return Qt.SortOrder.DescendingOrder if self.list.descending else Qt.SortOrder.AscendingOrder

    def row_of(self, index: int | None) -> int | None:
        """Row of beat ``index`` (into the session's beats), None when it is not listed."""
        s = self.session
        if s is None or index is None or not 0 <= index < len(s):
            return None
        return self.list.row_of(int(s.sample[index]))

    # ---- Qt model ---------------------------------------------------------------------------------
    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:  # noqa: D401
        self.layoutAboutToBeChanged.emit()
        self.list.sort(column, order == Qt.SortOrder.DescendingOrder)
        self.layoutChanged.emit()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.list.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role not in _ROLES:  # most roles a view asks for: answered before any lookup
            return None
        s = self.session
        if s is None or not index.isValid() or index.row() >= len(self.list.rows):
            return None
        i = int(self.list.rows[index.row()])
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(s, i, col)
        if role == Qt.ItemDataRole.UserRole:
            return i
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if col in (TIME, SCORE) else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return (s.note.get(i) or None) if col == NOTE else None
        if role == Qt.ItemDataRole.ForegroundRole:
            color = STATE_COLORS.get(ReviewState(int(s.state[i]))) if col == REVIEW else None
            return QBrush(QColor(color)) if color else None
        if s.kind[i] == BeatKind.DELETED:  # BackgroundRole
            return QBrush(DELETED_BG)
        bg = ROW_BG.get(ReviewState(int(s.state[i])))
        return QBrush(bg) if bg is not None else None

    @staticmethod
    def _text(s: ReviewSession, i: int, col: int) -> str:
        if col == TIME:
            return format_time(float(s.time[i]), 0.01)
        if col == SCORE:
            return "" if np.isnan(s.score[i]) else f"{float(s.score[i]):.4g}"
        if col == LABEL:
            return str(s.symbol[i])
        if col == CLASS:
            return str(s.label[i]) or str(s.ref_class[i])
        if col == REVIEW:
            return review_text(int(s.state[i]), int(s.kind[i]))
        return s.note.get(i, "").replace("\n", " ")


class BeatTable(QTableView):
    """The beat list; ``beatActivated(index)`` when a row is clicked, entered or moved to."""

    beatActivated = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.flags = BeatTableModel(self)
        self.setModel(self.flags)
        self._selected: int | None = None  # the session's selected beat (index), followed on every change
        self._quiet = False
        self._pressing = False
        # indicator first: enabling sorting sorts by the indicator's column (0 by default)
        self.horizontalHeader().setSortIndicator(SCORE, Qt.SortOrder.DescendingOrder)
        self.setSortingEnabled(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(20)
        self.setAlternatingRowColors(True)
        h = self.horizontalHeader()
        char = self.fontMetrics().horizontalAdvance("0")
        for c, n in WIDTH_CHARS.items():
            h.setSectionResizeMode(c, QHeaderView.ResizeMode.Interactive)
            h.resizeSection(c, char * n + 12)
        h.setSectionResizeMode(NOTE, QHeaderView.ResizeMode.Stretch)
        self.clicked.connect(self._activate)
        self.activated.connect(self._activate)
        self.selectionModel().currentRowChanged.connect(self._current_changed)
        # after any re-sort or reset the highlight goes back to the selected beat's row
        self.flags.layoutChanged.connect(self._resync)
        self.flags.modelReset.connect(self._resync)

    def beat_at(self, row: int) -> int:
        """The beat index (into the session's beats) on ``row``."""
        return int(self.flags.rows[row])

    def _activate(self, index: QModelIndex) -> None:
        if index.isValid():
            self.beatActivated.emit(self.beat_at(index.row()))

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        # a mouse press selects on release (``clicked``): selecting inside Qt's press handler let
        # it finish that press with a stale offset, highlighting a row other than the current one
        if not self._quiet and not self._pressing and current.isValid():
            self.beatActivated.emit(self.beat_at(current.row()))

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt API
        self._pressing = True
        try:
            super().mousePressEvent(event)
        finally:
            self._pressing = False

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self._activate(self.currentIndex())
            return
        super().keyPressEvent(event)

    def _resync(self) -> None:
        self.show_beat(self._selected, scroll=False)

    def show_beat(self, beat: int | None, scroll: bool = True) -> None:
        """Highlight ``beat``'s row without re-emitting (the window already selected it); no row
        (the beat is filtered out) highlights nothing rather than some other beat."""
        self._selected = beat
        row = self.flags.row_of(beat)
        self._quiet = True
        try:
            sm = self.selectionModel()
            if row is None:
                sm.clear()
            else:
                idx = self.flags.index(row, 0)
                sm.setCurrentIndex(idx, sm.SelectionFlag.ClearAndSelect | sm.SelectionFlag.Rows)
                # never scroll a row that is in view: during a click that would move another row
                # under the mouse, and Qt's release would then select that one
                if scroll and not self.viewport().rect().contains(self.visualRect(idx)):
                    self.scrollTo(idx)
        finally:
            self._quiet = False

    def step(self, direction: int) -> int | None:
        """The beat on the next (+1) or previous (-1) row from the selected beat's; None without rows."""
        n = self.flags.rowCount()
        if n == 0:
            return None
        cur = self.flags.row_of(self._selected)
        if cur is None:
            cur = self.currentIndex().row() if self.currentIndex().isValid() else -1
        row = (0 if direction > 0 else n - 1) if cur < 0 else min(max(cur + direction, 0), n - 1)
        return self.beat_at(row)


#: The old names (one model now: issue 17 item 5).
FlagModel, FlagTable = BeatTableModel, BeatTable
