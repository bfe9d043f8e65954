"""The main window: wires the record, the scorer and the widgets together; holds no signal logic.

Once a record is scored, its ``session`` (ecgviewer/core/session: beats, scores, threshold,
selection, reviews, metrics) is the one source every widget reads; the window subscribes the
widgets to it. API for other features: ``open_record(path)``, ``set_record(record)``, ``record``,
``beats``, ``result``, ``session``, ``threshold``/``set_threshold``, ``selected_beat``/``select_beat(i)``
(beat index into the session), the ``beatSelected(int)``, ``recordOpened(object)`` and
``scoringDone(bool)`` signals, ``actions[name]``, ``signal_view`` (``center_on(time_s)``) and
``add_dock(title, widget, name)`` for new panels; a panel that shows rhythm events or templates sets
``session.events`` / ``session.template_list`` (CLI JSON lists) and both exports print them.
Review panel and marks: ``review`` (ui/review_controller.py); HR/RR trend: ``rr_trend``;
calipers, crosshair: ``calipers``, ``crosshair``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ecgviewer.core.adapt import AdaptConfig
from ecgviewer.core.adapt import available as adapt_available
from ecgviewer.core.errors import RecordError
from ecgviewer.core.formats import dialog_filter, record_extensions
from ecgviewer.core.leads import model_leads
from ecgviewer.core.record import DETECTOR_FALLBACK, Record, load_record
from ecgviewer.core.review import LABELS, ReviewState, ReviewStore
from ecgviewer.core.scorer import Scorer
from ecgviewer.core.session import BEATS, REVIEWS, SELECTION, SHOW_CHOICES, THRESHOLD, BeatFilter, ReviewSession
from ecgviewer.ui import wording
from ecgviewer.ui.beat_detail import BeatDetail
from ecgviewer.ui.calipers import Calipers, Crosshair
from ecgviewer.ui.dialogs import AboutDialog, ShortcutsDialog, show_error
from ecgviewer.ui.flag_table import BeatTable
from ecgviewer.ui.holter_docks import add_holter_docks
from ecgviewer.ui.metrics_panel import NO_REFERENCE, WAITING, MetricsPanel
from ecgviewer.ui.overview import Overview
from ecgviewer.ui.paper import format_time
from ecgviewer.ui.review_controller import ReviewController
from ecgviewer.ui.review_marks import ReviewMarks
from ecgviewer.ui.review_panel import ReviewPanel
from ecgviewer.ui.rr_trend import RRTrend
from ecgviewer.ui.scoring_worker import ScoringJob
from ecgviewer.ui.settings import Settings
from ecgviewer.ui.shortcuts import RECENT_KEYS, SHORTCUTS

log = logging.getLogger(__name__)

#: Flag ticks drawn on the overview at most (about its width in pixels).
OVERVIEW_TICKS = 1500


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
        self.session: ReviewSession | None = None
        self._threshold = 0.0
        self._job: ScoringJob | None = None
        self._notes: list[str] = []

        self.signal_view = self._build_central()
        self._build_status()
        self._build_docks()
        self.actions: dict[str, QAction] = {}
        self._build_actions()
        self._build_menus()
        self.holter = add_holter_docks(self)  # events, templates, HR trend (ecgviewer/ui/holter_docks.py)
        self._restore()
        self.set_scorer(scorer, model_error)

        self.signal_view.rangeChanged.connect(self.overview.set_visible)
        self.signal_view.thresholdChanged.connect(self.set_threshold)
        self.signal_view.calibratedChanged.connect(self._calibrated_changed)
        self.overview.jumpRequested.connect(self.signal_view.center_on)
        self.signal_view.traceClicked.connect(self._trace_clicked)
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

    def add_dock(self, title: str, widget: QWidget, name: str,
                 area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea, scroll: bool = False) -> QDockWidget:
        """Put ``widget`` in a dock (``name``: its objectName, kept in the saved window state); ``scroll``
        puts it in a scroll area, so the dock can be made smaller than the panel (a small screen)."""
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        if scroll:
            area_widget = QScrollArea(dock)
            area_widget.setWidgetResizable(True)
            area_widget.setFrameShape(QFrame.Shape.NoFrame)
            area_widget.setWidget(widget)
            widget = area_widget
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        self.flags_dock = self.add_dock("Beats", self._build_beat_list(), "flags_dock")
        self.detail = BeatDetail(self)
        self.detail_dock = self.add_dock("Beat detail", self.detail, "detail_dock")
        # the right column is four panels high: two of them scroll, so it fits a 768-pixel screen
        self.review_dock = self.add_dock("Review", self._build_review(), "review_dock", scroll=True)
        self.metrics = MetricsPanel(self)
        self.metrics_dock = self.add_dock("Flag metrics", self.metrics, "metrics_dock", scroll=True)
        # the side columns run the full height: a bottom dock (the HR trend) sits under the trace only,
        # so the beat list keeps room for a screenful of rows
        for corner, area in ((Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea),
                             (Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)):
            self.setCorner(corner, area)
        self.resizeDocks([self.flags_dock], [430], Qt.Orientation.Horizontal)
        self.resizeDocks([self.flags_dock, self.detail_dock, self.review_dock, self.metrics_dock], [380, 260, 170, 180],
                         Qt.Orientation.Vertical)

    def _build_beat_list(self) -> QWidget:
        """Threshold, the beat filters and the beat table."""
        panel = QWidget(self)
        form = QFormLayout()
        self.threshold_box = QDoubleSpinBox(panel)
        self.threshold_box.setDecimals(2)
        self.threshold_box.setRange(-1e6, 1e6)
        self.threshold_box.setKeyboardTracking(False)
        self.threshold_box.setValue(self._threshold)
        self.threshold_box.setSingleStep(max(abs(self._threshold) / 20, 1e-4))
        self.threshold_box.valueChanged.connect(self.set_threshold)
        self.threshold_box.editingFinished.connect(self._threshold_entered)
        self.count_label = QLabel("-", panel)
        form.addRow("Threshold", self.threshold_box)
        form.addRow("Flagged", self.count_label)
        self.show_box = QComboBox(panel)
        self.show_box.addItems(SHOW_CHOICES)
        self.show_box.setToolTip("Which beats are listed: reviewed beats stay listed when the threshold rises")
        self.class_box = QComboBox(panel)
        self.class_box.addItems(("any class",) + tuple(LABELS))
        self.template_box = QComboBox(panel)
        self.template_box.addItem("any template")
        self.template_box.setEnabled(False)
        for box in (self.show_box, self.class_box, self.template_box):
            box.currentIndexChanged.connect(self._filter_changed)
        filters = QHBoxLayout()
        for box in (self.show_box, self.class_box, self.template_box):
            # as narrow as the column is (elided): their longest item would set the window's minimum width
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(5)
            filters.addWidget(box, 1)
        form.addRow("List", filters)
        self.table = BeatTable(panel)
        lay = QVBoxLayout(panel)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(form)
        lay.addWidget(self.table, 1)
        return panel

    def _build_review(self) -> QWidget:
        """Review panel and trace marks, the measuring tools and their status read-outs."""
        panel = ReviewPanel(self)
        self.cursor_label = QLabel("", self)
        self.cursor_label.setMinimumWidth(380)
        self.save_label = QLabel("", self)
        self.statusBar().addPermanentWidget(self.cursor_label)
        self.statusBar().addPermanentWidget(self.save_label)
        self.review = ReviewController(panel, ReviewMarks(self.signal_view), self.statusBar().showMessage,
                                       self.save_label, self)
        self.review.focus_back = self.signal_view.setFocus
        self.review.historyChanged.connect(self.sync_undo_actions)
        self.calipers = Calipers(self.signal_view, self)
        self.crosshair = Crosshair(self.signal_view, self)
        self.crosshair.moved.connect(self.cursor_label.setText)
        self.calipers.measured.connect(lambda m: self.statusBar().showMessage("Calipers: " + m.text(), 0))
        return panel

    def _build_status(self) -> None:
        self.progress = QProgressBar(self)
        self.progress.setMaximumWidth(220)
        self.progress.setFormat("scoring %p%")
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.cancel_scoring)
        self.cancel_button.hide()
        self.rescore_button = QPushButton("Rescore", self)
        self.rescore_button.setToolTip("Score the record again (Ctrl+R)")
        self.rescore_button.clicked.connect(self.rescore)
        self.rescore_button.hide()
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.cancel_button)
        self.statusBar().addPermanentWidget(self.rescore_button)

    def _build_actions(self) -> None:
        v = self.signal_view
        handlers = {
            "open": self.open_dialog, "quit": self.close,
            "page_left": lambda: v.page(-1), "page_right": lambda: v.page(1),
            "start": lambda: v.go_to("start"), "end": lambda: v.go_to("end"),
            "zoom_in": lambda: v.zoom_time(0.5), "zoom_out": lambda: v.zoom_time(2.0), "whole": v.show_whole,
            "amp_up": lambda: v.step_gain(True), "amp_down": lambda: v.step_gain(False), "amp_reset": v.reset_gain,
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
            "note": self._edit_note, "undo": self.review.undo, "redo": self.review.redo,
            "delete_beat": self.review.delete_beat, "rescore": self.rescore,
            "calipers": lambda: self.toggle_calipers(self.actions["calipers"].isChecked()),
            "export_csv": lambda: self.export_csv(), "export_pdf": lambda: self.export_pdf(),
            **{f"relabel_{c}": (lambda _=False, c=c: self.review.relabel(c)) for c in LABELS},
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
        self.sync_undo_actions()

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
        for name in ("undo", "redo", None, "confirm", "dismiss", "unreview", "note", None,
                     *(f"relabel_{c}" for c in LABELS), None, "delete_beat"):
            m.addSeparator() if name is None else m.addAction(a[name])
        m = self.menuBar().addMenu("&View")
        for name in ("page_left", "page_right", "start", "end", None, "zoom_in", "zoom_out", "whole", None,
                     "amp_up", "amp_down", "amp_reset", "calibrated", None, "heatmap", "heat_more", "heat_less", None, "calipers"):
            m.addSeparator() if name is None else m.addAction(a[name])
        m = self.menuBar().addMenu("&Beats")
        for name in ("next_flag", "prev_flag", "threshold", "table", None, "cancel", "rescore"):
            m.addSeparator() if name is None else m.addAction(a[name])
        m.addSeparator()
        self.adapt_action = m.addAction("Self-adapt the model to each record")
        self.adapt_action.setCheckable(True)
        self.adapt_action.setChecked(bool(self.settings.get("scoring/adapt")) and adapt_available())
        self.adapt_action.setEnabled(adapt_available())
        self.adapt_action.setToolTip("Fine-tune a copy of the model on the record's own usual beats before scoring, when"
                                     " they reconstruct far worse than the training data's"
                                     + ("" if adapt_available() else " (needs PyTorch: not in this install)"))
        self.adapt_action.toggled.connect(self._toggle_adapt)
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
        self.fit_to_screen()
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

    def fit_to_screen(self) -> None:
        """Never wider or taller than the screen's free area (a 1366x768 laptop, a geometry saved on a bigger screen)."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return
        free = screen.availableGeometry()
        w, h = min(self.width(), free.width()), min(self.height(), free.height())
        if (w, h) != (self.width(), self.height()):
            self.resize(w, h)

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
        self.set_session(None)
        n_leads = self.scorer.params.n_leads if self.scorer is not None else 1
        self.detail.set_leads([record.channel_names[i] for i in model_leads(record.channel_names, n_leads)[0]])
        self.calipers.clear()
        self.cursor_label.setText("")
        self.signal_view.set_record(record, self._window_s)
        self.overview.set_signal(self.signal_view.pyramids[0], record.duration)
        self.overview.set_visible(*self.signal_view.visible_range())
        self.setWindowTitle(f"ecgviewer - {record.name}")
        self._notes = list(record.notes)  # what the loader assumed (uncalibrated gain, empty .atr)
        if record.n_channels == 1:
            self._notes.append("one lead")
        if self.scorer is not None and abs(record.fs - self.scorer.params.fs) > 1e-6:
            self._notes.append(f"resampled {record.fs:g} Hz -> {self.scorer.params.fs:g} Hz for the model")
        self._update_info()
        self._update_count()
        self.rr_trend.set_beats(None)
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
            card = scorer.model.card
            self.threshold_box.setDecimals(wording.threshold_decimals(card))
            self.threshold_box.setSuffix(wording.threshold_suffix(card))
            self.threshold_box.setToolTip(wording.threshold_help(card))
            self.set_threshold(float(scorer.threshold))
            self.threshold_box.setSingleStep(max(abs(self._threshold) / 20, 1e-4))  # until scores arrive
        self._update_info()

    def _update_info(self) -> None:
        r = self.record
        if r is None:
            return
        start = wording.start_text(r.start)
        start = f" &nbsp; start {start}" if start else ""
        beats = "-" if self.beats is None else f"{len(self.beats)} ({self.beats.source})"
        text = (f"<b>{r.name}</b> &nbsp; {r.fs:g} Hz &nbsp; leads: {', '.join(r.channel_names)} &nbsp; "
                f"duration {format_time(r.duration)}{start} &nbsp; beats {beats}")
        if self.scorer is not None:
            text += f" &nbsp; model {self.scorer.name}"
        if self._notes:
            text += " &nbsp; <i>" + "; ".join(self._notes) + "</i>"
        self.info.setText(text)

    # ---- scoring ------------------------------------------------------------------------------
    def adapt_config(self) -> AdaptConfig | None:
        """Self-adaptation for the next scoring: on (gated, core/adapt.py) when the setting is on and
        PyTorch is installed; the packaged viewer (ONNX Runtime only) scores without it."""
        return AdaptConfig() if self.settings.get("scoring/adapt") and adapt_available() else None

    def _toggle_adapt(self, on: bool) -> None:
        self.settings.set("scoring/adapt", bool(on))
        self.statusBar().showMessage("Self-adaptation " + ("on" if on else "off") + " from the next scoring (Rescore: Ctrl+R)",
                                     8000)

    def _start_scoring(self, record: Record) -> None:
        job = ScoringJob(self.scorer, record, self, adapt=self.adapt_config())
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
        self.rescore_button.hide()
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
        log = self.scorer.adapt_log if self.scorer is not None else None
        if log is not None and log.steps:
            self._notes.append(log.summary())
        self.set_scores(beats, result)
        self.scoringDone.emit(True)

    def set_scores(self, beats, result) -> None:
        """Show beats and their ScoreResult for the current record (what scoring ends with)."""
        self.beats, self.result = beats, result
        if len(beats) == 0:
            self._notes.append("no beats found: nothing to score")
        if wording.skipped_text(beats.skipped):
            self._notes.append(wording.skipped_text(beats.skipped))
        if beats.source == "detector" and not any(DETECTOR_FALLBACK in n for n in self._notes):
            self._notes.append(f"no reference annotations: {DETECTOR_FALLBACK}")
        self.signal_view.set_beats(beats)
        self.detail.set_leads(list(beats.leads))
        scores = np.asarray(result.score)
        self.signal_view.set_result(scores, result.error, self._threshold)
        self.threshold_box.setSingleStep(self._spin_step(scores))
        self.set_session(self._open_session(beats, scores))
        self.rr_trend.set_beats(beats.sample, beats.fs, self.record.duration)
        self._update_info()
        model = self.scorer.name if self.scorer is not None else "the model"
        self.statusBar().showMessage(f"Scored {len(beats)} beats with {model}" + (f"; {result.note}" if result.note else ""), 0 if result.note else 10000)

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
        self.rescore_button.show()
        self.statusBar().showMessage(f"Scoring failed: {message}", 0)
        self.scoringDone.emit(False)

    def _score_cancelled(self, job) -> None:
        if job is not self._job:
            return
        self._end_job()
        self._notes.append("scoring cancelled")
        self._update_info()
        self.rescore_button.show()
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

    def rescore(self) -> None:
        """Beats > Rescore (and the button after a cancel): score the open record again."""
        if self.record is None or self.scorer is None:
            self.statusBar().showMessage("Nothing to rescore: open a record with a model loaded", 5000)
            return
        if self._job is not None and self._job.is_running():
            return
        self._notes = [n for n in self._notes if not n.startswith(("scoring cancelled", "not scored"))]
        self._start_scoring(self.record)

    # ---- the review session ------------------------------------------------------------------
    def _open_session(self, beats, scores: np.ndarray) -> ReviewSession:
        """The session of the scored record; if its review file cannot be opened, reviews are off
        (kept in memory, not saved) and the panel says why."""
        self._session_problem = ""
        try:
            return ReviewSession.from_scoring(self.record, beats, scores, self._threshold)
        except (OSError, ValueError) as e:
            log.warning("review store for %s: %s", self.record.path, e)
            self._session_problem = f"Reviews are not saved for this record: {e}"
            self.statusBar().showMessage(self._session_problem, 0)
            store = ReviewStore(self.record.path, self.record.n_samples, self.record.fs, beats.sample,
                                record_name=self.record.name, autosave=False)
            return ReviewSession.from_scoring(self.record, beats, scores, self._threshold, store=store)

    def set_session(self, session: ReviewSession | None) -> None:
        """Make ``session`` the one every widget reads (None: no scored record)."""
        self.session = session
        self.table.flags.list.filter = BeatFilter()  # a new record starts with the default list
        self.table.flags.set_session(session)
        self.table.show_beat(None)
        for box in (self.show_box, self.class_box, self.template_box):
            box.blockSignals(True)
            box.setCurrentIndex(0)
            box.blockSignals(False)
        self._fill_templates()
        self.table.horizontalHeader().setSortIndicator(self.table.flags.sort_column, self.table.flags.sort_order)
        self.detail.show_beat(None)
        self.signal_view.select_beat(None)
        if session is not None:
            session.subscribe(THRESHOLD, self._threshold_changed)
            session.subscribe(SELECTION, self._selection_changed)
            session.subscribe(REVIEWS, self._reviews_changed)
            session.subscribe(BEATS, self._beats_changed)
        if session is not None:
            self.metrics.set_metrics(session.metrics, self._threshold)
        else:  # not scored yet: "no reference" only where the record really has none
            ann = self.record.annotations if self.record is not None else None
            self.metrics.clear(NO_REFERENCE if self.record is not None and (ann is None or not len(ann)) else WAITING)
        self.metrics_dock.setWindowTitle("Flag metrics" if self.metrics.metrics is not None or session is None
                                         else "Flag metrics (no reference annotations)")
        self.review.set_session(session, getattr(self, "_session_problem", "") if session else "")
        self._update_count()

    def _fill_templates(self) -> None:
        box, s = self.template_box, self.session
        box.blockSignals(True)
        box.clear()
        box.addItem("any template")
        ids = sorted(set(s.template[s.template >= 0].tolist())) if s is not None else []
        for t in ids:
            box.addItem(f"template {t}", t)
        box.setEnabled(bool(ids))
        box.blockSignals(False)

    def set_templates(self, templates: np.ndarray | None) -> None:
        """Template id of each scored beat (from core/templates.py): the beat list can filter by it."""
        if self.session is not None:
            self.session.set_templates(templates)
            self._fill_templates()

    def _filter_changed(self) -> None:
        cls = self.class_box.currentText()
        f = BeatFilter(self.show_box.currentText(),
                       frozenset() if self.class_box.currentIndex() == 0 else frozenset({cls}),
                       self.template_box.currentData())
        self.table.flags.list.filter = f
        self.table.flags.refresh()

    def _threshold_changed(self, value: float) -> None:
        self._threshold = value
        self._show_threshold(value)

    def _selection_changed(self, _sample) -> None:
        s = self.session
        i = s.selected_index
        scored = i is not None and i < s.n_scored
        self.signal_view.select_beat(i if scored else None)
        self.detail.show_beat(i if scored else None, self.beats, self.result)
        self.table.show_beat(i)
        if i is not None:
            self.statusBar().showMessage(f"Beat at {format_time(float(s.time[i]), 0.01)}", 5000)
            self.beatSelected.emit(i)

    def _reviews_changed(self, samples: list[int]) -> None:
        self.table.flags.reviews_changed(samples)
        self.holter.session_relabelled()
        self._update_count()

    def _beats_changed(self) -> None:
        self.table.flags.list.set_session(self.session)
        self.table.flags.refresh()
        self._update_count()

    def _trace_clicked(self, t: float, shift: bool) -> None:
        """A click on the trace selects the nearest beat; Shift+click adds a beat there."""
        s = self.session
        if s is None:
            return
        sample = int(round(t * s.fs))
        if shift:
            self.review.add_beat(sample)
            return
        near = s.nearest_beat(sample)
        if near is not None and abs(near - sample) <= 0.5 * s.fs:
            self.select_beat(s.index_of(near), center=False)

    # ---- threshold and flags ------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        return self._threshold

    def set_threshold(self, value: float) -> None:
        """One threshold for the spin box, the score-track line, the table and the overview."""
        value = float(value)
        if self.session is not None and self.session.threshold != value:
            self.session.set_threshold(value)  # -> _threshold_changed
            return
        self._threshold = value
        self._show_threshold(value)

    def _show_threshold(self, value: float) -> None:
        self.threshold_box.blockSignals(True)
        self.threshold_box.setValue(value)
        self.threshold_box.blockSignals(False)
        self.signal_view.set_threshold(value)
        if self.session is not None:
            self.table.flags.refresh()
            self.metrics.set_threshold(value)
        self._update_count()

    def flagged(self) -> np.ndarray:
        """Indices of the flagged beats in time order (the session's one definition)."""
        return self.session.flagged() if self.session is not None else np.zeros(0, np.int64)

    def _update_count(self) -> None:
        s = self.session
        if s is None:
            self.count_label.setText("-")
            self.overview.set_flags(np.zeros(0))
            return
        idx = self.flagged()
        self.count_label.setText(f"{len(idx)} of {s.n_scored} beats; {len(self.table.flags.rows)} listed")
        # one tick per overview pixel column at most: 3k ticks of a day cost a repaint per step
        t = s.time[idx]
        if len(t) > OVERVIEW_TICKS and self.record is not None:
            step = self.record.duration / OVERVIEW_TICKS
            t = (np.unique((t / step).astype(np.int64)) + 0.5) * step
        self.overview.set_flags(t)

    @property
    def selected_beat(self) -> int | None:
        """The selected beat's index into the session's beats (the session holds its identity)."""
        return self.session.selected_index if self.session is not None else None

    def select_beat(self, index: int | None, center: bool = True) -> None:
        """Select beat ``index`` (into the session's beats): centre it, highlight it, show its detail."""
        s = self.session
        if s is None:
            return
        if index is None or not 0 <= index < len(s):
            s.select(None)
            return
        if center:
            self.signal_view.center_on(float(s.time[int(index)]))
        if s.selected_index == int(index):
            self._selection_changed(s.selected)  # re-show (e.g. Enter on the row again)
        else:
            s.select_index(int(index))

    def step_flag(self, direction: int) -> None:
        """N / P: the next or previous row of the beat table (its sort order) from the selected beat."""
        beat = self.table.step(direction)
        if beat is not None:
            self.select_beat(beat)

    def _edit_note(self) -> None:
        self.review_dock.raise_()
        self.review.edit_note()

    def sync_undo_actions(self) -> None:
        """Edit > Undo / Redo enabled state and text, from the session's history."""
        h = self.session.history if self.session is not None else None
        for name, can, text in (("undo", h is not None and h.can_undo, h.undo_text if h else ""),
                                ("redo", h is not None and h.can_redo, h.redo_text if h else "")):
            act = self.actions.get(name) if hasattr(self, "actions") else None
            if act is not None:
                act.setEnabled(bool(can))
                act.setText(f"&{name.capitalize()} {text}".strip())

    # ---- measuring and export ---------------------------------------------------------------
    def toggle_calipers(self, on: bool | None = None) -> None:
        on = (not self.calipers.active) if on is None else bool(on)
        self.calipers.set_active(on)
        act = self.actions.get("calipers")
        if act is not None and act.isChecked() != on:
            act.setChecked(on)
        self.statusBar().showMessage("Calipers on: drag on a lead to measure (M to turn off)" if on
                                     else "Calipers off", 5000)

    def export_csv(self, path: str | Path | None = None) -> Path | None:
        """File > Export CSV: every beat; asks where (default: Documents) unless ``path`` is given."""
        from ecgviewer.ui.export_actions import run_export

        return run_export(self, "csv", path)

    def export_pdf(self, path: str | Path | None = None) -> Path | None:
        """File > Export PDF report (default: Documents)."""
        from ecgviewer.ui.export_actions import run_export

        return run_export(self, "pdf", path)

    def _focus_threshold(self) -> None:
        self.threshold_box.setFocus()
        self.threshold_box.selectAll()

    def _threshold_entered(self) -> None:
        """Enter in the threshold box (T) hands the keys back to the trace, so N/P/A/D work at once;
        leaving it by mouse or Tab (focus already elsewhere) changes nothing."""
        if self.threshold_box.hasFocus():
            self.signal_view.setFocus()

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
