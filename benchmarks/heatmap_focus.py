"""Where the heat map puts its mass on PVCs: the share inside the QRS and inside the T wave.

For the reference V beats of MIT-BIH records (default 119, 208, 203, 233), scored with the bundled
model through the Scorer, the share of each beat's heat-map mass (model lead, summed over ticks)
inside the QRS (R-50 ms .. R+100 ms) and inside the T wave (R+150 ms .. R+450 ms), mean over beats.
Rows: the raw per-tick squared reconstruction error (what the map showed before) and the display
map of ecgviewer/core/heatmap.py. A map spread evenly over the 320-tick window would give 17 % and
34 % (the windows' share of the beat). Also the share of V beats whose map peaks inside the QRS,
and "lit ms": the median time per beat that the map is at or above half its peak (a sliver: ~30 ms;
a wide QRS: 100+ ms). The "all" rows weight records by their V beats.

    python -m benchmarks.heatmap_focus [--mitdb DIR] [--records 119 208 203 233] [--timing]

``--timing`` also times the display transform on 100,000 random beats (a 24-hour record): the
per-frame map of the most beats the viewer draws tick by tick (937) and the per-beat peaks.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from ecgviewer.core.heatmap import display_map, dominant_template, map_peaks, smooth
from ecgviewer.core.record import load_record
from ecgviewer.core.scorer import Scorer

QRS_MS = (-50.0, 100.0)
T_MS = (150.0, 450.0)


def window_mask(ms: tuple[float, float], fs: float, before: int, n: int) -> np.ndarray:
    t = (np.arange(n) - before) / fs * 1000.0
    return (t >= ms[0]) & (t < ms[1])


def shares(maps: np.ndarray, qrs: np.ndarray, t_wave: np.ndarray, fs: float) -> tuple[float, float, float, float]:
    """Mean share of mass in the QRS and the T window, the share of beats peaking in the QRS, and
    the median time (ms) the map stays at or above half its beat's peak (how wide the lit part is)."""
    mass = maps.sum(axis=-1)
    mass = np.where(mass > 0, mass, 1.0)
    q = maps[:, qrs].sum(axis=-1) / mass
    t = maps[:, t_wave].sum(axis=-1) / mass
    peak_in_qrs = qrs[np.argmax(maps, axis=-1)]
    lit = (maps >= 0.5 * maps.max(axis=-1, keepdims=True)).sum(axis=-1) / fs * 1000.0
    return float(q.mean()), float(t.mean()), float(peak_in_qrs.mean()), float(np.median(lit))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mitdb", default=os.environ.get("ECGVIEWER_MITDB", "/work/shared/data/mitdb"))
    ap.add_argument("--records", nargs="+", default=["119", "208", "203", "233"])
    ap.add_argument("--timing", action="store_true")
    args = ap.parse_args()
    scorer = Scorer.load()
    p = scorer.params
    fs, before = p.fs, p.before
    rows = []
    t_start = time.perf_counter()
    for name in args.records:
        rec = load_record(Path(args.mitdb) / name)
        beats = scorer.beats(rec)
        res = scorer.score(beats)
        v = np.flatnonzero(beats.cls == "V")
        n = beats.x.shape[-1]
        qrs, tw = window_mask(QRS_MS, fs, before, n), window_mask(T_MS, fs, before, n)
        k = 0  # the model's first lead
        tpl = dominant_template(beats.x, res.score)
        variants = {
            "raw squared error (before)": res.error[v, k],
            "raw error, smoothed 80 ms": smooth(res.error[v, k], int(round(0.080 * fs))),
            "difference from template": (beats.x[v, k] - tpl[k]) ** 2,
            "display map (after)": display_map(beats.x[v], tpl, fs)[:, k],
        }
        for label, maps in variants.items():
            rows.append((name, len(v), label) + shares(maps, qrs, tw, fs))
    elapsed = time.perf_counter() - t_start
    print(f"QRS window R{QRS_MS[0]:+.0f}..R{QRS_MS[1]:+.0f} ms, T window R{T_MS[0]:+.0f}..R{T_MS[1]:+.0f} ms, "
          f"first model lead; model {scorer.name} ({scorer.backend})")
    print(f"{'record':>6} {'V beats':>7}  {'map':<28} {'QRS share':>9} {'T share':>8} {'peak in QRS':>11} {'lit ms':>7}")
    for name, nv, label, q, t, pk, lit in rows:
        print(f"{name:>6} {nv:>7}  {label:<28} {100 * q:8.1f}% {100 * t:7.1f}% {100 * pk:10.1f}% {lit:7.0f}")
    labels = list(dict.fromkeys(r[2] for r in rows))
    for label in labels:
        sel = [r for r in rows if r[2] == label]
        w = np.array([r[1] for r in sel], float)
        q = np.average([r[3] for r in sel], weights=w)
        t = np.average([r[4] for r in sel], weights=w)
        pk = np.average([r[5] for r in sel], weights=w)
        lit = np.average([r[6] for r in sel], weights=w)
        print(f"{'all':>6} {int(w.sum()):>7}  {label:<28} {100 * q:8.1f}% {100 * t:7.1f}% {100 * pk:10.1f}% {lit:7.0f}")
    print(f"({elapsed:.0f} s)")
    if args.timing:
        x = np.random.default_rng(0).normal(size=(100_000, 1, 320)).astype(np.float32)
        tpl = dominant_template(x, np.random.default_rng(1).random(len(x)))
        t0 = time.perf_counter()
        for _ in range(10):
            display_map(x[:937], tpl)
        t1 = time.perf_counter()
        map_peaks(x, tpl)
        t2 = time.perf_counter()
        print(f"display map of 937 beats: {(t1 - t0) * 100:.1f} ms per frame; peaks of 100,000 beats: {t2 - t1:.2f} s")


if __name__ == "__main__":
    main()
