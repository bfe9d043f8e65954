"""The same record as WFDB, EDF+, BDF+ and ISHNE: same samples (within each format's step), same beats, same scores.

MIT-BIH 119 and 208, first 5 minutes, are written here in each format: WFDB by wfdb (the
original digital samples), EDF+/BDF+ by edfio (beats as EDF+ annotations) and ISHNE by our writer
(with the .atr beside it as a WFDB annotation sidecar). Scores go through the real path: the
Scorer the viewer uses, and ``python -m ecgviewer score FILE --json`` for one record per format.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from ecgviewer.core.formats.edf import write_edf
from ecgviewer.core.formats.ishne import write_ishne
from ecgviewer.core.record import load_record

wfdb = pytest.importorskip("wfdb")
pytest.importorskip("edfio")

N = 300 * 360  # 5 minutes at 360 Hz
STEP_MV = 1 / 200  # MIT-BIH: 200 adu per mV
RECORDS = ("119", "208")


@pytest.fixture(scope="module")
def converted(tmp_path_factory, mitdb):
    """{(record, format): path} for 5-minute copies of 119 and 208 in every format."""
    root = tmp_path_factory.mktemp("formats")
    out = {}
    for name in RECORDS:
        w = root / "wfdb"
        w.mkdir(exist_ok=True)
        rec = wfdb.rdrecord(str(mitdb / name), sampto=N, physical=False)
        rec.record_name = name
        rec.wrsamp(write_dir=str(w), expanded=False)
        ann = wfdb.rdann(str(mitdb / name), "atr", sampto=N - 1)
        wfdb.wrann(name, "atr", ann.sample, np.array(ann.symbol), write_dir=str(w))
        ref = load_record(w / name)
        for fmt in ("edf", "edf-range", "bdf", "ishne", "plain-edf"):
            (root / fmt).mkdir(exist_ok=True)
        write_edf(root / "edf" / f"{name}.edf", ref, ref.annotations, resolution_mv=STEP_MV)
        write_edf(root / "edf-range" / f"{name}.edf", ref, ref.annotations)  # step = channel range / 65535
        write_edf(root / "bdf" / f"{name}.bdf", ref, ref.annotations, bdf=True)
        write_edf(root / "plain-edf" / f"{name}.edf", ref, resolution_mv=STEP_MV)  # no EDF+ beats: the .atr sidecar gives them
        shutil.copy(w / f"{name}.atr", root / "plain-edf" / f"{name}.atr")
        write_ishne(root / "ishne" / f"{name}.ecg", ref.signal, ref.fs, ref.channel_names, resolution_nv=5000)
        shutil.copy(w / f"{name}.atr", root / "ishne" / f"{name}.atr")
        out.update({(name, "wfdb"): w / name, (name, "edf"): root / "edf" / f"{name}.edf",
                    (name, "edf-range"): root / "edf-range" / f"{name}.edf", (name, "bdf"): root / "bdf" / f"{name}.bdf",
                    (name, "plain-edf"): root / "plain-edf" / f"{name}.edf",
                    (name, "ishne"): root / "ishne" / f"{name}.ecg"})
    return out


@pytest.fixture(scope="module")
def scorer():
    from ecgviewer.core.scorer import Scorer

    return Scorer.load()


@pytest.fixture(scope="module")
def scored(converted, scorer):
    """``scored(name, fmt, detect)`` -> (beats, scores), each computed once for the module."""
    cache = {}

    def get(name, fmt, detect=False):
        key = (name, fmt, detect)
        if key not in cache:
            beats = scorer.beats(load_record(converted[name, fmt]), detect=detect)
            cache[key] = (beats, scorer.score(beats).score)
        return cache[key]

    return get


@pytest.mark.parametrize("name", RECORDS)
@pytest.mark.parametrize(("fmt", "kind", "step"), [
    ("edf", "EDF+", 1e-6),  # the MIT-BIH step itself: exact up to float32 rounding
    ("bdf", "BDF+", None),  # channel range / (2**24 - 1)
    ("edf-range", "EDF+", None),  # channel range / 65535
    ("ishne", "ISHNE", 1e-6),  # 5000 nV = the MIT-BIH step
])
def test_samples_names_and_annotations_survive(converted, name, fmt, kind, step):
    ref = load_record(converted[name, "wfdb"])
    rec = load_record(converted[name, fmt])
    assert rec.format == kind and rec.name == name and rec.fs == 360.0
    assert rec.path == converted[name, fmt].with_suffix("") and rec.source == converted[name, fmt]
    assert rec.signal.shape == ref.signal.shape and rec.signal.dtype == np.float32
    assert rec.units == ["mV", "mV"]
    if step is None:  # half the format's step over the channel's range
        span = np.nanmax(ref.signal, axis=0) - np.nanmin(ref.signal, axis=0)
        step = span / (2 ** (24 if fmt == "bdf" else 16) - 1) / 2 + 1e-6
    assert np.all(np.abs(rec.signal - ref.signal) <= step)
    # lead names in the project's spelling: EDF+ "ECG MLII" -> MLII; ISHNE has no MLII code -> II
    expected = ["II" if n == "MLII" else n for n in ref.channel_names] if fmt == "ishne" else ref.channel_names
    assert rec.channel_names == expected
    assert rec.model_leads(2) == ref.model_leads(2) == [0, 1]
    np.testing.assert_array_equal(rec.annotations.sample, ref.annotations.sample)
    assert list(rec.annotations.symbol) == list(ref.annotations.symbol)
    assert rec.annotations.annotator == ("edf+" if fmt != "ishne" else "atr")


@pytest.mark.parametrize("name", RECORDS)
@pytest.mark.parametrize("detect", [False, True], ids=["reference beats", "detector"])
@pytest.mark.parametrize("fmt", ["edf", "ishne", "plain-edf"])
def test_same_beats_and_scores(scored, name, fmt, detect):
    b0, s0 = scored(name, "wfdb", detect)
    b1, s1 = scored(name, fmt, detect)
    assert b1.source == ("detector" if detect else "reference")
    assert len(b0) > 300
    np.testing.assert_array_equal(b1.sample, b0.sample)
    np.testing.assert_array_equal(b1.cls, b0.cls)
    # the samples are exact: only float32 rounding differs ((d - base) / gain vs d * step)
    np.testing.assert_allclose(b1.x, b0.x, atol=1e-5)
    np.testing.assert_allclose(s1, s0, rtol=1e-3, atol=1e-6)


def test_range_scaled_edf_gives_the_same_beats(scored):
    """EDF at range / 65535 (how most exporters write): same beats; the windows within its step."""
    b0, _ = scored("208", "wfdb")
    b1, _ = scored("208", "edf-range")
    np.testing.assert_array_equal(b1.sample, b0.sample)
    assert np.abs(b1.x - b0.x).max() < 1e-2  # min-max scaled windows of a signal off by < 0.1 µV


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["edf", "ishne"])
def test_cli_score_json_matches_the_wfdb_record(scored, converted, run_cli, fmt):
    proc = run_cli("score", str(converted["119", fmt]), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    beats, scores = scored("119", "wfdb")
    assert out["record"] == "119" and out["source"] == "reference"
    assert [b["sample"] for b in out["beats"]] == beats.sample.tolist()
    assert [b["symbol"] for b in out["beats"]] == beats.symbol.tolist()
    np.testing.assert_allclose([b["score"] for b in out["beats"]], scores, rtol=1e-3)


def test_edf_plus_non_beat_annotations_and_other_rates(tmp_path, mitdb):
    """Text annotations become comments, not beats; a channel at another rate is left out and named."""
    import edfio

    x = load_record(mitdb / "119", annotator=None).signal[: 20 * 360].astype(np.float64)
    sigs = [edfio.EdfSignal(x[:, 0], 360, label="ECG II", physical_dimension="uV", physical_range=(-6000, 6000)),
            edfio.EdfSignal(x[:, 1], 360, label="EKG V1", physical_dimension="mV", physical_range=(-6, 6)),
            edfio.EdfSignal(np.zeros(20 * 32), 32, label="Accel", physical_dimension="g", physical_range=(-2, 2))]
    sigs[0].update_data(x[:, 0] * 1000)
    anns = [edfio.EdfAnnotation(1.0, None, "N"), edfio.EdfAnnotation(2.0, 3.0, "Lead off, patient moved é"),
            edfio.EdfAnnotation(2.5, None, "V")]
    edfio.Edf(sigs, annotations=anns).write(tmp_path / "mixed.edf")
    rec = load_record(tmp_path / "mixed.edf")
    assert rec.channel_names == ["II", "V1"] and rec.units == ["mV", "mV"]
    np.testing.assert_allclose(rec.signal[:, 0], x[:, 0], atol=12000 / 65535)  # µV read as mV
    assert any("Accel (32 Hz)" in c for c in rec.comments)
    assert list(rec.annotations.sample) == [360, 720, 900]
    assert list(rec.annotations.symbol) == ["N", '"', "V"]
    assert rec.annotations.aux_note[1].startswith("Lead off")


def test_a_polysomnography_edf_keeps_and_reads_its_ecg(tmp_path, mitdb):
    """An EEG in channel 0 at 256 Hz and the ECG labelled 'ECG L' at 360 Hz: the ECG is the lead
    kept and read (it was left out as 'another rate', and the EEG scored as the ECG)."""
    import edfio

    from ecgviewer.core.leads import model_leads

    x = load_record(mitdb / "119", annotator=None).signal[: 20 * 360, 0].astype(np.float64)
    sigs = [edfio.EdfSignal(np.zeros(20 * 256), 256, label="EEG C3-M2", physical_dimension="uV",
                            physical_range=(-500, 500)),
            edfio.EdfSignal(np.zeros(20 * 256), 256, label="SpO2", physical_dimension="%", physical_range=(0, 100)),
            edfio.EdfSignal(x, 360, label="ECG L", physical_dimension="mV", physical_range=(-6, 6))]
    edfio.Edf(sigs).write(tmp_path / "psg.edf")
    rec = load_record(tmp_path / "psg.edf")
    assert rec.fs == 360 and rec.channel_names == ["ECG L"]
    assert any("EEG C3-M2 (256 Hz)" in c for c in rec.comments)
    leads, note = model_leads(rec.channel_names)
    assert leads == [0] and "ECG L" in note  # scored on it, and the record says it is not MLII


@pytest.mark.parametrize("label, lead, ecg", [
    ("ECG Lead II", "II", True), ("ECG L", "ECG L", True), ("EKG1", "EKG1", True), ("ECG1-ECG2", "ECG1-ECG2", True),
    ("CM5", "CM5", True), ("EEG C3-M2", "EEG C3-M2", False), ("SpO2", "SpO2", False), ("Resp", "Resp", False),
    ("record 308, signal 0", "record 308, signal 0", False)])
def test_lead_labels(label, lead, ecg):
    from ecgviewer.core.formats.base import is_ecg_label, lead_name

    assert lead_name(label) == lead and is_ecg_label(label) == ecg


def test_wfdb_lead_names_are_spelled_as_in_every_format(tmp_path, mitdb):
    """A WFDB header naming its leads 'ECG V1', 'ECG II' reads as V1, II, as the EDF of it does, and
    the model reads II (it read V1, the first channel, before)."""
    for ext in ("dat", "atr"):
        shutil.copy(mitdb / f"100.{ext}", tmp_path / f"100.{ext}")
    hea = (mitdb / "100.hea").read_text().replace(" MLII", " ECG II").replace(" V5", " ECG V1")
    lines = hea.splitlines()
    lines[1], lines[2] = lines[2], lines[1]  # the chest lead first
    (tmp_path / "100.hea").write_text("\n".join(lines) + "\n")
    rec = load_record(tmp_path / "100")
    assert rec.channel_names == ["V1", "II"] and rec.model_leads(1) == [1]


def test_annotations_beyond_an_excerpt_are_left_out_and_said(tmp_path, mitdb):
    """An ISHNE excerpt of 100's first 60 s beside the whole record's 100.atr: beats past its end
    are left out (they counted as 'edge' beats) and a comment says how many."""
    from ecgviewer.core.beats import extract_beats

    rec = load_record(mitdb / "100", annotator=None)
    write_ishne(tmp_path / "100.ecg", rec.signal[: 60 * 360], 360.0, rec.channel_names)
    shutil.copy(mitdb / "100.atr", tmp_path / "100.atr")
    short = load_record(tmp_path / "100.ecg")
    assert short.annotations.sample.max() < 60 * 360
    assert any("lie outside the record" in c for c in short.comments)
    assert extract_beats(short).skipped.get("edge", 0) < 5


def test_an_unreadable_file_says_so(tmp_path, monkeypatch):
    import builtins

    from ecgviewer.core.errors import RecordError

    f = tmp_path / "x.edf"
    f.write_bytes(b"0       " + b" " * 248)
    real_open = builtins.open

    def no_access(path, *a, **k):
        if str(path) == str(f):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *a, **k)

    monkeypatch.setattr(builtins, "open", no_access)
    with pytest.raises(RecordError, match="cannot open the file: Permission denied"):
        load_record(f)


def test_explicit_annotator_beside_an_edf(converted, run_cli, tmp_path):
    """``--annotator atr`` takes the sidecar; a named annotator that is missing is refused in one line."""
    proc = run_cli("beats", str(converted["119", "plain-edf"]), "--annotator", "atr", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["source"] == "reference"
    proc = run_cli("beats", str(converted["119", "plain-edf"]), "--annotator", "xyz")
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and "119.xyz: annotation file not found" in err and "annotators here: atr" in err


def test_record_name_without_extension_finds_the_edf(converted):
    """Recent files keep the path without extension; it must open the EDF or ISHNE file again."""
    for fmt in ("edf", "ishne"):
        rec = load_record(converted["119", fmt].with_suffix(""))
        assert rec.source == converted["119", fmt]


@pytest.mark.parametrize("fmt", ["edf", "ishne"])
def test_review_sidecar_beside_an_edf_or_ishne_record(converted, tmp_path, fmt, helpers, monkeypatch):
    """Reviews go to ``<stem>.rev`` (a WFDB annotation file) beside the record, never into it."""
    from ecgviewer.core import review
    from ecgviewer.core.review import LoadStatus, ReviewState, ReviewStore

    folder = tmp_path / fmt
    folder.mkdir()
    src = converted["119", fmt]
    for f in src.parent.glob("119.*"):  # the record and, for ISHNE, its .atr
        shutil.copy(f, folder / f.name)
    rec = load_record(folder / src.name)
    beats = rec.annotations.sample
    original = (folder / src.name).read_bytes()
    store = ReviewStore.for_record(rec, beats)
    assert store.load_result.status is LoadStatus.NEW
    store.set(int(beats[10]), ReviewState.CONFIRMED, "PVC, checked é")
    assert store.save_path == folder / "119.rev"
    assert (folder / src.name).read_bytes() == original
    ann = wfdb.rdann(str(folder / "119"), "rev")  # readable by WFDB tools
    assert int(beats[10]) in ann.sample
    again = ReviewStore.for_record(load_record(folder / src.name), beats)
    assert again.load_result.status is LoadStatus.RESTORED
    assert again.get(int(beats[10])).note == "PVC, checked é"

    # a folder that cannot be written: the same file in the data directory, the record untouched
    monkeypatch.setenv("ECGVIEWER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(review, "dir_writable", lambda folder: False)
    (folder / "119.rev").unlink()
    before = helpers.snapshot(folder)
    ro = ReviewStore.for_record(rec, beats)
    ro.set(int(beats[3]), ReviewState.DISMISSED)
    assert ro.in_data_dir and ro.save_path.is_file() and ro.save_path.name == "119.rev"
    assert helpers.snapshot(folder) == before


def test_open_dialog_filter_lists_every_format():
    from ecgviewer.core.formats import SUPPORTED, dialog_filter, record_extensions

    text = dialog_filter()
    first = text.split(";;")[0]
    for ext in (".hea", ".dat", ".edf", ".bdf", ".ecg"):
        assert f"*{ext}" in first and f"*{ext.upper()}" in first  # Linux dialogs match case-sensitively
        assert ext in record_extensions()
    assert all(name in text for name in SUPPORTED) and text.endswith("All files (*)")


def test_edf_plus_beats_come_before_an_atr_beside_it(converted, tmp_path):
    """An EDF+ file's own beats win over a stray .atr; ``--annotator atr`` asks for the sidecar."""
    shutil.copy(converted["119", "edf"], tmp_path / "119.edf")
    wfdb.wrann("119", "atr", np.array([1000, 2000]), np.array(["V", "V"]), write_dir=str(tmp_path))
    assert len(load_record(tmp_path / "119.edf").annotations) > 300
    side = load_record(tmp_path / "119.edf", annotator="atr", annotator_required=True).annotations
    assert side.annotator == "atr" and list(side.sample) == [1000, 2000]


