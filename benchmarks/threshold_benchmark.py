"""Threshold dragging on a 24-hour record: milliseconds per threshold step in the real window, offscreen.

Issue 16: a step cost 250-300 ms because four table columns resized to their contents (every row's
text read, ~36k ``data()`` calls a step). The table now has fixed column widths and the BeatList
filters a precomputed sort order with a mask. The baseline, in the same run and the same window,
puts the four columns back to ResizeToContents, as before.

One step = ``window.set_threshold(t)`` (spin box, score line, table, counts, overview, metrics,
review counts) + ``processEvents()`` (the deferred redraws and the paint). The record: MIT-BIH
records end to end for 24 h (~110k reference beats); scores are random (scoring a day takes
minutes and the cost of a step does not depend on the values), so about as many beats are flagged
as on MIT-BIH at the model's threshold.

Usage: QT_QPA_PLATFORM=offscreen python -m benchmarks.threshold_benchmark [--mitdb DIR] [--steps 30]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def drag(app, window, thresholds) -> tuple[list[float], list[float]]:
    """(wall ms, CPU ms) per step of a threshold drag through ``thresholds``.

    CPU time (this process, all threads) is what a step costs; wall time adds waiting for a core,
    which on a loaded shared machine can be several times more.
    """
    wall, cpu = [], []
    for t in thresholds:
        t0, c0 = time.perf_counter(), time.process_time()
        window.set_threshold(float(t))
        app.processEvents()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return wall, cpu


def summary(name: str, ms: tuple[list[float], list[float]]) -> str:
    wall, cpu = ms
    return (f"{name:<32} CPU median {statistics.median(cpu):6.1f} ms, p90 {np.percentile(cpu, 90):6.1f} ms;"
            f"  wall median {statistics.median(wall):6.1f} ms, p90 {np.percentile(wall, 90):6.1f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mitdb", default="/work/shared/data/mitdb")
    ap.add_argument("--steps", type=int, default=30)
    args = ap.parse_args()

    from PySide6.QtWidgets import QApplication, QHeaderView

    from benchmarks.viewer_benchmark import day_record, fake_scores

    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp())
    os.environ.setdefault("ECGVIEWER_DATA_DIR", str(tmp / "userdata"))
    os.environ.setdefault("ECGVIEWER_CONFIG_DIR", str(tmp / "config"))
    from ecgviewer.ui.main_window import MainWindow

    day = dataclasses.replace(day_record(Path(args.mitdb)), path=tmp / "day24h")  # any sidecar goes to tmp
    beats, result = fake_scores(day, np.random.default_rng(0))
    w = MainWindow(None)
    w.resize(1400, 850)
    w.show()
    app.processEvents()
    w.set_record(day, score=False)
    w.set_scores(beats, result)
    app.processEvents()
    scores = np.asarray(result.score)
    # a drag from the 97th to the 99.5th percentile and back: ~3k down to ~500 flagged beats
    up = np.percentile(scores, np.linspace(97, 99.5, args.steps))
    thresholds = np.concatenate([up, up[::-1]])
    print(f"record: {day.duration / 3600:.1f} h, {len(beats)} beats; {len(thresholds)} steps, "
          f"{int((scores >= up[0]).sum())} to {int((scores >= up[-1]).sum())} flagged")

    drag(app, w, thresholds[:5])  # warm-up
    new = drag(app, w, thresholds)
    h = w.table.horizontalHeader()
    for c in range(4):  # the baseline: what the old review table did
        h.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
    app.processEvents()
    base = drag(app, w, thresholds)
    for c in range(4):
        h.setSectionResizeMode(c, QHeaderView.ResizeMode.Interactive)
    again = drag(app, w, thresholds)
    print(summary("fixed column widths (now)", new))
    print(summary("resize to contents (baseline)", base))
    print(summary("fixed column widths (again)", again))
    cpu_now = new[1] + again[1]
    print(f"speed-up (CPU median): {statistics.median(base[1]) / statistics.median(cpu_now):.1f}x; "
          f"<= 30 ms CPU a step: {'met' if np.percentile(cpu_now, 90) <= 30 else 'NOT met'} (p90); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
