"""Measuring on the trace: calipers (drag between two points) and a crosshair read-out.

Both live outside the signal view and only use its public items: ``plot`` (the leads' PlotItem),
``vb`` (its ViewBox), ``offset(channel)``, ``gain``, ``record``, ``pyramids[c].signal`` and the
scene's ``sigMouseMoved``. Plot units are ``offset(c) + gain * mV`` (each lead in its own band,
``view.lead_at(y)``), time is seconds, so amplitude differences are ``Δy / gain`` whether or not
calibrated paper mode is on. A rate (bpm) is shown only for an interval an RR interval can be
(MIN_RR_S and longer): a QRS width of 134 ms is not "446 bpm".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, Qt, Signal

from ecgviewer.ui.signal_view import LEAD_SPACING

CALIPER_COLOR = "#0050c0"
MIN_RR_S = 0.24  # 250 bpm: shorter intervals are QRS, QT or PR widths, not beat-to-beat


def format_hms_ms(t: float) -> str:
    """Seconds from record start as h:mm:ss.mmm."""
    sign = "-" if t < 0 else ""
    ms = int(round(abs(t) * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{sign}{h}:{m:02d}:{s:02d}.{ms:03d}"


@dataclass(frozen=True)
class Measurement:
    """What a caliper reads: Δt (ms), the rate that interval means (bpm, None below MIN_RR_S), Δ mV."""

    t0: float
    t1: float
    dt_ms: float
    bpm: float | None
    dmv: float
    lead: str

    def text(self) -> str:
        rate = f"   {self.bpm:.0f} bpm" if self.bpm is not None else ""
        return f"Δt {self.dt_ms:.0f} ms{rate}   ΔmV {self.dmv:+.2f} ({self.lead})"


def measure(t0: float, mv0: float, t1: float, mv1: float, lead: str = "") -> Measurement:
    dt = abs(t1 - t0)
    return Measurement(t0, t1, dt * 1000.0, 60.0 / dt if dt >= MIN_RR_S else None, mv1 - mv0, lead)


def lead_at(view, y: float) -> int:
    """The lead whose band holds plot-y ``y`` (the nearest band when between them)."""
    n = view.record.n_channels if view.record is not None else 1
    return int(min(view.lead_at(y), n - 1))


def to_mv(view, lead: int, y: float) -> float:
    return (y - view.offset(lead)) / (view.gain or 1.0)


class Calipers(QObject):
    """Caliper tool on the signal view: when ``active``, a left drag measures between two points.

    ``set_points_mv`` places it programmatically; ``measurement`` holds the last reading and
    ``measured`` is emitted with it.
    """

    measured = Signal(object)
    activeChanged = Signal(bool)

    def __init__(self, view, parent=None) -> None:
        super().__init__(parent)
        self.view = view
        self.active = False
        self.measurement: Measurement | None = None
        self._p0: QPointF | None = None
        pen = pg.mkPen(CALIPER_COLOR, width=2)
        self.line = pg.PlotCurveItem(pen=pg.mkPen(CALIPER_COLOR, width=1.5, style=Qt.PenStyle.DashLine))
        self.legs = pg.PlotCurveItem(pen=pen, connect="pairs")
        self.ends = pg.ScatterPlotItem(size=9, pen=pen, brush=pg.mkBrush(CALIPER_COLOR), symbol="o")
        self.label = pg.TextItem(color=CALIPER_COLOR, fill=pg.mkBrush(255, 255, 255, 220),
                                 border=pg.mkPen(CALIPER_COLOR), anchor=(0.5, 1.15))
        for item in (self.line, self.legs, self.ends, self.label):
            item.setZValue(40)
            view.plot.addItem(item, ignoreBounds=True)
        self.clear()
        self._vb_drag = view.vb.mouseDragEvent
        view.vb.mouseDragEvent = self._drag

    def set_active(self, on: bool) -> None:
        on = bool(on)
        if on == self.active:
            return
        self.active = on
        self.view.viewport().setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)
        if not on:
            self.clear()
        self.activeChanged.emit(on)

    def clear(self) -> None:
        self.measurement = None
        self._p0 = None
        for item in (self.line, self.legs, self.ends):
            item.setData([], [])
        self.label.hide()

    # ---- placing ----------------------------------------------------------------------------
    def set_points(self, p0: QPointF, p1: QPointF) -> Measurement:
        """Two points in plot coordinates (s, plot units); the lead is the first point's."""
        v = self.view
        lead = lead_at(v, p0.y())
        name = v.record.channel_names[lead] if v.record is not None else ""
        m = measure(p0.x(), to_mv(v, lead, p0.y()), p1.x(), to_mv(v, lead, p1.y()), name)
        self._draw(p0, p1, m)
        self.measurement = m
        self.measured.emit(m)
        return m

    def set_points_mv(self, lead: int, t0: float, mv0: float, t1: float, mv1: float) -> Measurement:
        """Two points as (time s, mV) on channel ``lead``."""
        v = self.view
        y = lambda mv: v.offset(lead) + v.gain * mv  # noqa: E731
        return self.set_points(QPointF(t0, y(mv0)), QPointF(t1, y(mv1)))

    def _draw(self, p0: QPointF, p1: QPointF, m: Measurement) -> None:
        x0, y0, x1, y1 = p0.x(), p0.y(), p1.x(), p1.y()
        self.line.setData([x0, x1], [y0, y1])
        leg = LEAD_SPACING * 0.12
        # The bracket and read-out go above the points when there is room in view, else below.
        (_, _), (ylo, yhi) = self.view.vb.viewRange()
        room = LEAD_SPACING * 0.35
        above = max(y0, y1) + leg + room < yhi or min(y0, y1) - leg - room < ylo
        yb = max(y0, y1) + leg if above else min(y0, y1) - leg
        self.legs.setData([x0, x0, x1, x1, x0, x1], [y0, yb, y1, yb, yb, yb])
        self.ends.setData([x0, x1], [y0, y1])
        self.label.setText(m.text())
        self.label.setAnchor((0.5, 1.1) if above else (0.5, -0.1))
        self.label.setPos((x0 + x1) / 2, yb)
        # setVisible (not show) runs TextItem's own override; force the transform, since a label
        # never painted yet has no view transform and would be culled off-screen.
        self.label.setVisible(True)
        self.label.updateTransform(force=True)

    # ---- mouse ------------------------------------------------------------------------------
    def _drag(self, ev, axis=None) -> None:
        """Wraps the ViewBox's mouseDragEvent: a left drag measures while active, else pans as before.

        pyqtgraph's scene calls ``item.mouseDragEvent`` as a Python attribute, so this needs no Qt
        event filter (and no C++ virtual override) on the signal view.
        """
        vb = self.view.vb
        if not self.active or self.view.record is None or ev.button() != Qt.MouseButton.LeftButton:
            self._vb_drag(ev, axis) if axis is not None else self._vb_drag(ev)
            return
        ev.accept()
        if ev.isStart() or self._p0 is None:
            self._p0 = vb.mapSceneToView(ev.buttonDownScenePos())
        self.set_points(self._p0, vb.mapSceneToView(ev.scenePos()))
        if ev.isFinish():
            self._p0 = None


