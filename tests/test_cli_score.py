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
