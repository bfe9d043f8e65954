"""Overview strip: the whole record at a glance, the visible window, every flagged beat; click to jump."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGraphicsItem

from ecgviewer.ui.paper import TimeAxis, cache_axes
from ecgviewer.ui.pyramid import MinMaxPyramid


class Overview(pg.PlotWidget):
    """One lead's envelope across the record; ``jumpRequested(time_s)`` on click or region drag."""

    jumpRequested = Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent, axisItems={"bottom": TimeAxis("bottom")})
        self.setBackground("#fbeeee")
        self.setFixedHeight(90)
        self.setMenuEnabled(False)
        self.hideButtons()
        self.getAxis("left").setWidth(64)
        self.getAxis("left").setStyle(showValues=False)
        self.getAxis("left").setTicks([[], []])
        cache_axes(self.getAxis("left"), self.getAxis("bottom"))
        vb = self.getViewBox()
        vb.setMouseEnabled(x=False, y=False)
        self.curve = pg.PlotCurveItem(pen=pg.mkPen("#606060"), connect="finite", skipFiniteCheck=True)
        self.flags = pg.PlotCurveItem(pen=pg.mkPen(220, 0, 0, 110, width=1), connect="pairs")
        self.region = pg.LinearRegionItem(brush=pg.mkBrush(60, 120, 255, 60), pen=pg.mkPen(40, 90, 220, 220, width=2))
        self.region.setZValue(10)
        self.curve.setZValue(5)
        for item in (self.curve, self.flags, self.region):
            self.addItem(item)
        # The envelope and the flag ticks change only with the record/threshold (or a resize), but every
        # pan moves the region over them and repaints them: keep them as pixmaps (redrawn when they change).
        for item in (self.curve, self.flags):
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.region.sigRegionChanged.connect(self._region_dragged)
        self.scene().sigMouseClicked.connect(self._clicked)
        self._updating = False
        self._duration = 1.0
        self._lo, self._hi = -1.0, 1.0

    def set_signal(self, pyramid: MinMaxPyramid, duration: float) -> None:
        self._duration = duration
        x, y = pyramid.view(0, duration, 800)
        finite = y[np.isfinite(y)]
        lo, hi = (np.percentile(finite, [0.5, 99.5]) if len(finite) else (-1.0, 1.0))
        self._lo, self._hi = float(lo), float(hi) if hi > lo else float(lo) + 1
        self.curve.setData(x=x, y=np.clip(y, self._lo, self._hi))
        self.flags.setData([], [])
        # limits first: the previous record's limits would clamp this record's range (a long record
        # after a short one showed only the short one's length)
        self.getViewBox().setLimits(xMin=0, xMax=duration)
        self.setXRange(0, duration, padding=0)
        self.setYRange(self._lo, self._hi, padding=0.05)

    def set_flags(self, times: np.ndarray) -> None:
        """Vertical red ticks at every flagged beat's time."""
        t = np.asarray(times, dtype=np.float64)
        self.flags.setData(np.repeat(t, 2), np.tile([self._lo, self._hi], len(t)))

    def set_visible(self, t0: float, t1: float) -> None:
        self._updating = True
        self.region.setRegion((t0, t1))
        self._updating = False

    def _region_dragged(self) -> None:
        if not self._updating:
            t0, t1 = self.region.getRegion()
            self.jumpRequested.emit((t0 + t1) / 2)

    def _clicked(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        pos = self.getViewBox().mapSceneToView(ev.scenePos())
        self.jumpRequested.emit(float(min(max(pos.x(), 0.0), self._duration)))

    def jump_to(self, time_s: float) -> None:
        """What a click at ``time_s`` does (used by tests and keyboard users)."""
        self.jumpRequested.emit(float(time_s))