def test_write_edf_fills_the_last_part_second(converted, tmp_path):
    ref = load_record(converted["119", "wfdb"])
    short = ref.signal[: N - 200]
    from ecgviewer.core.formats.base import Record

    write_edf(tmp_path / "x.edf", Record("x", tmp_path / "x", ref.fs, short, ref.channel_names, ref.units),
              resolution_mv=STEP_MV)
    back = load_record(tmp_path / "x.edf")
    assert back.n_samples == N  # 200 samples short of 5 min: filled up to the 300th second
    np.testing.assert_allclose(back.signal[: N - 200], short, atol=1e-6)
    assert (back.signal[N - 200:] == back.signal[N - 201]).all()


def test_edf_plus_without_beat_annotations_takes_the_atr(converted, tmp_path):
    import edfio

    ref = load_record(converted["119", "wfdb"])
    sigs = [edfio.EdfSignal(ref.signal[:, c].astype(np.float64), 360, label=f"ECG {n}", physical_dimension="mV",
                            physical_range=(-6, 6)) for c, n in enumerate(ref.channel_names)]
    edfio.Edf(sigs, annotations=[edfio.EdfAnnotation(5.0, None, "Patient walking")]).write(tmp_path / "119.edf")
    assert load_record(tmp_path / "119.edf").annotations.symbol.tolist() == ['"']  # a comment, no beats
    shutil.copy(converted["119", "wfdb"].with_suffix(".atr"), tmp_path / "119.atr")
    rec = load_record(tmp_path / "119.edf")
    assert rec.annotations.annotator == "atr"
    np.testing.assert_array_equal(rec.annotations.sample, ref.annotations.sample)
