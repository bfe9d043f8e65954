"""Helpers the UI tests import by name (a uniquely named module: two conftest.py files in one
pytest run share the module name ``conftest``, so importing from it depends on collection order)."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "resources" / "samples" / "119"


def open_and_score(qtbot, window, path=SAMPLE, timeout=60_000):
    with qtbot.waitSignal(window.scoringDone, timeout=timeout) as blocker:
        assert window.open_record(path)
    return blocker.args[0]


def broken_copy(tmp_path: Path, name: str = "119") -> Path:
    """Record 119 copied with its .dat truncated to a tenth."""
    for ext in ("hea", "dat", "atr"):
        shutil.copy(SAMPLE.with_suffix(f".{ext}"), tmp_path / f"{name}.{ext}")
    dat = tmp_path / f"{name}.dat"
    data = dat.read_bytes()
    dat.write_bytes(data[: len(data) // 10])
    return tmp_path / name
