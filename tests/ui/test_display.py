"""Display defects of issue 16: scale label and gain, the 1 mm grid at every dpi, lead bands,
About in words, calipers' rate, stale read-outs and wording (pytest-qt, offscreen)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ecgviewer.ui.wording import fmt

from ui_support import SAMPLE

MITDB_RECORDS = ("119", "208")


@pytest.fixture
def loaded(window, scored_119):
    from ecgviewer.core.record import load_record

    window.set_record(load_record(SAMPLE), score=False)
    window.set_scores(*scored_119)
    return window


def test_scale_label_shows_speed_and_gain_and_reset(loaded):
    v = loaded.signal_view
    loaded.actions["calibrated"].trigger()
    v.refresh()
    assert v.scale_label.text.startswith("25 mm/s   10 mm/mV")
    loaded.actions["amp_up"].trigger()
    v.refresh()
    assert "25 mm/s   20 mm/mV" in v.scale_label.text
    loaded.actions["amp_reset"].trigger()
    v.refresh()
    assert v.gain == 1.0 and "10 mm/mV" in v.scale_label.text
    loaded.actions["calibrated"].trigger()  # free zoom: the speed and gain this screen shows
    v.set_window(10, 20)
    v.refresh()
    mm = v.px_per_mm()
    (t0, t1), (y0, y1) = v.vb.viewRange()
    speed = v.vb.width() / mm / (t1 - t0)
    assert v.scale_label.text.startswith(f"{speed:.3g} mm/s")
    assert f"{v.vb.height() / mm / (y1 - y0):.3g} mm/mV" in v.scale_label.text


def test_gain_restored_from_settings_is_shown(qtbot, scorer, errors):
    from ecgviewer.ui.main_window import MainWindow
    from ecgviewer.ui.settings import Settings

    s = Settings()
    s.set("view/gain", 0.25)
    s.sync()
    w = MainWindow(scorer)
    qtbot.addWidget(w)
    w.show()
    from ecgviewer.core.record import load_record

    w.set_record(load_record(SAMPLE), score=False)
    w.actions["calibrated"].trigger()
    w.signal_view.refresh()
    label = w.signal_view.scale_label.text
    assert "2.5 mm/mV" in label and "#b03000" in w.signal_view.scale_label.item.toHtml()
    w.actions["amp_reset"].trigger()
    w.signal_view.refresh()
    assert w.signal_view.gain == 1.0 and "10 mm/mV" in w.signal_view.scale_label.text


def _grab(view, dpr: float) -> np.ndarray:
    from PySide6.QtGui import QImage, QPainter

    w, h = view.width(), view.height()
    img = QImage(int(w * dpr), int(h * dpr), QImage.Format.Format_RGB32)
    img.setDevicePixelRatio(dpr)
    img.fill(0)
    p = QPainter(img)
    view.render(p)
    p.end()
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return a[:, : img.width() * 3].reshape(img.height(), img.width(), 3).copy()


@pytest.mark.parametrize("dpi", [72, 96, 100, 144, 200])
def test_1_mm_grid_visible_at_every_dpi(loaded, monkeypatch, dpi, dpr=1.0):
    from ecgviewer.ui.paper import MAJOR, MINOR

    v = loaded.signal_view
    monkeypatch.setattr(type(v), "px_per_mm", lambda self: dpi / 25.4)
    v.set_heatmap(visible=False)
    v.set_calibrated(True)
    v.refresh()
    img = _grab(v, dpr).astype(int)
    # the leads' area of the view, in device pixels
    r = v.vb.sceneBoundingRect()
    top, left = int(r.top() * dpr) + 2, int(r.left() * dpr) + 2
    area = img[top: int(r.bottom() * dpr) - 2, left: int(r.right() * dpr) - 2]
    minor = np.all(np.abs(area - [MINOR.red(), MINOR.green(), MINOR.blue()]) <= 6, axis=-1)
    major = np.all(np.abs(area - [MAJOR.red(), MAJOR.green(), MAJOR.blue()]) <= 6, axis=-1)
    assert minor.mean() > 0.02, f"no 1 mm grid at {dpi} dpi x{dpr}"
    # vertical minor lines every millimetre: count columns that are mostly minor-grid pixels
    cols = np.flatnonzero((minor | major).mean(axis=0) > 0.5)
    starts = cols[np.concatenate([[True], np.diff(cols) > 1])]
    (t0, t1), _ = v.vb.viewRange()
    mm_px = dpr * v.vb.width() / ((t1 - t0) / 0.04)  # one millimetre of paper, in device pixels
    assert np.median(np.diff(starts)) == pytest.approx(mm_px, abs=1.01)


HIDPI_CHECK = """
import os, sys, numpy as np
from PySide6.QtWidgets import QApplication
app = QApplication([])
from ecgviewer.core.record import load_record
from ecgviewer.ui.paper import MAJOR, MINOR
from ecgviewer.ui.signal_view import SignalView
for dpi in (72, 100, 144):
    SignalView.px_per_mm = lambda self, d=dpi: d / 25.4
    v = SignalView(); v.resize(1000, 600); v.show()
    v.set_record(load_record(sys.argv[1])); v.set_calibrated(True); v.refresh(); app.processEvents()
    pm = v.grab(); d = pm.devicePixelRatio()
    img = pm.toImage().convertToFormat(pm.toImage().Format.Format_RGB888)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    a = a[:, :img.width() * 3].reshape(img.height(), img.width(), 3).astype(int)
    r = v.vb.sceneBoundingRect()
    area = a[int(r.top() * d) + 4:int(r.top() * d) + 200, int(r.left() * d) + 4:int(r.right() * d) - 4]
    grid = np.zeros(area.shape[:2], bool)
    for c in (MINOR, MAJOR):
        grid |= np.abs(area - [c.red(), c.green(), c.blue()]).max(-1) <= 6
    cols = np.flatnonzero(grid.mean(0) > 0.5)
    starts = cols[np.concatenate([[True], np.diff(cols) > 1])]
    (t0, t1), _ = v.vb.viewRange()
    print(dpi, d, float(np.median(np.diff(starts))), d * v.vb.width() / ((t1 - t0) / 0.04))
