"""UI test setup: offscreen Qt, a temp config/log dir, and a model (bundled, or a small dev one)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

from pathlib import Path

import pytest

from ui_support import ROOT, SAMPLE  # noqa: F401 - shared with the test modules


@pytest.fixture(scope="session")
def model_path(tmp_path_factory) -> Path:
    """The bundled model's card if it exists, else an untrained dev model (same interface)."""
    from ecgviewer.core.resources import bundled_model_path

    bundled = bundled_model_path()
    if bundled.is_file():
        return bundled
    import torch

    from ecgviewer.core.model.netconfig import NetConfig
    from ecgviewer.core.model.networks import Generator
    from trainer.export import save_model, untrained_card

    torch.manual_seed(0)
    return save_model(Generator(NetConfig()), untrained_card(), tmp_path_factory.mktemp("model") / "dev", onnx=False)


@pytest.fixture(scope="session")
def scorer(model_path):
    from ecgviewer.core.scorer import Scorer

    return Scorer.load(model_path)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    """Settings and logs go to a temp dir: tests never touch the user's files."""
    monkeypatch.setenv("ECGVIEWER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("ECGVIEWER_LOG_DIR", str(tmp_path / "log"))
    return tmp_path


@pytest.fixture
def errors(monkeypatch):
    """Collects error dialogs instead of showing them (a modal box would block the test)."""
    shown: list[tuple[str, str]] = []

    def fake(parent, title, text, details=None):
        shown.append((title, text))

    import ecgviewer.ui.dialogs as dialogs
    import ecgviewer.ui.main_window as mw

    monkeypatch.setattr(dialogs, "show_error", fake)
    monkeypatch.setattr(mw, "show_error", fake)
    return shown


@pytest.fixture
def window(qtbot, scorer, errors):
    """A main window with the test model, shown offscreen; stops its scoring thread at the end."""
    from ecgviewer.ui.main_window import MainWindow

    w = MainWindow(scorer)
    qtbot.addWidget(w)
    w.resize(1400, 850)
    w.show()
    yield w
    w._stop_job()


@pytest.fixture(scope="session")
def scored_119(scorer):
    """Beats and scores of record 119 from the Scorer directly (the reference for the UI)."""
    from ecgviewer.core.record import load_record

    rec = load_record(SAMPLE)
    beats = scorer.beats(rec)
    return beats, scorer.score(beats)
