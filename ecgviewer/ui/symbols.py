"""Annotation symbols above their beats, painted by one item.

One ``pg.TextItem`` per symbol cost ~7 ms per pan at a 60 s window (each re-lays out its text and
recomputes its transform on every view change); this item keeps the positions in arrays and draws
the visible symbols with one ``QPainter.drawText`` each, in device pixels so the text does not
scale with the zoom.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen


class SymbolRow(pg.GraphicsObject):
    """Short texts centred at x positions (data coordinates) on one y line, text below the line."""

    def __init__(self, color: str = "#203080") -> None:
        super().__init__()
        self.x = np.zeros(0)
        self.texts: list[str] = []
        self.y = 0.0
        self._pen = QPen(QColor(color))
        self._font = QFont()
        self._height = QFontMetricsF(self._font).height()

    def set_symbols(self, x: np.ndarray, texts: list[str], y: float) -> None:
        """Replace the symbols shown (positions in seconds, baseline y in view units)."""
        self.prepareGeometryChange()
        self.x = np.asarray(x, float)
        self.texts = [str(t) for t in texts]
        self.y = float(y)
        self.update()

    def __len__(self) -> int:
        return len(self.texts)

    def boundingRect(self) -> QRectF:
        if not len(self.x):
            return QRectF()
        # width: the symbols' span plus ~1 glyph each side; height: one text line in view units
        px = self.pixelVectors()[0]
        wx = abs(px.x()) * 20 if px is not None else 0.0
        hy = abs(self.pixelVectors()[1].y()) * self._height if px is not None else 0.0
        x0, x1 = float(self.x.min()) - wx, float(self.x.max()) + wx
        return QRectF(x0, self.y - hy, x1 - x0, hy)

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()

    def paint(self, p: QPainter, *args) -> None:
        if not self.texts:
            return
        tr = p.transform()
        p.resetTransform()
        p.setPen(self._pen)
        p.setFont(self._font)
        h = self._height
        for x, text in zip(self.x, self.texts):
            pt = tr.map(QPointF(float(x), self.y))
            p.drawText(QRectF(pt.x() - 20, pt.y(), 40, h), Qt.AlignHCenter | Qt.AlignTop, text)
