"""Flag metrics against the reference annotations (EC57 150 ms matching), live at the current threshold.

Rows: all anomalies, then S, V, F, Q. Columns: reference beats, flagged (true positives), missed,
sensitivity; specificity and positive predictivity exist for the whole record only (a per-class
PPV would need per-class flags, which an anomaly score does not give). Uses
:class:`~ecgviewer.core.flag_metrics.FlagMetrics`; matching is done once per scoring, each
threshold is a few binary searches.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from ecgviewer.core.classes import ANOMALY_CLASSES
from ecgviewer.core.flag_metrics import FlagMetrics

HEADERS = ("Class", "Ref", "Flagged", "Missed", "Se", "Sp", "+P")
WAITING = "Metrics against the reference annotations appear when scoring is done."
NO_REFERENCE = "This record has no reference annotations: no metrics."


def pct(v: float | None) -> str:
    return "-" if v is None else f"{100.0 * v:.1f}%"


class MetricsPanel(QWidget):
    """``set_metrics(session.metrics, t)`` once per scoring, ``set_threshold(t)`` as it moves."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.metrics: FlagMetrics | None = None
        self.values: dict | None = None
        self.summary = QLabel(WAITING, self)
        self.summary.setWordWrap(True)
        self.table = QTableWidget(1 + len(ANOMALY_CLASSES), len(HEADERS), self)
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setFixedHeight(26 + 20 * (1 + len(ANOMALY_CLASSES)))
        self.note = QLabel("Matching: EC57, 150 ms. Positives: S, V, F, Q; negatives: N.", self)
        self.note.setStyleSheet("color: #606060; font-size: 8pt")
        self.note.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.summary)
        lay.addWidget(self.table)
        lay.addWidget(self.note)
        lay.addStretch(1)
        self.table.setEnabled(False)

    def clear(self, text: str = WAITING) -> None:
        self.metrics = None
        self.values = None
        self.summary.setText(text)
        self.table.clearContents()
        self.table.setEnabled(False)

    def set_metrics(self, metrics: FlagMetrics | None, threshold: float) -> bool:
        """The session's matching (done once per scoring); False (panel cleared) without a reference."""
        self.metrics = metrics
        if metrics is None:
            self.clear(NO_REFERENCE)
            return False
        self.table.setEnabled(True)
        self.set_threshold(threshold)
        return True

    def set_threshold(self, threshold: float) -> None:
        if self.metrics is None:
            return
        m = self.metrics.at(threshold)
        self.values = m
        self.summary.setText(
            f"Threshold {threshold:.4g}: {m['flagged']} flagged. TP {m['tp']}, FN {m['fn']}, FP {m['fp']}, "
            f"TN {m['tn']}; {m['flagged_unmatched']} flags on beats without a reference beat.")
        rows = [("All", m["tp"] + m["fn"], m["tp"], m["fn"], m["sensitivity"], m["specificity"], m["ppv"])]
        for c in ANOMALY_CLASSES:
            pc = m["per_class"][c]
            rows.append((c, pc["reference"], pc["flagged"], pc["missed"], pc["sensitivity"], None, None))
        for r, row in enumerate(rows):
            for col, v in enumerate(row):
                if col >= 4:
                    text = pct(v) if not (r > 0 and col > 4) else ""
                else:
                    text = str(v)
                item = self.table.item(r, col)
                if item is None:  # made once; a threshold step only changes texts (cheap while dragging)
                    item = QTableWidgetItem(text)
                    align = Qt.AlignmentFlag.AlignLeft if col == 0 else Qt.AlignmentFlag.AlignRight
                    item.setTextAlignment(align | Qt.AlignmentFlag.AlignVCenter)
                    if r == 0:
                        f = item.font()
                        f.setBold(True)
                        item.setFont(f)
                    self.table.setItem(r, col, item)
                elif item.text() != text:
                    item.setText(text)

    def cell(self, row: str, column: str) -> str:
        """Displayed text of ``row`` ('All', 'S', ...) and ``column`` (a header), for tests."""
        r = ("All",) + tuple(ANOMALY_CLASSES)
        item = self.table.item(r.index(row), HEADERS.index(column))
        return item.text() if item else ""
