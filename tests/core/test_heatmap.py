"""The heat map's display transform (core/heatmap.py): template, smoothing, peaks."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.core.heatmap import SMOOTH_MS, display_map, display_scale, dominant_template, map_peaks, smooth


def test_template_is_the_usual_beat_of_the_lower_scoring_half():
    rng = np.random.default_rng(0)
    usual, odd = np.sin(np.linspace(0, 3, 320)), np.cos(np.linspace(0, 3, 320))
    x = np.stack([usual + rng.normal(0, 0.01, 320) for _ in range(60)] + [odd] * 40)[:, None, :]
    score = np.r_[rng.random(60), 10 + rng.random(40)]
    np.testing.assert_allclose(dominant_template(x, score)[0], usual, atol=0.02)


def test_a_sliver_of_difference_is_shown_a_qrs_width_wide():
    tpl = np.zeros((1, 320), np.float32)
    beat = tpl.copy()
    beat[0, 150:160] = 1.0  # a 28 ms sliver at 360 Hz
    m = display_map(beat[None], tpl)[0, 0]
    lit = (m >= 0.5 * m.max()).sum() / 360.0 * 1000.0
    assert lit >= SMOOTH_MS * 0.7 and m[:100].max() == 0.0
    assert display_map(tpl[None], tpl).max() == 0.0  # the usual beat itself: nothing lit


def test_smooth_keeps_the_mean_and_the_edges():
    v = np.arange(10, dtype=np.float32)[None]
    s = smooth(v, 4)
    assert s.shape == v.shape and s[0, 0] == pytest.approx(0.5) and s[0, -1] == pytest.approx(8.0)
    np.testing.assert_allclose(smooth(np.ones((2, 3, 50)), 29), 1.0)


def test_peaks_and_scale_match_the_map():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (50, 2, 320)).astype(np.float32)
    tpl = x.mean(axis=0)
    m = display_map(x, tpl)
    np.testing.assert_allclose(map_peaks(x, tpl, chunk=7), m.max(axis=-1), rtol=1e-6)
    assert display_scale(x, tpl) == pytest.approx(np.percentile(m, 99.5), rel=1e-5)
