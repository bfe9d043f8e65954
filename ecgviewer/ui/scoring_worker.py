"""Beat extraction and scoring off the GUI thread, with progress and cancel.

The worker only calls the core; results come back through queued signals, so the view stays
usable while a long record scores.
"""

from __future__ import annotations

import threading
import traceback

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ecgviewer.core.adapt import AdaptConfig
from ecgviewer.core.errors import RecordError
from ecgviewer.core.record import Record
from ecgviewer.core.scorer import Scorer
from ecgviewer.core.scoring import Cancelled


class ScoringWorker(QObject):
    """Runs ``scorer.beats`` then ``scorer.score`` on one record; emits exactly one of the end signals."""

    progress = Signal(int, int)
    beatsReady = Signal(object)  # BeatSet, before scoring starts
    finished = Signal(object, object)  # BeatSet, ScoreResult
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, scorer: Scorer, record: Record, adapt: AdaptConfig | None = None) -> None:
        super().__init__()
        self.scorer = scorer
        self.record = record
        self.adapt = adapt  # self-adaptation before scoring (core/adapt.py), None: off
        self._stop = threading.Event()

    def cancel(self) -> None:
        """Thread-safe: scoring stops at the next batch."""
        self._stop.set()

    @Slot()
    def run(self) -> None:
        try:
            beats = self.scorer.beats(self.record)
            if self._stop.is_set():
                raise Cancelled()
            self.beatsReady.emit(beats)
            result = self.scorer.score(beats, progress=self.progress.emit, cancelled=self._stop.is_set,
                                       adapt=self.adapt)
        except Cancelled:
            self.cancelled.emit()
        except RecordError as e:
            self.failed.emit(str(e))
        except Exception as e:  # noqa: BLE001 - reported to the user, never kills the app
            traceback.print_exc()
            self.failed.emit(f"scoring failed: {type(e).__name__}: {e}")
        else:
            self.finished.emit(beats, result)


class ScoringJob(QObject):
    """Owns a worker and its QThread; its own signals fire in the GUI thread.

    The worker's signals are relayed through slots of this object (which lives in the GUI
    thread), so they arrive queued: a lambda connected straight to a worker signal would run in
    the worker thread and touch widgets from there.
    """

    progress = Signal(int, int)
    beatsReady = Signal(object)
    finished = Signal(object, object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, scorer: Scorer, record: Record, parent: QObject | None = None,
                 adapt: AdaptConfig | None = None) -> None:
        super().__init__(parent)
        self.worker = ScoringWorker(scorer, record, adapt)
        self.thread = QThread()
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.progress.connect(self._progress)
        self.worker.beatsReady.connect(self._beats)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self.worker.cancelled.connect(self._cancelled)

    @Slot(int, int)
    def _progress(self, done: int, total: int) -> None:
        self.progress.emit(done, total)

    @Slot(object)
    def _beats(self, beats) -> None:
        self.beatsReady.emit(beats)

    @Slot(object, object)
    def _finished(self, beats, result) -> None:
        self.thread.quit()
        self.thread.wait(5000)
        self.finished.emit(beats, result)

    @Slot(str)
    def _failed(self, message: str) -> None:
        self.thread.quit()
        self.thread.wait(5000)
        self.failed.emit(message)

    @Slot()
    def _cancelled(self) -> None:
        self.thread.quit()
        self.thread.wait(5000)
        self.cancelled.emit()

    def start(self) -> None:
        self.thread.start()

    def cancel(self) -> None:
        self.worker.cancel()

    def stop(self, wait_ms: int = 10000) -> None:
        """Cancel and wait for the thread: called before a new record or on close."""
        self.worker.cancel()
        self.thread.quit()
        self.thread.wait(wait_ms)

    def is_running(self) -> bool:
        return self.thread.isRunning()
