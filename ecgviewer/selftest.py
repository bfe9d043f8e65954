"""``ecgviewer --self-test``: prove an install works without opening a window.

Opens the bundled sample record, scores it with the bundled model (``$ECGVIEWER_MODEL`` overrides,
as in the viewer), lets :func:`load_model` check the weights' SHA-256, and prints a short report:
versions, model, beats, flags, timings. Exit code 0 when every step passed, 1 otherwise, with a
``SELF-TEST FAILED: ...`` line saying which step and why.

It is written for IT staff checking a fresh install (also the packaged build's smoke test), so it
must not need the network: every socket opened while it runs is refused and counted, and a
non-zero count fails the test. The GUI half of an install check is ``ecgviewer --screenshot PNG``
(offscreen with ``QT_QPA_PLATFORM=offscreen``); ``run_self_test(screenshot=...)`` runs it after the
checks when given a path.
"""

from __future__ import annotations

import os
import platform
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ecgviewer import __version__


class SelfTestError(Exception):
    """A step of the self-test failed; the message says which and why."""


class NoNetwork:
    """While active, creating a socket or resolving a name raises and is counted.

    The viewer never needs the network; a library that tries anyway (an update check, a download)
    is a bug this catches. Unix-domain sockets (local IPC, e.g. a Qt platform plugin talking to
    the display server) are allowed.
    """

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._saved: dict[str, object] = {}

    def __enter__(self) -> NoNetwork:
        guard = self
        real_socket = socket.socket

        class GuardedSocket(real_socket):  # type: ignore[misc, valid-type]
            def __init__(self, family=-1, type=-1, proto=-1, fileno=None):  # noqa: A002 - socket's own names
                if fileno is None and family in (-1, socket.AF_INET, socket.AF_INET6):
                    guard.attempts.append(f"socket(family={family})")
                    raise OSError("ecgviewer self-test: network access attempted")
                super().__init__(family, type, proto, fileno)

        def refuse(name: str) -> Callable[..., object]:
            def _refused(*args, **kwargs):
                guard.attempts.append(f"{name}{args[:2]!r}")
                raise OSError(f"ecgviewer self-test: network access attempted ({name})")

            return _refused

        self._saved = {"socket": socket.socket, "create_connection": socket.create_connection,
                       "getaddrinfo": socket.getaddrinfo, "gethostbyname": socket.gethostbyname}
        socket.socket = GuardedSocket  # type: ignore[misc]
        socket.create_connection = refuse("create_connection")  # type: ignore[assignment]
        socket.getaddrinfo = refuse("getaddrinfo")  # type: ignore[assignment]
        socket.gethostbyname = refuse("gethostbyname")  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        for k, v in self._saved.items():
            setattr(socket, k, v)


