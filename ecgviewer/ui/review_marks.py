"""Reviewed beats on the trace: a green ring (confirmed), grey cross (dismissed), blue plus (added by
the reviewer) or red cross (deleted) on the R peak, drawn for the beats in view only.

Reads the ReviewSession; redrawn on the view's ``rangeChanged`` and when reviews change.
Signal-view hooks used (public items only): ``plot.addItem``, ``rangeChanged``, ``visible_range()``,
``plot_y(c, mv)``, ``record``, ``vb``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from ecgviewer.core.review import BeatKind, ReviewState

MAX_REVIEW_MARKS = 400
#: (symbol, size, pen colour, pen width, brush) per mark kind.
STYLES = {
    "confirmed": ("o", 19, "#008a3a", 3, (0, 138, 58, 60)),
    "dismissed": ("x", 15, "#808080", 1, (128, 128, 128, 255)),
    "added": ("+", 17, "#0050c0", 2, (0, 80, 192, 255)),
    "deleted": ("x", 17, "#c00000", 2, (192, 0, 0, 255)),
}


def mark_kind(state: int, kind: int) -> str | None:
    if kind == BeatKind.DELETED:
        return "deleted"
    if state == ReviewState.CONFIRMED:
        return "confirmed"
    if state == ReviewState.DISMISSED:
        return "dismissed"
    if kind == BeatKind.ADDED:
        return "added"
    return None


class ReviewMarks:
    """Marks for one SignalView; ``set_session(session, lead)`` then ``refresh()`` when reviews change."""

    def __init__(self, view) -> None:
        self.view = view
        self.item = pg.ScatterPlotItem(pxMode=True)
        self.item.setZValue(20)
        view.plot.addItem(self.item, ignoreBounds=True)
        self.session = None
        self.lead = 0
        self.times = np.zeros(0)
        self.samples = np.zeros(0, np.int64)
        self.kinds: list[str] = []
        view.rangeChanged.connect(self.redraw)

    def set_session(self, session, lead: int = 0) -> None:
        self.session, self.lead = session, lead
        self.refresh()

    def clear(self) -> None:
        self.set_session(None)

    def refresh(self) -> None:
        """Re-read the marked beats from the session (after a review change)."""
        s = self.session
        if s is None:
            self.samples, self.times, self.kinds = np.zeros(0, np.int64), np.zeros(0), []
        else:
            idx = np.nonzero((s.state != 0) | (s.kind != 0))[0]
            idx = idx[np.argsort(s.sample[idx])]
            self.samples = s.sample[idx]
            self.times = self.samples / s.fs
            self.kinds = [mark_kind(int(s.state[i]), int(s.kind[i])) for i in idx]
        self.redraw()

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
        y = v.plot_y(self.lead, np.nan_to_num(sig))  # on the trace as drawn: lead band, gain, clipping
        # a tall R wave may run off the view: keep its mark on the edge rather than lose it
        (_, _), (ylo, yhi) = v.vb.viewRange()
        pad = 0.04 * (yhi - ylo)
        y = np.clip(y, ylo + pad, yhi - pad)
        spots = []
        for t, yy, k in zip(self.times[i0:i1], y, self.kinds[i0:i1]):
            if k is None:
                continue
            symbol, size, color, width, brush = STYLES[k]
            spots.append({"pos": (float(t), float(yy)), "size": size, "symbol": symbol,
                          "pen": pg.mkPen(color, width=width), "brush": pg.mkBrush(*brush)})
        self.item.setData(spots)
