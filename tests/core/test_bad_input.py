"""Broken records: each gives a RecordError (library) and exit code 2 with one line (CLI).

Every case starts from a copy of a real MIT-BIH record in tmp_path, broken one way. The message
must name the file and the problem, the CLI must not print a traceback, and nothing in the
record's folder may be written or changed (listing, sizes and mtimes compared before/after).
Flat and NaN stretches are not errors: the beats there are skipped and counted.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgviewer.core.beats import extract_beats
from ecgviewer.core.errors import RecordError
from ecgviewer.core.record import load_record

wfdb = pytest.importorskip("wfdb")


def _edit_header(base, old: str, new: str) -> None:
    hea = base.with_suffix(".hea")
    text = hea.read_text(encoding="latin-1")
    assert old in text
    hea.write_text(text.replace(old, new, 1), encoding="latin-1")


def _missing_hea(base):
    base.with_suffix(".hea").unlink()
    return "119.hea", "not found"


def _missing_dat(base):
    base.with_suffix(".dat").unlink()
    return "119.dat", "not found"


def _garbage_header(base):
    base.with_suffix(".hea").write_bytes(b"this is not a header\nnor is this\n")
    return "119.hea", "does not parse"


def _bad_frequency(base):
    _edit_header(base, "119 2 360 650000", "119 2 fast 650000")
    return "119.hea", "does not parse"


def _short_dat(base):
    dat = base.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:300000])
    return "119.dat", "truncated"


def _unsupported_format(base):
    _edit_header(base, "119.dat 212 ", "119.dat 999 ")
    return "119.hea", "unsupported signal format '999'"


def _no_channels(base):
    base.with_suffix(".hea").write_text("119 0 360 650000\r\n", encoding="latin-1")
    return "119.hea", "no signal channels"


def _zero_samples(base):
    _edit_header(base, "119 2 360 650000", "119 2 360 0")
    return "119.hea", "no samples"


def _empty_dat(base):
    base.with_suffix(".dat").write_bytes(b"")
    return "119.dat", "no samples"


def _shorter_than_a_beat(base):
    _edit_header(base, "119 2 360 650000", "119 2 360 200")
    dat = base.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[: 200 * 3])  # format 212: 3 bytes per 2-channel sample
    return "119", "too short to score: 0.6 s"


def _header_without_signal_lines(base):
    hea = base.with_suffix(".hea")
    hea.write_text(hea.read_text(encoding="latin-1").splitlines()[0] + "\n", encoding="latin-1")
    return "119.hea", "header lists no signals: its record line gives 2"


def _one_signal_line_of_two(base):
    hea = base.with_suffix(".hea")
    hea.write_text("\n".join(hea.read_text(encoding="latin-1").splitlines()[:2]) + "\n", encoding="latin-1")
    return "119.hea", "header lists 1 of the 2 signals"


def _negative_frequency(base):
    _edit_header(base, "119 2 360 650000", "119 2 -360 650000")
    return "119.hea", "sampling frequency '-360' in the header must be positive"


def _unparsable_gain(base):
    _edit_header(base, "119.dat 212 200 ", "119.dat 212 abc ")  # wfdb reads 'abc' as the units, at gain 200
    return "119.hea", "header does not parse: gain field 'abc' of signal 1 (MLII) is not a number"


def _random_atr(base):
    base.with_suffix(".atr").write_bytes(np.random.default_rng(0).bytes(77))
    return "119.atr", "cannot read annotations: not a valid WFDB annotation file"


def _garbage_atr_wfdb_trips_over(base):
    base.with_suffix(".atr").write_bytes(np.random.default_rng(2).bytes(78))  # wfdb: an IndexError inside
    return "119.atr", "cannot read annotations: not a valid WFDB annotation file"


def _garbage_atr_wfdb_reads(base):
    base.with_suffix(".atr").write_bytes(np.random.default_rng(3).bytes(78))  # codes WFDB does not define
    return "119.atr", "cannot read annotations: not a valid WFDB annotation file"


CASES = {
    "missing .hea": _missing_hea,
    "missing .dat": _missing_dat,
    "header does not parse": _garbage_header,
    "header frequency does not parse": _bad_frequency,
    ".dat shorter than the header says": _short_dat,
    "unsupported format": _unsupported_format,
    "no channels": _no_channels,
    "header says 0 samples": _zero_samples,
    "empty .dat": _empty_dat,
    "shorter than a 10-s strip": _shorter_than_a_beat,
    "header with the record line only": _header_without_signal_lines,
    "header missing a signal line": _one_signal_line_of_two,
    "negative sampling frequency": _negative_frequency,
    "gain is no number": _unparsable_gain,
    "random bytes as .atr": _random_atr,
    "garbage .atr wfdb trips over": _garbage_atr_wfdb_trips_over,
    "garbage .atr wfdb reads": _garbage_atr_wfdb_reads,
}


def test_uncalibrated_gain_is_read_at_the_default_and_noted(mitdb, tmp_path, copy_record, run_cli):
    """Gain 0 is WFDB's 'uncalibrated': read at the default 200 adu/mV (MIT-BIH's own gain, so the
    samples are unchanged here), and every caller is told."""
    base = copy_record("119", tmp_path)
    _edit_header(base, "119.dat 212 200 ", "119.dat 212 0 ")
    rec = load_record(base)
    np.testing.assert_array_equal(rec.signal, load_record(mitdb / "119").signal)
    note = "MLII is uncalibrated, header gain 0: mV values assume WFDB's default gain of 200 adu/mV"
    assert rec.notes == [note]
    assert load_record(mitdb / "119").notes == []
    proc = run_cli("beats", str(base), "--json")
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["notes"] == [note] and payload["summary"]["notes"] == [note]
    text = run_cli("beats", str(base)).stdout.splitlines()
    assert text[-2].endswith(f"({note})")


@pytest.mark.parametrize("case", list(CASES))
def test_broken_record(case, tmp_path, copy_record, run_cli, helpers):
    folder = tmp_path / "rec"
    base = copy_record("119", folder)
    file_name, problem = CASES[case](base)
    before = helpers.snapshot(tmp_path)

    with pytest.raises(RecordError) as info:
        extract_beats(load_record(base))
    message = str(info.value)
    assert "\n" not in message
    assert str(folder / file_name) in message, message
    assert problem.lower() in message.lower(), message

    given = base.with_suffix(".hea") if len(case) % 2 else base  # both spellings over the cases
    proc = run_cli("beats", str(given), "--json", cwd=folder)
    assert proc.returncode == 2
    assert proc.stdout == ""
    err = helpers.assert_one_line_error(proc, file_name, problem)
    assert err.startswith("ecgviewer: error: ")
    assert helpers.snapshot(tmp_path) == before


def test_missing_record_and_not_a_record(tmp_path, run_cli, helpers):
    before = helpers.snapshot(tmp_path)
    helpers.assert_one_line_error(run_cli("beats", str(tmp_path / "nope"), cwd=tmp_path), "nope.hea", "not found")
    (tmp_path / "notes.txt").write_text("hello")
    before = helpers.snapshot(tmp_path)
    helpers.assert_one_line_error(run_cli("beats", str(tmp_path / "notes.txt"), cwd=tmp_path), "notes.txt",
                                  "unsupported format: text files (.txt)", "supported: WFDB", "EDF", "ISHNE")
    assert helpers.snapshot(tmp_path) == before


# --- flat and NaN stretches ---------------------------------------------------------------------

GAP = (36000, 43200)  # 20 s of the WFDB invalid value (NaN)
FLAT = (72000, 79200)  # 20 s of one constant value


@pytest.fixture(scope="module")
def damaged_119(tmp_path_factory, mitdb):
    """A format-16 copy of 119 with a NaN stretch and a flat stretch in both channels."""
    folder = tmp_path_factory.mktemp("damaged")
    rec = load_record(mitdb / "119")
    wfdb.wrsamp("119", fs=360, units=["mV", "mV"], sig_name=rec.channel_names, p_signal=rec.signal.astype(np.float64),
                fmt=["16", "16"], adc_gain=[200, 200], baseline=[0, 0], write_dir=str(folder))
    (folder / "119.atr").write_bytes((mitdb / "119.atr").read_bytes())
    raw = np.fromfile(folder / "119.dat", dtype="<i2").reshape(-1, 2).copy()
    raw[GAP[0]:GAP[1]] = -32768  # WFDB's invalid sample in format 16
    raw[FLAT[0]:FLAT[1]] = 1234  # 6.17 mV: no neighbour has it
    raw.tofile(folder / "119.dat")
    return folder / "119"


def _windows(sample):
    return sample - 140, sample + 180  # [lo, hi) at 360 Hz


def test_nan_and_flat_stretches_are_skipped_and_counted(damaged_119, mitdb, helpers):
    before = helpers.snapshot(damaged_119.parent)
    rec = load_record(damaged_119)
    assert np.isnan(rec.signal[GAP[0]:GAP[1]]).all()
    assert not np.isnan(rec.signal[: GAP[0]]).any() and not np.isnan(rec.signal[GAP[1]:]).any()

    beats = extract_beats(rec)
    ann = wfdb.rdann(str(mitdb / "119"), "atr")
    sample = np.asarray(ann.sample)[np.isin(ann.symbol, list("NLRBAaJSVrFejnE/fQ?"))]
    lo, hi = _windows(sample)
    in_gap = (lo < GAP[1]) & (hi > GAP[0])
    in_flat = (lo >= FLAT[0]) & (hi <= FLAT[1])
    assert in_gap.sum() > 10 and in_flat.sum() > 10
    assert beats.skipped == {"gap": int(in_gap.sum()), "flat": int(in_flat.sum())}
    np.testing.assert_array_equal(beats.sample, sample[~in_gap & ~in_flat])
    assert np.isfinite(beats.x).all()
    assert helpers.snapshot(damaged_119.parent) == before


def test_nan_stretch_with_detector(damaged_119):
    rec = load_record(damaged_119, annotator=None)
    rec.signal[FLAT[0]:FLAT[1]] = np.nan  # the detector on the NaN stretch alone (flat: see below)
    beats = extract_beats(rec, detect=True)
    lo, hi = _windows(beats.sample)
    assert not ((lo < GAP[1]) & (hi > GAP[0])).any()
    assert np.isfinite(beats.x).all()
    clean = extract_beats(load_record(damaged_119))
    assert len(beats) > 0.95 * (len(clean) - clean.skipped.get("gap", 0))


def test_flat_stretch_with_detector(damaged_119):
    rec = load_record(damaged_119, annotator=None)
    rec.signal[GAP[0]:GAP[1]] = rec.signal[GAP[0] - 1]  # no NaN: a flat stretch only
    beats = extract_beats(rec, detect=True)
    assert len(beats) > 1800
    # the detector finds no beat on a flat line (so none needs skipping there)
    assert not np.any((beats.sample > GAP[0] + 100) & (beats.sample < GAP[1] - 100))


def test_cli_reports_skipped_beats(damaged_119, run_cli, helpers):
    before = helpers.snapshot(damaged_119.parent)
    proc = run_cli("beats", str(damaged_119), "--json", cwd=damaged_119.parent)
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["summary"]["skipped"]["gap"] > 10 and payload["summary"]["skipped"]["flat"] > 10
    assert helpers.snapshot(damaged_119.parent) == before


# --- unusual paths ------------------------------------------------------------------------------

def test_path_with_spaces_and_non_ascii(tmp_path, copy_record, run_cli, helpers, mitdb):
    folder = tmp_path / "dossier patient" / "é 119"
    base = copy_record("119", folder)
    renamed = copy_record("119", tmp_path / "dossier patient" / "ñandú", new_name="ecg_2")
    before = helpers.snapshot(tmp_path)
    expected = len(extract_beats(load_record(mitdb / "119")))
    for given in (base, base.with_suffix(".dat"), renamed):
        assert len(extract_beats(load_record(given))) == expected
    for given in (base.with_suffix(".hea"), renamed):
        proc = run_cli("beats", str(given), "--json", cwd=folder)
        assert proc.returncode == 0, proc.stderr
        payload = json.loads(proc.stdout)
        assert payload["record"] == given.with_suffix("").name and len(payload["beats"]) == expected
    assert helpers.snapshot(tmp_path) == before
    broken = tmp_path / "dossier patient" / "é 119" / "119.dat"
    broken.unlink()
    before = helpers.snapshot(tmp_path)
    helpers.assert_one_line_error(run_cli("beats", str(base), cwd=folder), "dossier patient/é 119/119.dat", "not found")
    assert helpers.snapshot(tmp_path) == before


# --- EDF and ISHNE files broken one way each --------------------------------------------------

def _edf_field(data: bytearray, ns: int, offset: int, width: int, i: int, value: str) -> None:
    """Set signal ``i``'s header field at ``offset`` (its place among the signal fields) to ``value``."""
    start = 256 + offset * ns + width * i
    data[start:start + width] = value.encode("latin-1").ljust(width)[:width]


