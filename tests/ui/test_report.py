"""PDF report: content (patient, reviewer, findings, panel's numbers, every lead), a layout with no
overlapping text on any page (poppler's text boxes), and a printed grid that really is 1 mm."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import datetime as _dt
import re
import shutil
import subprocess
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from ecgviewer.core.review import BeatReview, ReviewState

needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
                                   reason="poppler-utils not installed (apt-get install poppler-utils)")
EVENTS = [{"kind": "couplet", "start": 10.0, "end": 11.2, "beats": [3600, 3900]},
          {"kind": "pause", "start": 100.0, "end": 102.5, "beats": [36000, 36900]}]
TEMPLATES = [{"id": 0, "count": 1500, "label": "N", "max_score": 0.03, "samples": [1, 2]},
             {"id": 1, "count": 900, "label": "V", "max_score": 0.09, "samples": [3]}]


def _load(mitdb, name):
    from ecgviewer.core.beats import reference_peaks
    from ecgviewer.core.record import load_record

    rec = load_record(mitdb / name)  # read only
    sample, symbol = reference_peaks(rec)
    rng = np.random.default_rng(7)
    scores = rng.random(len(sample)) * 0.04 + (symbol == "V") * 0.05
    return rec, sample, symbol, scores


@pytest.fixture(scope="module")
def rec208(mitdb):
    return _load(mitdb, "208")


def _reviews(sample, symbol):
    v = np.flatnonzero(symbol == "V")
    states = {int(sample[i]): BeatReview(ReviewState.CONFIRMED, "PVC, confirmed\nsecond line") for i in v[:6]}
    states[int(sample[v[6]])] = BeatReview(ReviewState.DISMISSED, "artefact")
    states[int(sample[0])] = BeatReview(ReviewState.DISMISSED)
    return states


def _pages_in(pdf: Path) -> int:
    """Page objects in a PDF (Qt writes them uncompressed), so no PDF library is needed."""
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf.read_bytes()))


def _text(pdf: Path) -> str:
    """The PDF's text, ligatures (the font's "fi", "fl") spelled out."""
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return unicodedata.normalize("NFKC", out)


def _words(pdf: Path) -> list[list[tuple[float, float, float, float, str]]]:
    """Per page, every word's box (xMin, yMin, xMax, yMax, text) from pdftotext -bbox."""
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    html = re.sub(r"<!DOCTYPE[^>]*>", "", html).replace('xmlns="http://www.w3.org/1999/xhtml"', "")
    root = ET.fromstring(html)
    pages = []
    for page in root.iter("page"):
        pages.append([(float(w.get("xMin")), float(w.get("yMin")), float(w.get("xMax")), float(w.get("yMax")),
                       w.text or "") for w in page.iter("word")])
    return pages


def test_content_and_numbers_equal_the_panel(qapp, rec208, tmp_path):
    from ecgviewer.core.flag_metrics import FlagMetrics
    from ecgviewer.ui.report import choose_strips, write_report

    rec, sample, symbol, scores = rec208
    states = _reviews(sample, symbol)
    pdf = tmp_path / "report.pdf"
    n = write_report(pdf, rec, sample, scores, 0.05, states, "dev 0", reviewer="Dr A. Test", events=EVENTS,
                     templates=TEMPLATES, when=_dt.datetime(2026, 12, 1, 9, 30))
    assert pdf.stat().st_size > 10_000 and _pages_in(pdf) == n >= 2
    strips = choose_strips(sample, scores, 0.05, symbol, states, 10, record=rec)
    confirmed = sorted(s for s, r in states.items() if r.state == ReviewState.CONFIRMED)
    dismissed = {s for s, r in states.items() if r.state == ReviewState.DISMISSED}
    assert [s.sample for s in strips[:6]] == confirmed  # every confirmed beat, in time order
    assert len({s.sample for s in strips}) == len(strips)  # none twice
    assert not dismissed & {s.sample for s in strips}  # dismissed: listed, never a strip
    if shutil.which("pdftotext") is None:
        return
    text = " ".join(_text(pdf).split())
    assert "Age 23, Sex female" in text and "PVCs are uniform" in text  # 208's header
    assert "Reviewed by Dr A. Test on 2026-12-01 09:30" in text
    assert "Dismissed flags (2)" in text and "artefact" in text
    assert "Ventricular couplets: 1" in text and "Pauses: 1, total 2.5 s" in text
    assert "Template 1: 900 beats, label V" in text
    m = FlagMetrics.for_record(rec, sample, scores).at(0.05)  # what the flag-metrics panel shows
    assert f"F {m['per_class']['F']['reference']}," in text and f"V {m['per_class']['V']['reference']}," in text
    assert text.count("25 mm/s 10 mm/mV") == len(strips)  # every strip says its speed and gain
    assert text.count("MLII") >= len(strips) and text.count("V1") >= len(strips)  # every lead


