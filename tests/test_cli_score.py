"""``ecgviewer score``: its JSON and CSV agree with the Scorer; overrides; bad input exits 2 cleanly.

The model is a tiny one trained here (width 8, 512 N beats of MIT-BIH record 100, one epoch).
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from testdata import MITDB, MITDB_MISSING, have_mitdb

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "samples" / "119"  # MIT-BIH 119: N and V beats, reference annotations


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ecgviewer", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    if not have_mitdb("100"):
        pytest.skip(MITDB_MISSING)
    from ecgviewer.core.beats import BeatParams, extract_beats
    from ecgviewer.core.record import load_record
    from ecgviewer.core.scoring import score_beats
    from trainer.config import MachineConfig, TrainConfig
    from trainer.export import save_model, untrained_card
    from trainer.train import Trainer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        b = extract_beats(load_record(MITDB / "100"), BeatParams(n_leads=1))
        x = b.x[b.cls == "N"][:512]
        cfg = TrainConfig(model="beatgan", width=8, latent=16, batch=64, epochs=1, lr=2e-3)
        tr = Trainer(cfg, x, None, tmp_path_factory.mktemp("run"), log=lambda *_: None,
                     machine=MachineConfig(device="cpu", threads=1))
        tr.fit(progress=False)
        g = tr.G.eval()
        # a threshold that flags about a fifth of the sample record's beats
        scores = score_beats(g, extract_beats(load_record(SAMPLE), BeatParams(n_leads=1))).score
        card = untrained_card("test", threshold=float(np.quantile(scores, 0.8)))
        return save_model(g, card, tmp_path_factory.mktemp("model") / "tiny", onnx=False)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def expected(tiny_model):
    from ecgviewer.core.record import load_record
    from ecgviewer.core.scorer import Scorer

    scorer = Scorer.load(tiny_model)
    beats = scorer.beats(load_record(SAMPLE))
    return scorer, beats, scorer.score(beats)


def test_json_matches_scorer(tiny_model, expected):
    scorer, beats, result = expected
    p = _run("score", str(SAMPLE), "--model", str(tiny_model), "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    thr = scorer.threshold
    assert out["threshold"] == thr
    assert out["model"]["name"] == "test" and out["model"]["version"] == "0"
    assert Path(out["model"]["path"]) == tiny_model
    assert out["model"]["backend"] == "torch"  # torch is installed; ECGVIEWER_BACKEND=onnx would say onnx
    rows = out["beats"]
    assert [r["sample"] for r in rows] == beats.sample.tolist()
    assert [r["class"] or "" for r in rows] == beats.cls.tolist()
    got = np.array([r["score"] for r in rows])
    assert np.max(np.abs(got - result.score)) <= 1e-6
    flagged = np.array([r["flagged"] for r in rows])
    assert np.array_equal(flagged, result.score >= thr)
    assert 0 < flagged.sum() < len(rows)
    s = out["summary"]
    assert s["beats"] == len(beats) and s["flagged"] == int(flagged.sum())
    anomalous, normal = beats.cls == "V", beats.cls == "N"  # record 119 has N and V beats only
    assert anomalous.any() and normal.any() and (anomalous | normal).all()
    assert s["sensitivity"] == pytest.approx(flagged[anomalous].mean())
    assert s["specificity"] == pytest.approx(1 - flagged[normal].mean())
    assert s["reference_anomalies"] == int(anomalous.sum())


def test_threshold_override(tiny_model, expected):
    _, beats, result = expected
    thr = float(np.quantile(result.score, 0.5))
    p = _run("score", str(SAMPLE), "--model", str(tiny_model), "--json", "--threshold", repr(thr))
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["threshold"] == thr
    flagged = np.array([r["flagged"] for r in out["beats"]])
    assert np.array_equal(flagged, result.score >= thr)
    assert out["summary"]["flagged"] == int((result.score >= thr).sum())


def test_csv_parses(tiny_model, expected):
    scorer, beats, result = expected
    p = _run("score", str(SAMPLE), "--model", str(tiny_model), "--csv")
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    assert len(rows) == len(beats)
    assert {"sample", "time", "class", "score", "flagged"} <= rows[0].keys()
    assert [int(r["sample"]) for r in rows] == beats.sample.tolist()
    assert np.max(np.abs(np.array([float(r["score"]) for r in rows]) - result.score)) <= 1e-6
    assert [r["flagged"] == "True" for r in rows] == (result.score >= scorer.threshold).tolist()


def test_bad_model_path_exits_2(tmp_path):
    p = _run("score", str(SAMPLE), "--model", str(tmp_path / "no-such-model.json"), "--json")
    assert p.returncode == 2
    assert p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ecgviewer: error:") and "not found" in lines[0]
    assert "Traceback" not in p.stderr


def test_bad_cards_exit_2_in_process(tiny_model, tmp_path, capsys):
    """Cards that load_model used to accept and scoring then tripped over: a clean error instead."""
    from ecgviewer.cli import main

    card = json.loads(tiny_model.read_text())
    for name, edit in (("no-threshold", lambda c: c.pop("threshold")),
                       ("two-leads", lambda c: c["preprocessing"].update(n_leads=2))):
        c = json.loads(json.dumps(card))
        edit(c)
        c["weights"]["file"] = str(tiny_model.with_suffix(".pt").name)
        (tiny_model.parent / f"{name}.json").write_text(json.dumps(c))
        rc = main(["score", str(SAMPLE), "--model", str(tiny_model.parent / f"{name}.json"), "--json"])
        err = capsys.readouterr().err
        assert rc == 2, name
        assert len(err.strip().splitlines()) == 1 and err.startswith("ecgviewer: error:"), err


def test_folder_mode_matches_single_records(tiny_model, copy_record, tmp_path):
    """A folder is scored in one process, record by record, exactly as each record alone."""
    folder = tmp_path / "study"
    copy_record("100", folder)
    copy_record("119", folder)
    p = _run("score", str(folder), "--model", str(tiny_model), "--json")
    assert p.returncode == 0, p.stderr
    many = json.loads(p.stdout)
    assert [o["record"] for o in many] == ["100", "119"]
    assert "1/2 100" in p.stderr and "2/2 119" in p.stderr  # progress on stderr
    for o in many:
        single = _run("score", str(folder / o["record"]), "--model", str(tiny_model), "--json")
        assert json.loads(single.stdout) == o
    p = _run("score", str(folder / "100"), str(folder / "119"), "--model", str(tiny_model), "--summary")
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    assert [s["record"] for s in lines] == ["100", "119"]
    assert [s["flagged"] for s in lines] == [o["summary"]["flagged"] for o in many]
    assert [s["beats"] for s in lines] == [o["summary"]["beats"] for o in many]


def test_empty_folder_exits_2(tmp_path):
    p = _run("score", str(tmp_path), "--json")
    assert p.returncode == 2 and "no records in it" in p.stderr and "Traceback" not in p.stderr


def test_robust_card_keeps_the_raw_score_and_names_the_lead(copy_record, tmp_path):
    """The worktree's bundled card (robust_score rule) on MIT-BIH 102, recorded with V5 and V2."""
    card = ROOT / "resources" / "models" / "si-beatgan-v2.json"
    rec = copy_record("102", tmp_path)
    p = _run("score", str(rec), "--model", str(card), "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["leads"] == ["V5"] and "V5" in out["lead_note"] and "MLII" in out["summary"]["lead_note"]
    assert out["threshold"] == json.loads(card.read_text())["robust_score"]["threshold"]
    assert out["raw_threshold"] == json.loads(card.read_text())["threshold"]["value"]
    rows = out["beats"]
    assert all({"score", "raw_score", "centre", "sample"} <= r.keys() for r in rows)
    assert any(r["score"] != r["raw_score"] for r in rows)
    text = _run("score", str(rec), "--model", str(card))
    assert "V5" in text.stdout.splitlines()[-2]  # the headline says which lead was read


@pytest.fixture
def mixed_study(copy_record, tmp_path) -> Path:
    """A study folder: MIT-BIH 100, a record 110 whose .dat is cut to 1001 bytes, and 119."""
    folder = tmp_path / "mixed"
    copy_record("100", folder)
    broken = copy_record("101", folder, new_name="110")
    dat = broken.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:1001])
    copy_record("119", folder)
    return folder