def _edf_main(data: bytearray, start: int, width: int, value: str) -> None:
    data[start:start + width] = value.encode("latin-1").ljust(width)[:width]


EDF_CASES = {  # name: (change to the bytes of a 20-s EDF+ of 119 with 3 signals, expected problem)
    "truncated data": (lambda d: d[: 256 * 4 + 5000], "truncated: 3 of the header's 20 data records"),
    "truncated header": (lambda d: d[:300], "truncated inside the header"),
    "header shorter than 256": (lambda d: d[:100], "too short for an EDF header"),
    "wrong header size": (lambda d: _edf_main(d, 184, 8, "999") or d, "header size is wrong: it says 999 bytes"),
    "signal count not a number": (lambda d: _edf_main(d, 252, 4, "ab") or d, "'number of signals' is not a whole number"),
    "absurd rate": (lambda d: _edf_main(d, 244, 8, "0.0001") or d, "sampling rate 3.6e+06 Hz is outside"),
    "empty digital range": (lambda d: _edf_field(d, 3, 128, 8, 0, "-32768") or d, "digital range -32768..-32768 is empty"),
    "absurd gain": (lambda d: (_edf_field(d, 3, 104, 8, 0, "-9e7"), _edf_field(d, 3, 112, 8, 0, "9e7")) and d,
                    "the gain or unit looks wrong"),
    # EDF+D whose second data record starts 4 s late (its time-keeping annotation "+5" for "+1")
    "discontinuous": (lambda d: _edf_main(d, 192, 44, "EDF+D") or bytearray(bytes(d).replace(b"+1\x14\x14", b"+5\x14\x14", 1)),
                      "discontinuous EDF+D files are not supported"),
    "not an EDF file": (lambda d: bytearray(b"hello" + bytes(d[5:])), "not an EDF file"),
}