def _overlaps(words) -> list[tuple[str, str]]:
    out = []
    for i, a in enumerate(words):
        for b in words[i + 1:]:
            if min(a[2], b[2]) - max(a[0], b[0]) > 0.3 and min(a[3], b[3]) - max(a[1], b[1]) > 0.3:
                out.append((a[4], b[4]))
    return out


@needs_poppler
def test_overlap_check_finds_a_heading_printed_over_a_line(qapp, tmp_path):
    """The checker itself: the old fault (a heading drawn over the line above it) is found."""
    from PySide6.QtGui import QPainter, QPdfWriter

    from ecgviewer.ui.report import DPI, _Page

    pdf = tmp_path / "bad.pdf"
    writer = QPdfWriter(str(pdf))
    writer.setResolution(DPI)
    painter = QPainter(writer)
    pg = _Page(painter, DPI, writer)
    pg.text(12, 40, "Flags against the reference: sensitivity 72.5 %", 9)
    pg.text(12, 41.5, "Top flagged beats", 10.5, bold=True)
    painter.end()
    assert _overlaps(_words(pdf)[0])


@needs_poppler
@pytest.mark.parametrize("name", ["208", "119"])
def test_no_text_overlaps_on_any_page(qapp, mitdb, tmp_path, name):
    from ecgviewer.ui.report import write_report

    rec, sample, symbol, scores = _load(mitdb, name)
    long_note = "a long note " * 30
    states = _reviews(sample, symbol)
    states[next(iter(states))] = BeatReview(ReviewState.CONFIRMED, long_note)
    events = EVENTS * 30  # long lists: the sections run over pages
    pdf = tmp_path / "r.pdf"
    n = write_report(pdf, rec, sample, scores, 0.05, states, "dev 0", reviewer="Dr B", events=events,
                     templates=TEMPLATES)
    pages = _words(pdf)
    assert len(pages) == n
    for p, words in enumerate(pages, start=1):
        assert len(words) > 10  # poppler found the page's text
        assert not _overlaps(words), f"page {p}: {_overlaps(words)[:3]}"


def test_report_without_flags_has_one_page(qapp, rec208, tmp_path):
    from ecgviewer.ui.report import write_report

    rec, sample, _, scores = rec208
    assert write_report(tmp_path / "r.pdf", rec, sample, scores, 99.0, {}, "dev 0") == 1


def test_patient_info_from_header_comments():
    from ecgviewer.core.report_content import patient_info

    assert patient_info(["23 F 2546 N/A x1", "None", "The PVCs are uniform."]) == (
        {"Age": "23", "Sex": "female"}, ["The PVCs are uniform."])
    assert patient_info(["<age>: 44 <sex>: M <diagnoses>: (none)"])[0] == {"Age": "44", "Sex": "M",
                                                                         "Diagnoses": "(none)"}
    assert patient_info([]) == ({}, [])


@needs_poppler
def test_first_page_renders_and_grid_is_1_mm(qapp, rec208, tmp_path):
    from ecgviewer.ui.report import GRID_W, write_report

    rec, sample, symbol, scores = rec208
    pdf = tmp_path / "report.pdf"
    write_report(pdf, rec, sample, scores, 0.05, {int(sample[5]): BeatReview(ReviewState.CONFIRMED)}, "dev 0", top_n=3)
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


