"""The Holter docks of the main window: events, templates and the heart-rate trend.

:func:`add_holter_docks` is the one hook MainWindow calls. The controller listens to the window's
``recordOpened`` and ``scoringDone`` signals, runs :func:`ecgviewer.core.holter.analyse_reviewed`
on the window's beats and scores (what ``ecgviewer events`` and ``ecgviewer templates`` run) in a
worker thread (about 4 s for a 24-hour record), and feeds the three panels. Jumps go through ``window.select_beat`` / ``window.signal_view.center_on``.
Event decisions and template relabels are saved in ``<record>.events.json``
(:class:`~ecgviewer.core.event_review.EventReviewStore`).
"""

from __future__ import annotations

import logging
import threading

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QDockWidget, QMenu

from ecgviewer.core.event_review import EventReviewStore
from ecgviewer.core.events import Event
from ecgviewer.core.holter import HolterAnalysis, analyse_reviewed, events_payload, templates_payload
from ecgviewer.core.review import ReviewState
from ecgviewer.ui.events_panel import EventsPanel
from ecgviewer.ui.templates_panel import TemplatesPanel
from ecgviewer.ui.trend_view import TrendView

log = logging.getLogger(__name__)

SOURCE_NOTES = {"reference": "Beat classes: the record's reference annotations.",
                "caller": "Beat classes: given by the caller.",
                "provisional": "Beat classes are provisional (no reference labels): shape against the dominant "
                               "template and prematurity. Review the templates."}


