"""PDF review report, drawn with Qt's own printing (QPdfWriter + QPainter).

Strips are printed at the paper speed and gain a cardiologist measures with calipers: 25 mm/s and
10 mm/mV on a 1 mm / 5 mm grid, every lead of the record, each strip opening with a 1 mV
calibration pulse and saying its speed and gain, so intervals and amplitudes can be read off the
paper. Everything is laid out in millimetres on an A4 page with no printer margins.

Layout is a flow: every block (a wrapped text line, a heading, a strip) has a height measured with
the printer's font metrics before anything is drawn, and a block that does not fit starts a new
page, so nothing is ever printed over anything else (tests/ui/test_report.py checks every page's
text boxes with poppler). The content (patient, findings, counts) comes from
core/report_content.py, shared with the CSV and with the panels' numbers.
A QGuiApplication must exist (fonts); the viewer always has one.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QLineF, QMarginsF, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPageLayout, QPageSize, QPainter, QPdfWriter, QPen, QPolygonF

from ecgviewer.core.classes import ANOMALY_CLASSES
from ecgviewer.core.flag_metrics import reference_labels
from ecgviewer.core.heatmap import display_map, display_scale, dominant_template
from ecgviewer.core.record import Record
from ecgviewer.core.report_content import EVENT_WORDS, Findings, edited_beats, event_summary, findings, patient_info
from ecgviewer.core.review import EMPTY, BeatReview

# Paper standard.
MM_PER_S = 25.0
MM_PER_MV = 10.0
# Page geometry (mm).
PAGE_W, PAGE_H = 210.0, 297.0
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 12.0, 12.0, 16.0
TEXT_W = PAGE_W - 2 * MARGIN_X
CAL_W = 10.0  # calibration area at the start of each strip
STRIP_S = 7.0  # seconds of signal per strip
GRID_W = CAL_W + STRIP_S * MM_PER_S  # 185 mm: a whole number of millimetres
LEAD_H = 30.0  # mm (3 mV) of grid per lead, at the least
LEAD_MAX = 60.0  # mm: a lead's grid grows in 5 mm steps up to this to hold the whole swing
LABEL_ROOM = 3.5  # mm at the top of a lead's calibration area for its name
LABEL_H = 5.5  # caption line above a strip
STRIP_GAP = 3.0
DPI = 1200
TOP_N = 10
MAX_LIST = 40  # lines of a list (events, templates, dismissed) before "... and n more"

HEAT_BEFORE_S = 140 / 360.0  # the beat window starts this long before the R peak (model ticks at 360 Hz)
HEAT_TICK_S = 1 / 360.0
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
    heat: dict[int, np.ndarray] = field(default_factory=dict)  # channel -> 0..1 per beat-window tick


@dataclass(frozen=True)
class Band:
    """One lead's grid in one strip: its height (mm), gain (mm/mV) and whether the swing still overflows."""

    height: float = LEAD_H
    gain: float = MM_PER_MV
    clipped: bool = False


def _need(y_mv: np.ndarray, gain: float) -> float:
    """Grid height (mm) that holds the calibration pulse under the lead's name and the whole swing."""
    top = max(LABEL_ROOM + gain, 1.0 + float(y_mv.max()) * gain)  # the pulse, or the highest peak
    return top - float(y_mv.min()) * gain + 1.0


def lead_band(y_mv: np.ndarray) -> Band:
    """The grid for a lead's median-centred samples (mV) in a strip.

    Standard gain, 10 mm/mV, with the grid grown in 5 mm steps (up to :data:`LEAD_MAX`) so that no
    wave is cut; a swing too tall for that is drawn at half gain, 5 mm/mV, as an electrocardiograph's
    half-standard setting does (its calibration pulse is then 5 mm high and the caption says so);
    only a swing too tall for that too (an artefact) is clipped, and the caption says that.
    """
    y = y_mv[np.isfinite(y_mv)]
    if not y.size:
        return Band()
    for gain in (MM_PER_MV, MM_PER_MV / 2):
        need = _need(y, gain)
        if need <= LEAD_MAX:
            return Band(max(LEAD_H, 5.0 * np.ceil(need / 5.0 - 1e-9)), gain)
    return Band(LEAD_MAX, MM_PER_MV / 2, True)


