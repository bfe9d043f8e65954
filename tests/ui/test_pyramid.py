"""The min/max pyramid is Qt-free: tested on plain arrays."""

from __future__ import annotations

import numpy as np

from ecgviewer.ui.pyramid import MinMaxPyramid


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
