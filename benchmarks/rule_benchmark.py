"""The robust rule on a 24-hour record's beats: seconds for ``RobustScore.score``, gate on and off,
and for the likeness channel's values (``core.robust.likeness_value``, card 2.2.0).

Card 2.1.3 holds the rhythm channel down where the rhythm between beats of ordinary morphology is
irregular (``core.robust.RhythmGate``), which reads a quantile over a window of 65 beats for every
beat and three lags. The baseline in the same run is the same rule without the gate; a second one
computes the gate's window quantiles with ``np.nanquantile`` over a sliding view (the first
version of the gate), to show what ``core.robust.window_nanquantile`` saves.

The beats: MIT-BIH 203's reference RR intervals (atrial fibrillation and flutter, frequent PVCs)
tiled to 24 hours, errors drawn at random (the rule's cost does not depend on their values); for
the likeness, 203's own beat windows tiled to the same count.

Usage: python -m benchmarks.rule_benchmark [--mitdb DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import warnings
from dataclasses import replace
from pathlib import Path
from unittest import mock

import numpy as np

from benchmarks.timing import median_time
from ecgviewer.core import robust
from ecgviewer.core.beats import extract_beats
from ecgviewer.core.model.card import read_card
from ecgviewer.core.record import load_record
from ecgviewer.core.resources import bundled_model_path
from ecgviewer.core.robust import beat_features, likeness_value

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


def numpy_window_quantile(x: np.ndarray, width: int, quantile: float) -> np.ndarray:
    """``core.robust.window_nanquantile`` as its first version computed it: np.nanquantile over a
    sliding view (the baseline it replaced; the same values, tests/core/test_robust.py)."""
    win = np.lib.stride_tricks.sliding_window_view(np.asarray(x, dtype=np.float64), width)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanquantile(win, quantile, axis=1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mitdb", type=Path, default=ROOT.parent / "shared" / "data" / "mitdb")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    card = read_card(bundled_model_path())
    rule = card.robust_score.rule()
    if rule.gate is None:
        print("rule_benchmark: the bundled card has no rhythm gate")
        return 2
    mse, feats = day_beats(a.mitdb, rule)
    x = extract_beats(load_record(a.mitdb / "203"), card.preprocessing.params).x  # the windows, no network
    x = np.resize(x, (len(mse), *x.shape[1:]))  # 203's windows tiled to 24 hours' count
    like = likeness_value(x)
    plain = median_time(lambda: replace(rule, gate=None).score(mse, feats, like), a.repeat)
    gated = median_time(lambda: rule.score(mse, feats, like), a.repeat)
    values = median_time(lambda: likeness_value(x), a.repeat)
    with mock.patch.object(robust, "window_nanquantile", numpy_window_quantile):
        slow = median_time(lambda: rule.score(mse, feats, like), 1)
    print(f"{len(mse):,} beats (24 h of MIT-BIH 203's rhythm), median of {a.repeat}:")
    print(f"  rule without the gate (baseline): {plain:.3f} s")
    print(f"  rule with the gate (card):        {gated:.3f} s")
    print(f"  likeness values of the beats' windows (card 2.2.0): {values:.3f} s")
    print(f"  rule with the gate, window quantiles by np.nanquantile over sliding views (once): {slow:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
