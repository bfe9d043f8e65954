"""The rhythm events panel: counts per kind, the event list, jump-to, confirm and dismiss.

Shows :func:`ecgviewer.core.holter.events_payload`'s events as ``ecgviewer events`` prints them
(same analysis, same order). A decision acts on the event whose row is current, looked up by the
event's key (kind and first beat), never by a row number kept from before a filter changed.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ecgviewer.core.events import KIND_SHORT, KIND_TITLES, KINDS, Event
from ecgviewer.core.review import ReviewState
from ecgviewer.ui.paper import format_time

COLUMNS = ("Event", "Start", "Duration", "Beats", "Rate", "Review")
ROW_BG = {ReviewState.CONFIRMED: QColor(214, 240, 220), ReviewState.DISMISSED: QColor(232, 232, 232)}


def duration_text(e: Event) -> str:
    return f"{e.duration:.1f} s" if e.duration < 120 else format_time(e.duration)


class EventModel(QAbstractTableModel):
    """Events of the chosen kind (all by default), in time order; ``states``: key -> ReviewState."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.all: list[Event] = []
        self.events: list[Event] = []
        self.kind: str | None = None
        self.states: dict[str, ReviewState] = {}

    def set_events(self, events: list[Event], states: dict[str, ReviewState]) -> None:
        self.beginResetModel()
        self.all, self.states = list(events), dict(states)
        self.events = [e for e in self.all if self.kind in (None, e.kind)]
        self.endResetModel()

    def set_kind(self, kind: str | None) -> None:
        self.kind = kind
        self.set_events(self.all, self.states)

    def set_state(self, key: str, state: ReviewState) -> None:
        self.states[key] = state
        for row, e in enumerate(self.events):
            if e.key == key:
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self.events)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802 - Qt API
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        e = self.events[index.row()]
        state = self.states.get(e.key, ReviewState.UNREVIEWED)
        if role == Qt.ItemDataRole.DisplayRole:
            col = index.column()
            if col == 0:
                return KIND_SHORT[e.kind]
            if col == 1:
                return format_time(e.start)
            if col == 2:
                return duration_text(e)
            if col == 3:
                return str(e.beats)
            if col == 4:
                return "" if e.rate_bpm is None else f"{e.rate_bpm:.0f} bpm"
            return "" if state == ReviewState.UNREVIEWED else state.label
        if role == Qt.ItemDataRole.BackgroundRole and state in ROW_BG:
            return QBrush(ROW_BG[state])
        if role == Qt.ItemDataRole.ToolTipRole:
            extra = f"; RR {e.extra['rr_s']:.2f} s" if "rr_s" in e.extra else ""
            return f"{KIND_TITLES[e.kind]} from {format_time(e.start, 0.01)} to {format_time(e.end, 0.01)}{extra}"
        return None


class EventsPanel(QWidget):
    """``set_events(events, states)``; emits ``eventActivated(Event)`` on click and
    ``decisionMade(Event, ReviewState)`` from the Confirm / Dismiss / Undecided buttons."""

    eventActivated = Signal(object)
    decisionMade = Signal(object, object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.summary = QLabel("No events: open and score a record.", self)
        self.summary.setWordWrap(True)
        self.kind_box = QComboBox(self)
        self.kind_box.currentIndexChanged.connect(self._kind_changed)
        self.model = EventModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        # fixed widths: resizing to contents reads every row (slow on a 24-hour record's events)
        header = self.table.horizontalHeader()
        for col, width in enumerate((78, 62, 60, 44, 62)):
            self.table.setColumnWidth(col, max(width, header.sectionSizeFromContents(col).width()))
        # the last column stretches when there is room, and is never narrower than its header or a decision
        fm = self.table.fontMetrics()
        review = max(header.sectionSizeFromContents(len(COLUMNS) - 1).width(),
                     *(fm.horizontalAdvance(s.label) + 12 for s in ROW_BG))
        self.table.setColumnWidth(len(COLUMNS) - 1, review)
        header.setStretchLastSection(True)
        self.table.clicked.connect(self._activated)
        self.table.activated.connect(self._activated)
        self.buttons = {}
        row = QHBoxLayout()
        for state, text in ((ReviewState.CONFIRMED, "Confirm"), (ReviewState.DISMISSED, "Dismiss"),
                            (ReviewState.UNREVIEWED, "Undecided")):
            b = QPushButton(text, self)
            b.clicked.connect(lambda _=False, s=state: self.decide(s))
            row.addWidget(b)
            self.buttons[state] = b
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.summary)
        lay.addWidget(self.kind_box)
        lay.addWidget(self.table, 1)
        lay.addLayout(row)
        self._fill_kinds({})

    def set_events(self, events: list[Event], states: dict[str, ReviewState] | None = None,
                   note: str = "") -> None:
        """Show ``events`` (one record's, in time order); ``note``: e.g. where the classes came from."""
        counts = {k: sum(e.kind == k for e in events) for k in KINDS}
        self.model.set_events(events, states or {})
        self._fill_kinds(counts)
        parts = [f"{KIND_TITLES[k]} {n}" for k, n in counts.items() if n]
        text = f"{len(events)} events" + (": " + ", ".join(parts) if parts else "")
        self.summary.setText(text + (f"<br><i>{note}</i>" if note else ""))

    def _fill_kinds(self, counts: dict[str, int]) -> None:
        keep = self.model.kind
        self.kind_box.blockSignals(True)
        self.kind_box.clear()
        self.kind_box.addItem(f"All kinds ({sum(counts.values())})", None)
        for k in KINDS:
            if counts.get(k):
                self.kind_box.addItem(f"{KIND_TITLES[k]} ({counts[k]})", k)
        i = self.kind_box.findData(keep)
        self.kind_box.setCurrentIndex(max(i, 0))
        self.kind_box.blockSignals(False)
        if i < 0 and keep is not None:
            self.model.set_kind(None)

    def _kind_changed(self, _i: int) -> None:
        self.model.set_kind(self.kind_box.currentData())

    def current_event(self) -> Event | None:
        idx = self.table.currentIndex()
        return self.model.events[idx.row()] if idx.isValid() and idx.row() < len(self.model.events) else None

    def select_event(self, key: str) -> bool:
        for row, e in enumerate(self.model.events):
            if e.key == key:
                self.table.selectRow(row)
                self.table.scrollTo(self.model.index(row, 0))
                return True
        return False

    def _activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.eventActivated.emit(self.model.events[index.row()])

    def decide(self, state: ReviewState) -> None:
        e = self.current_event()
        if e is None:
            return
        self.model.set_state(e.key, state)
        self.decisionMade.emit(e, state)