class Crosshair(QObject):
    """Time (h:mm:ss.mmm) and amplitude (mV) under the mouse, for the status bar; a thin vertical line."""

    moved = Signal(str)

    def __init__(self, view, parent=None) -> None:
        super().__init__(parent)
        self.view = view
        self.vline = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(0, 80, 192, 90, width=1))
        self.vline.setZValue(30)
        self.vline.hide()
        view.plot.addItem(self.vline, ignoreBounds=True)
        self.text = ""
        self._scene_pos = None  # where the mouse last was over the trace
        view.scene().sigMouseMoved.connect(self._moved)
        view.recordSet.connect(self.clear)
        view.rangeChanged.connect(self._view_moved)

    def clear(self, *_args) -> None:
        """Forget the read-out (another record was opened: its time and mV no longer apply)."""
        self.vline.hide()
        self.text = ""
        self._scene_pos = None
        self.moved.emit("")

    def _view_moved(self, *_range) -> None:
        """The trace moved under the cursor (keys, overview, a beat jump): read again what is under a mouse
        still over the trace, else clear; the last time and mV would no longer be where they are shown."""
        if not self.text:
            return
        if self._scene_pos is not None and self.view.underMouse():
            self._moved(self._scene_pos)
        else:
            self.clear()

    def read(self, t: float, y: float) -> str:
        """The read-out for plot point (t s, y plot units)."""
        v = self.view
        rec = v.record
        if rec is None:
            return ""
        lead = lead_at(v, y)
        mv = to_mv(v, lead, y)
        text = f"{format_hms_ms(t)}   {rec.channel_names[lead]} {mv:+.3f} mV (cursor)"
        i = int(round(t * rec.fs))
        if 0 <= i < rec.n_samples:
            s = float(rec.signal[i, lead])
            if np.isfinite(s):
                text += f", {s:+.3f} mV (signal)"
        return text

    def _moved(self, scene_pos) -> None:
        v = self.view
        if v.record is None or not v.vb.sceneBoundingRect().contains(scene_pos):
            self.vline.hide()
            return
        self._scene_pos = QPointF(scene_pos)
        p = v.vb.mapSceneToView(scene_pos)
        self.vline.setValue(p.x())
        self.vline.show()
        self.text = self.read(p.x(), p.y())
        self.moved.emit(self.text)
