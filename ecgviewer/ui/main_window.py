"""The main window: wires the record, the scorer and the widgets together; holds no signal logic.

API for later features (review marks, calipers, PDF export): ``open_record(path)``,
``set_record(record)``, ``record``, ``beats``, ``result``, ``threshold``/``set_threshold``,
``selected_beat``/``select_beat(i)``, the ``beatSelected(int)``, ``recordOpened(object)`` and
``scoringDone(bool)`` signals, ``actions[name]`` and ``signal_view`` (``center_on(time_s)``).
Review marks, undo, calipers, crosshair, flag metrics and exports live in ``review``
(ecgviewer/ui/review_panel.py ReviewController); the HR/RR trend is ``rr_trend``.
"""

from __future__ import annotations

import datetime as _dt
import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QDoubleSpinBox, QFileDialog, QFormLayout, QLabel, QMainWindow,
                               QProgressBar, QPushButton, QVBoxLayout, QWidget)

from ecgviewer.core.errors import RecordError
from ecgviewer.core.review import ReviewState
from ecgviewer.core.formats import dialog_filter, record_extensions
from ecgviewer.core.record import Record, load_record
from ecgviewer.core.scorer import Scorer
from ecgviewer.ui.beat_detail import BeatDetail
from ecgviewer.ui.dialogs import AboutDialog, ShortcutsDialog, show_error
from ecgviewer.ui.overview import Overview
from ecgviewer.ui.paper import format_time
from ecgviewer.ui.review_panel import ReviewController, ReviewFlagTable
from ecgviewer.ui.rr_trend import RRTrend
from ecgviewer.ui.scoring_worker import ScoringJob
from ecgviewer.ui.settings import Settings
from ecgviewer.ui.shortcuts import RECENT_KEYS, SHORTCUTS

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """One record at a time; scoring runs in a ScoringJob and fills the table when done."""

    beatSelected = Signal(int)
    recordOpened = Signal(object)
    scoringDone = Signal(bool)  # True when scores arrived, False when scoring failed, was cancelled or impossible

    def __init__(self, scorer: Scorer | None = None, model_error: str | None = None,
                 settings: Settings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("ecgviewer")
        self.setAcceptDrops(True)
        self.scorer: Scorer | None = None  # set_scorer, below, attaches the model and its threshold
        self.model_error: str | None = None
        self.settings = settings or Settings()
        self.record: Record | None = None
        self.beats = None
        self.result = None
        self.selected_beat: int | None = None
        self._threshold = 0.0
        self._job: ScoringJob | None = None
        self._notes: list[str] = []

        self.signal_view = self._build_central()
        self._build_docks()
        self._build_status()
        self.review = ReviewController(self)  # review marks, undo, calipers, metrics, export
        self.actions: dict[str, QAction] = {}
        self._build_actions()
        self._build_menus()
        self._restore()
        self.set_scorer(scorer, model_error)

        self.signal_view.rangeChanged.connect(self.overview.set_visible)
        self.signal_view.thresholdChanged.connect(self.set_threshold)
        self.signal_view.calibratedChanged.connect(self._calibrated_changed)
        self.overview.jumpRequested.connect(self.signal_view.center_on)
        self.table.beatActivated.connect(self.select_beat)

    # ---- building -----------------------------------------------------------------------------
    def _build_central(self):
        from ecgviewer.ui.signal_view import SignalView

        central = QWidget(self)
        lay = QVBoxLayout(central)
        lay.setContentsMargins(2, 2, 2, 2)
        self.info = QLabel("No record open. File > Open (Ctrl+O) or drop a record file (WFDB, EDF, BDF, ISHNE) here.", central)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info.setWordWrap(True)
        self.overview = Overview(central)
        view = SignalView(central)
        lay.addWidget(self.info)
        lay.addWidget(self.overview)
        lay.addWidget(view, 1)
        self.rr_trend = RRTrend(central)
        self.rr_trend.link(view.plot)
        lay.addWidget(self.rr_trend)
        self.setCentralWidget(central)
        return view

    def _build_docks(self) -> None:
        panel = QWidget(self)
        form = QFormLayout()
        self.threshold_box = QDoubleSpinBox(panel)
        self.threshold_box.setDecimals(6)
        self.threshold_box.setRange(-1e6, 1e6)
        self.threshold_box.setKeyboardTracking(False)
        self.threshold_box.setValue(self._threshold)
        self.threshold_box.setSingleStep(max(abs(self._threshold) / 20, 1e-4))
        self.threshold_box.valueChanged.connect(self.set_threshold)
        self.count_label = QLabel("-", panel)
        form.addRow("Threshold", self.threshold_box)
        form.addRow("Flagged", self.count_label)
        self.table = ReviewFlagTable(panel)
        lay = QVBoxLayout(panel)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(form)
        lay.addWidget(self.table, 1)
        dock = QDockWidget("Flagged beats", self)
        dock.setObjectName("flags_dock")
        dock.setWidget(panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.detail = BeatDetail(self)
        ddock = QDockWidget("Beat detail", self)
        ddock.setObjectName("detail_dock")
        ddock.setWidget(self.detail)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, ddock)
        self.resizeDocks([dock], [430], Qt.Orientation.Horizontal)
        self.resizeDocks([dock, ddock], [380, 420], Qt.Orientation.Vertical)

    def _build_status(self) -> None:
        self.progress = QProgressBar(self)
        self.progress.setMaximumWidth(220)
        self.progress.setFormat("scoring %p%")
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.cancel_scoring)
        self.cancel_button.hide()
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.cancel_button)

    def _build_actions(self) -> None:
        v = self.signal_view
        handlers = {
            "open": self.open_dialog, "quit": self.close,
            "page_left": lambda: v.page(-1), "page_right": lambda: v.page(1),
            "start": lambda: v.go_to("start"), "end": lambda: v.go_to("end"),
            "zoom_in": lambda: v.zoom_time(0.5), "zoom_out": lambda: v.zoom_time(2.0), "whole": v.show_whole,
            "amp_up": lambda: v.step_gain(True), "amp_down": lambda: v.step_gain(False),
            "calibrated": lambda: v.set_calibrated(self.actions["calibrated"].isChecked()),
            "heatmap": lambda: v.set_heatmap(visible=self.actions["heatmap"].isChecked()),
            "heat_more": lambda: v.set_heatmap(opacity=v.heat_opacity + 0.1),
            "heat_less": lambda: v.set_heatmap(opacity=v.heat_opacity - 0.1),
            "next_flag": lambda: self.step_flag(1), "prev_flag": lambda: self.step_flag(-1),
            "threshold": self._focus_threshold, "table": self.table.setFocus,
            "cancel": lambda: self.review.leave_note() or self.cancel_scoring(), "help_keys": self.show_shortcuts, "about": self.show_about,
            "confirm": lambda: self.review.mark(ReviewState.CONFIRMED),
            "dismiss": lambda: self.review.mark(ReviewState.DISMISSED),
            "unreview": lambda: self.review.mark(ReviewState.UNREVIEWED),
            "note": self.review.edit_note, "undo": self.review.undo, "redo": self.review.redo,
            "calipers": lambda: self.review.toggle_calipers(self.actions["calipers"].isChecked()),
            "export_csv": lambda: self.review.export_csv(), "export_pdf": lambda: self.review.export_pdf(),
        }
        for sc in SHORTCUTS:
            act = QAction(sc.text, self)
            act.setShortcuts([QKeySequence(k) for k in sc.keys])
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            act.setToolTip(sc.help)
            if sc.name in ("calibrated", "heatmap", "calipers"):
                act.setCheckable(True)
            act.triggered.connect(handlers[sc.name])
            self.addAction(act)
            self.actions[sc.name] = act
        self.actions["heatmap"].setChecked(True)
        self.review.sync_undo_actions()

    def _build_menus(self) -> None:
        a = self.actions
        m = self.menuBar().addMenu("&File")
        m.addAction(a["open"])
        self.recent_menu = m.addMenu("Open &recent")
        m.addSeparator()
        m.addAction(a["export_csv"])
        m.addAction(a["export_pdf"])
        m.addSeparator()
        m.addAction(a["quit"])
        m = self.menuBar().addMenu("&Edit")
        for name in ("undo", "redo", None, "confirm", "dismiss", "unreview", "note"):
            m.addSeparator() if name is None else m.addAction(a[name])
        m = self.menuBar().addMenu("&View")
        for name in ("page_left", "page_right", "start", "end", None, "zoom_in", "zoom_out", "whole", None,
                     "amp_up", "amp_down", "calibrated", None, "heatmap", "heat_more", "heat_less", None, "calipers"):
            m.addSeparator() if name is None else m.addAction(a[name])
        m = self.menuBar().addMenu("&Beats")
        for name in ("next_flag", "prev_flag", "threshold", "table", None, "cancel"):
            m.addSeparator() if name is None else m.addAction(a[name])
        m = self.menuBar().addMenu("&Help")
        m.addAction(a["help_keys"])
        m.addAction(a["about"])
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path, key in zip(self.settings.recent(), RECENT_KEYS):
            act = self.recent_menu.addAction(path)
            act.setShortcut(QKeySequence(key))
            act.triggered.connect(lambda _=False, p=path: self.open_record(p))
        self.recent_menu.setEnabled(bool(self.settings.recent()))

    def _restore(self) -> None:
        s = self.settings
        if not s.get("window/geometry").isEmpty():
            self.restoreGeometry(s.get("window/geometry"))
        else:
            self.resize(1400, 850)
        if not s.get("window/state").isEmpty():
            self.restoreState(s.get("window/state"))
        v = self.signal_view
        v.set_gain(s.get("view/gain"))
        v.set_heatmap(visible=s.get("view/heatmap"), opacity=s.get("view/heat_opacity"))
        self.actions["heatmap"].setChecked(v.heat_visible)
        self._window_s = s.get("view/window_s")
        if s.get("view/calibrated"):
            self.actions["calibrated"].setChecked(True)
            v.set_calibrated(True)

    def save_settings(self) -> None:
        s, v = self.settings, self.signal_view
        s.set("window/geometry", self.saveGeometry())
        s.set("window/state", self.saveState())
        s.set("view/gain", v.gain)
        s.set("view/heatmap", v.heat_visible)
        s.set("view/heat_opacity", v.heat_opacity)
        s.set("view/calibrated", v.calibrated)
        t0, t1 = v.visible_range()
        if v.record is not None and not v.calibrated:
            s.set("view/window_s", float(min(max(t1 - t0, 1.0), 60.0)))
        s.sync()

    # ---- opening ------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        start = str(Path(self.settings.recent()[0]).parent) if self.settings.recent() else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open ECG record", start, dialog_filter())
        if path:
            self.open_record(path)

    def open_record(self, path: str | Path) -> bool:
        """Load and show a record; a bad file gives an error dialog and leaves the window as it was."""
        try:
            record = load_record(path)
        except RecordError as e:
            log.warning("cannot open %s: %s", path, e)
            self.statusBar().showMessage(f"Could not open {Path(path).name}", 10000)
            show_error(self, "Cannot open record", str(e))
            return False
        except MemoryError:
            show_error(self, "Cannot open record", f"{path}: not enough memory to load this record")
            return False
        self.settings.add_recent(str(record.path))
        self._fill_recent()
        self.set_record(record)
        return True

    def set_record(self, record: Record, score: bool = True) -> None:
        """Show an already loaded record (used by open_record and the benchmark), then score it."""
        self._stop_job()
        self.record = record
        self.beats = None
        self.result = None
        self.selected_beat = None
        self.table.flags.clear()
        self.detail.show_beat(None)
        self.signal_view.set_record(record, self._window_s)
        self.overview.set_signal(self.signal_view.pyramids[0], record.duration)
        self.overview.set_visible(*self.signal_view.visible_range())
        self.setWindowTitle(f"ecgviewer - {record.name}")
        self._notes = []
        if record.n_channels == 1:
            self._notes.append("one lead")
        if self.scorer is not None and abs(record.fs - self.scorer.params.fs) > 1e-6:
            self._notes.append(f"resampled {record.fs:g} Hz -> {self.scorer.params.fs:g} Hz for the model")
        self._update_info()
        self._update_count()
        self.rr_trend.set_beats(None)
        self.review.record_opened(record)
        self.recordOpened.emit(record)
        if not score:
            return
        if self.scorer is None:
            self._notes.append(f"not scored: no model ({self.model_error or 'none loaded'})")
            self._update_info()
            self.statusBar().showMessage("No model loaded: the record is shown without scores", 0)
            self.scoringDone.emit(False)
            return
        self._start_scoring(record)

    def set_scorer(self, scorer: Scorer | None, model_error: str | None = None) -> None:
        """Attach the model (loaded after the window is shown, so start-up paints at once)."""
        self.scorer = scorer
        self.model_error = model_error
        if scorer is not None:
            self.set_threshold(float(scorer.threshold))
            self.threshold_box.setSingleStep(max(abs(self._threshold) / 20, 1e-4))  # until scores arrive
        self._update_info()

    def _update_info(self) -> None:
        r = self.record
        if r is None:
            return
        if isinstance(r.start, _dt.datetime):
            start = r.start.strftime("%Y-%m-%d %H:%M:%S")
        elif isinstance(r.start, _dt.time):
            start = r.start.strftime("%H:%M:%S")
        else:
            start = "not given"
        beats = "-" if self.beats is None else f"{len(self.beats)} ({self.beats.source})"
        text = (f"<b>{r.name}</b> &nbsp; {r.fs:g} Hz &nbsp; leads: {', '.join(r.channel_names)} &nbsp; "
                f"duration {format_time(r.duration)} &nbsp; start {start} &nbsp; beats {beats}")
        if self.scorer is not None:
            text += f" &nbsp; model {self.scorer.name}"
        if self._notes:
            text += " &nbsp; <i>" + "; ".join(self._notes) + "</i>"
        self.info.setText(text)

    # ---- scoring ------------------------------------------------------------------------------
    def _start_scoring(self, record: Record) -> None:
        job = ScoringJob(self.scorer, record, self)
        self._job = job
        w = job  # relayed into the GUI thread (see ScoringJob)
        w.progress.connect(lambda d, t, j=job: self._progress(j, d, t))
        w.beatsReady.connect(lambda b, j=job: self._beats_ready(j, b))
        w.finished.connect(lambda b, r, j=job: self._scored(j, b, r))
        w.failed.connect(lambda msg, j=job: self._score_failed(j, msg))
        w.cancelled.connect(lambda j=job: self._score_cancelled(j))
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        self.statusBar().showMessage("Finding beats...")
        job.start()

    def _progress(self, job, done: int, total: int) -> None:
        if job is self._job and total:
            self.progress.setMaximum(total)
            self.progress.setValue(done)
            self.statusBar().showMessage(f"Scoring {done}/{total} beats...")

    def _beats_ready(self, job, beats) -> None:
        if job is not self._job:
            return
        self.beats = beats
        self.signal_view.set_beats(beats)
        self.rr_trend.set_beats(beats.sample, beats.fs, self.record.duration)
        self._update_info()

    def _scored(self, job, beats, result) -> None:
        if job is not self._job:
            return
        self._end_job()
        self.set_scores(beats, result)
        self.scoringDone.emit(True)

    def set_scores(self, beats, result) -> None:
        """Show beats and their ScoreResult for the current record (what scoring ends with)."""
        self.beats, self.result = beats, result
        if len(beats) == 0:
            self._notes.append("no beats found: nothing to score")
        skipped = sum(beats.skipped.values())
        if skipped:
            self._notes.append(f"{skipped} beats not scored ({', '.join(f'{k} {v}' for k, v in beats.skipped.items())})")
        if beats.source == "detector":
            self._notes.append("no reference annotations: beats from the QRS detector")
        self.signal_view.set_beats(beats)
        scores = np.asarray(result.score)
        self.signal_view.set_result(scores, result.error, self._threshold)
        self.threshold_box.setSingleStep(self._spin_step(scores))
        labels = beats.symbol if len(beats.symbol) else np.full(len(beats), "", str)
        self.table.flags.set_data(beats.time, scores, labels, self._threshold)
        self.table.horizontalHeader().setSortIndicator(self.table.flags.sort_column, self.table.flags.sort_order)
        self.rr_trend.set_beats(beats.sample, beats.fs, self.record.duration)
        self._update_count()
        self._update_info()
        self.review.scores_set(beats, result)
        model = self.scorer.name if self.scorer is not None else "the model"
        self.statusBar().showMessage(f"Scored {len(beats)} beats with {model}", 10000)

    @staticmethod
    def _spin_step(scores: np.ndarray) -> float:
        if not len(scores):
            return 0.01
        spread = float(np.percentile(scores, 99) - np.percentile(scores, 1))
        return float(f"{max(spread / 100, 1e-6):.1g}")

    def _score_failed(self, job, message: str) -> None:
        if job is not self._job:
            return
        self._end_job()
        self._notes.append(f"not scored: {message}")
        self._update_info()
        self.statusBar().showMessage(f"Scoring failed: {message}", 0)
        self.scoringDone.emit(False)

    def _score_cancelled(self, job) -> None:
        if job is not self._job:
            return
        self._end_job()
        self._notes.append("scoring cancelled")
        self._update_info()
        self.statusBar().showMessage("Scoring cancelled", 10000)
        self.scoringDone.emit(False)

    def _end_job(self) -> None:
        self.progress.hide()
        self.cancel_button.hide()

    def _stop_job(self) -> None:
        if self._job is not None:
            self._job.stop()
            self._job = None
        self.progress.hide()
        self.cancel_button.hide()

    def cancel_scoring(self) -> None:
        if self._job is not None and self._job.is_running():
            self._job.cancel()

    def is_scoring(self) -> bool:
        return self._job is not None and self._job.is_running() and self.result is None

    # ---- threshold and flags ------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        return self._threshold

    def set_threshold(self, value: float) -> None:
        """One threshold for the spin box, the score-track line, the table and the overview."""
        value = float(value)
        if value == self._threshold and self.table.flags.threshold == value:
            return
        self._threshold = value
        self.threshold_box.blockSignals(True)
        self.threshold_box.setValue(value)
        self.threshold_box.blockSignals(False)
        self.signal_view.set_threshold(value)
        self.table.flags.set_threshold(value)
        self.table.show_beat(self.selected_beat)
        self._update_count()
        self.review.threshold_changed(value)

    def flagged(self) -> np.ndarray:
        """Indices of the flagged beats (score >= threshold), in time order."""
        if self.result is None:
            return np.zeros(0, np.int64)
        return np.nonzero(np.asarray(self.result.score) >= self._threshold)[0]

    def _update_count(self) -> None:
        idx = self.flagged()
        n = len(self.beats) if self.beats is not None else 0
        self.count_label.setText(f"{len(idx)} of {n} beats" if self.result is not None else "-")
        self.overview.set_flags(self.beats.time[idx] if self.beats is not None and len(idx) else np.zeros(0))

    def select_beat(self, index: int | None, center: bool = True) -> None:
        """Select beat ``index`` (into ``beats``): centre it, highlight it, show its detail."""
        if index is None or self.beats is None or not 0 <= index < len(self.beats):
            self.selected_beat = None
            self.signal_view.select_beat(None)
            self.detail.show_beat(None)
            self.review.beat_selected(None)
            return
        index = int(index)
        self.selected_beat = index
        if center:
            self.signal_view.center_on(float(self.beats.time[index]))
        self.signal_view.select_beat(index)
        self.detail.show_beat(index, self.beats, self.result)
        self.table.show_beat(index)
        self.review.beat_selected(index)
        self.statusBar().showMessage(f"Beat at {format_time(float(self.beats.time[index]), 0.01)}", 5000)
        self.beatSelected.emit(index)

    def step_flag(self, direction: int) -> None:
        """N / P: the next or previous row of the flagged-beats table (its sort order)."""
        beat = self.table.step(direction)
        if beat is not None:
            self.select_beat(beat)

    def _focus_threshold(self) -> None:
        self.threshold_box.setFocus()
        self.threshold_box.selectAll()

    def _calibrated_changed(self, on: bool) -> None:
        self.actions["calibrated"].setChecked(on)

    # ---- dialogs ------------------------------------------------------------------------------
    def show_shortcuts(self) -> None:
        ShortcutsDialog(self).exec()

    def show_about(self) -> None:
        AboutDialog(self.scorer.model.card if self.scorer else None, self.model_error, self,
                    backend=self.scorer.backend if self.scorer else None).exec()

    # ---- drag and drop, closing -------------------------------------------------------------
    @staticmethod
    def _dropped_record(mime) -> str | None:
        for url in mime.urls() if mime.hasUrls() else []:
            p = url.toLocalFile()
            if p and Path(p).suffix.lower() in record_extensions():
                return p
        return None

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self._dropped_record(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt API
        path = self._dropped_record(event.mimeData())
        if path:
            event.acceptProposedAction()
            self.open_record(path)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        self._stop_job()
        self.save_settings()
        super().closeEvent(event)