class HolterDocks(QObject):
    """Owns the three panels and their docks; ``analysis`` is the shown HolterAnalysis; ``ready``
    is emitted each time the panels show a new analysis."""

    ready = Signal()
    _analysed = Signal(int, object, object)  # generation, beats, HolterAnalysis or the exception

    def __init__(self, window) -> None:
        super().__init__(window)
        self.w = window
        self.events = EventsPanel(window)
        self.templates = TemplatesPanel(window)
        self.trend = TrendView(window)
        self.docks = {}
        for name, title, widget, area in (
                ("events", "Rhythm events", self.events, Qt.DockWidgetArea.LeftDockWidgetArea),
                ("templates", "Templates", self.templates, Qt.DockWidgetArea.LeftDockWidgetArea),
                ("trend", "Heart-rate trend", self.trend, Qt.DockWidgetArea.BottomDockWidgetArea)):
            dock = QDockWidget(title, window)
            dock.setObjectName(f"{name}_dock")
            dock.setWidget(widget)
            window.addDockWidget(area, dock)
            self.docks[name] = dock
        window.tabifyDockWidget(self.docks["events"], self.docks["templates"])
        self.trend.setMinimumHeight(170)
        self.docks["events"].raise_()
        window.resizeDocks([self.docks["events"]], [420], Qt.Orientation.Horizontal)
        view = next((m for m in window.menuBar().findChildren(QMenu) if m.title() == "&View"), None)
        if view is not None:
            view.addSeparator()
            for dock in self.docks.values():
                view.addAction(dock.toggleViewAction())
        self.analysis: HolterAnalysis | None = None
        self.store: EventReviewStore | None = None
        self.labels: dict[int, str] = {}  # template id -> reviewer's label ("artefact" included)
        self._generation = 0
        self.beat_classes: np.ndarray | None = None  # per-beat classes set beat by beat (set_beat_classes)
        self._analysed.connect(self._show, Qt.ConnectionType.QueuedConnection)
        window.recordOpened.connect(self.record_opened)
        window.scoringDone.connect(lambda _ok: self.refresh())
        self.events.eventActivated.connect(self.go_to_event)
        self.events.decisionMade.connect(self.decide)
        self.templates.relabelRequested.connect(self.relabel)
        self.templates.message.connect(lambda text: window.statusBar().showMessage(text, 8000))
        self.templates.beatActivated.connect(lambda i: window.select_beat(i))
        self.templates.beatsSelected.connect(self._template_chosen)
        self.trend.jumpRequested.connect(lambda t: window.signal_view.center_on(t))

    # ---- feeding the panels -------------------------------------------------------------------
    def record_opened(self, record) -> None:
        self._generation += 1  # an analysis still running for the previous record is dropped
        self.analysis, self.labels, self.beat_classes = None, {}, None
        self.templates.hidden = set()
        try:
            self.store = EventReviewStore.for_record(record)
        except OSError as e:  # no writable place at all: decisions are not kept
            log.warning("event review not available for %s: %s", record.path, e)
            self.store = None
        self.events.set_events([])
        self.templates.set_templates([], np.zeros((0, 1, 320), np.float32))
        self.trend.set_trend(None)

    def refresh(self) -> None:
        """Analyse the window's current beats (and scores, when there are any) in a worker thread;
        the panels fill when it is done (``ready``). A newer refresh supersedes an older one."""
        w = self.w
        if w.beats is None or w.record is None:
            return
        self._generation += 1
        scores = None if w.result is None else np.asarray(w.result.score)
        job = (self._generation, w.beats, w.record.duration, scores, self.store, dict(self.labels), self.beat_classes)
        threading.Thread(target=self._work, args=job, name="holter-analysis", daemon=True).start()

    def _work(self, generation, beats, duration, scores, store, labels, classes) -> None:
        try:
            result = analyse_reviewed(beats, duration, scores, store, labels, classes=classes)
        except Exception as e:  # shown in the status bar; the panels keep what they had
            log.exception("Holter analysis failed")
            result = e
        try:
            self._analysed.emit(generation, beats, result)  # queued into the GUI thread
        except RuntimeError:  # the window was closed meanwhile
            pass

    def _show(self, generation: int, beats, a) -> None:
        if generation != self._generation or beats is not self.w.beats:
            return  # another record, newer scores or a relabel since
        if isinstance(a, Exception):
            self.w.statusBar().showMessage(f"Rhythm analysis failed: {a}", 0)
            return
        self.analysis, self.labels = a, dict(a.labels)
        note = SOURCE_NOTES[a.class_source] + (f" {len(a.labels)} template(s) relabelled." if a.labels else "")
        states = {e.key: self.store.state(e) for e in a.events} if self.store is not None else {}
        self.events.set_events(a.events, states, note)
        self.templates.hidden = {tid for tid, lab in a.labels.items() if lab == "artefact"}
        self.templates.set_templates(a.templates.templates, beats.x, note=note)
        self.trend.set_trend(a.trend, a.events, a.hourly())
        self._to_session(a, beats, states)
        self.ready.emit()

    def _to_session(self, a: HolterAnalysis, beats, states: dict) -> None:
        """The review session gets what these panels show: the events and templates, as the CLI prints
        them, for the report and CSV, and each beat's template id for the beat list's filter."""
        s = self.w.session
        if s is None:
            return
        decisions = {k: st.label.lower() for k, st in states.items() if st != ReviewState.UNREVIEWED}
        s.events = events_payload(a, decisions)["events"]
        s.template_list = templates_payload(a, beats)["templates"]
        if len(a.templates.assignment) == s.n_scored:
            self.w.set_templates(a.templates.assignment)

    def session_relabelled(self) -> None:
        """Beat-by-beat relabels in the review session move the events and templates with them."""
        s, b = self.w.session, self.w.beats
        if s is None or b is None:
            return
        if self.beat_classes is None and not (s.label != "").any():
            return  # the common case (a confirm or dismiss): no relabel anywhere, no per-beat lookup
        idx = [s.index_of(int(x)) for x in b.sample]
        if not any(i is not None and s.label[i] for i in idx) and self.beat_classes is None:
            return  # no beat relabelled: the reference or provisional classes stand
        eff = s.effective_class()
        self.set_beat_classes(np.array(["" if i is None or eff[i] == "artefact" else eff[i][:1] for i in idx],
                                       dtype="<U1"))

    def set_beat_classes(self, classes: np.ndarray | None) -> None:
        """Per-beat classes (N/S/V/F/Q, one per ``window.beats``) from a beat-by-beat relabel, or None
        for the reference/provisional ones; the events and templates follow."""
        self.beat_classes = None if classes is None else np.asarray(classes).astype("<U1")
        self.refresh()

    # ---- actions ------------------------------------------------------------------------------
    def go_to_event(self, e: Event) -> None:
        self.w.select_beat(e.first)
        self.w.statusBar().showMessage(f"{e.kind} at {e.start:.2f} s: {e.beats} beats, {e.duration:.1f} s", 8000)

    def decide(self, e: Event, state: ReviewState) -> None:
        if self.store is None:
            self.w.statusBar().showMessage("Event decisions cannot be saved for this record", 8000)
            return
        self.store.set(e, state)
        self.w.statusBar().showMessage(f"{e.kind} at {e.start:.2f} s: {state.label.lower()} "
                                       f"(saved in {self.store.save_path.name})", 8000)

    def relabel(self, tid: int, label: str) -> None:
        """All beats of template ``tid`` become ``label``; events and the trend follow."""
        if self.analysis is None:
            return
        t = self.analysis.templates.by_id(tid)
        self.labels[tid] = label
        if self.store is not None:
            self.store.set_template_label(t, label, int(self.w.beats.sample[t.members[0]]))
        self.refresh()
        self.w.statusBar().showMessage(f"Template {tid}: {t.count} beats relabelled {label}", 8000)

    def _template_chosen(self, members: np.ndarray) -> None:
        if len(members):
            self.w.statusBar().showMessage(f"Template of {len(members)} beats; double-click to go to its first beat", 5000)


def add_holter_docks(window) -> HolterDocks:
    """Add the events, templates and trend docks to ``window`` (a MainWindow)."""
    return HolterDocks(window)
