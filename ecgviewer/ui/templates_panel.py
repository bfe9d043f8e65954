"""The templates panel: morphology groups with counts and highest score, an overlay of a template's
members, and one action that relabels a whole template ("these 500 are V"; "artefact" takes it off
the list). Shows :func:`ecgviewer.core.holter.templates_payload`'s templates in the same order as
``ecgviewer templates`` prints them.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ecgviewer.core.templates import Template
from ecgviewer.ui.paper import PAPER

#: Members drawn in the overlay at most (evenly spread over the template's beats).
MAX_DRAWN = 60
#: What a template can be relabelled as; "artefact" removes it from the list.
RELABELS = ("N", "S", "V", "F", "Q", "artefact")
COLUMNS = ("#", "Beats", "Label", "Max score")


def drawn_members(members: np.ndarray, cap: int = MAX_DRAWN) -> np.ndarray:
    """At most ``cap`` members, evenly spaced in time (the same ones every time)."""
    if len(members) <= cap:
        return members
    return members[np.linspace(0, len(members) - 1, cap).round().astype(int)]


class TemplatesPanel(QWidget):
    """``set_templates(templates, x)`` with the BeatSet's windows ``x``; emits ``beatsSelected(members)``
    when a template is chosen, ``beatActivated(index)`` for its first member on double click, and
    ``relabelRequested(template_id, label)``; ``message(text)`` says why a relabel was not made."""

    beatsSelected = Signal(object)
    beatActivated = Signal(int)
    relabelRequested = Signal(int, str)
    message = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.templates: list[Template] = []
        self.shown: list[Template] = []
        self.hidden: set[int] = set()  # templates called artefact
        self.x: np.ndarray | None = None
        self.summary = QLabel("No templates: open a record.", self)
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.currentCellChanged.connect(lambda r, *_: self._show_row(r))
        self.table.cellDoubleClicked.connect(lambda r, _c: self._activate_row(r))
        self.plot = pg.PlotWidget(self, background=PAPER)
        self.plot.setMinimumHeight(160)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.getPlotItem().hideAxis("left")
        self.plot.setLabel("bottom", "ms from R peak")
        self.plot.setMouseEnabled(x=False, y=False)
        self.caption = QLabel("", self)
        self.label_box = QComboBox(self)
        self.label_box.addItems(list(RELABELS))
        self.label_box.setCurrentIndex(-1)  # no template chosen: no label either (never a default "N")
        self.relabel_button = QPushButton("Relabel template", self)
        self.relabel_button.clicked.connect(self.relabel_current)
        row = QHBoxLayout()
        lead = QLabel("All beats of this template are", self)
        lead.setWordWrap(True)  # wraps in a narrow column instead of widening the window
        row.addWidget(lead, 1)
        row.addWidget(self.label_box)
        row.addWidget(self.relabel_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.summary)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.caption)
        lay.addLayout(row)

    def set_templates(self, templates: list[Template], x: np.ndarray, fs_model: float = 360.0, before: int = 140,
                      note: str = "") -> None:
        keep = self.current_template()
        self.templates, self.x = list(templates), x
        self._ms = (np.arange(x.shape[-1]) - before) / fs_model * 1000.0 if x is not None and x.ndim == 3 else None
        self._note = note
        self._fill()
        if keep is not None:
            self.select_template(keep.id)
        self._sync_label(self.current_template())

    def _sync_label(self, t: Template | None) -> None:
        """The combo shows the chosen template's own label (none without one): one click on Relabel
        must never turn a template of 442 V beats into N."""
        self.label_box.setCurrentIndex(RELABELS.index(t.label) if t is not None and t.label in RELABELS else -1)

    def _fill(self) -> None:
        self.shown = [t for t in self.templates if t.id not in self.hidden]
        self.table.setRowCount(len(self.shown))
        for r, t in enumerate(self.shown):
            vals = (str(t.id), str(t.count), t.label or "-", "-" if t.max_score is None else f"{t.max_score:.4g}")
            for c, v in enumerate(vals):
                it = QTableWidgetItem(v)
                if c != 2:
                    it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, it)
        n = sum(t.count for t in self.templates)
        off = f"; {len(self.hidden)} called artefact, off the list" if self.hidden else ""
        self.summary.setText(f"{n} beats in {len(self.templates)} templates{off}"
                             + (f"<br><i>{self._note}</i>" if self._note else ""))
        if not self.shown:
            self.plot.clear()
            self.caption.setText("")

    def current_template(self) -> Template | None:
        r = self.table.currentRow()
        return self.shown[r] if 0 <= r < len(self.shown) else None

    def select_template(self, tid: int) -> bool:
        for r, t in enumerate(self.shown):
            if t.id == tid:
                self.table.selectRow(r)
                return True
        return False

    def _show_row(self, r: int) -> None:
        if not 0 <= r < len(self.shown) or self.x is None:
            return
        t = self.shown[r]
        self._sync_label(t)
        self.plot.clear()
        drawn = drawn_members(t.members)
        pen = pg.mkPen("#9090a0", width=1)
        for i in drawn:
            self.plot.plot(self._ms, self.x[i, 0], pen=pen)
        self.plot.plot(self._ms, t.mean, pen=pg.mkPen("#b00020", width=2.5))
        self.caption.setText(f"Template {t.id}: {len(drawn)} of {t.count} beats drawn, mean in red")
        self.beatsSelected.emit(t.members)

    def _activate_row(self, r: int) -> None:
        if 0 <= r < len(self.shown):
            self.beatActivated.emit(int(self.shown[r].members[0]))

    def relabel_current(self) -> None:
        """Relabel the current template (looked up by its id) as the chosen label."""
        t = self.current_template()
        if t is None:
            self.message.emit("Choose a template in the list first, then its label")
            return
        label = self.label_box.currentText()
        if label not in RELABELS:
            self.message.emit(f"Choose what the beats of template {t.id} are, then Relabel template")
            return
        if label == "artefact":
            self.hidden.add(t.id)
        self.relabelRequested.emit(t.id, label)