@pytest.fixture(scope="module")
def small_edf_and_ishne(tmp_path_factory, mitdb):
    from ecgviewer.core.formats.base import Record
    from ecgviewer.core.formats.edf import write_edf
    from ecgviewer.core.formats.ishne import write_ishne

    d = tmp_path_factory.mktemp("small")
    src = load_record(mitdb / "119")
    keep = src.annotations.sample < 7200
    rec = Record("r", d / "r", 360.0, src.signal[:7200].copy(), src.channel_names, src.units)
    from ecgviewer.core.formats.base import Annotations

    write_edf(d / "r.edf", rec, Annotations("atr", src.annotations.sample[keep], src.annotations.symbol[keep]))
    write_ishne(d / "r.ecg", rec.signal, 360, rec.channel_names, resolution_nv=5000)
    return (d / "r.edf").read_bytes(), (d / "r.ecg").read_bytes()


def test_an_edf_plus_d_without_gaps_reads(small_edf_and_ishne, tmp_path):
    """Some recorders label every export EDF+D: one whose data records follow each other is read."""
    data = bytearray(small_edf_and_ishne[0])
    _edf_main(data, 192, 44, "EDF+D")
    (tmp_path / "d.edf").write_bytes(bytes(data))
    rec = load_record(tmp_path / "d.edf")
    assert rec.n_samples == 7200 and len(rec.annotations) > 0