def strip_window(record: Record, sample: int) -> tuple[int, int, int]:
    """(first sample, last sample + 1, the strip's nominal first sample) of the strip centred on ``sample``."""
    n0 = sample - int(round(STRIP_S / 2 * record.fs))
    n1 = n0 + int(round(STRIP_S * record.fs))
    return max(n0, 0), min(n1, record.n_samples), n0


def strip_bands(record: Record, leads: list[int], sample: int) -> list[Band]:
    """The :func:`lead_band` of each printed lead of the strip centred on ``sample``."""
    lo, hi, _ = strip_window(record, sample)
    return [lead_band(_centred(record.signal[lo:hi, lead])) for lead in leads]


def _centred(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    finite = np.isfinite(y)
    return y - np.median(y[finite]) if finite.any() else y


def strip_height(bands: list[Band]) -> float:
    return LABEL_H + sum(b.height for b in bands) + STRIP_GAP


class _Page:
    """Millimetre drawing on a QPainter whose device is in dots."""

    def __init__(self, painter: QPainter | None, dpi: int, device=None) -> None:
        self.p = painter
        self.k = dpi / 25.4
        self.device = device

    def pt(self, x: float, y: float) -> QPointF:
        return QPointF(x * self.k, y * self.k)

    def pen(self, color: QColor, width_mm: float) -> QPen:
        pen = QPen(color, width_mm * self.k)
        pen.setCapStyle(Qt.PenCapStyle.FlatCap)
        return pen

    def line(self, x0: float, y0: float, x1: float, y1: float) -> None:
        self.p.drawLine(QLineF(self.pt(x0, y0), self.pt(x1, y1)))

    @staticmethod
    def font(size_pt: float, bold: bool = False) -> QFont:
        font = QFont("Helvetica")
        font.setPointSizeF(size_pt)
        font.setBold(bold)
        return font

    def metrics(self, size_pt: float, bold: bool = False) -> QFontMetricsF:
        return QFontMetricsF(self.font(size_pt, bold), self.device)

    def line_height(self, size_pt: float, bold: bool = False) -> float:
        """mm one line of this font takes, with a little leading so boxes never touch."""
        return self.metrics(size_pt, bold).height() / self.k * 1.12

    def text_width(self, s: str, size_pt: float, bold: bool = False) -> float:
        """mm the line ``s`` takes in this font."""
        return self.metrics(size_pt, bold).horizontalAdvance(s) / self.k

    def wrap(self, s: str, size_pt: float, width: float, bold: bool = False) -> list[str]:
        """``s`` broken into lines no wider than ``width`` mm (words kept whole where they fit)."""
        fm = self.metrics(size_pt, bold)
        limit = width * self.k
        lines: list[str] = []
        for para in s.split("\n"):
            cur = ""
            for word in para.split(" "):
                trial = word if not cur else cur + " " + word
                if fm.horizontalAdvance(trial) <= limit or not cur:
                    cur = trial
                else:
                    lines.append(cur)
                    cur = word
            lines.append(cur)
        return [fm.elidedText(t, Qt.TextElideMode.ElideRight, limit) for t in lines]

    def text(self, x: float, y: float, s: str, size_pt: float = 9.0, bold: bool = False,
             width: float | None = None, align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft) -> None:
        """Draw one line ``s`` with its top-left at (x, y) mm, elided to ``width`` mm."""
        font = self.font(size_pt, bold)
        self.p.setFont(font)
        fm = QFontMetricsF(font, self.p.device())
        w = (width if width is not None else PAGE_W - MARGIN_X - x) * self.k
        shown = fm.elidedText(s, Qt.TextElideMode.ElideRight, w)
        self.p.setPen(QColor(0, 0, 0))
        self.p.drawText(QRectF(x * self.k, y * self.k, w, fm.height()), int(align | Qt.AlignmentFlag.AlignTop), shown)


# --- what goes in the report ----------------------------------------------------------------

def choose_strips(sample: np.ndarray, scores: np.ndarray, threshold: float, reference: np.ndarray,
                  states: Mapping[int, BeatReview], top_n: int = TOP_N, record: Record | None = None,
                  found: Findings | None = None) -> list[Strip]:
    """Every confirmed beat once, in time order, then the ``top_n`` highest open (unreviewed) flags.

    Dismissed beats get no strip (they are listed as dismissed); no beat is printed twice.
    """
    f = found or findings(record, sample, scores, threshold, states)
    strips = [Strip("Confirmed findings", k + 1, int(sample[i]), float(scores[i]), str(reference[i]),
                    states.get(int(sample[i]), EMPTY)) for k, i in enumerate(f.confirmed)]
    strips += [Strip("Flagged, not yet reviewed (highest scores; not findings)", k + 1, int(sample[i]),
                     float(scores[i]), str(reference[i]), EMPTY) for k, i in enumerate(f.open_flags[:top_n])]
    return strips


def _hms(t: float) -> str:
    h, rem = divmod(int(round(t)), 3600)
    return f"{h:d}:{rem // 60:02d}:{rem % 60:02d}"


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100.0 * v:.1f} %"