def _versions(backend: str) -> dict[str, str]:
    import numpy

    out = {"ecgviewer": __version__, "python": platform.python_version(), "numpy": numpy.__version__}
    # the backend that runs the model must import; the other one is normally absent (installer: no torch)
    runtime = "torch" if backend == "torch" else "onnxruntime"
    for mod in (runtime, "scipy", "wfdb", "PySide6", "pyqtgraph"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception as e:  # noqa: BLE001 - reported, and a missing viewer module fails below
            out[mod] = f"MISSING ({type(e).__name__})"
    return out


def _model_path() -> Path:
    from ecgviewer.core.resources import bundled_model_path

    env = os.environ.get("ECGVIEWER_MODEL")
    if env:
        return Path(env)
    path = bundled_model_path()
    if not path.is_file():
        raise SelfTestError(f"bundled model missing: {path} not found (this build has no model; "
                            "set ECGVIEWER_MODEL to a model card to test another one)")
    return path


def _checks(out: Callable[[str], None]) -> dict:
    import numpy as np

    from ecgviewer.core.errors import ModelError, RecordError
    from ecgviewer.core.model.inference import default_backend
    from ecgviewer.core.resources import sample_record_path

    report: dict = {}
    t0 = time.perf_counter()
    try:
        backend = default_backend()
    except ModelError as e:
        raise SelfTestError(f"model runtime: {e}") from None
    versions = _versions(backend)
    out("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    missing = [k for k, v in versions.items() if v.startswith("MISSING")]
    if missing:
        raise SelfTestError(f"cannot import {', '.join(missing)}")
    out(f"platform: {platform.system()} {platform.machine()}, "
        f"{'packaged (frozen)' if getattr(sys, 'frozen', False) else 'Python ' + sys.executable}, "
        f"model backend {backend}")
    report["import_s"] = time.perf_counter() - t0

    from ecgviewer.core.record import load_record
    from ecgviewer.core.scorer import Scorer, flag_summary

    path = _model_path()
    t = time.perf_counter()
    try:
        scorer = Scorer.load(path)  # load_model checks the SHA-256 in the card before reading weights
    except ModelError as e:
        raise SelfTestError(f"model: {e}") from None
    report["model_s"] = time.perf_counter() - t
    card = scorer.model.card
    checked = card.onnx if scorer.backend == "onnx" else card.weights
    sha = checked.sha256 if checked is not None else ""
    out(f"model: {scorer.name} ({path.name}, {scorer.backend}), weights SHA-256 {sha[:16]}... verified, "
        f"threshold {scorer.threshold:.4g}, loaded in {report['model_s']:.2f} s")

    sample = sample_record_path()
    t = time.perf_counter()
    try:
        record = load_record(sample)
        beats = scorer.beats(record)
    except RecordError as e:
        raise SelfTestError(f"sample record: {e}") from None
    report["beats_s"] = time.perf_counter() - t
    if len(beats) < 100:
        raise SelfTestError(f"sample record {record.name}: only {len(beats)} beats found")
    out(f"sample: record {record.name}, {record.fs:g} Hz, {len(beats)} beats ({beats.source}) "
        f"in {report['beats_s']:.2f} s")

    t = time.perf_counter()
    result = scorer.score(beats)
    report["score_s"] = time.perf_counter() - t
    scores = np.asarray(result.score)
    if scores.shape != (len(beats),) or not np.isfinite(scores).all():
        raise SelfTestError("scores are missing or not finite")
    again = np.asarray(scorer.score(beats.subset(np.arange(min(256, len(beats))))).score)
    if not np.allclose(again, scores[: len(again)], rtol=1e-4, atol=1e-7):  # batch size may change the last bits
        raise SelfTestError("scoring is not reproducible: the first beats score differently on a second run")
    summary = flag_summary(beats, result, scorer.threshold)
    rate = len(beats) / report["score_s"] if report["score_s"] > 0 else float("inf")
    extra = ""
    if summary.get("sensitivity") is not None and summary.get("specificity") is not None:
        extra = f"; vs reference labels sensitivity {summary['sensitivity']:.3f}, specificity {summary['specificity']:.3f}"
    out(f"scored: {summary['beats']} beats, {summary['flagged']} flagged in {report['score_s']:.2f} s "
        f"({rate:,.0f} beats/s){extra}")
    report.update(summary)
    return report


def run_self_test(screenshot: str | None = None, out: Callable[[str], None] | None = None) -> int:
    """Run the checks and print the report; 0 when all passed, 1 otherwise (the reason is printed)."""
    def say(line: str) -> None:
        (out or print)(line)
        if out is None:
            sys.stdout.flush()

    t0 = time.perf_counter()
    say(f"ecgviewer self-test {__version__}")
    guard = NoNetwork()
    try:
        with guard:
            _checks(say)
    except SelfTestError as e:
        say(f"SELF-TEST FAILED: {e}")
        return 1
    except Exception as e:  # noqa: BLE001 - an install check reports, it does not crash
        if guard.attempts:
            say(f"SELF-TEST FAILED: network access attempted: {', '.join(guard.attempts[:3])}")
        else:
            say(f"SELF-TEST FAILED: {type(e).__name__}: {e}")
        return 1
    if guard.attempts:
        say(f"SELF-TEST FAILED: network access attempted: {', '.join(guard.attempts[:3])}")
        return 1
    say(f"network: none used; total {time.perf_counter() - t0:.2f} s")
    if screenshot:
        from ecgviewer.ui.app import run_gui

        t = time.perf_counter()
        rc = run_gui(None, screenshot=screenshot)
        if rc != 0 or not Path(screenshot).is_file():
            say(f"SELF-TEST FAILED: the viewer could not save a screenshot to {screenshot} (exit {rc})")
            return 1
        say(f"screenshot: {screenshot} in {time.perf_counter() - t:.2f} s")
    say("SELF-TEST PASSED")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m ecgviewer.selftest [--screenshot PNG]``."""
    import argparse

    p = argparse.ArgumentParser(prog="ecgviewer-selftest", description=__doc__.splitlines()[0])
    p.add_argument("--screenshot", metavar="PNG", help="then open the viewer on the sample and save a grab")
    args = p.parse_args(argv)
    return run_self_test(screenshot=args.screenshot)


if __name__ == "__main__":
    sys.exit(main())
