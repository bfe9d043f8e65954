"""Heart-rate trend per minute and the hourly table."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.core.events import Event
from ecgviewer.core.trends import hourly_table, minute_trend

FS = 250.0


def samples_at(rate_bpm: float, t0: float, t1: float) -> np.ndarray:
    return np.round(np.arange(t0, t1, 60.0 / rate_bpm) * FS).astype(np.int64)


def test_constant_rate_reads_the_same_every_minute():
    s = samples_at(60, 0.5, 180)
    tr = minute_trend(s, FS, 180)
    assert len(tr) == 3
    assert np.allclose(tr.mean[1:], 60, atol=0.1) and np.allclose(tr.min[1:], 60, atol=0.1)
    assert np.allclose(tr.max[1:], 60, atol=0.1) and list(tr.beats) == [60, 60, 60]
    assert tr.summary()["mean_bpm"] == pytest.approx(60, abs=0.1)


def test_rate_change_sets_min_and_max_minutes():
    s = np.concatenate([samples_at(60, 0.5, 120), samples_at(120, 120.2, 240)])
    tr = minute_trend(s, FS, 240)
    summ = tr.summary()
    # the mean is beats over time (two minutes at 60, two at 120: 90), not the beats' average of
    # the minutes' rates (which counts the fast minutes' beats twice as often: 100)
    assert summ["mean_bpm"] == pytest.approx(90, abs=1)
    assert hourly_table(tr, s, FS)[0]["mean_bpm"] == pytest.approx(90, abs=1)
    assert summ["min_bpm"] == pytest.approx(60, abs=1) and summ["min_at"] in (0.0, 60.0)
    assert summ["max_bpm"] == pytest.approx(120, abs=1) and summ["max_at"] in (120.0, 180.0)


def test_a_pause_slows_its_minute_but_not_the_others():
    s = samples_at(60, 0.5, 180)
    s = s[(s < 70 * FS) | (s > 74 * FS)]  # a 5 s pause in minute 1
    tr = minute_trend(s, FS, 180)
    assert tr.mean[1] < 58 and tr.mean[0] == pytest.approx(60, abs=0.1)


def test_a_short_last_minute_is_left_out_of_min_and_max():
    s = np.concatenate([samples_at(70, 0.5, 120), samples_at(30, 120.5, 125)])  # 5 s of slow beats
    tr = minute_trend(s, FS, 125)
    assert len(tr) == 3 and tr.summary()["min_bpm"] == pytest.approx(70, abs=1)


def test_no_beats():
    tr = minute_trend(np.zeros(0, np.int64), FS, 90)
    assert len(tr) == 2 and np.all(np.isnan(tr.mean))
    assert tr.summary()["mean_bpm"] is None


def test_hourly_table_for_a_long_record():
    s = np.concatenate([samples_at(60, 0.5, 3600), samples_at(90, 3600.3, 7000)])
    cls = np.full(len(s), "N")
    cls[::10] = "V"
    ev = [Event("pause", 0, 1, 100.0, 102.5, 25000), Event("vt", 5, 9, 3700.0, 3703.0, 925000)]
    tr = minute_trend(s, FS, 7000)
    rows = hourly_table(tr, s, FS, cls, ev)
    assert [r["hour"] for r in rows] == [0, 1]
    assert rows[0]["beats"] + rows[1]["beats"] == len(s)
    assert rows[0]["mean_bpm"] == pytest.approx(60, abs=0.5) and rows[1]["mean_bpm"] == pytest.approx(90, abs=0.5)
    assert rows[0]["V"] + rows[1]["V"] == int((cls == "V").sum())
    assert rows[0]["events"] == {"pause": 1} and rows[1]["events"] == {"vt": 1}
