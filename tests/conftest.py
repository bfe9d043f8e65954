"""Shared test setup: the MIT-BIH fixture, copying a record to break it, running the CLIs.

Where the records are is decided once, in tests/testdata.py (environment overrides there). They
are read-only: a test that needs to change one copies it into ``tmp_path`` first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings as _hypothesis_settings

from testdata import MITDB, MITDB_MISSING, QTDB, QTDB_MISSING, have_mitdb, have_qtdb

# CI runs each property test on the same derandomized examples, so a run passes or fails for the
# code, not the draw; locally hypothesis explores new examples each run (and keeps what fails).
_hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mitdb() -> Path:
    """The read-only MIT-BIH folder (tests/testdata.py); skips the test when it is absent."""
    if not have_mitdb():
        pytest.skip(MITDB_MISSING)
    return MITDB


@pytest.fixture(scope="session")
def qtdb() -> Path:
    """The read-only qtdb-x folder (a test set: evaluate on it, never fit to it); skips when absent."""
    if not have_qtdb():
        pytest.skip(QTDB_MISSING)
    return QTDB


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """One line per missing database: how many tests it skipped and how to get it."""
    for missing, name, how in ((MITDB_MISSING, "MIT-BIH", "ECGVIEWER_MITDB"), (QTDB_MISSING, "qtdb-x", "ECGVIEWER_QTDB")):
        n = sum(1 for r in terminalreporter.stats.get("skipped", [])
                if isinstance(r.longrepr, tuple) and missing in str(r.longrepr[-1]))
        if n:
            terminalreporter.write_line(f"{n} tests skipped: {name} records not found in "
                                        f"{MITDB if name == 'MIT-BIH' else QTDB}; README 'Test data' says "
                                        f"where to get them, {how}=DIR points the tests at them",
                                        yellow=True, bold=True)


def copy_record_files(name: str, dest: Path, new_name: str | None = None,
                      exts: tuple[str, ...] = ("hea", "dat", "atr")) -> Path:
    """Copy MIT-BIH record ``name`` into ``dest`` (created); returns the copy's path without extension.

    With ``new_name`` the files are renamed and the header's record line and signal file names
    follow, so the copy is a valid record of its own.
    """
    dest.mkdir(parents=True, exist_ok=True)
    new = new_name or name
    for ext in exts:
        src = MITDB / f"{name}.{ext}"
        if ext == "hea" and new != name:
            text = src.read_text(encoding="latin-1")
            lines = text.splitlines(keepends=True)
            lines[0] = lines[0].replace(name, new, 1)
            lines = [ln.replace(f"{name}.dat", f"{new}.dat", 1) for ln in lines]
            (dest / f"{new}.hea").write_text("".join(lines), encoding="latin-1")
        else:
            shutil.copyfile(src, dest / f"{new}.{ext}")
    return dest / new


@pytest.fixture
def copy_record(mitdb):
    """``copy_record(name, dest, new_name=None, exts=...)``: see :func:`copy_record_files`."""
    return copy_record_files


@pytest.fixture
def helpers():
    """The module's plain helpers, for tests that cannot import this conftest by name."""
    import types

    return types.SimpleNamespace(snapshot=snapshot, assert_one_line_error=assert_one_line_error,
                                 copy_record=copy_record_files, run_module=run_module)


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` (relative path) with its size and mtime in ns."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = p.stat()
        out[str(p.relative_to(folder))] = (st.st_size, st.st_mtime_ns) if p.is_file() else (-1, 0)
    return out


def run_module(module: str, *args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m module args`` in a subprocess (this interpreter, this checkout first on the path)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run([sys.executable, "-m", module, *args], cwd=str(cwd or ROOT), env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=timeout)


@pytest.fixture
def run_cli():
    """``run_cli(*args, cwd=None)``: ``python -m ecgviewer args`` in a subprocess."""
    return lambda *args, cwd=None: run_module("ecgviewer", *args, cwd=cwd)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """A failed CLI run: non-zero exit, one line on stderr naming each of ``needles``, no traceback."""
    assert proc.returncode != 0, proc.stdout[-500:]
    err = proc.stderr.strip()
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(err.splitlines()) == 1, proc.stderr
    for n in needles:
        assert n.lower() in err.lower(), (n, err)
    return err