def test_strips_carry_the_viewers_heat_map(qapp, scored_119):
    from ecgviewer.core.heatmap import display_map, display_scale, dominant_template
    from ecgviewer.core.record import load_record
    from ecgviewer.ui.report import attach_heat, choose_strips

    from ui_support import SAMPLE

    beats, result = scored_119
    rec = load_record(SAMPLE)
    strips = choose_strips(beats.sample, result.score, float(np.percentile(result.score, 99)), beats.symbol, {}, 3,
                           record=rec)
    attach_heat(strips, beats, result.score, rec)
    tpl = dominant_template(beats.x, result.score)
    i = int(np.flatnonzero(beats.sample == strips[0].sample)[0])
    lead = rec.channel_names.index(beats.leads[0])
    expected = np.clip(display_map(beats.x[i:i + 1], tpl)[0, 0] / display_scale(beats.x, tpl), 0, 1)
    np.testing.assert_allclose(strips[0].heat[lead], expected, rtol=1e-5)


def test_a_lead_band_grows_then_halves_the_gain_then_says_it_clips():
    from ecgviewer.ui.report import LEAD_H, LEAD_MAX, MM_PER_MV, lead_band

    assert lead_band(np.array([-0.3, 0.0, 1.2])) == lead_band(np.array([])) == lead_band(np.array([0.0]))
    assert lead_band(np.array([-0.3, 1.2])).height == LEAD_H
    tall = lead_band(np.array([-1.55, 0.0, 3.04]))  # 119's PVCs in a 7 s strip: 4.6 mV
    assert (tall.gain, tall.clipped) == (MM_PER_MV, False) and LEAD_H < tall.height <= LEAD_MAX
    assert tall.height % 5 == 0 and tall.height >= 4.59 * MM_PER_MV + 2
    half = lead_band(np.array([-4.0, 4.0]))
    assert (half.gain, half.clipped) == (MM_PER_MV / 2, False)
    assert lead_band(np.array([-10.0, 10.0])).clipped


@pytest.mark.parametrize("name", ["119", "208"])
def test_every_printed_wave_and_pulse_stays_on_its_lead_grid(qapp, mitdb, name):
    """Every strip of a real record (one per beat, here every 50th) holds its whole swing and its
    calibration pulse, under the lead's name, on the lead's own grid, unless its band says clipped."""
    from ecgviewer.core.beats import reference_peaks
    from ecgviewer.core.record import load_record
    from ecgviewer.ui.report import LABEL_ROOM, _baseline_y, _centred, strip_bands, strip_window

    rec = load_record(mitdb / name)
    leads = list(range(rec.signal.shape[1]))
    sample, _ = reference_peaks(rec)
    tall = 0
    for s in sample[::50]:
        lo, hi, _ = strip_window(rec, int(s))
        for lead, band in zip(leads, strip_bands(rec, leads, int(s))):
            y = _centred(rec.signal[lo:hi, lead])
            y = y[np.isfinite(y)]
            base = _baseline_y(0.0, y, band)
            assert not band.clipped
            assert base - y.max() * band.gain >= 1.0 - 1e-9  # the tallest peak under the grid's top
            assert base - y.min() * band.gain <= band.height - 1.0 + 1e-9  # the deepest trough above its bottom
            assert base - band.gain >= LABEL_ROOM - 1e-9  # the pulse under the lead's name
            tall += band.height > 30.0
    assert name != "119" or tall  # 119's PVCs need the taller grid


def test_the_caption_names_a_lead_at_half_gain(qapp):
    from ecgviewer.ui.report import MM_PER_MV, Band, scale_text

    class R:
        channel_names = ["MLII", "V1"]

    assert scale_text(R(), [0, 1], [Band(), Band()]) == "25 mm/s  10 mm/mV"
    assert scale_text(R(), [0, 1], [Band(), Band(60.0, MM_PER_MV / 2)]) == "25 mm/s  10 mm/mV  (V1: 5 mm/mV)"
    assert scale_text(R(), [0, 1], [Band(60.0, MM_PER_MV / 2, True), Band()]).endswith("(MLII: clipped)")