def _refused_in_one_line(path, problem, capsys):
    from ecgviewer.cli import main

    with pytest.raises(RecordError) as info:
        extract_beats(load_record(path))
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path)), message
    assert problem.lower() in message.lower(), message
    assert main(["beats", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"ecgviewer: error: {message}"


def _ishne_set(data: bytearray, fmt: str, offset: int, *values, fix_crc: bool = True) -> bytearray:
    import struct

    from ecgviewer.core.formats.ishne import crc

    struct.pack_into(fmt, data, offset, *values)
    if fix_crc:
        ecg = struct.unpack_from("<i", data, 22)[0]
        struct.pack_into("<H", data, 8, crc(bytes(data[10:ecg])))
    return data


ISHNE_CASES = {
    "truncated samples": (lambda d: d[:-1000], "file is truncated: 27800 bytes of samples, the header implies 28800"),
    "truncated header": (lambda d: d[:400], "too short for an ISHNE header: 400 bytes"),
    "wrong magic": (lambda d: bytearray(b"ISHNE2.0") + d[8:], "not an ISHNE file"),
    "header sizes disagree": (lambda d: _ishne_set(d, "<i", 18, 600), "header sizes disagree"),
    "damaged header (CRC)": (lambda d: _ishne_set(d, "<40s", 28, "Ñandú".encode("latin-1"), fix_crc=False),
                             "header checksum does not match"),
    "rate zero": (lambda d: _ishne_set(d, "<h", 272, 0), "sampling rate 0 Hz is not a positive number"),
    "rate absurd": (lambda d: _ishne_set(d, "<h", 272, 20), "sampling rate 20 Hz is outside"),
    "resolution zero": (lambda d: _ishne_set(d, "<h", 206, 0), "amplitude resolution 0 nV is not positive"),
    "13 leads": (lambda d: _ishne_set(d, "<h", 156, 13), "header gives 13 leads"),
    "negative resolution": (lambda d: _ishne_set(d, "<hh", 206, 5000, -5), "lead 2: amplitude resolution -5 nV"),
}


@pytest.mark.parametrize(("fmt", "case"), [("edf", c) for c in EDF_CASES] + [("ishne", c) for c in ISHNE_CASES])
def test_broken_edf_and_ishne(fmt, case, small_edf_and_ishne, tmp_path, capsys, helpers):
    change, problem = (EDF_CASES if fmt == "edf" else ISHNE_CASES)[case]
    path = tmp_path / "é Ñandú" / ("r.edf" if fmt == "edf" else "r.ecg")
    path.parent.mkdir()
    path.write_bytes(bytes(change(bytearray(small_edf_and_ishne[0 if fmt == "edf" else 1]))))
    before = helpers.snapshot(tmp_path)
    _refused_in_one_line(path, problem, capsys)
    assert helpers.snapshot(tmp_path) == before


def test_ishne_missing_lead_and_flat_lead(small_edf_and_ishne, tmp_path, capsys):
    """A lead all missing (-32768) or flat still opens, for the clinician to see; scoring says why it cannot."""
    from ecgviewer.core.formats.ishne import read as read_ishne
    from ecgviewer.core.formats.ishne import write_ishne

    rec = read_ishne(_write(tmp_path / "ok.ecg", small_edf_and_ishne[1]))
    gone = rec.signal.copy()
    gone[:, 1] = np.nan  # V1 missing: MLII still scores
    write_ishne(tmp_path / "gone.ecg", gone, 360, ["MLII", "V1"])
    opened = load_record(tmp_path / "gone.ecg")
    assert np.isnan(opened.signal[:, 1]).all() and not np.isnan(opened.signal[:, 0]).any()
    assert len(extract_beats(opened, detect=True)) > 15
    flat = rec.signal.copy()
    flat[:, 0] = 0.5
    write_ishne(tmp_path / "flat.ecg", flat, 360, ["MLII", "V1"])
    assert load_record(tmp_path / "flat.ecg").n_samples == 7200
    _refused_in_one_line(tmp_path / "flat.ecg", "lead II is flat (constant 0.5 mV): nothing to score", capsys)
    gone[:, 0] = np.nan
    write_ishne(tmp_path / "none.ecg", gone, 360, ["MLII", "V1"])
    _refused_in_one_line(tmp_path / "none.ecg", "lead II has no valid samples", capsys)


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_non_ascii_edf_label_and_file_name(mitdb, tmp_path):
    edfio = pytest.importorskip("edfio")
    x = load_record(mitdb / "119", annotator=None).signal[:3600, 0].astype(np.float64)
    doc = edfio.Edf([edfio.EdfSignal(x, 360, label="ECG II", physical_dimension="mV", physical_range=(-6, 6))])
    path = tmp_path / "ñandú é.edf"
    doc.write(path)
    raw = bytearray(path.read_bytes())
    raw[256:272] = "Dérivation II".encode("latin-1").ljust(16)  # latin-1 label: not ASCII as EDF asks
    path.write_bytes(bytes(raw))
    rec = load_record(path)
    assert rec.name == "ñandú é" and rec.channel_names == ["Dérivation II"] and rec.format == "EDF"


@pytest.mark.parametrize(("make", "problem"), [
    (lambda t: t / "recs", "is a folder, not a record; pick one of its records, e.g. "),
    (lambda t: str(t / "recs") + "/", "is a folder, not a record"),
    (lambda t: str(t / "recs" / "119") + "/", "path ends with a slash but is not a folder"),
    (lambda t: t / "empty", "is a folder with no records in it"),
    (lambda t: t / "scan.pdf", "unsupported format: PDF files (.pdf) cannot be read; supported: WFDB"),
    (lambda t: t / "ecg.scp", "unsupported format: SCP-ECG files (.scp)"),
    (lambda t: t / "fake.edf", "not an EDF file"),
    (lambda t: t / "empty.edf", "file is empty (0 bytes): no EDF record in it"),
    (lambda t: t / "empty.bdf", "file is empty (0 bytes): no BDF record in it"),
])
def test_paths_that_are_no_record(make, problem, tmp_path, copy_record, capsys):
    from ecgviewer.cli import main

    copy_record("119", tmp_path / "recs")
    (tmp_path / "empty").mkdir()
    for name in ("scan.pdf", "ecg.scp", "fake.edf"):
        (tmp_path / name).write_bytes(b"%PDF-1.4 not an ECG")
    for name in ("empty.edf", "empty.bdf"):
        (tmp_path / name).write_bytes(b"")
    path = make(tmp_path)
    with pytest.raises(RecordError) as info:
        load_record(path)
    message = str(info.value)
    assert "\n" not in message and problem.lower() in message.lower(), message
    assert main(["beats", str(path)]) == 2  # `score` takes folders (a study): tests/test_cli_score.py
    assert capsys.readouterr().err.strip() == f"ecgviewer: error: {message}"
