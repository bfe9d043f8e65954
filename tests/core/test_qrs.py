"""QRS detector on real MIT-BIH records: accuracy bars, odd inputs, other sampling rates.

The bars sit a little under what the detector reaches (see docs/qrs.md), so a regression fails
but noise from a harmless change does not.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from scipy.signal import resample_poly

from ecgviewer.core.qrs import DETECTOR_VERSION, detect_qrs

from testdata import MITDB, needs_mitdb

BEATS = list("NLRBAaJSVrFejnE/fQ?")
WINDOW_S = 0.150



@cache
def _record(name: str) -> tuple[np.ndarray, float, np.ndarray]:
    """Signal (n, 2) float32 mV, fs and reference beat samples of one record."""
    from ecgviewer.core.record import load_record

    rec = load_record(MITDB / name)
    keep = np.isin(np.asarray(rec.annotations.symbol), BEATS)
    return rec.signal, rec.fs, np.asarray(rec.annotations.sample)[keep]


def _se_ppv(ref: np.ndarray, det: np.ndarray, window: int) -> tuple[float, float]:
    """Sensitivity and positive predictivity (%) with one-to-one matching within ``window``."""
    from wfdb.processing import compare_annotations

    c = compare_annotations(ref, det, window)
    return 100.0 * c.tp / (c.tp + c.fn), 100.0 * c.tp / (c.tp + c.fp)


@needs_mitdb
@pytest.mark.parametrize(
    ("name", "min_se", "min_ppv"),
    [
        ("100", 99.8, 99.8),  # clean sinus rhythm
        ("119", 99.8, 99.5),  # ventricular bigeminy
        ("208", 99.0, 99.0),  # many PVCs and fusion beats, noisy couplets
        ("105", 99.5, 95.5),  # the noisiest record: high-amplitude noise bursts in both leads
    ],
)
def test_mitdb_records(name: str, min_se: float, min_ppv: float) -> None:
    sig, fs, ref = _record(name)
    det = detect_qrs(sig, fs)
    assert det.dtype == np.int64
    assert np.all(np.diff(det) > 0)
    se, ppv = _se_ppv(ref, det, int(round(WINDOW_S * fs)))
    assert se >= min_se and ppv >= min_ppv, f"{name}: Se {se:.2f} +P {ppv:.2f}"


@needs_mitdb
def test_one_channel() -> None:
    sig, fs, ref = _record("100")
    det = detect_qrs(sig[:, :1], fs)
    se, ppv = _se_ppv(ref, det, int(round(WINDOW_S * fs)))
    assert se >= 99.5 and ppv >= 99.5
    assert detect_qrs(sig[:, 0], fs).size == det.size  # a 1-D signal is one lead


@needs_mitdb
def test_nan_stretch_has_no_beats() -> None:
    sig, fs, ref = _record("100")
    sig = sig.copy()
    a, b = int(60 * fs), int(90 * fs)
    sig[a:b] = np.nan
    det = detect_qrs(sig, fs)
    assert not np.any((det >= a) & (det < b))
    outside = (ref < a - fs) | (ref > b + fs)
    se, ppv = _se_ppv(ref[outside], det[(det < a - fs) | (det > b + fs)], int(round(WINDOW_S * fs)))
    assert se >= 99.5 and ppv >= 99.5


@needs_mitdb
def test_one_lead_nan() -> None:
    """A lead that is NaN throughout is ignored; the other still carries the detection."""
    sig, fs, ref = _record("100")
    sig = sig.copy()
    sig[:, 1] = np.nan
    se, ppv = _se_ppv(ref, detect_qrs(sig, fs), int(round(WINDOW_S * fs)))
    assert se >= 99.5 and ppv >= 99.5


@needs_mitdb
def test_resampled_250hz() -> None:
    sig, fs, ref = _record("119")
    fs2 = 250.0
    sig2 = resample_poly(sig.astype(np.float64), 25, 36, axis=0).astype(np.float32)
    ref2 = np.round(ref * fs2 / fs).astype(np.int64)
    det = detect_qrs(sig2, fs2)
    se, ppv = _se_ppv(ref2, det, int(round(WINDOW_S * fs2)))
    assert se >= 99.0 and ppv >= 99.0, f"Se {se:.2f} +P {ppv:.2f}"


@pytest.mark.parametrize(
    "sig",
    [
        np.zeros((0, 2), np.float32),
        np.zeros((10, 1), np.float32),
        np.zeros((3600, 2), np.float32),
        np.full((3600, 2), 0.7, np.float32),
        np.full((3600, 2), np.nan, np.float32),
    ],
    ids=["empty", "tiny", "zeros", "flat", "all-nan"],
)
def test_no_signal_no_beats(sig: np.ndarray) -> None:
    det = detect_qrs(sig, 360.0)
    assert det.dtype == np.int64 and det.size == 0


def test_version_is_a_string() -> None:
    assert isinstance(DETECTOR_VERSION, str) and DETECTOR_VERSION