"""


def test_1_mm_grid_on_a_2x_hidpi_screen(tmp_path):
    """A real 2x screen (QT_SCALE_FACTOR=2, in a fresh process): a line every millimetre, in device pixels."""
    import os
    import subprocess
    import sys

    from ui_support import ROOT

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_SCALE_FACTOR="2", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", HIDPI_CHECK, str(SAMPLE)], capture_output=True, text=True,
                         env=env, timeout=120, check=True).stdout.split("\n")
    rows = [list(map(float, line.split())) for line in out if line.strip()]
    assert len(rows) == 3
    for dpi, dpr, spacing, mm_px in rows:
        assert dpr == 2.0 and spacing == pytest.approx(mm_px, abs=1.01), f"{dpi:g} dpi"


@pytest.mark.parametrize("name", MITDB_RECORDS)
def test_leads_neither_clip_nor_cross(window, mitdb, name):
    from ecgviewer.core.record import load_record

    rec = load_record(mitdb / name)
    window.set_record(rec, score=False)
    v = window.signal_view
    bands = [v.band(c) for c in range(rec.n_channels)]
    for (b0, _), (_, t1) in zip(bands, bands[1:]):
        assert t1 < b0  # each band wholly below the one above
    # at gain 1 the R peaks of the reference beats (PVCs included) are drawn unclipped; only rare
    # excursions (baseline jumps, artefacts: the 0.1 % most extreme seconds) may touch the band edge
    ann = rec.annotations
    beats = ann.sample[np.isin(ann.symbol, ["N", "V", "F", "A", "L", "R"])]
    for c in range(rec.n_channels):
        lo, hi = bands[c]
        y = v.offset(c) + rec.signal[beats, c]
        assert np.mean((y >= lo) & (y <= hi)) > 0.998, f"{name} lead {c} clipped at gain 1"
    for gain in (1.0, 4.0):  # the drawn curves stay inside their bands at any gain
        v.set_gain(gain)
        for t0 in (0.0, 600.0, 1200.0):
            v.set_window(t0, t0 + 10)
            v.refresh()
            for c, curve in enumerate(v.curves):
                y = curve.yData[np.isfinite(curve.yData)]
                assert bands[c][0] - 1e-6 <= y.min() and y.max() <= bands[c][1] + 1e-6
    assert v.clipped and "clipped" in v.scale_label.text  # gain x4: tall waves are clipped, and it says so


def test_heat_map_is_the_core_display_map(loaded, scored_119):
    from ecgviewer.core.heatmap import display_map, dominant_template, map_peaks

    beats, result = scored_119
    v = loaded.signal_view
    tpl = dominant_template(beats.x, result.score)
    v.show_whole()  # the whole record: one value per beat, its map's peak
    v.refresh()
    np.testing.assert_allclose(v._err_max, map_peaks(beats.x, tpl), rtol=1e-5)
    i = int(np.argmax(result.score))
    loaded.resize(2400, 1000)  # a trace wider than 2 s x 360 Hz: one image column per tick
    for d in loaded.holter.docks.values():
        d.hide()
    v.set_window(beats.time[i] - 1.0, beats.time[i] + 1.0)
    v.refresh()
    img = v.heat_items[v._beat_leads[0]].image
    assert img.shape[-1] == int(2.0 * 360) + 1, img.shape
    assert img.max() == pytest.approx(display_map(beats.x[i - 2:i + 3], tpl)[:, 0].max(), rel=1e-4)


def test_each_beat_colours_its_own_stretch(loaded, scored_119):
    """Beat windows (-389..+500 ms) overlap: just before the midpoint to the next beat, inside the
    next beat's window, the map shown is still this beat's own (it used to be the next beat's onset)."""
    from ecgviewer.core.heatmap import display_map, dominant_template

    beats, result = scored_119
    v = loaded.signal_view
    tpl = dominant_template(beats.x, result.score)
    rr = np.diff(beats.time)
    i = int(np.flatnonzero((rr > 0.5) & (rr < 0.7))[10])
    t = (beats.time[i] + beats.time[i + 1]) / 2 - 0.03
    assert t > beats.time[i + 1] - 140 / 360.0  # inside beat i+1's window too
    v.set_window(beats.time[i] - 1.0, beats.time[i] + 1.0)
    v.refresh()
    img = v.heat_items[v._beat_leads[0]].image[0]
    t0, t1 = v.visible_range()
    col = int((t - t0) * img.shape[0] / (t1 - t0))
    tick = int(round((t - beats.time[i]) * 360.0)) + 140
    own = display_map(beats.x[i:i + 1], tpl)[0, 0, tick - 3:tick + 4]
    assert own.min() - 1e-6 <= img[col] <= own.max() + 1e-6


def test_about_in_words(scorer):
    from ecgviewer.ui.dialogs import about_text

    card = scorer.model.card
    text = about_text(card, backend=scorer.backend)
    assert not re.search(r"\d\.\d{6,}", text), "raw floats in About"
    assert "{" not in text and "'" not in text.split("## Licences")[0]
    assert f"{card.name}, version {card.version}" in text
    assert card.metrics
    for m in card.metrics:
        assert f"ROC AUC {m.mean_auc:.3f}" in text
    # the threshold the scorer applies (the robust one), not the raw score's
    assert card.robust_score is not None and scorer.threshold == card.robust_score.threshold
    assert re.search(rf"Default threshold: {re.escape(fmt(scorer.threshold))} \(flags \d+(\.\d)?% of the [\d,]+ normal", text)
    assert f"Default threshold: {fmt(card.threshold.value)}" not in text
    assert "each record on its own scale" in text


def test_threshold_tooltip_names_the_default_the_scorer_uses(scorer):
    from ecgviewer.ui.wording import threshold_help

    tip = threshold_help(scorer.model.card)
    assert re.search(rf"Model default {re.escape(fmt(scorer.threshold))}, flags \d+(\.\d)?% of the [\d,]+ normal beats", tip)
    assert "1 normal beat in 100" in tip and "the two added" in tip
    assert "rebuilds it around the QRS (-100 to +150 ms of the R peak" in tip
    assert "the larger of how well the network rebuilds it" in tip and "the dominant beat of the record" in tip  # 2.2.0
    assert "as in atrial fibrillation, the rhythm counts at most 1" in tip  # the card's rhythm gate (2.1.3)


def test_threshold_words_come_from_the_card_fields_or_its_text(scorer):
    """The share and count are card fields (schema /3); a /2 card's own words are shown as written."""
    from dataclasses import replace

    from ecgviewer.ui.wording import default_threshold

    card = scorer.model.card
    r = card.robust_score
    _, how = default_threshold(replace(card, robust_score=replace(r, target=0.02, n_normal=1234)))
    assert how == "flags 2.0% of the 1,234 normal beats it was fitted on"
    _, how = default_threshold(replace(card, robust_score=replace(r, target=None, n_normal=None,
                                                                   fitted_on="my own 300 beats")))
    assert how == "my own 300 beats"


def test_calipers_rate_only_for_rr_like_intervals():
    from ecgviewer.ui.calipers import measure

    qrs = measure(0.0, 0.0, 0.134, 1.0, "MLII")
    assert qrs.bpm is None and "bpm" not in qrs.text() and "134 ms" in qrs.text()
    rr = measure(0.0, 0.0, 0.8, 0.0, "MLII")
    assert rr.bpm == pytest.approx(75.0) and "75 bpm" in rr.text()


def test_new_record_clears_cursor_readout(loaded, mitdb):
    from ecgviewer.core.record import load_record

    w = loaded
    w.crosshair.moved.emit(w.crosshair.read(12.0, 0.0))
    assert "0:00:12.000" in w.cursor_label.text()
    loaded.set_record(load_record(mitdb / "208"), score=False)
    assert w.cursor_label.text() == "" and not w.crosshair.vline.isVisible()


def test_wording_a_clinician_reads(window, scored_119):
    from ecgviewer.core.record import load_record
    from ecgviewer.ui.wording import skipped_text, start_text

    window.set_record(load_record(SAMPLE), score=False)
    assert "no reference" not in window.metrics.summary.text().lower()  # 119 has them
    window.set_scores(*scored_119)
    assert "not given" not in window.info.text() and "edge" not in window.info.text()
    assert start_text(None) == ""
    assert skipped_text({"edge": 2, "gap": 0}) == \
        "2 beats not scored (2 too close to the start or end of the record for a full beat window)"
    window.select_beat(0)
    titles = [top.titleLabel.text for top, _ in window.detail._plots]
    assert titles and not any("scaled" in t for t in titles)
    box = window.threshold_box
    assert box.suffix() and box.toolTip() and "score" in box.toolTip()
    # the bundled card's score is the robust one: tail shares, not standard deviations
    assert box.suffix() == " (robust score)" and "SD" not in box.suffix()
    assert re.fullmatch(r"-?\d+\.\d{3}", box.cleanText())  # as the score track prints it: 2.635, not 2.64


def test_reviewer_asked_once_and_kept(loaded, monkeypatch, tmp_path):
    from ecgviewer.ui import export_actions as ea

    asked = []
    monkeypatch.setattr(ea, "ask_reviewer", lambda parent: asked.append(1) or "Dr C. Reviewer")
    assert ea.run_export(loaded, "csv", tmp_path / "b.csv") is not None and asked == [1]  # its summary is signed
    for k in range(2):
        assert ea.run_export(loaded, "pdf", tmp_path / f"r{k}.pdf") == tmp_path / f"r{k}.pdf"
    assert asked == [1] and loaded.settings.get("report/reviewer") == "Dr C. Reviewer"
    assert "pages" in loaded.statusBar().currentMessage()


def test_about_lists_the_database_rows_of_these_weights(scorer):
    from dataclasses import replace

    from ecgviewer.core.model.card import MeasuredRow
    from ecgviewer.ui.dialogs import about_text

    card = scorer.model.card
    row = MeasuredRow(data="qtdb-x", beats="detector", source="crossdb-x.json", weights_sha256="0" * 64,
                      threshold=3.4, records=54, auc=0.9712, ap=0.5, n_flagged=0.0012, worst_record="sel1",
                      worst_share=0.031, records_over_10pct=0, sensitivity_by_class={"V": 0.655})
    text = about_text(replace(card, measured=[row]), backend=scorer.backend)
    assert ("QT Database records from databases other than MIT-BIH (qtdb-x) (54 records, beats found by the "
            "built-in QRS detector): ROC AUC 0.971; normal beats flagged 0.1 % (worst record 3.1 %, none over 10 %); "
            "ventricular beats flagged 65.5 %\n") in text
    mitdb = replace(row, data="MIT-BIH DS2", records=22)
    text = about_text(replace(card, measured=[mitdb]), backend=scorer.backend)
    assert "ventricular beats flagged 65.5 %; the normal beats of these records were in training" in text
    assert not re.search(r"\d\.\d{6,}", text) and "'" not in text.split("## Licences")[0]
