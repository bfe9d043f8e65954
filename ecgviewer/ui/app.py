"""Application start: QApplication, the model, the main window, the crash handler, screenshot mode.

``run_gui`` is what ``ecgviewer [RECORD] [--screenshot PNG]`` calls. ``ECGVIEWER_MODEL`` points the
viewer at another model card (tests and development before the bundled model exists).
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from pathlib import Path

from ecgviewer.ui.settings import log_dir

log = logging.getLogger("ecgviewer")
SCREENSHOT_TIMEOUT_MS = 180_000
_T_IMPORT = time.perf_counter()


def since_launch() -> float:
    """Seconds since this process started (Linux: from /proc, so the bootloader and the interpreter's
    own start count too; elsewhere: since this module was imported)."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return time.perf_counter() - _T_IMPORT


def trace(event: str) -> None:
    """With ECGVIEWER_STARTUP_TRACE=1, print when each start-up step is done (the smoke test reads it)."""
    if os.environ.get("ECGVIEWER_STARTUP_TRACE"):
        sys.stderr.write(f"startup: {event} at {since_launch():.2f} s\n")
        sys.stderr.flush()


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
    from PySide6.QtGui import QIcon

    from ecgviewer.core.resources import icon_path

    if icon_path().is_file():
        app.setWindowIcon(QIcon(str(icon_path())))
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

        # The window first, painted at once; the model and the record load right after, so the user
        # sees the app within about a second (docs/packaging.md: start-up).
        window = MainWindow(None, None)
        if screenshot:
            window.resize(1600, 950)
        window.show()
        window.statusBar().showMessage("Loading the model...")
        window.repaint()
        trace("window painted")
        if record is None:
            from ecgviewer.core.resources import sample_record_path

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
        window.recordOpened.connect(lambda _r: trace("record drawn"))
        window.scoringDone.connect(lambda ok: trace(f"scoring done ({'scored' if ok else 'not scored'})"))

        def start() -> None:
            scorer, model_error = load_scorer()
            window.set_scorer(scorer, model_error)
            window.statusBar().clearMessage()
            trace("model loaded" if scorer is not None else "no model")
            if screenshot:
                # Unattended: a bad record ends with the CLI's one-line error (exit 2), not a dialog.
                from ecgviewer.core.errors import RecordError
                from ecgviewer.core.record import load_record

                try:
                    loaded = load_record(record)
                except RecordError as e:
                    sys.stderr.write(f"ecgviewer: error: {e}\n")
                    status["code"] = 2
                    window.close()
                    app.quit()
                    return
                window.set_record(loaded)
            else:
                window.open_record(record)

        QTimer.singleShot(0, start)
        rc = app.exec()
        return status["code"] if screenshot else rc
    finally:
        hook.uninstall()