def _start(record: Record) -> str:
    from ecgviewer.ui.wording import start_text

    return start_text(record.start)


def header_lines(record: Record, sample: np.ndarray, scores: np.ndarray, threshold: float,
                 found: Findings, model_label: str, reviewer: str, when: _dt.datetime,
                 score_note: str = "") -> list[tuple[str, str]]:
    """(style, text) lines of page 1's header: style 'title', 'h' (heading) or '' (body)."""
    fields, other = patient_info(record.comments)
    lines = [("title", f"ECG review report: record {record.name}"),
             ("", f"Reviewed by {reviewer or 'not given'} on {when:%Y-%m-%d %H:%M}")]
    lines.append(("h", "Patient"))
    pat = ", ".join(f"{k} {v}" for k, v in fields.items())
    lines.append(("", pat or "The record's header gives no patient data."))
    if other:
        lines.append(("", "Header comments: " + " ".join(other)))
    lines.append(("h", "Recording"))
    start = _start(record)
    lines.append(("", f"{record.path}"))
    lines.append(("", f"Duration {_hms(record.duration)}, {record.fs:g} Hz, leads {', '.join(record.channel_names)}"
                  + (f", start {start}" if start else "")))
    lines.append(("h", "Summary"))
    lines.append(("", f"Model {model_label}; threshold {threshold:.4g}" + (f" ({score_note})" if score_note else "")))
    c = found.counts()
    n_scored = int(np.isfinite(scores).sum())
    pct = 100.0 * c["Flagged"] / n_scored if n_scored else 0.0
    lines.append(("", f"Beats scored {n_scored}; flagged {c['Flagged']} ({pct:.1f} %)"))
    lines.append(("", f"Review: {c['Confirmed']} confirmed, {c['Dismissed']} dismissed, "
                  f"{c['Open']} flagged beats not reviewed yet"))
    if found.reference:
        lines.append(("", "Reference beats (annotations): " + ", ".join(f"{k} {n}" for k, n in found.reference.items())))
        m = found.metrics
        lines.append(("", "Flags against the reference (EC57 150 ms matching): sensitivity " + _pct(m["sensitivity"])
                      + ", specificity " + _pct(m["specificity"]) + ", positive predictivity " + _pct(m["ppv"])
                      + "; by class " + ", ".join(f"{k} {m['per_class'][k]['flagged']}/{m['per_class'][k]['reference']}"
                                                   for k in ANOMALY_CLASSES)))
    lines.append(("", f"Strips: {MM_PER_S:g} mm/s, {MM_PER_MV:g} mm/mV, 1 mm grid, every lead, "
                  "1 mV calibration pulse at each strip's start; the triangle marks the beat, orange shading "
                  "where it differs from this record's usual beat (the viewer's heat map)."))
    return lines


