"""``ecgviewer beats RECORD [--detect] [--json|--csv]``, run as a user runs it: in a subprocess."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

wfdb = pytest.importorskip("wfdb")

BEAT_KEYS = {"sample", "time", "symbol", "class", "rr_pre", "rr_post", "centre"}  # centre: the window's fiducial point
BEAT_SYMBOLS = list("NLRBAaJSVrFejnE/fQ?")


def _reference(mitdb, name="119"):
    ann = wfdb.rdann(str(mitdb / name), "atr")
    keep = np.isin(ann.symbol, BEAT_SYMBOLS)
    sample = np.asarray(ann.sample)[keep]
    symbol = np.asarray(ann.symbol, dtype=object)[keep]
    fits = (sample >= 140) & (sample + 180 <= 650000)
    return sample[fits], symbol[fits]


def test_json_shape_with_reference_annotations(mitdb, run_cli):
    proc = run_cli("beats", str(mitdb / "119"), "--json")
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert {"record", "fs", "leads", "beats"} <= set(payload)
    assert payload["record"] == "119"
    assert payload["fs"] == 360.0
    assert payload["leads"] == ["MLII"]
    sample, symbol = _reference(mitdb)
    beats = payload["beats"]
    assert len(beats) == len(sample)
    assert all(set(b) == BEAT_KEYS for b in beats)
    assert [b["sample"] for b in beats] == sample.tolist()
    assert [b["symbol"] for b in beats] == symbol.tolist()
    assert {b["class"] for b in beats} == {"N", "V"}  # 119: normal beats and PVCs
    assert beats[0]["rr_pre"] is None and beats[-1]["rr_post"] is None  # no neighbour: null, not NaN
    b = beats[1]
    assert b["time"] == pytest.approx(b["sample"] / 360, abs=1e-4)
    # RR intervals between the window centres (one fiducial point, core/fiducial.py), near the marks'
    centre = [x["centre"] for x in beats[:3]]
    assert b["rr_pre"] == pytest.approx((centre[1] - centre[0]) / 360, abs=1e-4)
    assert b["rr_post"] == pytest.approx((centre[2] - centre[1]) / 360, abs=1e-4)
    assert b["rr_pre"] == pytest.approx((sample[1] - sample[0]) / 360, abs=0.03)


def test_json_with_detector_has_null_class(mitdb, run_cli):
    proc = run_cli("beats", str(mitdb / "119.hea"), "--detect", "--json")
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    beats = payload["beats"]
    sample, _ = _reference(mitdb)
    assert abs(len(beats) - len(sample)) <= 0.01 * len(sample)
    assert all(set(b) == BEAT_KEYS for b in beats)
    assert all(b["class"] is None and b["symbol"] is None for b in beats)
    assert all(isinstance(b["sample"], int) for b in beats)


def test_csv_parses(mitdb, run_cli):
    proc = run_cli("beats", str(mitdb / "114.dat"), "--csv")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    sample, symbol = _reference(mitdb, "114")
    assert set(rows[0]) == BEAT_KEYS
    assert [int(r["sample"]) for r in rows] == sample.tolist()
    assert [r["symbol"] for r in rows] == symbol.tolist()
    assert rows[0]["rr_pre"] == "" and float(rows[1]["rr_pre"]) > 0
    assert all(float(r["time"]) == pytest.approx(int(r["sample"]) / 360, abs=1e-4) for r in rows[:50])


def test_two_leads_and_plain_text(mitdb, run_cli):
    proc = run_cli("beats", str(mitdb / "114"), "--leads", "2")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split("\t") == ["time", "sample", "symbol", "class", "rr_pre", "rr_post"]
    assert "leads MLII, V5" in proc.stdout
    assert json.loads(lines[-1].removeprefix("summary: "))["beats"] == len(_reference(mitdb, "114")[0])


def test_bad_input_is_one_line_without_traceback(tmp_path, run_cli, helpers):
    proc = run_cli("beats", str(tmp_path / "missing"), "--json")
    assert proc.returncode == 2 and proc.stdout == ""
    helpers.assert_one_line_error(proc, str(tmp_path / "missing.hea"), "not found")


def test_usage_errors_exit_non_zero(run_cli):
    proc = run_cli("beats")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    proc = run_cli("beats", "x", "--json", "--csv")
    assert proc.returncode != 0 and "not allowed with" in proc.stderr


def _beatless_atr(folder, name="119"):
    """An annotation file with rhythm and noise marks only, no beat."""
    wfdb.wrann(name, "atr", np.array([10, 5000]), np.array(["+", "~"]), aux_note=["(N", ""], write_dir=str(folder))


@pytest.mark.parametrize(("make", "why"), [
    (lambda f: (f / "119.atr").write_bytes(b""), "is empty"),
    (_beatless_atr, "holds no beat annotations, only 2 of other kinds"),
])
def test_annotation_file_without_beats(make, why, tmp_path, copy_record, run_cli, helpers):
    """Named with --annotator: refused. Found by default: the detector's beats, and a note says so."""
    base = copy_record("119", tmp_path, exts=("hea", "dat"))
    make(tmp_path)
    atr = base.with_suffix(".atr")
    err = helpers.assert_one_line_error(run_cli("beats", str(base), "--annotator", "atr", "--json"))
    assert err == f"ecgviewer: error: {atr}: annotation file {why}: no beats to take (annotator 'atr')"

    proc = run_cli("beats", str(base), "--json")
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    note = f"119.atr {why}: beats from the QRS detector"
    assert payload["source"] == "detector" and len(payload["beats"]) > 1900
    assert payload["notes"] == [note] and payload["summary"]["notes"] == [note]
    text = run_cli("beats", str(base)).stdout.splitlines()
    assert text[-2] == f"119: {len(payload['beats'])} beats (detector), fs 360 Hz, leads MLII ({note})"
    proc = run_cli("beats", str(base), "--detect", "--json")  # asked for the detector: nothing to say
    assert proc.returncode == 0 and json.loads(proc.stdout)["notes"] == []


def test_annotations_of_a_normal_record_give_no_note(mitdb, run_cli):
    proc = run_cli("beats", str(mitdb / "119"), "--annotator", "atr", "--json")
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["source"] == "reference" and payload["notes"] == [] and "notes" not in payload["summary"]
