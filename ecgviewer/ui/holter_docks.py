"""The Holter docks of the main window: events, templates and the heart-rate trend.

:func:`add_holter_docks` is the one hook MainWindow calls. The controller listens to the window's
``recordOpened`` and ``scoringDone`` signals, runs :func:`ecgviewer.core.holter.analyse` on the
window's beats and scores (what ``ecgviewer events`` and ``ecgviewer templates`` run), and feeds
the three panels. Jumps go through ``window.select_beat`` / ``window.signal_view.center_on``.
Event decisions and template relabels are saved in ``<record>.events.json``
(:class:`~ecgviewer.core.event_review.EventReviewStore`).
"""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDockWidget, QMenu

from ecgviewer.core.event_review import EventReviewStore
from ecgviewer.core.events import Event
from ecgviewer.core.holter import HolterAnalysis, analyse
from ecgviewer.core.review import ReviewState
from ecgviewer.ui.events_panel import EventsPanel
from ecgviewer.ui.templates_panel import TemplatesPanel
from ecgviewer.ui.trend_view import TrendView

log = logging.getLogger(__name__)

SOURCE_NOTES = {"reference": "Beat classes: the record's reference annotations.",
                "caller": "Beat classes: reference or provisional, with the reviewer's template relabels.",
                "provisional": "Beat classes are provisional (no reference labels): shape against the dominant "
                               "template and prematurity. Review the templates."}


class HolterDocks(QObject):
    """Owns the three panels and their docks; ``analysis`` is the shown HolterAnalysis."""

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
        window.recordOpened.connect(self.record_opened)
        window.scoringDone.connect(lambda _ok: self.refresh())
        self.events.eventActivated.connect(self.go_to_event)
        self.events.decisionMade.connect(self.decide)
        self.templates.relabelRequested.connect(self.relabel)
        self.templates.beatActivated.connect(lambda i: window.select_beat(i))
        self.templates.beatsSelected.connect(self._template_chosen)
        self.trend.jumpRequested.connect(lambda t: window.signal_view.center_on(t))

    # ---- feeding the panels -------------------------------------------------------------------
    def record_opened(self, record) -> None:
        self.analysis, self.labels = None, {}
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
        """Analyse the window's current beats (and scores, when there are any) and show the result."""
        w = self.w
        if w.beats is None or w.record is None:
            return
        beats = w.beats
        scores = None if w.result is None else np.asarray(w.result.score)
        if self.analysis is None and self.store is not None:
            self._restore_labels(beats, scores)
        classes, artefact = self._classes(beats, scores)
        a = analyse(beats, w.record.duration, scores=scores, classes=classes, artefact=artefact)
        self.analysis = a
        note = SOURCE_NOTES["caller" if self.labels else a.class_source]
        states = {e.key: self.store.state(e) for e in a.events} if self.store is not None else {}
        self.events.set_events(a.events, states, note)
        self.templates.hidden = {tid for tid, lab in self.labels.items() if lab == "artefact"}
        self.templates.set_templates(a.templates.templates, beats.x, note=note)
        self.trend.set_trend(a.trend, a.events, a.hourly())

    def _classes(self, beats, scores) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Per-beat classes with the template relabels applied (None without any), and the artefact mask."""
        if not self.labels:
            return None, None
        base = self.analysis if self.analysis is not None else analyse(beats, self.w.record.duration, scores=scores)
        cls = base.classes.copy()
        artefact = np.zeros(len(beats), bool)
        for tid, label in self.labels.items():
            members = base.templates.by_id(tid).members
            if label == "artefact":
                artefact[members] = True
            else:
                cls[members] = label
        return cls, artefact

    def _restore_labels(self, beats, scores) -> None:
        if not self.store.template_labels:
            return
        base = analyse(beats, self.w.record.duration, scores=scores)
        for t in base.templates.templates:
            label = self.store.template_label(t, int(beats.sample[t.members[0]]))
            if label is not None:
                self.labels[t.id] = label

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
