"""Application start: QApplication, the model, the main window, the crash handler, screenshot mode.

``run_gui`` is what ``ecgviewer [RECORD] [--screenshot PNG]`` calls. ``ECGVIEWER_MODEL`` points the
viewer at another model card (tests and development before the bundled model exists).
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path

from ecgviewer.ui.settings import log_dir

log = logging.getLogger("ecgviewer")
SCREENSHOT_TIMEOUT_MS = 180_000


def setup_logging() -> Path:
    """Log warnings and crashes to ecgviewer.log in the user log dir; returns its path."""
    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ecgviewer.log"
    if not any(isinstance(h, logging.FileHandler) and Path(h.baseFilename) == path for h in log.handlers):
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    return path


class ExceptionHook:
    """sys.excepthook while the GUI runs: log the traceback, show it, keep the app alive.

    PySide6 calls sys.excepthook for exceptions escaping slots, so one unexpected bug costs the
    user a dialog, not their session.
    """

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self._showing = False
        self._previous = sys.excepthook

    def install(self) -> None:
        sys.excepthook = self

    def uninstall(self) -> None:
        if sys.excepthook is self:
            sys.excepthook = self._previous

    def __call__(self, exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            self._previous(exc_type, exc, tb)
            return
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("unexpected error\n%s", text)
        sys.stderr.write(text)
        if self._showing:
            return
        self._showing = True
        try:
            from ecgviewer.ui.dialogs import show_error

            show_error(None, "Unexpected error",
                       f"{exc_type.__name__}: {exc}\n\nThe app keeps running. Details were written to {self.log_path}.",
                       details=text)
        finally:
            self._showing = False


def load_scorer():
    """(scorer, error message): the model in $ECGVIEWER_MODEL or the bundled one; never raises."""
    from ecgviewer.core.errors import ModelError
    from ecgviewer.core.scorer import Scorer

    try:
        return Scorer.load(os.environ.get("ECGVIEWER_MODEL") or None), None
    except ModelError as e:
        return None, str(e)
    except Exception as e:  # noqa: BLE001 - a broken model must not stop the viewer
        return None, f"{type(e).__name__}: {e}"


def _app():
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("ecgviewer")
    app.setOrganizationName("ecgviewer")
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=False, background="w", foreground="k")
    return app


def take_screenshot(window, path: str) -> bool:
    """Select the top-scoring flagged beat, let the view settle, save a grab of the window."""
    from PySide6.QtWidgets import QApplication

    if window.result is not None and len(window.table.flags.rows):
        window.table.selectRow(0)
        window.select_beat(window.table.beat_at(0))
    for _ in range(5):
        QApplication.processEvents()
    window.signal_view.refresh()
    QApplication.processEvents()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    ok = window.grab().save(str(path))
    if not ok:
        sys.stderr.write(f"ecgviewer: error: cannot write {path}\n")
    return ok


def run_gui(record: str | None, screenshot: str | None = None) -> int:
    """Open the viewer on ``record`` (None: the bundled sample) and run until the window closes."""
    from PySide6.QtCore import QTimer

    app = _app()
    hook = ExceptionHook(setup_logging())
    hook.install()
    try:
        from ecgviewer.ui.main_window import MainWindow

        scorer, model_error = load_scorer()
        window = MainWindow(scorer, model_error)
        if screenshot:
            window.resize(1600, 950)
        window.show()
        if record is None:
            from ecgviewer.cli import sample_record_path

            record = str(sample_record_path())
        status = {"code": 0}
        if screenshot:
            def shoot(_scored: bool = True) -> None:
                status["code"] = 0 if take_screenshot(window, screenshot) else 1
                window.close()
                app.quit()

            def give_up() -> None:
                sys.stderr.write("ecgviewer: scoring did not finish in time; saving the window as it is\n")
                shoot()

            window.scoringDone.connect(lambda ok: QTimer.singleShot(200, shoot))
            QTimer.singleShot(SCREENSHOT_TIMEOUT_MS, give_up)
        if screenshot:
            # Unattended: a bad record ends with the CLI's one-line error (exit 2), not a dialog.
            from ecgviewer.core.record import load_record

            loaded = load_record(record)
            QTimer.singleShot(0, lambda: window.set_record(loaded))
        else:
            QTimer.singleShot(0, lambda: window.open_record(record))
        rc = app.exec()
        return status["code"] if screenshot else rc
    finally:
        hook.uninstall()
