"""Viewer speed with the real widgets, offscreen.

1. A 30-min 2-lead record (MIT-BIH 119): time until the window is drawn after open_record, and
   until scoring has finished.
2. A 24 h 2-lead 360 Hz record built in memory from MIT-BIH records: first paint, then pan/zoom
   frames (set range + redraw + render the view) at every zoom level from the whole day to one beat;
   the same frames with a naive PlotDataItem(autoDownsample, peak, clipToView) as the baseline.
3. Peak memory (VmHWM) of the process.

Usage: QT_QPA_PLATFORM=offscreen python -m benchmarks.viewer_benchmark [--mitdb DIR] [--model CARD]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported (lazily, below)
ROOT = Path(__file__).resolve().parents[1]


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def model_card(arg: str | None) -> Path:
    from ecgviewer.core.model.netconfig import NetConfig
    from ecgviewer.core.model.networks import Generator
    from ecgviewer.core.resources import bundled_model_path

    if arg:
        return Path(arg)
    if bundled_model_path().is_file():
        return bundled_model_path()
    import torch

    from trainer.export import save_model, untrained_card

    torch.manual_seed(0)
    return save_model(Generator(NetConfig()), untrained_card(), Path(tempfile.mkdtemp()) / "dev", onnx=False)


def day_record(mitdb: Path, hours: float = 24.0):
    """MIT-BIH records end to end until ``hours`` are filled: a 24 h, 2-lead, 360 Hz Record."""
    from ecgviewer.core.record import Annotations, Record, load_record

    need = int(hours * 3600 * 360)
    names = sorted({p.stem for p in mitdb.glob("*.hea")})
    sigs, samples, symbols, n = [], [], [], 0
    while n < need:
        for name in names:
            r = load_record(mitdb / name)
            take = min(r.n_samples, need - n)
            sigs.append(r.signal[:take, :2])
            if r.annotations is not None:
                keep = r.annotations.sample < take
                samples.append(r.annotations.sample[keep] + n)
                symbols.append(r.annotations.symbol[keep])
            n += take
            if n >= need:
                break
    signal = np.concatenate(sigs)
    del sigs
    ann = Annotations("atr", np.concatenate(samples), np.concatenate(symbols))
    return Record("day24h", Path("day24h"), 360.0, signal, ["MLII", "V1"], ["mV", "mV"], None, ann)


def fake_scores(record, rng):
    """Beats at the reference annotations with random scores and errors (scoring a day takes minutes)."""
    from ecgviewer.core.beats import BeatSet, reference_peaks
    from ecgviewer.core.scoring import ScoreResult

    sample, symbol = reference_peaks(record)
    n = len(sample)
    x = np.broadcast_to(np.zeros((1, 1, 320), np.float32), (n, 1, 320))
    err = rng.random((n, 1, 320), dtype=np.float32)
    err *= 0.02
    score = err.mean(axis=(1, 2)) * rng.gamma(2.0, 0.5, size=n).astype(np.float32)
    nan = np.full(n, np.nan, np.float32)
    beats = BeatSet(record.name, record.fs, ["MLII"], x, sample, symbol, np.full(n, "N"), nan, nan, nan, "reference")
    return beats, ScoreResult(score, score, None, err, x)


def frame_times(app, view, set_window, widths, duration, frames, render) -> dict[float, list[float]]:
    """ms per frame: move the window (pan) at each width, redraw, render the widget."""
    out = {}
    rng = np.random.default_rng(1)
    for w in widths:
        times = []
        for _ in range(frames):
            start = float(rng.uniform(0, max(duration - w, 0)))
            t = time.perf_counter()
            set_window(start, start + w)
            app.processEvents()  # runs the deferred redraw and paints the widget (offscreen backing store)
            if render is not None:
                render()
            times.append((time.perf_counter() - t) * 1000)
        out[w] = times
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mitdb", default="/work/shared/data/mitdb")
    ap.add_argument("--model")
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args()

    from PySide6.QtWidgets import QApplication

    from ecgviewer.ui.app import _app

    app = _app()
    import pyqtgraph as pg

    from ecgviewer.core.scorer import Scorer
    from ecgviewer.ui.main_window import MainWindow
    from ecgviewer.ui.settings import Settings

    os.environ["ECGVIEWER_CONFIG_DIR"] = tempfile.mkdtemp()
    print(f"cores {os.cpu_count()}, torch threads {__import__('torch').get_num_threads()}, "
          f"Qt platform {QApplication.platformName()}")
    scorer = Scorer.load(model_card(args.model))
    win = MainWindow(scorer, settings=Settings())
    win.resize(1600, 950)
    win.show()
    app.processEvents()

    # ---- 1. 30-min record --------------------------------------------------------------------
    rec30 = ROOT / "resources" / "samples" / "119"
    done = {}
    win.scoringDone.connect(lambda ok: done.setdefault("t", time.perf_counter()))
    t0 = time.perf_counter()
    win.open_record(rec30)
    app.processEvents()
    win.signal_view.refresh()
    win.grab()
    t_drawn = time.perf_counter() - t0
    while "t" not in done:
        app.processEvents()
        time.sleep(0.002)
    t_scored = done["t"] - t0
    print(f"30-min record 119: drawn {t_drawn:.3f} s after open, scored ({len(win.beats)} beats) {t_scored:.3f} s after open")

    # ---- 2. 24 h record ----------------------------------------------------------------------
    t = time.perf_counter()
    day = day_record(Path(args.mitdb))
    t_build = time.perf_counter() - t
    print(f"24 h record built in memory: {day.n_samples} samples x {day.n_channels} leads "
          f"({day.duration / 3600:.2f} h) in {t_build:.1f} s; RSS {rss_mb():.0f} MB")
    t = time.perf_counter()
    win.set_record(day, score=False)
    app.processEvents()
    win.signal_view.refresh()
    win.grab()
    t_first = time.perf_counter() - t
    print(f"24 h first paint: {t_first:.3f} s (pyramids {sum(p.nbytes for p in win.signal_view.pyramids) / 1e6:.0f} MB)")
    beats, result = fake_scores(day, np.random.default_rng(0))
    win.set_scores(beats, result)
    win.set_threshold(float(np.percentile(result.score, 97)))
    app.processEvents()
    view = win.signal_view
    widths = [day.duration * 0.98, 6 * 3600.0, 3600.0, 600.0, 60.0, 10.0, 1.0]
    res = frame_times(app, view, view.set_window, widths, day.duration, args.frames, None)
    print(f"pan/zoom frames, viewer (set range + event loop: redraw + paint {view.width()}x{view.height()} px), ms:")
    for w, ts in res.items():
        print(f"  window {w:>8.0f} s: median {np.median(ts):6.1f}  p95 {np.percentile(ts, 95):6.1f}"
              f"  max {np.max(ts):6.1f}")
    worst = max(np.max(ts) for ts in res.values())
    print(f"  worst frame {worst:.1f} ms, {len(beats)} beats, {int((result.score >= win.threshold).sum())} flagged")
    print(f"RSS after viewer {rss_mb():.0f} MB, peak {rss_mb('VmHWM'):.0f} MB")

    # ---- baseline: naive PlotDataItem with autoDownsample --------------------------------------
    if not args.no_baseline:
        pw = pg.PlotWidget()
        pw.plotItem.vb.disableAutoRange()
        pw.resize(view.width(), view.height())
        pw.show()
        x = np.arange(day.n_samples, dtype=np.float64) / day.fs
        t = time.perf_counter()
        for c in range(day.n_channels):
            item = pg.PlotDataItem(autoDownsample=True, downsampleMethod="peak", clipToView=True, skipFiniteCheck=True)
            pw.plotItem.addItem(item)  # added empty, then filled: pg 0.14 fails adding a filled item here
            item.setData(x, day.signal[:, c] - 3 * c)
        pw.setXRange(0, 10, padding=0)
        app.processEvents()
        pw.grab()
        print(f"baseline first paint: {time.perf_counter() - t:.3f} s")
        res_b = frame_times(app, pw, lambda a, b: pw.setXRange(a, b, padding=0), widths, day.duration,
                            max(args.frames // 4, 3), None)
        print("pan/zoom frames, baseline PlotDataItem(autoDownsample, peak, clipToView), ms:")
        for w, ts in res_b.items():
            print(f"  window {w:>8.0f} s: median {np.median(ts):6.1f}  max {np.max(ts):6.1f}")
        print(f"peak RSS incl. baseline {rss_mb('VmHWM'):.0f} MB")
    win.close()
    return 0


if __name__ == "__main__":
    rc = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # PySide6 6.12 / Python 3.11 can abort while collecting Qt wrappers at interpreter exit
    # ("none_dealloc: deallocating None") after all results are printed: skip finalisation.
    os._exit(rc)
