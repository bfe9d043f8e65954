"""PDF review report, drawn with Qt's own printing (QPdfWriter + QPainter).

Strips are printed at the paper speed and gain a cardiologist measures with calipers: 25 mm/s and
10 mm/mV on a 1 mm / 5 mm grid, each strip opening with a 1 mV calibration pulse, so intervals and
amplitudes can be read off the paper. Everything is laid out in millimetres on an A4 page with no
printer margins, so a millimetre in the layout is a millimetre on paper.
A QGuiApplication must exist (fonts); the viewer always has one.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QLineF, QMarginsF, QPointF, QRectF, Qt
from PySide6.QtGui import (QColor, QFont, QFontMetricsF, QPageLayout, QPageSize, QPainter, QPdfWriter, QPen,
                           QPolygonF)

from ecgviewer.core.classes import ANOMALY_CLASSES, BEATGAN_CLASSES
from ecgviewer.core.flag_metrics import FlagMetrics, reference_labels
from ecgviewer.core.record import Record
from ecgviewer.core.review import EMPTY, BeatReview, ReviewState

# Paper standard.
MM_PER_S = 25.0
MM_PER_MV = 10.0
# Page geometry (mm).
PAGE_W, PAGE_H = 210.0, 297.0
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 12.0, 12.0, 16.0
CAL_W = 10.0  # calibration area at the start of each strip
STRIP_S = 7.0  # seconds of signal per strip
GRID_W = CAL_W + STRIP_S * MM_PER_S  # 185 mm: a whole number of millimetres
GRID_H = 40.0  # 4 mV
LABEL_H = 7.0
STRIP_GAP = 4.0
BLOCK_H = LABEL_H + GRID_H + STRIP_GAP
HEADER_H = 56.0  # record and summary block on page 1
SECTION_H = 8.0
DPI = 1200

GRID_MINOR = QColor(244, 180, 180)
GRID_MAJOR = QColor(222, 110, 110)


@dataclass
class Strip:
    """One strip to print: the beat it centres on and its caption."""

    section: str
    index: int
    sample: int
    score: float
    reference: str
    review: BeatReview


class _Page:
    """Millimetre drawing on a QPainter whose device is in dots."""

    def __init__(self, painter: QPainter, dpi: int) -> None:
        self.p = painter
        self.k = dpi / 25.4

    def pt(self, x: float, y: float) -> QPointF:
        return QPointF(x * self.k, y * self.k)

    def pen(self, color: QColor, width_mm: float) -> QPen:
        pen = QPen(color, width_mm * self.k)
        pen.setCapStyle(Qt.PenCapStyle.FlatCap)
        return pen

    def line(self, x0: float, y0: float, x1: float, y1: float) -> None:
        self.p.drawLine(QLineF(self.pt(x0, y0), self.pt(x1, y1)))

    def text(self, x: float, y: float, s: str, size_pt: float = 9.0, bold: bool = False,
             width: float | None = None, align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft) -> float:
        """Draw ``s`` with its top-left at (x, y) mm, elided to ``width`` mm; returns the line height."""
        font = QFont("Helvetica")
        font.setPointSizeF(size_pt)
        font.setBold(bold)
        self.p.setFont(font)
        fm = QFontMetricsF(font, self.p.device())
        w = (width if width is not None else PAGE_W - MARGIN_X - x) * self.k
        shown = fm.elidedText(s, Qt.TextElideMode.ElideRight, w)
        self.p.setPen(QColor(0, 0, 0))
        rect = QRectF(x * self.k, y * self.k, w, fm.height())
        self.p.drawText(rect, int(align | Qt.AlignmentFlag.AlignTop), shown)
        return fm.height() / self.k


# --- what goes in the report ----------------------------------------------------------------

def choose_strips(sample: np.ndarray, scores: np.ndarray, threshold: float, reference: np.ndarray,
                  states: Mapping[int, BeatReview], top_n: int = 10) -> list[Strip]:
    """The top ``top_n`` flagged beats by score, then every confirmed beat in time order."""
    flagged = np.flatnonzero(scores >= threshold)
    top = flagged[np.argsort(-scores[flagged], kind="stable")][:top_n]
    pos = {int(s): i for i, s in enumerate(sample)}
    confirmed = sorted(s for s, r in states.items() if r.state == ReviewState.CONFIRMED and s in pos)
    strips = [Strip("Top flagged beats", k + 1, int(sample[i]), float(scores[i]), str(reference[i]),
                    states.get(int(sample[i]), EMPTY)) for k, i in enumerate(top)]
    strips += [Strip("Confirmed beats", k + 1, s, float(scores[pos[s]]), str(reference[pos[s]]), states[s])
               for k, s in enumerate(confirmed)]
    return strips


def paginate(strips: list[Strip]) -> list[list[Strip]]:
    """Strips per page: page 1 holds the summary, so fewer; a section title takes a little room."""
    pages: list[list[Strip]] = [[]]
    y = MARGIN_TOP + HEADER_H
    section = None
    for s in strips:
        need = BLOCK_H + (SECTION_H if s.section != section else 0)
        if y + need > PAGE_H - MARGIN_BOTTOM:
            pages.append([])
            y = MARGIN_TOP
            need = BLOCK_H + SECTION_H  # the section title is repeated on a new page
        pages[-1].append(s)
        y += need
        section = s.section
    return pages


def summary_lines(record: Record, sample: np.ndarray, scores: np.ndarray, threshold: float,
                  reference: np.ndarray, states: Mapping[int, BeatReview], model_label: str) -> list[str]:
    """The report's header text: record, model and counts, and the flags' agreement with the reference."""
    flagged = scores >= threshold
    st = {int(s): r.state for s, r in states.items()}
    n_conf = sum(1 for v in st.values() if v == ReviewState.CONFIRMED)
    n_dism = sum(1 for v in st.values() if v == ReviewState.DISMISSED)
    open_flags = sum(1 for s in sample[flagged] if st.get(int(s), ReviewState.UNREVIEWED) == ReviewState.UNREVIEWED)
    h, rem = divmod(int(round(record.duration)), 3600)
    start = f", start {record.start}" if record.start is not None else ""
    lines = [
        f"Record: {record.name}   ({record.path})",
        f"Sampling rate {record.fs:g} Hz, duration {h:d}:{rem // 60:02d}:{rem % 60:02d}, "
        f"leads {', '.join(record.channel_names)}{start}",
        f"Model: {model_label}   Threshold: {threshold:.4g}",
        f"Beats scored: {len(sample)}   Flagged: {int(flagged.sum())} "
        f"({100.0 * flagged.mean() if len(sample) else 0.0:.1f} %)   Flagged, not yet reviewed: {open_flags}",
        f"Review: {n_conf} confirmed, {n_dism} dismissed",
    ]
    classes = [BEATGAN_CLASSES.get(str(r), "") for r in reference]
    if any(classes):
        counts = {c: classes.count(c) for c in ("N",) + ANOMALY_CLASSES}
        lines.append("Reference beats: " + ", ".join(f"{c} {n}" for c, n in counts.items()))
    if record.annotations is not None and len(record.annotations):
        m = FlagMetrics.for_record(record, sample, scores).at(threshold)
        lines.append("Flags vs reference (150 ms matching): sensitivity " + _pct(m["sensitivity"]) +
                     ", specificity " + _pct(m["specificity"]) + ", positive predictivity " + _pct(m["ppv"]))
    lines.append(f"Strips: {MM_PER_S:g} mm/s, {MM_PER_MV:g} mm/mV, 1 mm grid; lead "
                 f"{record.channel_names[record.model_leads(1)[0]]}; 1 mV calibration pulse at each strip start.")
    return lines


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100.0 * v:.1f} %"


# --- drawing --------------------------------------------------------------------------------

def draw_grid(pg: _Page, x0: float, y0: float, w: float, h: float) -> None:
    """1 mm minor and 5 mm major lines over a w x h mm area (w, h whole millimetres)."""
    for major in (False, True):
        pg.p.setPen(pg.pen(GRID_MAJOR if major else GRID_MINOR, 0.2 if major else 0.07))
        step = 5 if major else 1
        for i in range(0, int(round(w)) + 1, step):
            if major or i % 5:
                pg.line(x0 + i, y0, x0 + i, y0 + h)
        for j in range(0, int(round(h)) + 1, step):
            if major or j % 5:
                pg.line(x0, y0 + j, x0 + w, y0 + j)


def draw_strip(pg: _Page, record: Record, lead: int, strip: Strip, x0: float, y0: float) -> None:
    """Caption, grid, calibration pulse and STRIP_S seconds of signal centred on the beat."""
    r = strip.review
    t = strip.sample / record.fs
    mins, secs = divmod(t, 60.0)
    caption = (f"{strip.index}.  t = {int(mins)}:{secs:06.3f}   sample {strip.sample}   score {strip.score:.4g}"
               f"   ref {strip.reference or '-'}   {r.state.label}")
    if r.note:
        caption += "   Note: " + " ".join(r.note.split())
    pg.text(x0, y0, caption, 8.0, width=GRID_W)
    gy = y0 + LABEL_H
    draw_grid(pg, x0, gy, GRID_W, GRID_H)
    sx = x0 + CAL_W
    n0 = strip.sample - int(round(STRIP_S / 2 * record.fs))
    n1 = n0 + int(round(STRIP_S * record.fs))
    lo, hi = max(n0, 0), min(n1, record.n_samples)
    y = record.signal[lo:hi, lead].astype(np.float64)
    finite = np.isfinite(y)
    if finite.any():
        y = y - np.median(y[finite])
    base_y = _baseline_y(gy, y[finite]) if finite.any() else gy + GRID_H * 0.6
    pg.p.setPen(pg.pen(QColor(0, 0, 0), 0.3))
    # Calibration: 1 mV (10 mm) high, 200 ms (5 mm) wide.
    cal = QPolygonF([pg.pt(x0 + 1, base_y), pg.pt(x0 + 2.5, base_y), pg.pt(x0 + 2.5, base_y - MM_PER_MV),
                     pg.pt(x0 + 7.5, base_y - MM_PER_MV), pg.pt(x0 + 7.5, base_y), pg.pt(x0 + 9, base_y)])
    pg.p.drawPolyline(cal)
    if finite.any():
        xs = sx + (np.arange(lo, hi) - n0) / record.fs * MM_PER_S
        ys = base_y - y * MM_PER_MV
        pg.p.save()
        pg.p.setClipRect(QRectF(pg.pt(sx, gy), pg.pt(x0 + GRID_W, gy + GRID_H)))
        for a, b in _runs(finite):
            pg.p.drawPolyline(QPolygonF([pg.pt(xs[i], ys[i]) for i in range(a, b)]))
        pg.p.restore()
    # Marker above the beat.
    mx = sx + STRIP_S / 2 * MM_PER_S
    pg.p.setBrush(QColor(30, 60, 200))
    pg.p.setPen(Qt.PenStyle.NoPen)
    pg.p.drawPolygon(QPolygonF([pg.pt(mx - 1.2, gy - 1.8), pg.pt(mx + 1.2, gy - 1.8), pg.pt(mx, gy)]))
    pg.p.setBrush(Qt.BrushStyle.NoBrush)


def _baseline_y(gy: float, y_mv: np.ndarray) -> float:
    """Where the median level goes: 60 % down the strip, moved (never rescaled) so peaks stay on it.

    The gain stays 10 mm/mV whatever the amplitude; when the swing is taller than the strip, the
    top (R waves) is kept and the bottom is clipped. The calibration pulse always fits.
    """
    want = gy + GRID_H * 0.6
    lowest = gy + 1.0 + float(y_mv.max()) * MM_PER_MV  # base must be at least this far down
    highest = gy + GRID_H - 1.0 + float(y_mv.min()) * MM_PER_MV  # and at most this far down
    base = min(max(want, lowest), highest) if lowest <= highest else lowest
    return min(max(base, gy + MM_PER_MV + 1.0), gy + GRID_H - 1.0)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True (the signal is drawn without crossing gaps)."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return [(int(a), int(b)) for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)) if b - a > 1]


def _footer(pg: _Page, record: Record, page: int, n_pages: int) -> None:
    y = PAGE_H - MARGIN_BOTTOM + 6
    pg.text(MARGIN_X, y, f"ecgviewer review report, record {record.name}", 7.5, width=120)
    pg.text(PAGE_W - MARGIN_X - 40, y, f"Page {page} of {n_pages}", 7.5, width=40,
            align=Qt.AlignmentFlag.AlignRight)


# --- entry point ----------------------------------------------------------------------------

def write_report(path: str | os.PathLike[str], record: Record, beats, scores: np.ndarray, threshold: float,
                 states: Mapping[int, BeatReview] | object, model_label: str, top_n: int = 10,
                 lead: int | None = None) -> int:
    """Write the PDF report to ``path``; returns the number of pages.

    ``beats`` is a BeatSet or the beats' R-peak samples; ``states`` a ReviewStore or its
    ``reviews()`` mapping; ``lead`` the channel printed (default: the model's primary lead).
    """
    sample = np.asarray(getattr(beats, "sample", beats), dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    if hasattr(states, "reviews"):
        states = states.reviews()
    reference = _reference(record, beats, sample)
    strips = choose_strips(sample, scores, threshold, reference, states, top_n)
    pages = paginate(strips)
    lead = record.model_leads(1)[0] if lead is None else lead

    writer = QPdfWriter(str(path))
    writer.setResolution(DPI)
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Portrait,
                                     QMarginsF(0, 0, 0, 0), QPageLayout.Unit.Millimeter))
    writer.setTitle(f"ECG review report: record {record.name}")
    writer.setCreator("ecgviewer")
    painter = QPainter()
    if not painter.begin(writer):
        raise OSError(f"cannot write {path}")
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        pg = _Page(painter, DPI)
        for n, page in enumerate(pages, start=1):
            if n > 1:
                writer.newPage()
            y = MARGIN_TOP
            if n == 1:
                y = _draw_header(pg, record, sample, scores, threshold, reference, states, model_label, top_n)
            section = None
            for s in page:
                if s.section != section:
                    pg.text(MARGIN_X, y + 1, s.section + (" (continued)" if s.index > 1 else ""), 10.5, bold=True)
                    y += SECTION_H
                    section = s.section
                draw_strip(pg, record, lead, s, MARGIN_X, y)
                y += BLOCK_H
            _footer(pg, record, n, len(pages))
    finally:
        painter.end()
    return len(pages)


def _draw_header(pg: _Page, record: Record, sample: np.ndarray, scores: np.ndarray, threshold: float,
                 reference: np.ndarray, states: Mapping[int, BeatReview], model_label: str, top_n: int) -> float:
    y = MARGIN_TOP
    y += pg.text(MARGIN_X, y, f"ECG review report: record {record.name}", 15, bold=True) + 1.5
    y += pg.text(MARGIN_X, y, f"Generated {_dt.datetime.now():%Y-%m-%d %H:%M}", 8) + 2
    for line in summary_lines(record, sample, scores, threshold, reference, states, model_label):
        y += pg.text(MARGIN_X, y, line, 9) + 0.8
    n_flag = int((scores >= threshold).sum())
    y += pg.text(MARGIN_X, y + 1, f"Strips: the {min(top_n, n_flag)} highest-scoring flagged beats, then all "
                 "confirmed beats.", 9) + 1
    return MARGIN_TOP + HEADER_H  # paginate() planned page 1 with this height


def _reference(record: Record, beats, sample: np.ndarray) -> np.ndarray:
    """Each beat's reference symbol: the BeatSet's own, else matched from the record's annotations."""
    sym = getattr(beats, "symbol", None)
    if sym is not None and len(sym) == len(sample) and any(str(s) for s in sym):
        return np.asarray(sym).astype(str)
    ann = record.annotations
    if ann is not None and len(ann):
        return reference_labels(sample, ann.sample, ann.symbol, record.fs)
    return np.full(len(sample), "", dtype=str)
