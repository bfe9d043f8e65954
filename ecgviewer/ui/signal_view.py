"""The signal view: stacked leads on ECG paper, beat marks, heat map and the anomaly-score track.

Each lead has its own band, sized from that lead's amplitude (pyramid.lead_extent), so at gain 1
tall R waves are drawn whole and leads never cross. Raising the gain keeps the bands and clips
the trace at its band's edges, as Holter strips do (the scale label then says "clipped"): one
lead never writes over another. The label right above the leads always shows the speed and
gain as they are on this screen.

Everything drawn depends only on the visible time range: curves come from a min/max pyramid at
about two points per pixel, and labels, marks and heat-map columns are made for the beats in view
only. That keeps each frame cheap from a whole day down to one beat.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication

from ecgviewer.core.heatmap import display_map, display_scale, dominant_template, map_peaks
from ecgviewer.core.record import Record
from ecgviewer.ui.paper import MM_MV, MM_S, PAPER, PaperGrid, TimeAxis, cache_axes
from ecgviewer.ui.pyramid import MinMaxPyramid, flag_columns, lead_extent
from ecgviewer.ui.symbols import SymbolRow

LEAD_SPACING = 3.0  # nominal band height (mV): sizes marks, ticks and caliper brackets
LEAD_GAP = 0.2  # mV between one lead's band and the next
LABEL_ROOM = 0.45  # mV above the top band for the annotation symbols
MAX_LABELS = 100  # annotation symbols drawn only when at most this many are in view
MAX_MARKERS = 400  # circles on flagged R peaks only when at most this many are in view
MIN_WINDOW_S = 0.5  # closest zoom: about one beat
GAINS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def heat_lut() -> np.ndarray:
    """Transparent -> orange -> red, so a low error leaves the paper visible."""
    t = np.linspace(0, 1, 256)
    lut = np.zeros((256, 4), np.ubyte)
    lut[:, 0] = 255
    lut[:, 1] = (200 * (1 - t)).astype(np.ubyte)
    lut[:, 2] = 0
    lut[:, 3] = (255 * np.clip(t * 1.4, 0, 1)).astype(np.ubyte)
    return lut


FLAG_LUT = np.array([[0, 0, 0, 0], [0xd0, 0, 0, 255]], np.ubyte)


def column_max(col: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct column (``col`` sorted, as beats are), the largest value: reduceat, not ufunc.at."""
    if not len(col):
        return col, value
    starts = np.concatenate([[0], np.nonzero(np.diff(col))[0] + 1])
    return col[starts], np.maximum.reduceat(value, starts)


