"""ECG paper: the pink 1 mm / 5 mm grid and the h:mm:ss time axis.

Grid units follow the paper: 1 mm = 0.04 s across and 0.1 mV up (25 mm/s, 10 mm/mV). Lines are
drawn only when they are at least MIN_PX device pixels apart, so a whole day stays cheap to paint;
MIN_PX is below a millimetre on any screen (3.8 px at 96 dpi, 2.8 px at 72 dpi), so the 1 mm
grid of calibrated paper is always drawn, on a HiDPI screen too (spacing in device pixels).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QLineF, QRectF
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

PAPER = QColor("#fff4f4")
MINOR = QColor("#f5cccc")
MAJOR = QColor("#e89a9a")
MM_S = 0.04  # seconds per mm at 25 mm/s
MM_MV = 0.1  # mV per mm at 10 mm/mV
MIN_PX = 2.5  # lines closer than this many device pixels are not drawn


def format_time(t: float, spacing: float = 1.0) -> str:
    """Seconds from record start as h:mm:ss (with tenths or hundredths when ticks are close)."""
    sign = "-" if t < 0 else ""
    t = abs(t)
    digits = 0 if spacing >= 1 else (1 if spacing >= 0.1 else 2)
    t = round(t, digits)
    h, rem = divmod(t, 3600)
    m, s = divmod(rem, 60)
    sec = f"{s:0{3 + digits if digits else 2}.{digits}f}"
    return f"{sign}{int(h)}:{int(m):02d}:{sec}"


class TimeAxis(pg.AxisItem):
    """Bottom axis labelled h:mm:ss from the record start."""

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph API
        return [format_time(v * scale, spacing * scale) for v in values]


class PaperGrid(pg.GraphicsObject):
    """The paper grid, painted in the view's coordinates over the visible rect only."""

    def __init__(self, y_mm: float = MM_MV) -> None:
        super().__init__()
        self.y_mm = y_mm
        self.setZValue(-100)
        self._rect = QRectF(0, 0, 1, 1)

    def viewRangeChanged(self) -> None:  # noqa: N802 - called by the ViewBox
        vb = self.getViewBox()
        if vb is None:
            return
        self.prepareGeometryChange()
        self._rect = vb.viewRect()
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt API
        return self._rect

    def paint(self, p: QPainter, *args) -> None:
        vb = self.getViewBox()
        if vb is None:
            return
        r = vb.viewRect()
        w, h = max(vb.width(), 1.0), max(vb.height(), 1.0)
        dpr = p.device().devicePixelRatioF() if p.device() is not None else 1.0
        px_x = dpr * w / max(r.width(), 1e-12)  # device pixels per second
        px_y = dpr * h / max(r.height(), 1e-12)  # device pixels per unit (mV)
        for step_x, step_y, colour in ((MM_S, self.y_mm, MINOR), (5 * MM_S, 5 * self.y_mm, MAJOR)):
            pen = QPen(colour)
            pen.setCosmetic(True)
            pen.setWidthF(1.0)
            p.setPen(pen)
            lines = []
            if step_x * px_x >= MIN_PX:
                xs = np.arange(math.ceil(r.left() / step_x), math.floor(r.right() / step_x) + 1) * step_x
                lines += [QLineF(x, r.top(), x, r.bottom()) for x in xs]
            if step_y * px_y >= MIN_PX:
                ys = np.arange(math.ceil(r.top() / step_y), math.floor(r.bottom() / step_y) + 1) * step_y
                lines += [QLineF(r.left(), y, r.right(), y) for y in ys]
            if lines:
                p.drawLines(lines)


def cache_axes(*axes: pg.AxisItem) -> None:
    """Blit axes whose range a pan does not change from a pixmap instead of replaying them.

    A pan repaints every axis that the moving items overlap (~10 axis paints per frame); an axis
    whose range is unchanged then only copies its cached pixmap. ``AxisItem.update()`` on a range
    or style change invalidates the cache, so the ticks stay right.
    """
    for axis in axes:
        axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
