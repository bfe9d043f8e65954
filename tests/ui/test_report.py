"""PDF report: page count, first page renders, and the printed grid really is 1 mm."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ecgviewer.core.review import BeatReview, ReviewState

from testdata import MITDB, needs_mitdb

needs_poppler = pytest.mark.skipif(shutil.which("pdftoppm") is None,
                                   reason="pdftoppm (poppler-utils) not installed; QtPdf is not in PySide6-Essentials")


@pytest.fixture(scope="module")
def rec119():
    from ecgviewer.core.beats import reference_peaks
    from ecgviewer.core.record import load_record

    rec = load_record(MITDB / "119")  # read only
    sample, symbol = reference_peaks(rec)
    rng = np.random.default_rng(7)
    scores = rng.random(len(sample)) * 0.04 + (symbol == "V") * 0.05
    return rec, sample, symbol, scores


def _pages_in(pdf: Path) -> int:
    """Page objects in a PDF (Qt writes them uncompressed), so no PDF library is needed."""
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf.read_bytes()))


@needs_mitdb
def test_report_pages_and_render(qapp, rec119, tmp_path):
    from ecgviewer.ui.report import choose_strips, paginate, write_report

    rec, sample, symbol, scores = rec119
    states = {int(sample[i]): BeatReview(ReviewState.CONFIRMED, "V beat, confirmed\nsecond line")
              for i in np.flatnonzero(symbol == "V")[:6]}
    states[int(sample[0])] = BeatReview(ReviewState.DISMISSED)
    pdf = tmp_path / "report.pdf"
    n = write_report(pdf, rec, sample, scores, 0.05, states, "dev 0", top_n=10)
    # 10 top flagged + 6 confirmed strips: 4 on page 1, 5 on the next pages.
    assert len(choose_strips(sample, scores, 0.05, symbol, states, 10)) == 16
    assert n == len(paginate(choose_strips(sample, scores, 0.05, symbol, states, 10))) == 4
    assert pdf.stat().st_size > 10_000 and _pages_in(pdf) == n
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        assert re.search(r"Pages:\s+4", info) and "A4" in info


@needs_mitdb
def test_report_without_flags_has_one_page(qapp, rec119, tmp_path):
    from ecgviewer.ui.report import write_report

    rec, sample, _, scores = rec119
    assert write_report(tmp_path / "r.pdf", rec, sample, scores, 99.0, {}, "dev 0") == 1


@needs_mitdb
@needs_poppler
def test_first_page_renders_and_grid_is_1_mm(qapp, rec119, tmp_path):
    from ecgviewer.ui.report import GRID_W, write_report

    rec, sample, _, scores = rec119
    pdf = tmp_path / "report.pdf"
    write_report(pdf, rec, sample, scores, 0.05, {}, "dev 0", top_n=3)
    # 254 dpi = 10 pixels per millimetre.
    subprocess.run(["pdftoppm", "-png", "-r", "254", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "p")],
                   check=True, timeout=60)
    png = next(tmp_path.glob("p*.png"))
    img = _rgb(png)
    assert abs(img.shape[0] - 2970) <= 1 and abs(img.shape[1] - 2100) <= 1  # A4
    r, g = img[..., 0].astype(int), img[..., 1].astype(int)
    pink = (r > 200) & (r - g > 20)
    assert pink.any(), "no grid drawn"
    # A row through a strip, between horizontal grid lines: vertical lines every 10 px.
    rows = pink.sum(axis=1)
    row = np.flatnonzero((rows > 100) & (rows < 1000))[5]
    cols = np.flatnonzero(pink[row])
    starts = cols[np.concatenate([[True], np.diff(cols) > 1])]
    assert np.median(np.diff(starts)) == pytest.approx(10, abs=0.5)
    assert (starts[-1] - starts[0]) / 10 == pytest.approx(GRID_W, abs=0.3)


def _rgb(png: Path) -> np.ndarray:
    from PySide6.QtGui import QImage

    img = QImage(str(png)).convertToFormat(QImage.Format.Format_RGB888)
    w, h = img.width(), img.height()
    return np.frombuffer(img.constBits(), np.uint8).reshape(h, img.bytesPerLine())[:, : w * 3].reshape(h, w, 3).copy()
