"""App-level behaviour: shortcuts, dialogs, crash handler, odd records, screenshot mode."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from PySide6.QtGui import QKeySequence

from ui_support import ROOT, SAMPLE


def test_every_action_has_a_shortcut_listed_in_help(window):
    from ecgviewer.ui.dialogs import ShortcutsDialog

    dlg = ShortcutsDialog(window)
    listed = {dlg.table.item(r, 0).text() for r in range(dlg.table.rowCount())}
    for name, act in window.actions.items():
        assert not act.shortcut().isEmpty(), name
        assert any(act.shortcut().toString(QKeySequence.SequenceFormat.PortableText) in keys for keys in listed), name
    keys = [k.toString() for a in window.actions.values() for k in a.shortcuts()]
    assert len(keys) == len(set(keys)), "a key is bound twice"


def test_about_names_version_model_and_licences(window):
    from ecgviewer import __version__
    from ecgviewer.core.resources import licenses_path
    from ecgviewer.ui.dialogs import about_text

    card = window.scorer.model.card
    text = about_text(card, backend="onnx")
    assert __version__ in text and card.name in text and card.recipe.name in text
    assert all(f"AUC {row.mean_auc:.3f}" in text for row in card.metrics)
    assert "ODC-By" in text and "Moody" in text
    assert "ONNX Runtime (CPU)" in text and "SciPy" in text and "pandas" in text
    assert licenses_path().is_file() and licenses_path().as_uri() in text  # the full notices, one click away
    heads = [line.split(" ")[0] for line in text.splitlines() if line.startswith("#")]
    assert heads[0] == "#" and all(h != "#" for h in heads[1:])  # one title; the sample's own, under its section
    assert "### Sample records" in text


def test_excepthook_logs_and_shows_a_dialog(tmp_path, errors, monkeypatch):
    from ecgviewer.ui.app import ExceptionHook, setup_logging

    hook = ExceptionHook(setup_logging())
    try:
        raise ValueError("boom in a slot")
    except ValueError:
        hook(*sys.exc_info())
    assert errors and "boom in a slot" in errors[0][1]
    log = (tmp_path / "log" / "ecgviewer.log").read_text()
    assert "boom in a slot" in log and "Traceback" in log


def _write_record(folder, name, fs, sig, with_ann=False):
    import wfdb

    wfdb.wrsamp(name, fs=fs, units=["mV"] * sig.shape[1], sig_name=[f"ECG{i}" if i else "MLII" for i in range(sig.shape[1])],
                p_signal=sig, fmt=["16"] * sig.shape[1], write_dir=str(folder))
    return folder / name


def test_one_lead_other_rate_record_opens_and_says_so(qtbot, window, tmp_path):
    from ecgviewer.core.record import load_record

    src = load_record(SAMPLE)
    fs = 250.0
    n = int(120 * fs)
    idx = (np.arange(n) * 360 / fs).astype(int)
    path = _write_record(tmp_path, "lead1", fs, src.signal[idx, :1].astype(np.float64))
    with qtbot.waitSignal(window.scoringDone, timeout=60_000):
        assert window.open_record(path)
    text = window.info.text()
    assert "one lead" in text and "250 Hz" in text and "detector" in text
    assert window.beats is not None and len(window.beats) > 50


def test_an_empty_annotation_file_is_said_in_the_viewer(qtbot, window, tmp_path):
    """The loader's notes (here: an empty .atr, so the detector's beats) reach the record's header line."""
    from ecgviewer.core.record import load_record

    src = load_record(SAMPLE)
    path = _write_record(tmp_path, "noatr", 360.0, src.signal[: 120 * 360].astype(np.float64))
    (tmp_path / "noatr.atr").write_bytes(b"")
    with qtbot.waitSignal(window.scoringDone, timeout=60_000):
        assert window.open_record(path)
    text = window.info.text()
    assert "noatr.atr is empty: beats from the QRS detector" in text
    assert "no reference annotations" not in text  # said once, by the loader's note


def test_record_without_beats_opens_and_says_so(qtbot, window, tmp_path):
    path = _write_record(tmp_path, "flat", 360.0, np.zeros((3600, 2)))
    with qtbot.waitSignal(window.scoringDone, timeout=60_000):
        assert window.open_record(path)
    assert window.record.name == "flat"
    assert window.table.flags.rowCount() == 0
    assert "no beats" in window.info.text() or "not scored" in window.info.text()
    window.step_flag(1)  # nothing to go to: no crash
    assert window.selected_beat is None


def test_screenshot_mode_in_subprocess(tmp_path, model_path):
    png = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", ECGVIEWER_MODEL=str(model_path), ECGVIEWER_STARTUP_TRACE="1")
    proc = subprocess.run([sys.executable, "-m", "ecgviewer", str(SAMPLE), "--screenshot", str(png)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # start-up order: the window is painted before the model and the record load, then scoring ends
    steps = [ln.split("startup: ", 1)[1] for ln in proc.stderr.splitlines() if ln.startswith("startup: ")]
    names = [st.rsplit(" at ", 1)[0] for st in steps]
    times = [float(st.rsplit(" at ", 1)[1].split()[0]) for st in steps]
    assert names == ["window painted", "model loaded", "record drawn", "scoring done (scored)"], names
    assert times == sorted(times) and 0 < times[0]
    from PySide6.QtGui import QImage

    img = QImage(str(png))
    assert img.width() >= 1000 and img.height() >= 600


def test_screenshot_mode_bad_record_exits_2(tmp_path, model_path):
    from ui_support import broken_copy

    bad = broken_copy(tmp_path)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", ECGVIEWER_MODEL=str(model_path))
    proc = subprocess.run([sys.executable, "-m", "ecgviewer", str(bad), "--screenshot", str(tmp_path / "x.png")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "truncated" in proc.stderr