class SignalView(pg.GraphicsLayoutWidget):
    """Leads plot over a score plot, x-linked. Public API: set_record / set_beats / set_result,
    center_on, set_window, page, zoom_time, set_gain / reset_gain, set_calibrated, set_heatmap,
    select_beat; geometry for tools drawn on the trace: offset(c), band(c), lead_at(y), plot_y(c, mV).

    Hook left for the session helper: a click on the trace selecting the nearest beat belongs in a
    small handler on ``vb`` (scene click -> ``vb.mapSceneToView`` -> nearest ``_beat_t``)."""

    thresholdChanged = Signal(float)
    rangeChanged = Signal(float, float)
    calibratedChanged = Signal(bool)
    gainChanged = Signal(float)
    recordSet = Signal(object)  # a new record is shown (read-outs of the old one are stale)
    traceClicked = Signal(float, bool)  # time (s) of a left click on the leads, Shift held (review hook)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground(PAPER)
        self.record: Record | None = None
        self.pyramids: list[MinMaxPyramid] = []
        self.gain = 1.0
        self.calibrated = False
        self.heat_visible = True
        self.heat_opacity = 0.5
        self._beat_t = np.zeros(0)
        self._beat_sample = np.zeros(0, np.int64)
        self._beat_leads: list[int] = []
        self._scores: np.ndarray | None = None
        self._error: np.ndarray | None = None
        self._beat_x: np.ndarray | None = None
        self._template: np.ndarray | None = None
        self._err_max: np.ndarray | None = None
        self._err_scale = 1.0
        self._threshold = 0.0
        self._selected: int | None = None
        self._ann_t = np.zeros(0)
        self._ann_sym = np.zeros(0, str)
        self._pending = False
        self._draws = 0
        self._in_calibration = False
        self._offsets: list[float] = [0.0]
        self._bands: list[tuple[float, float]] = [(-LEAD_SPACING / 2, LEAD_SPACING / 2)]
        self.clipped = False

        self.plot = self.addPlot(row=0, col=0, axisItems={"bottom": TimeAxis("bottom")})
        self.score_plot = self.addPlot(row=1, col=0, axisItems={"bottom": TimeAxis("bottom")})
        self.ci.layout.setRowStretchFactor(0, 5)
        self.ci.layout.setRowStretchFactor(1, 1)
        self.vb = self.plot.getViewBox()
        self.score_plot.setXLink(self.plot)
        for p in (self.plot, self.score_plot):
            p.getAxis("left").setWidth(64)
            p.setMenuEnabled(False)
            p.hideButtons()
            for name in ("left", "bottom"):
                p.getAxis(name).setPen(pg.mkPen("#804040"))
                p.getAxis(name).setTextPen(pg.mkPen("#402020"))
        # the score track right below carries the time labels; an unlabelled axis here only cost
        # tick generation and a repaint on every pan (docs/viewer.md)
        self.plot.hideAxis("bottom")
        cache_axes(self.plot.getAxis("left"), self.score_plot.getAxis("left"))
        self.vb.setMouseEnabled(x=True, y=False)
        self.score_plot.getViewBox().setMouseEnabled(x=True, y=False)
        self.score_plot.setLabel("left", "score")
        self.score_plot.getAxis("left").enableAutoSIPrefix(False)
        self.grid = PaperGrid(MM_MV)
        self.vb.addItem(self.grid, ignoreBounds=True)
        self.vb.sigRangeChanged.connect(self.grid.viewRangeChanged)
        # speed and gain as drawn, in a title row right above the leads: always shown, never over
        # the trace or the annotation symbols (issue 16)
        self.plot.setTitle(" ", size="9pt", justify="right", color="#402020")
        self.plot.layout.setRowFixedHeight(0, 18)
        self.plot.titleLabel.setMaximumHeight(18)
        self.scale_label = self.plot.titleLabel

        self.curves: list[pg.PlotCurveItem] = []
        self.heat_items: dict[int, pg.ImageItem] = {}
        self.flag_ticks = pg.PlotCurveItem(pen=pg.mkPen("#d00000", width=3), connect="pairs")
        # many flags in view (coarse zoom): one row image, a red column per flagged pixel column
        # (a width-3 pen stroke per beat costs ~3 ms for the 3 k flags of a day)
        self.flag_band = pg.ImageItem(axisOrder="row-major")
        self.flag_band.setLookupTable(FLAG_LUT)
        self.flag_band.hide()
        self.flag_marks = pg.ScatterPlotItem(size=11, pen=pg.mkPen("#d00000", width=2), brush=None, symbol="o")
        self.selection = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(60, 120, 255, 40),
                                             pen=pg.mkPen(60, 120, 255, 160))
        self.selection.setZValue(-50)
        self.selection.hide()
        for item in (self.flag_ticks, self.flag_band, self.flag_marks, self.selection):
            self.plot.addItem(item, ignoreBounds=True)
        self.labels = SymbolRow("#203080")
        self.plot.addItem(self.labels, ignoreBounds=True)

        self.score_low = pg.PlotCurveItem(pen=pg.mkPen("#707070", width=1), connect="pairs")
        self.score_high = pg.PlotCurveItem(pen=pg.mkPen("#d00000", width=2), connect="pairs")
        self.score_plot.addItem(self.score_low)
        self.score_plot.addItem(self.score_high)
        self.threshold_line = pg.InfiniteLine(angle=0, movable=True, pen=pg.mkPen("#0050c0", width=2),
                                              hoverPen=pg.mkPen("#0080ff", width=3),
                                              label="threshold {value:.4g}",
                                              labelOpts={"position": 0.06, "color": "#0050c0", "anchors": [(0, 1), (0, 1)]})
        self.threshold_line.setZValue(10)
        self.score_plot.addItem(self.threshold_line)
        self.threshold_line.sigPositionChanged.connect(self._line_moved)
        self.score_sel = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(60, 120, 255, 160, width=2))
        self.score_sel.hide()
        self.score_plot.addItem(self.score_sel)

        # A pan/zoom redraws at once, not on the next event-loop turn: otherwise the view is painted
        # twice per frame (stale curves first, then the redrawn ones) at every zoom level.
        self.vb.sigXRangeChanged.connect(self._range_changed)
        self.vb.sigResized.connect(self._resized)
        self.scene().sigMouseClicked.connect(self._clicked)

    # ---- data -------------------------------------------------------------------------------
    def set_record(self, record: Record, window_s: float = 10.0) -> None:
        """Show ``record`` from its start; builds the pyramids (a second for a whole day)."""
        self.record = record
        self.pyramids = [MinMaxPyramid(record.signal[:, c], record.fs) for c in range(record.n_channels)]
        self._layout_bands([lead_extent(p) for p in self.pyramids])
        for c in self.curves:
            self.plot.removeItem(c)
        for item in self.heat_items.values():
            self.plot.removeItem(item)
        self.heat_items = {}
        self.curves = []
        for _ in range(record.n_channels):
            curve = pg.PlotCurveItem(pen=pg.mkPen("#101010", width=1), connect="finite", skipFiniteCheck=True)
            self.plot.addItem(curve)
            self.curves.append(curve)
        ticks = [(self.offset(c), name) for c, name in enumerate(record.channel_names)]
        self.plot.getAxis("left").setTicks([ticks, []])
        ann = record.annotations
        if ann is not None and len(ann):
            self._ann_t = ann.sample / record.fs
            self._ann_sym = ann.symbol
        else:
            self._ann_t, self._ann_sym = np.zeros(0), np.zeros(0, str)
        self.set_beats(None)
        dur = record.duration
        self.vb.setLimits(xMin=0, xMax=dur, minXRange=min(MIN_WINDOW_S, dur), maxXRange=dur)
        self.score_plot.getViewBox().setLimits(xMin=0, xMax=dur)
        self._set_y_range()
        self.set_window(0.0, min(window_s, dur))
        if self.calibrated:
            self._apply_calibration()
        self.recordSet.emit(record)

    def _layout_bands(self, extents: list[tuple[float, float]]) -> None:
        """Stack the leads' bands top to bottom, LEAD_GAP apart; lead 0's baseline at 0."""
        self._bands = [(float(lo), float(hi)) for lo, hi in extents] or [(-LEAD_SPACING / 2, LEAD_SPACING / 2)]
        self._offsets = [0.0]
        for c in range(1, len(self._bands)):
            self._offsets.append(self._offsets[-1] + self._bands[c - 1][0] - LEAD_GAP - self._bands[c][1])

    def offset(self, channel: int) -> float:
        """Baseline (0 mV) of ``channel`` in plot units (mV at gain 1), top lead at 0."""
        return self._offsets[channel] if 0 <= channel < len(self._offsets) else -channel * LEAD_SPACING

    def band(self, channel: int) -> tuple[float, float]:
        """(bottom, top) of ``channel``'s band in plot units: its trace never leaves it."""
        lo, hi = self._bands[min(channel, len(self._bands) - 1)]
        return self.offset(channel) + lo, self.offset(channel) + hi

    def lead_at(self, y: float) -> int:
        """The lead whose band holds plot-y ``y`` (the nearest band outside them all)."""
        n = len(self._offsets)
        dist = [max(b - y, y - t, 0.0) for b, t in (self.band(c) for c in range(n))]
        return int(np.argmin(dist)) if n else 0

    def plot_y(self, channel: int, mv: np.ndarray) -> np.ndarray:
        """Plot y of ``mv`` on ``channel`` at the current gain, clipped to the lead's band."""
        lo, hi = self._bands[channel]
        return self.offset(channel) + np.clip(self.gain * np.asarray(mv, dtype=np.float64), lo, hi)

    def set_beats(self, beats) -> None:
        """Beat positions (a BeatSet, or None to clear) for marks and the heat map."""
        rec = self.record
        if beats is None or rec is None or len(beats) == 0:
            self._beat_t = np.zeros(0)
            self._beat_sample = np.zeros(0, np.int64)
            self._beat_leads = []
            self._beat_x = None
        else:
            self._beat_x = getattr(beats, "x", None)
            self._beat_t = np.asarray(beats.time, dtype=np.float64)
            self._beat_sample = np.asarray(beats.sample, dtype=np.int64)
            self._beat_leads = [rec.channel_names.index(n) if n in rec.channel_names else i
                                for i, n in enumerate(beats.leads)]
        self._scores = None
        self._error = None
        self._template = None
        self._selected = None
        self.selection.hide()
        self.score_sel.hide()
        self._ensure_heat_items()
        self._schedule()

    def set_result(self, scores: np.ndarray, error: np.ndarray | None, threshold: float) -> None:
        """Scores (n,) and per-tick errors (n, leads, 320) of the beats given to set_beats.

        The heat map shows core.heatmap's display map (each beat's difference from the record's
        dominant beat, smoothed over a QRS width) when the beats' windows are known, else ``error``.
        """
        self._scores = np.asarray(scores, dtype=np.float64)
        self._error = error
        x = self._beat_x
        if x is not None and len(x) == len(self._scores) and len(x):
            self._template = dominant_template(x, self._scores)
            self._err_max = None  # per-beat peaks: made when a wide view first needs them (~2 s a day)
            self._err_scale = display_scale(x, self._template)
        else:
            self._template = None
            self._err_max = error.max(axis=2) if error is not None and len(error) else None
            if error is not None and len(error):
                sample = error[:: max(len(error) // 2000, 1)]
                self._err_scale = float(np.percentile(sample, 99.5)) or 1.0
        hi = float(np.percentile(self._scores, 99.5)) if len(self._scores) else 1.0
        top = max(hi * 1.25, threshold * 1.6) or 1.0  # room above the line for its label
        lo = min(0.0, float(self._scores.min()) if len(self._scores) else 0.0)
        self.score_plot.getViewBox().setYRange(lo, top, padding=0)
        self.set_threshold(threshold)
        self._schedule()

    def set_threshold(self, value: float) -> None:
        if value == self._threshold and self.threshold_line.value() == value:
            return
        self._threshold = float(value)
        self._setting_line = True  # not blockSignals: the line's label must follow
        try:
            self.threshold_line.setValue(value)
        finally:
            self._setting_line = False
        self._schedule_flags()

    def _line_moved(self) -> None:
        if getattr(self, "_setting_line", False):
            return
        self._threshold = float(self.threshold_line.value())
        self.thresholdChanged.emit(self._threshold)
        self._schedule_flags()

    # ---- navigation -------------------------------------------------------------------------
    def visible_range(self) -> tuple[float, float]:
        (t0, t1), _ = self.vb.viewRange()
        return float(t0), float(t1)

    def set_window(self, t0: float, t1: float) -> None:
        self.vb.setXRange(t0, t1, padding=0)

    def center_on(self, time_s: float) -> None:
        """Keep the window width, put ``time_s`` in the middle (clamped to the record)."""
        t0, t1 = self.visible_range()
        w = t1 - t0
        dur = self.record.duration if self.record else w
        start = min(max(time_s - w / 2, 0.0), max(dur - w, 0.0))
        self.set_window(start, start + w)

    def page(self, direction: int) -> None:
        """Move by 90% of a screen (some overlap keeps context)."""
        t0, t1 = self.visible_range()
        self.center_on((t0 + t1) / 2 + direction * 0.9 * (t1 - t0))

    def go_to(self, where: str) -> None:
        t0, t1 = self.visible_range()
        dur = self.record.duration if self.record else 0.0
        self.center_on((t1 - t0) / 2 if where == "start" else dur)

    def zoom_time(self, factor: float) -> None:
        """Window width times ``factor`` (0.5 zooms in), around the centre; leaves calibrated mode."""
        if self.calibrated:
            self.set_calibrated(False)
        t0, t1 = self.visible_range()
        c, w = (t0 + t1) / 2, (t1 - t0) * factor
        dur = self.record.duration if self.record else w
        w = min(max(w, MIN_WINDOW_S), dur)
        start = min(max(c - w / 2, 0.0), max(dur - w, 0.0))
        self.set_window(start, start + w)

    def show_whole(self) -> None:
        if self.calibrated:
            self.set_calibrated(False)
        if self.record:
            self.set_window(0.0, self.record.duration)

    def set_gain(self, gain: float) -> None:
        """Amplitude factor (1 = 10 mm/mV on the paper)."""
        gain = float(min(max(gain, GAINS[0]), GAINS[-1]))
        changed = gain != self.gain
        self.gain = gain
        self._schedule()
        if changed:
            self.gainChanged.emit(gain)

    def reset_gain(self) -> None:
        """Back to the standard 10 mm/mV."""
        self.set_gain(1.0)

    def step_gain(self, up: bool) -> None:
        i = min(range(len(GAINS)), key=lambda k: abs(GAINS[k] - self.gain))
        self.set_gain(GAINS[min(i + 1, len(GAINS) - 1)] if up else GAINS[max(i - 1, 0)])

    def _y_extent(self) -> tuple[float, float]:
        """Plot-y span of all bands plus the room for annotation symbols above the top one."""
        n = self.record.n_channels if self.record else 1
        return self.band(n - 1)[0] - LEAD_GAP / 2, self.band(0)[1] + LABEL_ROOM

    def _set_y_range(self) -> None:
        lo, hi = self._y_extent()
        self.vb.setYRange(lo, hi, padding=0)

    def scale_text(self) -> str:
        """Speed and gain as drawn on this screen: exact in calibrated mode, measured otherwise."""
        mm = self.px_per_mm()
        (t0, t1), (y0, y1) = self.vb.viewRange()
        w_mm, h_mm = self.vb.width() / mm, self.vb.height() / mm
        if self.calibrated:
            speed, mm_mv = MM_S ** -1, self.gain / MM_MV
        else:
            speed = w_mm / max(t1 - t0, 1e-12)
            mm_mv = h_mm / max(y1 - y0, 1e-12) * self.gain
        text = f"{_num(speed)} mm/s   {_num(mm_mv)} mm/mV"
        if self.calibrated:
            text += " (calibrated paper)"
        elif self.gain != 1.0:
            text += f" (gain ×{self.gain:g})"
        if self.clipped:
            text += ", tall waves clipped at the lead band"
        return text

    def _update_scale_label(self) -> None:
        text = self.scale_text()
        if text != getattr(self, "_scale_shown", None):
            self._scale_shown = text
            # a gain other than 10 mm/mV (e.g. restored from the last session) stands out
            colour = "#402020" if self.gain == 1.0 else "#b03000"
            self.scale_label.setText(text, color=colour, bold=self.gain != 1.0, size="9pt", justify="right")

    # ---- calibrated paper -------------------------------------------------------------------
    def px_per_mm(self) -> float:
        screen = self.screen() or QGuiApplication.primaryScreen()
        dpi = screen.physicalDotsPerInchX() if screen else 96.0
        return (dpi if dpi and dpi > 20 else 96.0) / 25.4

    def set_calibrated(self, on: bool) -> None:
        """25 mm/s and 10 mm/mV on the real screen; free zoom when off."""
        if on == self.calibrated:
            return
        self.calibrated = on
        if on:
            self._apply_calibration()
        else:
            self._set_y_range()
        self.calibratedChanged.emit(on)

    def _apply_calibration(self) -> None:
        if not self.calibrated or self.record is None or self._in_calibration:
            return
        self._in_calibration = True
        try:
            mm = self.px_per_mm()
            w_s = self.vb.width() / mm * MM_S
            h_mv = self.vb.height() / mm * MM_MV
            t0, t1 = self.visible_range()
            dur = self.record.duration
            w_s = min(w_s, dur)
            start = min(max((t0 + t1) / 2 - w_s / 2, 0), max(dur - w_s, 0))
            lo, hi = self._y_extent()
            mid = (lo + hi) / 2
            self.vb.setRange(xRange=(start, start + w_s), yRange=(mid - h_mv / 2, mid + h_mv / 2), padding=0)
        finally:
            self._in_calibration = False

    def _resized(self) -> None:
        if self.calibrated:
            self._apply_calibration()
        self._schedule()

    # ---- beat selection and overlays --------------------------------------------------------
    def _clicked(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton and self.plot.sceneBoundingRect().contains(ev.scenePos()):
            shift = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.traceClicked.emit(float(self.vb.mapSceneToView(ev.scenePos()).x()), shift)

    def select_beat(self, index: int | None) -> None:
        """Highlight beat ``index`` (into the BeatSet) with its model window; None clears."""
        self._selected = index
        if index is None or index >= len(self._beat_t) or self.record is None:
            self.selection.hide()
            self.score_sel.hide()
            return
        t = self._beat_t[index]
        self.selection.setRegion((t - 140 / 360.0, t + 180 / 360.0))
        self.selection.show()
        self.score_sel.setValue(t)
        self.score_sel.show()

    def set_heatmap(self, visible: bool | None = None, opacity: float | None = None) -> None:
        if visible is not None:
            self.heat_visible = bool(visible)
        if opacity is not None:
            self.heat_opacity = float(min(max(opacity, 0.0), 1.0))
        for item in self.heat_items.values():
            item.setOpacity(self.heat_opacity)
            item.setVisible(self.heat_visible and self._error is not None)
        self._schedule()

    def _ensure_heat_items(self) -> None:
        for c in self._beat_leads:
            if c not in self.heat_items:
                item = pg.ImageItem(axisOrder="row-major")
                item.setLookupTable(heat_lut())
                item.setZValue(-10)
                item.setOpacity(self.heat_opacity)
                item.hide()
                self.plot.addItem(item, ignoreBounds=True)
                self.heat_items[c] = item

    # ---- drawing ----------------------------------------------------------------------------
    def _schedule(self, *args) -> None:
        """Coalesce several changes in one event-loop turn into one redraw."""
        if not self._pending:
            self._pending = True
            QTimer.singleShot(0, self._deferred_refresh)

    def _schedule_flags(self) -> None:
        """A threshold step redraws only the flags and score stems (the traces stay): issue 16."""
        if not self._pending and not getattr(self, "_flags_pending", False):
            self._flags_pending = True
            QTimer.singleShot(0, self._deferred_flags)

    def _deferred_flags(self) -> None:
        self._flags_pending = False
        if not self._pending and self.record is not None:
            t0, t1 = self.visible_range()
            self._draw_flags(t0, t1, max(int(self.vb.width()), 100))

    def _deferred_refresh(self) -> None:
        if self._pending:  # not already drawn by a range change since
            self.refresh()

    def _range_changed(self, *args) -> None:
        self.refresh()
        # Apply the new range to the view boxes now (pyqtgraph defers it to the paint, and the updates
        # that causes inside the paint are queued as a second repaint of the whole plot).
        scene = self.scene()
        if scene is not None:
            scene.prepareForPaint()

    def refresh(self) -> None:
        """Redraw everything that depends on the visible range. Cheap: O(pixels + beats in view)."""
        self._pending = False
        if self.record is None:
            return
        if self.calibrated and not self._in_calibration:
            mm = self.px_per_mm()
            t0, t1 = self.visible_range()
            if abs((t1 - t0) - min(self.vb.width() / mm * MM_S, self.record.duration)) > 1e-3 * (t1 - t0):
                drawn = self._draws
                self._apply_calibration()
                if self._draws != drawn:  # the range change redrew already
                    return
        self._draws += 1
        t0, t1 = self.visible_range()
        n_px = max(int(self.vb.width()), 100)
        clipped = False
        for c, (curve, pyr) in enumerate(zip(self.curves, self.pyramids)):
            x, y = pyr.view(t0, t1, n_px)
            lo, hi = self._bands[c]
            gy = self.gain * y
            with np.errstate(invalid="ignore"):
                clipped = clipped or bool(np.any((gy < lo) | (gy > hi)))
            curve.setData(x=x, y=self.offset(c) + np.clip(gy, lo, hi))
        self.clipped = clipped
        self._update_scale_label()
        self._draw_labels(t0, t1)
        self._draw_flags(t0, t1, n_px)
        self._draw_heat(t0, t1, n_px)
        self.rangeChanged.emit(t0, t1)

    def _in_view(self, times: np.ndarray, t0: float, t1: float, margin: float = 0.5) -> tuple[int, int]:
        return int(np.searchsorted(times, t0 - margin)), int(np.searchsorted(times, t1 + margin))

    def _draw_labels(self, t0: float, t1: float) -> None:
        i0, i1 = self._in_view(self._ann_t, t0, t1, 0.0)
        if i1 - i0 > MAX_LABELS:  # too many to read: none
            i1 = i0
        y = self.band(0)[1] + LABEL_ROOM * 0.95
        self.labels.set_symbols(self._ann_t[i0:i1], list(self._ann_sym[i0:i1]), y)

    def _draw_flags(self, t0: float, t1: float, n_px: int) -> None:
        if self._scores is None or not len(self._beat_t):
            for item in (self.flag_ticks, self.flag_marks, self.score_low, self.score_high):
                item.setData([], [])
            self.flag_band.hide()
            return
        i0, i1 = self._in_view(self._beat_t, t0, t1)
        t = self._beat_t[i0:i1]
        s = self._scores[i0:i1]
        flagged = s >= self._threshold
        ft = t[flagged]
        c0 = self._beat_leads[0] if self._beat_leads else 0
        top = self.band(c0)[1] + LABEL_ROOM * 0.35
        tick = LABEL_ROOM * 0.3
        if len(ft) <= MAX_MARKERS:  # few: one stroke per flagged beat
            self.flag_ticks.setData(np.repeat(ft, 2), np.tile([top, top - tick], len(ft)))
            self.flag_band.hide()
        else:  # many: the same ticks as pixel columns of one image (3 px wide, like the pen)
            self.flag_ticks.setData([], [])
            self.flag_band.setImage(flag_columns(ft, t0, t1, n_px)[None, :], levels=(0, 1), autoLevels=False)
            self.flag_band.setRect(QRectF(t0, top - tick, t1 - t0, tick))
            self.flag_band.show()
        if 0 < len(ft) <= MAX_MARKERS:
            samples = self._beat_sample[i0:i1][flagged]
            yv = self.pyramids[c0].signal[samples]
            self.flag_marks.setData(ft, self.plot_y(c0, np.nan_to_num(yv)))
        else:
            self.flag_marks.setData([], [])
        # score track: stems; binned to one stem per pixel when beats are denser than pixels
        if len(t) > n_px:
            col = ((t - t0) / max(t1 - t0, 1e-9) * n_px).astype(np.int64).clip(0, n_px - 1)
            cols, s = column_max(col, s)
            t = t0 + (cols + 0.5) * (t1 - t0) / n_px
            flagged = s >= self._threshold
        base = min(0.0, float(s.min())) if len(s) else 0.0
        for item, m in ((self.score_low, ~flagged), (self.score_high, flagged)):
            item.setData(np.repeat(t[m], 2), np.column_stack([np.full(m.sum(), base), s[m]]).ravel())

    def _territory(self, i0: int, i1: int) -> tuple[np.ndarray, np.ndarray]:
        """For beats i0..i1, the times halfway to the previous and the next beat (±inf at the ends)."""
        t = self._beat_t
        prev = t[max(i0 - 1, 0):i1 - 1] if i0 > 0 else np.concatenate([[-np.inf], t[i0:i1 - 1]])
        nxt = t[i0 + 1:i1 + 1] if i1 < len(t) else np.concatenate([t[i0 + 1:i1], [np.inf]])
        return (prev + t[i0:i1]) / 2, (t[i0:i1] + nxt) / 2

    def _draw_heat(self, t0: float, t1: float, n_px: int) -> None:
        if self._error is None or not self.heat_visible or not len(self._beat_t):
            for item in self.heat_items.values():
                item.hide()
            return
        i0, i1 = self._in_view(self._beat_t, t0, t1, 1.0)
        width = max(min(n_px, int((t1 - t0) * 360.0) + 1), 2)
        scale = width / max(t1 - t0, 1e-9)
        few = (i1 - i0) * self._error.shape[-1] <= 300_000
        if not few:
            err = None
        elif self._template is not None:
            err = display_map(self._beat_x[i0:i1], self._template)
        else:
            err = self._error[i0:i1]
        ticks = (np.arange(self._error.shape[-1]) - 140) / 360.0
        for k, c in enumerate(self._beat_leads):
            img = np.zeros((1, width), np.float32)
            if i1 > i0 and err is not None:
                tt = self._beat_t[i0:i1, None] + ticks[None, :]
                col = ((tt - t0) * scale).astype(np.int64)
                # each beat colours its own stretch only (halfway to its neighbours): overlapping
                # windows would otherwise paint one beat's tail over the next beat's onset
                lo, hi = self._territory(i0, i1)
                ok = (col >= 0) & (col < width) & (tt >= lo[:, None]) & (tt < hi[:, None])
                img[0, col[ok]] = err[:, k, :][ok]
            elif i1 > i0:  # very many beats in view: one value per beat, its worst tick
                if self._err_max is None:
                    self._err_max = map_peaks(self._beat_x, self._template)
                col = ((self._beat_t[i0:i1] - t0) * scale).astype(np.int64)
                ok = (col >= 0) & (col < width)
                cols, best = column_max(col[ok], self._err_max[i0:i1, k][ok])
                img[0, cols] = best
            item = self.heat_items[c]
            item.setImage(img, levels=(0.0, self._err_scale), autoLevels=False)
            bottom, top = self.band(c)
            item.setRect(QRectF(t0, bottom, t1 - t0, top - bottom))
            item.setOpacity(self.heat_opacity)
            item.show()


def _num(v: float) -> str:
    """A scale value as printed on paper: 25, 10, 2.5, 0.417 (three significant digits)."""
    return f"{v:.3g}"