def list_sections(record: Record, sample: np.ndarray, scores: np.ndarray, reference: np.ndarray,
                  found: Findings, states: Mapping[int, BeatReview], events: list[dict] | None,
                  templates: list[dict] | None) -> list[tuple[str, str]]:
    """Event summary, template summary and the dismissed flags, as (style, text) lines."""
    out: list[tuple[str, str]] = []
    if events is not None:
        out.append(("h", f"Rhythm events ({len(events)})"))
        if not events:
            out.append(("", "No rhythm events found."))
        for kind, n, dur in event_summary(events):
            out.append(("", f"{EVENT_WORDS.get(kind, kind)}: {n}, total {dur:.1f} s"))
        for e in events[:MAX_LIST]:
            start, end = float(e.get("start", 0.0)), float(e.get("end", e.get("start", 0.0)))
            beats = e.get("beats")
            nb = len(beats) if isinstance(beats, (list, tuple)) else beats
            out.append(("small", f"{EVENT_WORDS.get(str(e.get('kind')), e.get('kind'))} at {_hms(start)}, "
                        f"{end - start:.1f} s" + (f", {nb} beats" if nb is not None else "")))
        if len(events) > MAX_LIST:
            out.append(("small", f"... and {len(events) - MAX_LIST} more (see the CSV or `ecgviewer events`)"))
    if templates is not None:
        out.append(("h", f"Morphology templates ({len(templates)})"))
        for t in templates[:MAX_LIST]:
            label = t.get("label") or "unlabelled"
            out.append(("small", f"Template {t.get('id')}: {t.get('count')} beats, label {label}, "
                        f"highest score {float(t.get('max_score', float('nan'))):.4g}"))
        if len(templates) > MAX_LIST:
            out.append(("small", f"... and {len(templates) - MAX_LIST} more"))
    edited = edited_beats(sample, states)
    if edited:
        out.append(("h", f"Beats edited by the reviewer ({len(edited)})"))
        for s, what in edited[:MAX_LIST]:
            out.append(("small", f"{_hms_ms(s / record.fs)}   {what}"))
        if len(edited) > MAX_LIST:
            out.append(("small", f"... and {len(edited) - MAX_LIST} more (see the CSV)"))
    out.append(("h", f"Dismissed flags ({len(found.dismissed)}): reviewed and judged not anomalous"))
    if not len(found.dismissed):
        out.append(("small", "None."))
    for i in found.dismissed[:MAX_LIST]:
        s = int(sample[i])
        note = states[s].note if s in states else ""
        out.append(("small", f"{_hms_ms(s / record.fs)}   {_score(scores[i])}   ref {reference[i] or '-'}"
                    + _relabel(states.get(s, EMPTY)) + (f"   Note: {' '.join(note.split())}" if note else "")))
    if len(found.dismissed) > MAX_LIST:
        out.append(("small", f"... and {len(found.dismissed) - MAX_LIST} more (see the CSV)"))
    return out


def _score(v: float) -> str:
    """'score 0.1234', or 'added beat' for one the reviewer added (no score)."""
    return f"score {v:.4g}" if np.isfinite(v) else "added beat"


def _relabel(r: BeatReview) -> str:
    return f"   class {r.label} (reviewer)" if r.label else ""


def _hms_ms(t: float) -> str:
    mins, secs = divmod(t, 60.0)
    h, mins = divmod(int(mins), 60)
    return f"{h}:{mins:02d}:{secs:06.3f}"


# --- layout ---------------------------------------------------------------------------------

STYLES = {"title": (15.0, True), "h": (10.5, True), "": (9.0, False), "small": (8.0, False)}


@dataclass
class Block:
    """Something of known height to place on a page; ``draw(pg, y)`` draws it with its top at y."""

    height: float
    draw: Callable[[_Page, float], None]
    keep_with_next: bool = False  # a heading is never the last thing on a page
    heading: str | None = None  # repeated as "(continued)" when this block starts a page


def text_blocks(pg: _Page, lines: list[tuple[str, str]]) -> list[Block]:
    out = []
    for style, s in lines:
        size, bold = STYLES[style]
        space = 2.0 if style in ("h", "title") else 0.0
        for part in pg.wrap(s, size, TEXT_W, bold):
            h = pg.line_height(size, bold)
            out.append(Block(h + space, lambda p, y, t=part, sz=size, b=bold, sp=space: p.text(MARGIN_X, y + sp, t, sz, b,
                                                                                               width=TEXT_W),
                             keep_with_next=style in ("h", "title")))
            space = 0.0
    return out


