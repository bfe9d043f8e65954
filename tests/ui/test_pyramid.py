"""The min/max pyramid is Qt-free: tested on plain arrays."""

from __future__ import annotations

import numpy as np

from ecgviewer.ui.pyramid import MinMaxPyramid, envelope_line, flag_columns


def test_envelope_matches_brute_force():
    rng = np.random.default_rng(0)
    sig = rng.normal(size=100_003).astype(np.float32)
    sig[5000] = 40.0  # a spike must survive every level
    p = MinMaxPyramid(sig, 360.0)
    for n_px in (300, 2000, 5000):
        x, y = p.view(0, len(sig) / 360.0, n_px)
        assert len(y) <= 2 * 4 * n_px + 8  # about two points per pixel (at most factor x that)
        assert y.max() == 40.0 and y.min() == sig.min()


def test_level_zero_when_zoomed_in():
    sig = np.arange(3600, dtype=np.float32)
    p = MinMaxPyramid(sig, 360.0, min_blocks=4)
    x, y = p.view(1.0, 2.0, 1000)  # 360 samples on 1000 px: raw samples
    assert np.array_equal(y, sig[(x * 360).round().astype(int)])
    assert x[0] <= 1.0 and x[-1] >= 2.0


def test_nan_gap_stays_nan_and_partial_block():
    sig = np.ones(1030, np.float32)
    sig[100:400] = np.nan
    p = MinMaxPyramid(sig, 100.0, min_blocks=4)
    assert np.isnan(p.lo[2]).any()  # a block of only NaN stays a gap
    assert p.hi[1][-1] == 1.0  # the partial last block is kept
    x, y = p.view(0, 10.3, 20)
    assert x[-1] * 100 >= 1020


def test_one_min_max_pair_per_pixel_column_matches_brute_force():
    rng = np.random.default_rng(1)
    sig = rng.normal(size=400_000).astype(np.float32)
    p = MinMaxPyramid(sig, 360.0)
    t0, t1, n_px = 100.0, 1000.0, 317
    x, y = p.view(t0, t1, n_px)
    assert p.level_for((t1 - t0) * 360, n_px) > 0
    assert len(x) == len(y) and len(y) <= 2 * (n_px + 2)  # one pair per column, plus the edge columns
    pairs = y.reshape(-1, 2)
    lo, hi = pairs.min(axis=1), pairs.max(axis=1)
    cols = np.floor((x[0::2] - t0) / ((t1 - t0) / n_px)).astype(int)
    assert np.all(np.diff(cols) == 1)
    for c in (0, 5, n_px // 2, n_px - 1):  # a column's pair covers that pixel's samples (block-aligned)
        k = int(np.nonzero(cols == c)[0][0])
        a, b = int((t0 + c * (t1 - t0) / n_px) * 360), int((t0 + (c + 1) * (t1 - t0) / n_px) * 360)
        inner = sig[a + 64:b - 64]  # away from the blocks that straddle a column edge
        assert lo[k] <= inner.min() and hi[k] >= inner.max()
    assert y.max() >= sig[int(t0 * 360):int(t1 * 360)].max() and y.min() <= sig[int(t0 * 360):int(t1 * 360)].min()


def test_envelope_line_reverses_every_other_pair():
    lo = np.array([0, 1, 2, 3, 4], np.float32)
    hi = lo + 10
    assert envelope_line(lo, hi).tolist() == [0, 10, 11, 1, 2, 12, 13, 3, 4, 14]
    assert envelope_line(lo[:0], hi[:0]).tolist() == []


def test_flag_columns_marks_three_pixels_per_flag_and_clips():
    row = flag_columns(np.array([0.0, 5.05, 9.99]), 0.0, 10.0, 10)
    assert row.tolist() == [1, 1, 0, 0, 1, 1, 1, 0, 1, 1]
    assert flag_columns(np.zeros(0), 0.0, 10.0, 4).tolist() == [0, 0, 0, 0]
    assert flag_columns(np.array([-5.0, 50.0]), 0.0, 10.0, 4).sum() == 0
