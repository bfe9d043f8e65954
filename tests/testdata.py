"""Where the tests find the PhysioNet records: one place, with environment overrides.

    ECGVIEWER_TEST_DATA=DIR   a folder holding mitdb/ and qtdb-x/ (default: ../shared/data beside the checkout)
    ECGVIEWER_MITDB=DIR       the MIT-BIH Arrhythmia Database folder itself (48 records, 360 Hz)
    ECGVIEWER_QTDB=DIR        the QT Database excerpts of other databases (qtdb-x, 54 records, 250 Hz)

Both are PhysioNet databases under ODC-By 1.0 (README, "Test data"). A test that needs a record
skips with :data:`MITDB_MISSING` when it is absent, and the end of the run counts those skips in
one line (tests/conftest.py), so a run without the data never passes quietly.

Import it as ``from testdata import MITDB, needs_mitdb`` (tests/ is on sys.path through its conftest).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ECGVIEWER_TEST_DATA") or ROOT.parent / "shared" / "data")
MITDB = Path(os.environ.get("ECGVIEWER_MITDB") or DATA / "mitdb")
QTDB = Path(os.environ.get("ECGVIEWER_QTDB") or DATA / "qtdb-x")

# every skip for missing data says this, so conftest's summary can count them
MITDB_MISSING = f"MIT-BIH records not found in {MITDB} (set ECGVIEWER_MITDB)"
QTDB_MISSING = f"qtdb-x records not found in {QTDB} (set ECGVIEWER_QTDB)"


def have_mitdb(*records: str) -> bool:
    """All of ``records`` (default: 100 and 119, the ones most tests read) are in :data:`MITDB`."""
    return all((MITDB / f"{r}.hea").is_file() for r in records or ("100", "119"))


def have_qtdb() -> bool:
    return QTDB.is_dir() and any(QTDB.glob("*.hea"))


needs_mitdb = pytest.mark.skipif(not have_mitdb(), reason=MITDB_MISSING)
needs_qtdb = pytest.mark.skipif(not have_qtdb(), reason=QTDB_MISSING)
