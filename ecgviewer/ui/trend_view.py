"""Heart-rate trend of the whole record: the mean per minute with its min-max band, events marked
above it, click to jump; below, the hourly table for records longer than an hour.

Fed by :class:`ecgviewer.core.trends.MinuteTrend` and the events of the same analysis as
``ecgviewer events`` (whose JSON carries the same minute summary and hourly rows).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from ecgviewer.core.events import KIND_SHORT, KINDS, Event
from ecgviewer.core.trends import MinuteTrend
from ecgviewer.ui.paper import PAPER, TimeAxis, format_time

#: Marker colour per event kind (ventricular red, supraventricular blue, rate green, AF purple).
KIND_COLORS = {"pause": "#000000", "brady": "#2e7d32", "tachy": "#66bb6a", "couplet": "#ef9a9a",
               "triplet": "#e57373", "vt": "#c62828", "ivr": "#ad1457", "bigeminy": "#ff7043",
               "trigeminy": "#ffa726", "svt": "#1565c0", "af": "#6a1b9a"}
HOURLY = ("Hour", "Beats", "Mean", "Min", "Max", "V", "S", "Events")


class TrendView(QWidget):
    """``set_trend(trend, events, hourly)``; emits ``jumpRequested(seconds)`` on a click."""

    jumpRequested = Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(self, background=PAPER, axisItems={"bottom": TimeAxis("bottom")})
        p = self.plot.getPlotItem()
        p.setMenuEnabled(False)
        p.hideButtons()
        p.setLabel("left", "HR bpm")
        p.getViewBox().setMouseEnabled(x=True, y=False)
        p.showGrid(x=False, y=True, alpha=0.25)
        self.band = pg.FillBetweenItem(pg.PlotDataItem(), pg.PlotDataItem(), brush=pg.mkBrush(0, 96, 64, 50))
        p.addItem(self.band)
        self.curve = p.plot(pen=pg.mkPen("#006040", width=1.5))
        self.legend = p.addLegend(offset=(-4, 2), colCount=6, labelTextSize="7pt")
        self.marks: list[pg.ScatterPlotItem] = []
        self.plot.scene().sigMouseClicked.connect(self._clicked)
        self.hourly = QTableWidget(0, len(HOURLY), self)
        self.hourly.setHorizontalHeaderLabels(HOURLY)
        self.hourly.verticalHeader().hide()
        self.hourly.verticalHeader().setDefaultSectionSize(18)
        self.hourly.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.hourly.horizontalHeader().setStretchLastSection(True)
        self.hourly.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.summary = QLabel("", self)
        self.summary.setWordWrap(True)  # one long line would set the window's minimum width
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.summary)
        lay.addWidget(self.plot, 2)
        lay.addWidget(self.hourly, 1)
        self.hourly.hide()
        self.trend: MinuteTrend | None = None
        self.events: list[Event] = []

    def set_trend(self, trend: MinuteTrend | None, events: list[Event] = (), hourly: list[dict] = ()) -> None:
        self.trend, self.events = trend, list(events)
        if trend is None or not len(trend):
            self.curve.setData([], [])
            self._clear_marks()
            self.summary.setText("")
            self.hourly.hide()
            return
        mid = trend.start + trend.covered / 2
        self.curve.setData(mid, trend.mean, connect="finite")
        lo = np.where(np.isfinite(trend.min), trend.min, trend.mean)
        hi = np.where(np.isfinite(trend.max), trend.max, trend.mean)
        self.band.setCurves(pg.PlotDataItem(mid, np.nan_to_num(lo)), pg.PlotDataItem(mid, np.nan_to_num(hi)))
        fin = np.isfinite(hi)
        top = float(np.nanmax(hi[fin])) if fin.any() else 100.0
        self._clear_marks()
        y = top + 6  # one row of marks above the trend, a colour per kind
        for kind in KINDS:
            x = [e.start for e in self.events if e.kind == kind]
            if x:
                item = pg.ScatterPlotItem(x, np.full(len(x), y), size=7, pen=None, brush=pg.mkBrush(KIND_COLORS[kind]),
                                          symbol="t" if kind in ("pause", "af") else "o", name=KIND_SHORT[kind])
                self.plot.getPlotItem().addItem(item)
                self.marks.append(item)
        bottom = float(np.nanmin(lo[fin])) if fin.any() else 40.0
        self.plot.setYRange(max(bottom - 5, 0), top + 25, padding=0)
        self.plot.setXRange(0, float(trend.start[-1] + trend.covered[-1]), padding=0.01)
        s = trend.summary()
        self.summary.setText(f"Heart rate per minute: mean {s['mean_bpm']} bpm, slowest minute {s['min_bpm']} "
                             f"at {format_time(s['min_at'] or 0)}, fastest {s['max_bpm']} at {format_time(s['max_at'] or 0)}; "
                             "band: 8-beat min-max; marks: events (click to jump)")
        self._fill_hourly(list(hourly))

    def _clear_marks(self) -> None:
        for item in self.marks:
            self.plot.getPlotItem().removeItem(item)
        self.marks = []
        self.legend.clear()

    def _fill_hourly(self, rows: list[dict]) -> None:
        self.hourly.setVisible(len(rows) > 1)
        self.hourly.setRowCount(len(rows))
        for r, h in enumerate(rows):
            vals = (f"{h['hour']}:00", h["beats"], h["mean_bpm"], h["min_bpm"], h["max_bpm"], h.get("V", ""),
                    h.get("S", ""), ", ".join(f"{k} {n}" for k, n in h.get("events", {}).items()))
            for c, v in enumerate(vals):
                self.hourly.setItem(r, c, QTableWidgetItem("-" if v is None else str(v)))

    def _clicked(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        vb = self.plot.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        self.jump_to(float(vb.mapSceneToView(ev.scenePos()).x()))

    def jump_to(self, t: float) -> None:
        """Emit a jump to ``t`` (s), or to the nearest event's start when one is marked within 1 % of the view."""
        if self.trend is None:
            return
        x0, x1 = self.plot.getPlotItem().getViewBox().viewRange()[0]
        near = [e for e in self.events if abs(e.start - t) <= 0.01 * (x1 - x0)]
        if near:
            t = min(near, key=lambda e: abs(e.start - t)).start
        end = float(self.trend.start[-1] + self.trend.covered[-1])
        self.jumpRequested.emit(min(max(t, 0.0), end))