def layout(blocks: list[Block], pg: _Page) -> list[list[tuple[float, Block]]]:
    """Blocks to pages, top to bottom; a block that does not fit opens a new page."""
    bottom = PAGE_H - MARGIN_BOTTOM
    pages: list[list[tuple[float, Block]]] = [[]]
    y = MARGIN_TOP
    for k, b in enumerate(blocks):
        need = b.height
        if b.keep_with_next and k + 1 < len(blocks):
            need += blocks[k + 1].height
        if y + need > bottom and pages[-1]:
            pages.append([])
            y = MARGIN_TOP
            if b.heading:  # a strip continuing its section on a new page says so
                size, bold = STYLES["h"]
                h = pg.line_height(size, bold) + 1.0
                pages[-1].append((y, Block(h, lambda p, yy, t=b.heading, sz=size, bd=bold: p.text(
                    MARGIN_X, yy, t + " (continued)", sz, bd, width=TEXT_W))))
                y += h
        pages[-1].append((y, b))
        y += b.height
    return pages


def strip_blocks(pg: _Page, record: Record, strips: list[Strip], leads: list[int]) -> list[Block]:
    out: list[Block] = []
    section = None
    for s in strips:
        if s.section != section:
            out += text_blocks(pg, [("h", s.section)])
            section = s.section
        notes = pg.wrap("Note: " + " ".join(s.review.note.split()), 8.0, GRID_W) if s.review.note else []
        extra = len(notes) * pg.line_height(8.0)
        bands = strip_bands(record, leads, s.sample)
        out.append(Block(strip_height(bands) + extra,
                         lambda p, y, st=s, ns=notes, dy=extra, bs=bands: draw_strip(p, record, leads, st, bs, MARGIN_X,
                                                                                     y, ns, dy),
                         heading=s.section))
    return out


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


def scale_text(record: Record, leads: list[int], bands: list[Band]) -> str:
    """The strip's speed and gain, naming any lead at half gain or clipped."""
    half = [record.channel_names[lead] for lead, b in zip(leads, bands) if b.gain != MM_PER_MV]
    cut = [record.channel_names[lead] for lead, b in zip(leads, bands) if b.clipped]
    text = f"{MM_PER_S:g} mm/s  {MM_PER_MV:g} mm/mV"
    if half:
        text += f"  ({', '.join(half)}: {MM_PER_MV / 2:g} mm/mV)"
    if cut:
        text += f"  ({', '.join(cut)}: clipped)"
    return text


def draw_strip(pg: _Page, record: Record, leads: list[int], strip: Strip, bands: list[Band], x0: float, y0: float,
               notes: list[str] = (), notes_h: float = 0.0) -> None:
    """Caption (and the note's wrapped lines), then per lead a grid, calibration pulse and STRIP_S
    seconds centred on the beat, each lead on its :func:`lead_band` (``bands``: :func:`strip_bands`)."""
    r = strip.review
    caption = (f"{strip.index}.  {_hms_ms(strip.sample / record.fs)}   {_score(strip.score)}"
               f"   ref {strip.reference or '-'}{_relabel(r)}   {r.state.label}")
    scale = scale_text(record, leads, bands)
    scale_w = min(max(30.0, pg.text_width(scale, 8.0) + 1.0), GRID_W / 2)
    pg.text(x0, y0, caption, 8.0, width=GRID_W - scale_w - 2)
    pg.text(x0 + GRID_W - scale_w, y0, scale, 8.0, width=scale_w, align=Qt.AlignmentFlag.AlignRight)
    for k, line in enumerate(notes):
        pg.text(x0, y0 + LABEL_H - 1.0 + k * pg.line_height(8.0), line, 8.0, width=GRID_W)
    y0 += notes_h
    lo, hi, n0 = strip_window(record, strip.sample)
    gy = y0 + LABEL_H
    for lead, band in zip(leads, bands):
        draw_grid(pg, x0, gy, GRID_W, band.height)
        if lead in strip.heat:
            _draw_heat(pg, strip.heat[lead], x0 + CAL_W + STRIP_S / 2 * MM_PER_S, gy, band.height)
        _draw_lead(pg, record, lead, x0, gy, lo, hi, n0, band)
        pg.text(x0 + 0.5, gy + 0.3, record.channel_names[lead], 6.5, width=CAL_W - 0.5)
        gy += band.height
    # Marker above the beat.
    mx = x0 + CAL_W + STRIP_S / 2 * MM_PER_S
    gy = y0 + LABEL_H
    pg.p.setBrush(QColor(30, 60, 200))
    pg.p.setPen(Qt.PenStyle.NoPen)
    pg.p.drawPolygon(QPolygonF([pg.pt(mx - 1.2, gy - 1.8), pg.pt(mx + 1.2, gy - 1.8), pg.pt(mx, gy)]))
    pg.p.setBrush(Qt.BrushStyle.NoBrush)


