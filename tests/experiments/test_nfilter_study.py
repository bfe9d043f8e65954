"""The N-filter study's emulation of the reference's R-peak correction (biosppy's correct_rpeaks)."""

from __future__ import annotations

import numpy as np

from experiments import nfilter_study as study


def test_peaks_move_to_the_maximum_within_50_ms():
    fs = 360.0
    sig = np.zeros(2000)
    sig[500] = 1.0  # an upright R: the detected peak 10 samples early moves onto it
    sig[1000], sig[1012] = -3.0, 0.5  # a mostly negative QRS: the maximum is not its deepest point
    sig[1500], sig[1540] = 0.2, 0.9  # a taller wave 40 samples away is beyond the 18-sample window
    out = study.corrected_peaks(sig, np.array([490, 1000, 1500]), fs)
    assert out.tolist() == [500, 1012, 1500]


def test_two_peaks_moving_to_one_maximum_count_once():
    sig = np.zeros(400)
    sig[200] = 1.0
    assert study.corrected_peaks(sig, np.array([195, 205]), 360.0).tolist() == [200]
