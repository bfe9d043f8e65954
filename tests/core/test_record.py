"""load_record: one function for every WFDB record the viewer, the CLI and the trainer read.

Checked against wfdb's own reader on MIT-BIH and on records written here with wfdb.wrsamp in other
formats, rates and channel counts, plus a hand-made multi-segment record and a header with a start
date and time.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from ecgviewer.core.errors import RecordError
from ecgviewer.core.record import choose_leads, load_record

wfdb = pytest.importorskip("wfdb")


def _reference(path) -> np.ndarray:
    """wfdb's own physical signal, the yardstick for ours."""
    return wfdb.rdrecord(str(path)).p_signal


def test_mitdb_record_with_and_without_extension(mitdb):
    plain = load_record(mitdb / "100")
    for given in (mitdb / "100.hea", mitdb / "100.dat", str(mitdb / "100")):
        other = load_record(given)
        assert other.name == "100"
        np.testing.assert_array_equal(other.signal, plain.signal)
    assert plain.fs == 360.0
    assert plain.channel_names == ["MLII", "V5"]
    assert plain.units == ["mV", "mV"]
    assert plain.signal.dtype == np.float32
    assert plain.signal.shape == (650000, 2)
    assert plain.duration == pytest.approx(650000 / 360)
    assert plain.start is None  # MIT-BIH headers give no base time
    np.testing.assert_allclose(plain.signal, _reference(mitdb / "100"), atol=1e-5)


def test_annotations_default_atr_and_selectable(mitdb, tmp_path, copy_record):
    rec = load_record(mitdb / "119")
    ann = wfdb.rdann(str(mitdb / "119"), "atr")
    assert rec.annotations is not None and rec.annotations.annotator == "atr"
    np.testing.assert_array_equal(rec.annotations.sample, ann.sample)
    assert list(rec.annotations.symbol) == list(ann.symbol)

    # Another annotator: the same file under another extension, with the first 10 annotations only.
    base = copy_record("119", tmp_path, exts=("hea", "dat"))
    wfdb.wrann("119", "qrs", ann.sample[:10], np.array(ann.symbol[:10]), write_dir=str(tmp_path))
    other = load_record(base, annotator="qrs")
    assert other.annotations.annotator == "qrs"
    np.testing.assert_array_equal(other.annotations.sample, ann.sample[:10])
    assert load_record(base).annotations is None  # no .atr in the copy: no annotations, no error
    assert load_record(mitdb / "119", annotator=None).annotations is None


@pytest.mark.parametrize(("stamp", "expected"), [
    ("13:45:07.5 01/02/2003", dt.datetime(2003, 2, 1, 13, 45, 7, 500000)),
    ("08:00:00", dt.time(8, 0, 0)),
])
def test_start_date_and_time_from_header(mitdb, tmp_path, copy_record, stamp, expected):
    base = copy_record("119", tmp_path)
    hea = base.with_suffix(".hea")
    lines = hea.read_text(encoding="latin-1").splitlines(keepends=True)
    assert lines[0].split() == ["119", "2", "360", "650000"]
    lines[0] = f"119 2 360 650000 {stamp}\r\n"
    hea.write_text("".join(lines), encoding="latin-1")
    rec = load_record(base)
    assert rec.start == expected
    assert type(rec.start) is type(expected)


