"""The robust rule on a 24-hour record's beats: seconds for ``RobustScore.score``, gate on and off.

Card 2.1.3 holds the rhythm channel down where the rhythm between beats of ordinary morphology is
irregular (``core.robust.RhythmGate``), which reads a quantile over a window of 65 beats for every
beat and three lags. The baseline in the same run is the same rule without the gate; a second one
computes that window quantile with ``np.nanquantile`` over a sliding view (the first version of
the gate), to show what ``core.robust.window_nanquantile`` saves.

The beats: MIT-BIH 203's reference RR intervals (atrial fibrillation and flutter, frequent PVCs)
tiled to 24 hours, errors drawn at random (the rule's cost does not depend on their values).

Usage: python -m benchmarks.rule_benchmark [--mitdb DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

from ecgviewer.core.model.card import read_card
from ecgviewer.core.record import load_record
from ecgviewer.core.resources import bundled_model_path
from ecgviewer.core.robust import IRREGULAR_LAGS, beat_features

ROOT = Path(__file__).resolve().parents[1]


def day_beats(mitdb: Path, rule) -> tuple[np.ndarray, np.ndarray]:
    """(errors, rhythm features) of 24 hours of 203's rhythm."""
    ann = load_record(mitdb / "203").annotations
    rr = np.diff(ann.sample) / 360.0
    rr = rr[(rr > 0.2) & (rr < 3.0)]
    reps = int(np.ceil(24 * 3600 / rr.sum()))
    rr = np.tile(rr, reps)
    n = len(rr) - 1

    class Beats:  # what beat_features reads
        fs = 1.0
        centre = np.cumsum(rr)[:n]
        rr_pre, rr_post = rr[:-1], rr[1:]

    rng = np.random.default_rng(0)
    return np.exp(rng.normal(-6.7, 0.8, n)), beat_features(Beats, rule.rr_quantile)


def nanquantile_irregularity(step: np.ndarray, keep: np.ndarray, quantile: float, half: int) -> np.ndarray:
    """The gate's measure with np.nanquantile over sliding views (the slow first version)."""
    s = np.where(keep & np.r_[True, keep[:-1]] & np.r_[keep[1:], True], step, np.nan)
    best = np.full(len(s), np.nan)
    for k in IRREGULAR_LAGS:
        d = np.abs(np.lib.stride_tricks.sliding_window_view(s, k).sum(axis=1))
        pad = np.concatenate([np.full(half, np.nan), d, np.full(half + k - 1, np.nan)])
        win = np.lib.stride_tricks.sliding_window_view(pad, 2 * half + 1)[:len(s)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            best = np.fmin(best, np.nanquantile(win, quantile, axis=1))
    return np.where(np.isfinite(best), best, 0.0)


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mitdb", type=Path, default=ROOT.parent / "shared" / "data" / "mitdb")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    rule = read_card(bundled_model_path()).robust_score.rule()
    if rule.gate is None:
        print("rule_benchmark: the bundled card has no rhythm gate")
        return 2
    mse, feats = day_beats(a.mitdb, rule)
    g = rule.gate
    tm = rule.score(mse, feats)[0]  # any morphology scores will do for the timing
    plain = best_of(lambda: replace(rule, gate=None).score(mse, feats), a.repeat)
    gated = best_of(lambda: rule.score(mse, feats), a.repeat)
    slow = best_of(lambda: nanquantile_irregularity(feats[:, 1], tm < g.nn_below, g.quantile, g.half), 1)
    print(f"{len(mse):,} beats (24 h of MIT-BIH 203's rhythm), best of {a.repeat}:")
    print(f"  rule without the gate (baseline): {plain:.3f} s")
    print(f"  rule with the gate (card):        {gated:.3f} s")
    print(f"  the gate's measure by np.nanquantile over sliding views alone: {slow:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
