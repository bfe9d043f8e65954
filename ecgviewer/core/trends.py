"""Heart-rate trends: one row per minute over the whole record, and an hourly table for Holter reports.

A minute's heart rate is its beats' RR intervals averaged (60 / mean RR), pauses included, so a
minute with a 3 s pause reads slower, as it was. Its minimum and maximum are those of the
``k``-beat rolling heart rate (8 beats, as for brady/tachy events in :mod:`ecgviewer.core.events`;
only where all ``k`` intervals are known) inside the minute, so one premature beat does not make a 200 bpm maximum. The hourly table takes
each hour's minutes: its beats over its time, the lowest and highest minute, and the beat classes and
events counted in it, as the hourly page of a Holter report does.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from ecgviewer.core.events import Event, rolling_rate


@dataclass
class MinuteTrend:
    """Per-minute heart rate; arrays of one value per minute (NaN where a minute has no RR)."""

    start: np.ndarray  # minute start, s from the start of the record
    beats: np.ndarray  # beats whose R peak falls in the minute
    mean: np.ndarray  # 60 / mean RR of those beats
    min: np.ndarray  # lowest rolling-k-beat heart rate in the minute
    max: np.ndarray  # highest
    covered: np.ndarray  # seconds of the record in the minute (the last one may be short)

    def __len__(self) -> int:
        return len(self.start)

    def summary(self) -> dict:
        """Whole-record figures: mean heart rate, slowest and fastest minute (bpm) and when they were.

        A minute of which less than half is recorded (the record's last) is left out of the slowest
        and fastest: a few beats are not a minute's rate.
        """
        ok = np.isfinite(self.mean) & (self.covered >= 0.5 * self.covered.max())
        if not ok.any():
            ok = np.isfinite(self.mean)
        if not ok.any():
            return {"mean_bpm": None, "min_bpm": None, "min_at": None, "max_bpm": None, "max_at": None}
        beats = self.beats[ok]
        i_lo = int(np.nanargmin(np.where(ok, self.mean, np.nan)))
        i_hi = int(np.nanargmax(np.where(ok, self.mean, np.nan)))
        mean = pooled_bpm(self.mean[ok], beats)
        return {"mean_bpm": None if mean is None else round(mean, 1), "min_bpm": round(float(self.mean[i_lo]), 1),
                "min_at": float(self.start[i_lo]), "max_bpm": round(float(self.mean[i_hi]), 1),
                "max_at": float(self.start[i_hi])}


def minute_trend(sample: np.ndarray, fs: float, duration_s: float, rr_pre: np.ndarray | None = None,
                 k: int = 8, bin_s: float = 60.0) -> MinuteTrend:
    """Heart rate per ``bin_s`` seconds over ``duration_s``; ``rr_pre`` as in ``events.find_events``."""
    t = np.asarray(sample, dtype=np.float64) / fs
    n_bins = max(int(np.ceil(duration_s / bin_s)), 1)
    if rr_pre is None:
        rr_pre = np.concatenate([[np.nan], np.diff(t)]) if len(t) else np.zeros(0)
    rr = np.asarray(rr_pre, dtype=np.float64)
    b = np.clip((t // bin_s).astype(np.int64), 0, n_bins - 1)
    ok = np.isfinite(rr) & (rr > 0)
    n_rr = np.bincount(b[ok], minlength=n_bins)
    s_rr = np.bincount(b[ok], weights=rr[ok], minlength=n_bins)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n_rr > 0, 60.0 * n_rr / s_rr, np.nan)
    hr = rolling_rate(np.where(ok, rr, np.nan), k, min_n=k)
    lo = np.full(n_bins, np.inf)
    hi = np.full(n_bins, -np.inf)
    fin = np.isfinite(hr)
    np.minimum.at(lo, b[fin], hr[fin])
    np.maximum.at(hi, b[fin], hr[fin])
    lo[~np.isfinite(lo)] = np.nan
    hi[~np.isfinite(hi)] = np.nan
    start = np.arange(n_bins) * bin_s
    covered = np.clip(duration_s - start, 0.0, bin_s)
    return MinuteTrend(start, np.bincount(b, minlength=n_bins), mean, lo, hi, covered)


def pooled_bpm(bpm: np.ndarray, beats: np.ndarray) -> float | None:
    """Mean heart rate of minutes with rates ``bpm`` and ``beats`` beats each: all their beats over
    all their time (a minute lasts beats / bpm), not the beats' average of the minutes' rates,
    which counts a fast minute's many beats extra (60 beats at 60 bpm and 120 at 120 bpm: 90, not 100)."""
    ok = np.isfinite(bpm) & (bpm > 0) & (beats > 0)
    if not ok.any():
        return None
    return float(beats[ok].sum() / np.sum(beats[ok] / bpm[ok]))


def hourly_table(trend: MinuteTrend, sample: np.ndarray, fs: float, classes: np.ndarray | None = None,
                 events: list[Event] | None = None) -> list[dict]:
    """One row per hour (the last one may be partial): beats, mean/min/max heart rate, V and S
    beats, and events by kind (each event counted in the hour it starts)."""
    hours = max(int(np.ceil((trend.start[-1] + 1) / 3600.0)) if len(trend) else 1, 1)
    t = np.asarray(sample, dtype=np.float64) / fs
    h_of_beat = np.clip((t // 3600).astype(np.int64), 0, hours - 1)
    h_of_min = (trend.start // 3600).astype(np.int64)
    rows = []
    for h in range(hours):
        m = h_of_min == h
        mean, beats = trend.mean[m], trend.beats[m]
        ok = np.isfinite(mean)
        row = {"hour": h, "start": float(h * 3600), "beats": int(beats.sum()),
               "mean_bpm": round(pooled_bpm(mean[ok], beats[ok]), 1) if ok.any() and beats[ok].sum() else None,
               "min_bpm": round(float(np.min(mean[ok])), 1) if ok.any() else None,
               "max_bpm": round(float(np.max(mean[ok])), 1) if ok.any() else None}
        if classes is not None:
            c = Counter(str(x) for x in np.asarray(classes)[h_of_beat == h])
            row["V"], row["S"] = c.get("V", 0), c.get("S", 0)
        if events is not None:
            row["events"] = dict(sorted(Counter(e.kind for e in events if int(e.start // 3600) == h).items()))
        rows.append(row)
    return rows