@pytest.mark.parametrize(("fmt", "fs", "names"), [
    ("16", 250, ["V1", "II", "V5"]),
    ("80", 128, ["ECG"]),
    ("212", 500, ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]),
    ("24", 1000, ["MLII", "V1"]),
    ("32", 200, ["a", "b"]),
    ("516", 360, ["MLII", "V5"]),  # FLAC-compressed
])
def test_formats_rates_and_channel_counts(tmp_path, fmt, fs, names):
    rng = np.random.default_rng(0)
    n = 5 * fs
    sig = rng.normal(scale=0.5, size=(n, len(names)))
    wfdb.wrsamp("rec", fs=fs, units=["mV"] * len(names), sig_name=names, p_signal=sig, fmt=[fmt] * len(names),
                write_dir=str(tmp_path))
    header_fmt = (tmp_path / "rec.hea").read_text().splitlines()[1].split()[1]
    assert header_fmt.startswith(fmt)
    rec = load_record(tmp_path / "rec.hea")
    assert rec.fs == fs
    assert rec.channel_names == names
    assert rec.signal.shape == (n, len(names))
    assert rec.signal.dtype == np.float32
    np.testing.assert_allclose(rec.signal, _reference(tmp_path / "rec"), atol=1e-4)
    # and close to what was written, within the format's resolution
    step = 1.0 / np.asarray(wfdb.rdheader(str(tmp_path / "rec")).adc_gain)
    assert np.all(np.abs(rec.signal - sig) <= step / 2 + 1e-4)


def test_microvolt_units_become_millivolts(tmp_path):
    sig = np.sin(np.linspace(0, 20, 2000))[:, None] * 1000.0  # 1 mV peak, written in µV
    wfdb.wrsamp("uv", fs=250, units=["uV"], sig_name=["ECG"], p_signal=sig, fmt=["16"], write_dir=str(tmp_path))
    rec = load_record(tmp_path / "uv")
    assert rec.units == ["mV"]
    np.testing.assert_allclose(rec.signal[:, 0], sig[:, 0] / 1000.0, atol=2e-3)


def test_multi_segment_record(mitdb, tmp_path):
    whole = load_record(mitdb / "119", annotator=None).signal[:36000].astype(np.float64)
    for name, part in (("seg1", whole[:18000]), ("seg2", whole[18000:])):
        wfdb.wrsamp(name, fs=360, units=["mV", "mV"], sig_name=["MLII", "V1"], p_signal=part, fmt=["16", "16"],
                    adc_gain=[200, 200], baseline=[0, 0], write_dir=str(tmp_path))
    (tmp_path / "multi.hea").write_text("multi/2 2 360 36000\nseg1 18000\nseg2 18000\n")
    rec = load_record(tmp_path / "multi.hea")
    assert rec.name == "multi"
    assert rec.fs == 360.0
    assert rec.channel_names == ["MLII", "V1"]
    assert rec.signal.shape == (36000, 2)
    np.testing.assert_allclose(rec.signal, whole, atol=1e-5)


def test_multi_frequency_channel_is_averaged_without_its_missing_samples(mitdb, tmp_path):
    # MLII at 2 samples a frame (720 Hz) beside V1 at the frame rate (360 Hz), as some Holter exports hold it
    mlii = load_record(mitdb / "119", annotator=None).signal[:36000, 0].astype(np.float64)
    v1 = load_record(mitdb / "119", annotator=None).signal[:18000, 1].astype(np.float64)
    fine = np.round(np.repeat(mlii[::2], 2) * 200).astype(np.int64)  # each frame's two samples
    fine[11] = -32768  # one missing sample in frame 5
    fine[20:22] = -32768  # a whole frame missing (frame 10)
    coarse = np.round(v1 * 200).astype(np.int64)
    wfdb.Record(record_name="mf", n_sig=2, fs=360, sig_len=18000, file_name=["mf.dat"] * 2, fmt=["16"] * 2,
                samps_per_frame=[2, 1], adc_gain=[200.0] * 2, baseline=[0, 0], units=["mV"] * 2,
                sig_name=["MLII", "V1"], e_d_signal=[fine, coarse], adc_res=[16] * 2, adc_zero=[0] * 2,
                init_value=[int(fine[0]), int(coarse[0])], checksum=[0, 0], block_size=[0, 0]
                ).wrsamp(expanded=True, write_dir=str(tmp_path))
    rec = load_record(tmp_path / "mf")
    assert rec.fs == 360.0 and rec.signal.shape == (18000, 2)
    want = fine.reshape(-1, 2).mean(axis=1) / 200.0
    want[5] = fine[10] / 200.0  # the mean of the frame's valid sample, not of -32768
    want[10] = np.nan  # no valid sample: a gap, not the most negative value
    np.testing.assert_allclose(rec.signal[:, 0], want, atol=1e-5)
    np.testing.assert_allclose(rec.signal[:, 1], coarse / 200.0, atol=1e-5)
    # and the record says what was done to it
    assert any("MLII" in c and "720 Hz" in c and "averaged" in c for c in rec.comments)


