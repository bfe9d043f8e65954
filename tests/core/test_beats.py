"""extract_beats: R peaks, band-pass, 360 Hz, 140 + 180 ticks, min-max per beat and lead.

Expected values are computed here independently of the core: beat counts from the .atr files
read with wfdb.rdann, windows from scipy's firwin/filtfilt on wfdb's signal.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps

from ecgviewer.core.beats import BeatParams, extract_beats
from ecgviewer.core.record import load_record

wfdb = pytest.importorskip("wfdb")

BEAT_SYMBOLS = set("N L R B A a J S V r F e j n E / f Q ?".split())
BEATGAN = {**dict.fromkeys("NLR", "N"), **dict.fromkeys("AaJSje", "S"), **dict.fromkeys("VE", "V"), "F": "F",
           **dict.fromkeys("/fQ", "Q")}
MIT_LEN = 650000


def _annotated_beats(path, fs_ratio: float = 1.0):
    ann = wfdb.rdann(str(path), "atr")
    keep = np.array([s in BEAT_SYMBOLS for s in ann.symbol])
    return np.asarray(ann.sample)[keep], np.asarray(ann.symbol, dtype=object)[keep]


@pytest.mark.parametrize(("name", "lead"), [("100", "MLII"), ("114", "MLII"), ("119", "MLII"), ("208", "MLII")])
def test_beats_match_reference_annotations(mitdb, name, lead):
    sample, symbol = _annotated_beats(mitdb / name)
    fits = (sample - 140 >= 0) & (sample + 180 <= MIT_LEN)
    beats = extract_beats(load_record(mitdb / name), BeatParams(align="none"))  # cut at the marks
    assert beats.source == "reference"
    assert beats.leads == [lead]
    assert len(beats) == int(fits.sum())
    assert beats.skipped.get("edge", 0) == int((~fits).sum())
    np.testing.assert_array_equal(beats.sample, sample[fits])
    assert list(beats.symbol) == list(symbol[fits])
    assert list(beats.cls) == [BEATGAN.get(s, "") for s in symbol[fits]]
    # RR intervals against the neighbouring annotated beats (edge beats count as neighbours)
    rr = np.diff(sample) / 360.0
    i = np.flatnonzero(fits)
    pre = np.where(i > 0, rr[np.maximum(i - 1, 0)], np.nan)
    post = np.where(i < len(sample) - 1, rr[np.minimum(i, len(rr) - 1)], np.nan)
    np.testing.assert_allclose(beats.rr_pre, pre, rtol=1e-5)
    np.testing.assert_allclose(beats.rr_post, post, rtol=1e-5)
    np.testing.assert_allclose(beats.time, beats.sample / 360.0)


@pytest.mark.parametrize("name", ["100", "208"])
def test_aligned_windows_keep_the_original_marks(mitdb, name):
    """The core's fiducial moves the window only: marks, symbols and classes stay the annotations'."""
    sample, symbol = _annotated_beats(mitdb / name)
    beats = extract_beats(load_record(mitdb / name))
    assert len(beats) >= len(sample) - 4  # only beats at the record's ends may be lost
    pos = np.searchsorted(sample, beats.sample)
    np.testing.assert_array_equal(sample[pos], beats.sample)
    assert list(beats.symbol) == list(symbol[pos])
    shift = (beats.centre - beats.sample) / 360.0
    assert np.abs(shift).max() <= 0.141  # record offset (100 ms) + beat search (40 ms)
    assert np.median(np.abs(shift)) <= 0.02  # MIT-BIH marks its R peaks: the fiducial is close
    np.testing.assert_allclose(beats.rr_pre[1:], np.diff(beats.centre) / 360.0, rtol=1e-5)


def test_windows_are_band_passed_cut_and_scaled(mitdb):
    beats = extract_beats(load_record(mitdb / "100"))
    assert beats.x.shape == (len(beats), 1, 320)
    assert beats.x.dtype == np.float32
    np.testing.assert_allclose(beats.x.min(axis=-1), -1.0, atol=1e-6)
    np.testing.assert_allclose(beats.x.max(axis=-1), 1.0, atol=1e-6)
    # Independently: FIR order 0.3 fs (108 taps), 3-45 Hz, zero-phase, on wfdb's MLII
    mlii = wfdb.rdrecord(str(mitdb / "100"), channels=[0]).p_signal[:, 0]
    taps = sps.firwin(108, [3.0, 45.0], pass_zero=False, fs=360.0)
    filtered = sps.filtfilt(taps, [1.0], mlii)
    for k in (0, 1, len(beats) // 2, len(beats) - 1):
        s = beats.centre[k]  # 100's MLII is upright: polarity +1
        w = filtered[s - 140 : s + 180]
        expected = (w - w.min()) / (w.max() - w.min()) * 2 - 1
        np.testing.assert_allclose(beats.x[k, 0], expected, atol=2e-3)
    # The R peak sits at tick 140 in normal beats: the largest deflection is near it.
    n = beats.cls == "N"
    peak = np.abs(beats.x[n, 0]).argmax(axis=1)
    assert np.median(np.abs(peak - 140)) <= 5


def test_two_leads_mlii_first_even_when_stored_second(mitdb):
    rec = load_record(mitdb / "114")
    two = extract_beats(rec, BeatParams(n_leads=2))
    one = extract_beats(rec, BeatParams(n_leads=1))
    assert two.leads == ["MLII", "V5"]
    assert two.x.shape == (len(one), 2, 320)
    np.testing.assert_array_equal(two.x[:, 0], one.x[:, 0])
    np.testing.assert_allclose(two.x.min(axis=-1), -1.0, atol=1e-6)  # each lead scaled on its own
    np.testing.assert_allclose(two.x.max(axis=-1), 1.0, atol=1e-6)


def test_one_lead_record_gives_one_lead_beats(mitdb, tmp_path):
    rec = load_record(mitdb / "119")
    wfdb.wrsamp("119", fs=360, units=["mV"], sig_name=["MLII"], p_signal=rec.signal[:, :1].astype(np.float64),
                fmt=["16"], adc_gain=[200], baseline=[0], write_dir=str(tmp_path))
    (tmp_path / "119.atr").write_bytes((mitdb / "119.atr").read_bytes())
    one = load_record(tmp_path / "119")
    beats = extract_beats(one, BeatParams(n_leads=2))
    assert beats.leads == ["MLII"]
    assert beats.x.shape == (len(beats), 1, 320)
    ref = extract_beats(rec)
    np.testing.assert_array_equal(beats.sample, ref.sample)
    np.testing.assert_allclose(beats.x, ref.x, atol=1e-3)


def test_other_sampling_rate_is_resampled_and_keeps_its_numbering(mitdb, tmp_path):
    rec = load_record(mitdb / "119")
    x250 = sps.resample_poly(rec.signal.astype(np.float64), 25, 36, axis=0)
    wfdb.wrsamp("119", fs=250, units=["mV", "mV"], sig_name=rec.channel_names, p_signal=x250, fmt=["16", "16"],
                write_dir=str(tmp_path))
    ann = wfdb.rdann(str(mitdb / "119"), "atr")
    s250 = np.round(ann.sample * 250 / 360).astype(np.int64)
    wfdb.wrann("119", "atr", s250, np.array(ann.symbol), aux_note=ann.aux_note, fs=250, write_dir=str(tmp_path))

    low = load_record(tmp_path / "119")
    assert low.fs == 250.0
    beats = extract_beats(low)
    sample, _ = _annotated_beats(tmp_path / "119")
    n = low.n_samples
    fits = (sample / 250 - 140 / 360 >= 0) & (sample / 250 + 180 / 360 <= n / 250)  # window fits, in seconds
    assert len(beats) == int(fits.sum())
    np.testing.assert_array_equal(beats.sample, sample[fits])  # original 250 Hz numbering
    np.testing.assert_allclose(beats.time, sample[fits] / 250.0)
    assert beats.x.shape[-1] == 320
    # Same heart beats as at 360 Hz: the windows correlate closely.
    ref = extract_beats(rec)
    assert len(beats) == len(ref)
    assert np.abs(beats.sample * 360 / 250 - ref.sample).max() <= 1.0  # at most the 250 Hz rounding
    a, b = beats.x[:, 0].astype(np.float64), ref.x[:, 0].astype(np.float64)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    corr = (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))
    assert np.median(corr) > 0.97


def test_detector_when_asked_or_without_annotations(mitdb):
    ref = extract_beats(load_record(mitdb / "100"))
    for beats in (extract_beats(load_record(mitdb / "100"), detect=True),
                  extract_beats(load_record(mitdb / "100", annotator=None))):
        assert beats.source == "detector"
        assert set(beats.cls) == {""} and set(beats.symbol) == {""}
        assert abs(len(beats) - len(ref)) <= 0.01 * len(ref)
        assert beats.x.shape == (len(beats), 1, 320)