def _draw_heat(pg: _Page, heat: np.ndarray, r_x: float, gy: float, height: float, col_mm: float = 0.5) -> None:
    """The heat map (core/heatmap.py's display map, 0..1) of the strip's beat: orange columns behind it."""
    t = (np.arange(len(heat)) * HEAT_TICK_S - HEAT_BEFORE_S) * MM_PER_S  # mm from the R peak
    cols = np.floor(t / col_mm).astype(np.int64)
    pg.p.setPen(Qt.PenStyle.NoPen)
    for c in np.unique(cols):
        v = float(heat[cols == c].max())
        if v > 0.05:
            pg.p.setBrush(QColor(255, int(200 * (1 - v)), 0, int(150 * min(v * 1.4, 1.0))))
            pg.p.drawRect(QRectF(pg.pt(r_x + c * col_mm, gy), pg.pt(r_x + (c + 1) * col_mm, gy + height)))
    pg.p.setBrush(Qt.BrushStyle.NoBrush)


def attach_heat(strips: list[Strip], beats, scores: np.ndarray, record: Record) -> None:
    """Give each strip its beat's heat map on the model's leads (needs a BeatSet with windows)."""
    x = getattr(beats, "x", None)
    if x is None or not len(x) or not strips:
        return
    tpl = dominant_template(x, scores)
    scale = display_scale(x, tpl)
    pos = {int(s): i for i, s in enumerate(beats.sample)}
    channels = [record.channel_names.index(n) if n in record.channel_names else k for k, n in enumerate(beats.leads)]
    for st in strips:
        i = pos.get(st.sample)
        if i is not None:
            m = display_map(x[i:i + 1], tpl)[0] / scale
            st.heat = {c: np.clip(m[k], 0.0, 1.0) for k, c in enumerate(channels)}


def _draw_lead(pg: _Page, record: Record, lead: int, x0: float, gy: float, lo: int, hi: int, n0: int,
               band: Band) -> None:
    sx = x0 + CAL_W
    y = _centred(record.signal[lo:hi, lead])
    finite = np.isfinite(y)
    base_y = _baseline_y(gy, y[finite], band) if finite.any() else gy + band.height * 0.6
    g = band.gain
    pg.p.setPen(pg.pen(QColor(0, 0, 0), 0.3))
    # Calibration: 1 mV high at the lead's gain (10 mm standard), 200 ms (5 mm) wide.
    cal = QPolygonF([pg.pt(x0 + 1, base_y), pg.pt(x0 + 2.5, base_y), pg.pt(x0 + 2.5, base_y - g),
                     pg.pt(x0 + 7.5, base_y - g), pg.pt(x0 + 7.5, base_y), pg.pt(x0 + 9, base_y)])
    pg.p.drawPolyline(cal)
    if finite.any():
        xs = sx + (np.arange(lo, hi) - n0) / record.fs * MM_PER_S
        ys = base_y - y * g
        pg.p.save()
        pg.p.setClipRect(QRectF(pg.pt(sx, gy), pg.pt(x0 + GRID_W, gy + band.height)))
        for a, b in _runs(finite):
            pg.p.drawPolyline(QPolygonF([pg.pt(xs[i], ys[i]) for i in range(a, b)]))
        pg.p.restore()


def _baseline_y(gy: float, y_mv: np.ndarray, band: Band) -> float:
    """Where the median level goes: 60 % down the lead's grid, moved (never rescaled) so that the
    calibration pulse stays under the lead's name and every wave on the grid (:func:`lead_band`
    made the grid tall enough; only a band marked clipped loses its bottom)."""
    g = band.gain
    want = gy + band.height * 0.6
    lowest = gy + max(LABEL_ROOM + g, 1.0 + float(y_mv.max()) * g)  # base at least this far down
    highest = gy + band.height - 1.0 + float(y_mv.min()) * g  # and at most this far down
    return min(max(want, lowest), highest) if lowest <= highest else lowest


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True (the signal is drawn without crossing gaps)."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return [(int(a), int(b)) for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)) if b - a > 1]