def test_mitdb_114_stores_mlii_second(mitdb):
    rec = load_record(mitdb / "114")
    assert rec.channel_names == ["V5", "MLII"]
    assert rec.model_leads(1) == [1]
    assert rec.model_leads(2) == [1, 0]


@pytest.mark.parametrize(("names", "n", "expected"), [
    (["MLII", "V5"], 2, [0, 1]),
    (["V5", "MLII"], 1, [1]),
    (["V1", "II", "V5"], 2, [1, 0]),
    (["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"], 2, [1, 6]),
    (["V4", "ECG"], 2, [1, 0]),
    (["x", "V2", "y"], 2, [0, 1]),  # no primary name: position 0, then the chest lead
    (["a", "b"], 2, [0, 1]),  # no names at all: by position
    (["a", "b"], 1, [0]),
    (["MLII"], 2, [0]),  # one-lead record: the model gets its single lead
    ([" mlii "], 1, [0]),
])
def test_lead_choice_by_name(names, n, expected):
    assert choose_leads(names, n) == expected


def test_one_lead_record(mitdb, tmp_path):
    sig = load_record(mitdb / "119", annotator=None).signal[:3600, :1].astype(np.float64)
    wfdb.wrsamp("one", fs=360, units=["mV"], sig_name=["MLII"], p_signal=sig, fmt=["16"], write_dir=str(tmp_path))
    rec = load_record(tmp_path / "one")
    assert rec.signal.shape == (3600, 1)
    assert rec.model_leads(1) == [0] and rec.model_leads(2) == [0]


def test_loading_writes_nothing(mitdb, tmp_path, copy_record, helpers):
    base = copy_record("100", tmp_path)
    before = helpers.snapshot(tmp_path)
    load_record(base)
    assert helpers.snapshot(tmp_path) == before


def test_record_error_is_one_line_and_names_the_file(tmp_path):
    with pytest.raises(RecordError) as info:
        load_record(tmp_path / "nothing")
    assert str(tmp_path / "nothing.hea") in str(info.value)
    assert "\n" not in str(info.value)



def test_only_channel_is_a_one_lead_record_of_it():
    from testdata import MITDB, have_mitdb

    if not have_mitdb("100"):
        pytest.skip("MIT-BIH record 100 not found")
    rec = load_record(MITDB / "100")
    one = rec.only_channel(1)
    assert one.n_channels == 1 and one.channel_names == [rec.channel_names[1]] and one.units == rec.units[1:2]
    np.testing.assert_array_equal(one.signal[:, 0], rec.signal[:, 1])
    assert rec.only_channel(0, name="ECG").channel_names == ["ECG"]
    assert rec.n_channels == 2  # the original is untouched
    with pytest.raises(IndexError, match="no channel 2"):
        rec.only_channel(2)


def test_second_channel_is_the_lead_the_model_does_not_read():
    from testdata import MITDB, have_mitdb

    if not have_mitdb("100", "114"):
        pytest.skip("MIT-BIH records 100 and 114 not found")
    assert load_record(MITDB / "100").second_channel() == 1
    assert load_record(MITDB / "114").second_channel() == 0  # 114 stores MLII second
    with pytest.raises(IndexError, match="one channel only"):
        load_record(MITDB / "100").only_channel(0).second_channel()
