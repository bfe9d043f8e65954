"""Heart-rate trend of the whole record: one point per pair of consecutive beats, x-linked to the trace.

Left axis: instantaneous heart rate (bpm = 60 / RR); right axis: the same positions labelled as
the RR interval in ms, so one track answers both. A separate widget (not a row of the signal
view) x-linked to ``signal_view.plot``, with the same left-axis width so the time axes line up.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from ecgviewer.ui.paper import PAPER, cache_axes

AXIS_WIDTH = 64  # as the signal view's left axes


def rr_series(sample: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """(time of the second beat s, RR ms) for each pair of consecutive beats."""
    s = np.sort(np.asarray(sample, dtype=np.int64))
    if len(s) < 2:
        return np.zeros(0), np.zeros(0)
    return s[1:] / fs, np.diff(s) / fs * 1000.0


#: Heart rates the axis always shows when a record reaches them (bpm); beyond, an artefact may lie.
HR_SHOWN = (10.0, 250.0)


def hr_range(hr: np.ndarray) -> tuple[float, float]:
    """The heart-rate axis: every beat's rate within :data:`HR_SHOWN`, with 5 bpm to spare. Not a
    percentile range: a few premature beats are the points a reviewer looks for, and they would
    run off its top."""
    lo = max(float(np.min(hr)), HR_SHOWN[0])
    hi = min(float(np.max(hr)), HR_SHOWN[1])
    return max(0.0, lo - 5.0), max(hi, lo) + 5.0


class RRAxis(pg.AxisItem):
    """Right axis: bpm tick positions written as RR ms."""

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph API
        return [f"{60000.0 / v:.0f}" if v > 0 else "" for v in values]


class RRTrend(pg.GraphicsLayoutWidget):
    """The trend track; ``set_beats(sample, fs)`` fills it, ``link(plot)`` ties its x axis."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground(PAPER)
        self.setFixedHeight(110)
        self.plot = self.addPlot(row=0, col=0, axisItems={"right": RRAxis("right")})
        p = self.plot
        p.setMenuEnabled(False)
        p.hideButtons()
        p.showAxis("right")
        p.getAxis("left").setWidth(AXIS_WIDTH)
        p.getAxis("right").setWidth(46)
        p.hideAxis("bottom")  # time labels are on the score track above; this one only cost repaints
        p.setLabel("left", "HR bpm")
        p.setLabel("right", "RR ms")
        for name in ("left", "right"):
            p.getAxis(name).setPen(pg.mkPen("#804040"))
            p.getAxis(name).setTextPen(pg.mkPen("#402020"))
        p.getViewBox().setMouseEnabled(x=True, y=False)
        cache_axes(p.getAxis("left"), p.getAxis("right"))
        # no y grid: it made both axes repaint the whole strip on every pan (docs/viewer.md)
        self.curve = p.plot(pen=pg.mkPen("#006040", width=1), symbol="o", symbolSize=3,
                            symbolPen=None, symbolBrush=pg.mkBrush("#006040"))
        self.curve.setClipToView(True)
        self.curve.setDownsampling(auto=True, method="peak")
        self.times = np.zeros(0)
        self.rr_ms = np.zeros(0)

    def link(self, plot: pg.PlotItem) -> None:
        self.plot.setXLink(plot)

    def set_beats(self, sample: np.ndarray | None, fs: float = 1.0, duration: float | None = None) -> None:
        if sample is None:
            self.times, self.rr_ms = np.zeros(0), np.zeros(0)
        else:
            self.times, self.rr_ms = rr_series(sample, fs)
        hr = self.heart_rate
        # Symbols only when few points are in view would be nicer; with thousands, a line suffices.
        self.curve.setSymbol("o" if len(hr) <= 5000 else None)
        self.curve.setData(self.times, hr)
        if duration:
            self.plot.getViewBox().setLimits(xMin=0, xMax=duration)
        if len(hr):
            lo, hi = hr_range(hr)
            self.plot.setYRange(lo, hi, padding=0)

    @property
    def heart_rate(self) -> np.ndarray:
        return 60000.0 / self.rr_ms if len(self.rr_ms) else np.zeros(0)