def _score(capsys, *args: str) -> tuple[int, str, str]:
    from ecgviewer.cli import main

    rc = main(["score", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_study_scores_every_record_past_a_broken_one(tiny_model, mixed_study, capsys):
    """A record that fails is said on stderr and marked in the output; the rest are scored; exit 2."""
    model = ("--model", str(tiny_model))
    rc, out, err = _score(capsys, str(mixed_study), "--summary", *model)
    rows = [json.loads(line) for line in out.splitlines()]
    assert rc == 2 and [r["record"] for r in rows] == ["100", "110", "119"]
    assert rows[1]["failed"] is True and "110.dat: signal file is truncated" in rows[1]["error"]
    assert rows[1]["threshold"] == rows[0]["threshold"]
    assert rows[0]["beats"] > 2000 and rows[2]["beats"] > 1900 and "failed" not in rows[2]
    failed = [ln for ln in err.splitlines() if "110" in ln]
    assert failed[0].startswith("ecgviewer: error: 2/3 110: ") and "truncated" in failed[0]
    assert err.splitlines()[-1] == "ecgviewer: error: 1 of 3 records could not be scored: 110"
    assert "3/3 119" in err and "Traceback" not in err

    rc, out, err = _score(capsys, str(mixed_study), "--json", *model)
    many = json.loads(out)
    assert rc == 2 and [o["record"] for o in many] == ["100", "110", "119"]
    assert many[1] == {"record": "110", "failed": True, "error": rows[1]["error"]}
    assert many[0]["summary"]["flagged"] == rows[0]["flagged"] and len(many[2]["beats"]) == rows[2]["beats"]

    rc, out, err = _score(capsys, str(mixed_study / "100"), str(mixed_study / "110.hea"), *model)
    assert rc == 2 and [ln.split(":")[0] for ln in out.splitlines()] == ["100"]
    assert "ecgviewer: error: 2/2 110: " in err


def test_study_refuses_a_missing_path_before_scoring(tiny_model, copy_record, tmp_path, capsys):
    rec = copy_record("100", tmp_path / "study")
    rc, out, err = _score(capsys, str(rec), str(tmp_path / "nonexistent" / "x"), "--model", str(tiny_model))
    assert rc == 2 and out == ""
    assert err.strip() == f"ecgviewer: error: {tmp_path / 'nonexistent' / 'x'}: no such record or file (nothing was scored)"


def test_one_record_fails_as_before(tiny_model, mixed_study, capsys):
    """One record, with or without --summary: its error alone, exit 2, nothing on stdout."""
    for extra in ((), ("--summary",), ("--json",)):
        rc, out, err = _score(capsys, str(mixed_study / "110"), "--model", str(tiny_model), *extra)
        assert rc == 2 and out == "", extra
        assert [ln for ln in err.splitlines() if "error" in ln] == [
            f"ecgviewer: error: {mixed_study / '110.dat'}: signal file is truncated: 1001 bytes, header implies 1950000"]


def test_study_csv_is_one_table_with_a_record_column(tiny_model, mixed_study, capsys):
    rc, out, err = _score(capsys, str(mixed_study), "--csv", "--model", str(tiny_model))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rc == 2 and "ecgviewer: error: 2/3 110: " in err
    assert list(rows[0]) == ["record", "sample", "time", "symbol", "class", "rr_pre", "rr_post", "centre", "score",
                             "raw_score", "flagged"]
    assert sorted({r["record"] for r in rows}) == ["100", "119"]
    rc, single, _ = _score(capsys, str(mixed_study / "119"), "--csv", "--model", str(tiny_model))
    alone = list(csv.DictReader(io.StringIO(single)))
    assert [{k: v for k, v in r.items() if k != "record"} for r in rows if r["record"] == "119"] == alone


def test_summary_with_csv_is_refused(tiny_model, capsys):
    rc, out, err = _score(capsys, str(SAMPLE), "--summary", "--csv", "--model", str(tiny_model))
    assert rc == 2 and out == ""
    assert err.startswith("ecgviewer: error: --summary") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_threshold_must_be_finite(value):
    p = _run("score", str(SAMPLE), f"--threshold={value}", "--json")
    assert p.returncode == 2 and p.stdout == "" and "Traceback" not in p.stderr
    assert f"argument --threshold: must be a finite number, not '{value}'" in p.stderr


def test_detector_fallback_is_noted_in_the_score(tiny_model, copy_record, tmp_path, capsys):
    """An empty .atr beside the record: the detector's beats, said in headline, JSON and summary."""
    rec = copy_record("119", tmp_path, exts=("hea", "dat"))
    rec.with_suffix(".atr").write_bytes(b"")
    note = "119.atr is empty: beats from the QRS detector"
    rc, out, _ = _score(capsys, str(rec), "--json", "--model", str(tiny_model))
    payload = json.loads(out)
    assert rc == 0 and payload["source"] == "detector"
    assert payload["notes"] == [note] and payload["summary"]["notes"] == [note]
    rc, out, _ = _score(capsys, str(rec), "--summary", "--model", str(tiny_model))
    assert rc == 0 and json.loads(out)["notes"] == [note]
    rc, out, _ = _score(capsys, str(rec), "--model", str(tiny_model))
    assert rc == 0 and out.splitlines()[-2].endswith(f"({note})")
    rc, out, err = _score(capsys, str(rec), "--annotator", "atr", "--model", str(tiny_model))
    assert rc == 2 and out == ""
    assert err.strip() == (f"ecgviewer: error: {rec.with_suffix('.atr')}: annotation file is empty: no beats to take "
                           "(annotator 'atr')")