def _footer(pg: _Page, record: Record, reviewer: str, page: int, n_pages: int) -> None:
    y = PAGE_H - MARGIN_BOTTOM + 6
    who = f", reviewed by {reviewer}" if reviewer else ""
    pg.text(MARGIN_X, y, f"ecgviewer review report, record {record.name}{who}", 7.5, width=140)
    pg.text(PAGE_W - MARGIN_X - 30, y, f"Page {page} of {n_pages}", 7.5, width=30,
            align=Qt.AlignmentFlag.AlignRight)


# --- entry point ----------------------------------------------------------------------------

def write_report(path: str | os.PathLike[str], record: Record, beats, scores: np.ndarray, threshold: float,
                 states: Mapping[int, BeatReview] | object, model_label: str, top_n: int = TOP_N,
                 leads: list[int] | None = None, reviewer: str = "", events: list[dict] | None = None,
                 templates: list[dict] | None = None, score_note: str = "",
                 when: _dt.datetime | None = None, reference: np.ndarray | None = None,
                 metrics=None, beatset=None) -> int:
    """Write the PDF report to ``path``; returns the number of pages.

    ``beats`` is a BeatSet or the beats' R-peak samples; ``states`` a ReviewStore or its
    ``reviews()`` mapping; ``leads`` the channels printed (default: all); ``events`` and
    ``templates`` the CLI JSON lists (``ecgviewer events`` / ``templates``), a section each when given.
    From a review session (export_actions.run_export): ``beats`` its samples (added beats score NaN),
    ``reference`` its reference symbols, ``metrics`` its FlagMetrics, ``beatset`` the scored BeatSet.
    """
    sample = np.asarray(getattr(beats, "sample", beats), dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    if hasattr(states, "reviews"):
        states = states.reviews()
    if reference is None or len(reference) != len(sample):
        reference = _reference(record, beats, sample)
    found = findings(record, sample, scores, threshold, states, metrics)
    strips = choose_strips(sample, scores, threshold, reference, states, top_n, found=found)
    heat_beats = beatset if beatset is not None else beats
    attach_heat(strips, heat_beats, scores[:len(getattr(heat_beats, "sample", ()))], record)
    leads = list(range(record.n_channels)) if leads is None else leads
    when = when or _dt.datetime.now()

    writer = QPdfWriter(str(path))
    writer.setResolution(DPI)
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Portrait,
                                     QMarginsF(0, 0, 0, 0), QPageLayout.Unit.Millimeter))
    writer.setTitle(f"ECG review report: record {record.name}")
    writer.setCreator("ecgviewer")
    pg = _Page(None, DPI, writer)
    blocks = text_blocks(pg, header_lines(record, sample, scores, threshold, found, model_label, reviewer, when,
                                          score_note))
    blocks += text_blocks(pg, list_sections(record, sample, scores, reference, found, states, events, templates))
    blocks += strip_blocks(pg, record, strips, leads)
    pages = layout(blocks, pg)
    painter = QPainter()
    if not painter.begin(writer):
        raise OSError(f"cannot write {path}")
    pg.p = painter
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for n, page in enumerate(pages, start=1):
            if n > 1:
                writer.newPage()
            for y, b in page:
                b.draw(pg, y)
            _footer(pg, record, reviewer, n, len(pages))
    finally:
        painter.end()
    return len(pages)


def _reference(record: Record, beats, sample: np.ndarray) -> np.ndarray:
    """Each beat's reference symbol: the BeatSet's own, else matched from the record's annotations."""
    sym = getattr(beats, "symbol", None)
    if sym is not None and len(sym) == len(sample) and any(str(s) for s in sym):
        return np.asarray(sym).astype(str)
    ann = record.annotations
    if ann is not None and len(ann):
        return reference_labels(sample, ann.sample, ann.symbol, record.fs)
    return np.full(len(sample), "", dtype=str)
