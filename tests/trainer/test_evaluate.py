"""The evaluation protocol on a tiny synthetic BeatDataset: result files, resumed folds, the report."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

import trainer.evaluate as ev
from trainer.config import recipe_id
from trainer.dataset import BeatDataset
from trainer.splits import DS1, DS2

ROOT = Path(__file__).resolve().parents[2]
DOC_KEYS = {"model", "split", "folds", "mean_auc", "std_auc", "mean_ap", "std_ap", "recipe", "wall_s"}
FOLD_KEYS = {"fold", "auc", "ap", "auc_by_class"}


def _beat(t: np.ndarray, centre: float, width: float, rng: np.random.Generator) -> np.ndarray:
    b = np.exp(-0.5 * ((t - centre) / width) ** 2) + 0.3 * np.exp(-0.5 * ((t - 230) / 25) ** 2)
    b = b + rng.normal(0, 0.03, t.shape)
    return (b - b.min()) / (b.max() - b.min()) * 2 - 1


def fake_dataset(n_n: int = 240, n_s: int = 30, n_v: int = 30, seed: int = 0) -> BeatDataset:
    """N beats: a narrow R wave at 140 and a T wave; S: the same shape, premature; V: wide, premature."""
    rng = np.random.default_rng(seed)
    t = np.arange(320, dtype=float)
    cls = np.array(["N"] * n_n + ["S"] * n_s + ["V"] * n_v)
    rng.shuffle(cls)
    x = np.empty((len(cls), 2, 320), np.float32)
    for i, c in enumerate(cls):
        width = 22.0 if c == "V" else 5.0
        x[i, 0] = _beat(t, 140, width, rng)
        x[i, 1] = _beat(t, 140, width * 1.5, rng)
    records = np.array(DS1[:3] + DS2[:3])
    rr_local = rng.normal(0.8, 0.02, len(cls)).astype(np.float32)
    rr_pre = np.where(cls == "N", rr_local * rng.normal(1, 0.03, len(cls)), rr_local * 0.6).astype(np.float32)
    rr_post = np.where(cls == "N", rr_local * rng.normal(1, 0.03, len(cls)), rr_local * 1.4).astype(np.float32)
    return BeatDataset(x=x, cls=cls, record=records[np.arange(len(cls)) % len(records)],
                       sample=np.arange(len(cls), dtype=np.int64) * 300, rr_pre=rr_pre, rr_post=rr_post,
                       rr_local=rr_local, info={"records": records.tolist()})


@pytest.fixture(scope="module")
def ds() -> BeatDataset:
    return fake_dataset()


def _cfg(small_cfg, **kw):
    return small_cfg(model="beatgan", epochs=1, width=4, batch=32, **kw)


def _check_doc(doc: dict, name: str, split: str, folds: list[int], cfg, n_anomalies: int = 60) -> None:
    assert DOC_KEYS <= doc.keys()
    assert doc["model"] == name and doc["split"] == split
    assert doc["recipe"] == asdict(cfg)
    assert doc["recipe_id"] == recipe_id(cfg)  # the id a model card names its rows by
    assert [f["fold"] for f in doc["folds"]] == folds
    for f in doc["folds"]:
        assert FOLD_KEYS <= f.keys()
        assert 0 <= f["auc"] <= 1 and 0 < f["ap"] <= 1
        assert set(f["auc_by_class"]) == {"S", "V"}
        assert f["n_test"]["S"] + f["n_test"]["V"] == n_anomalies
    aucs = [f["auc"] for f in doc["folds"]]
    assert doc["mean_auc"] == pytest.approx(np.mean(aucs)) and doc["std_auc"] == pytest.approx(np.std(aucs))
    assert doc["mean_ap"] == pytest.approx(np.mean([f["ap"] for f in doc["folds"]]))
    assert doc["wall_s"] == pytest.approx(sum(f["wall_s"] for f in doc["folds"]), abs=0.11)


def test_evaluate_intra_writes_results_and_resumes(ds, small_cfg, tmp_path, monkeypatch):
    cfg = _cfg(small_cfg)
    results, runs = tmp_path / "results", tmp_path / "runs"
    log: list[str] = []
    ev.evaluate(ds, cfg, "intra", results, runs, name="tiny", folds=[0, 1], log=log.append, progress=False)
    mse = json.loads((results / "tiny-intra.json").read_text())
    rr = json.loads((results / "tiny+rr-intra.json").read_text())
    _check_doc(mse, "tiny", "intra", [0, 1], cfg)
    _check_doc(rr, "tiny+rr", "intra", [0, 1], cfg)
    assert (runs / "tiny-intra" / "fold0" / "ckpt.pt").is_file()
    for f in mse["folds"]:
        assert f["precision"] == "fp32"  # what the fold actually trained in, not what was asked
        assert f["final_val_mse_record_mean"] > 0
    # the rhythm term knows S beats are premature: with it, S separates from N
    assert rr["auc_by_class"]["S"]["mean"] > 0.9
    assert rr["auc_by_class"]["S"]["mean"] > mse["auc_by_class"]["S"]["mean"]

    # a rerun skips the finished folds and trains only the new one
    ran: list[int] = []
    real = ev.run_fold

    def spy(ds_, cfg_, split, *a, **k):
        ran.append(split.fold)
        return real(ds_, cfg_, split, *a, **k)

    monkeypatch.setattr(ev, "run_fold", spy)
    before = (results / "tiny-intra.json").read_text()
    ev.evaluate(ds, cfg, "intra", results, runs, name="tiny", folds=[0, 1], log=log.append, progress=False)
    assert ran == [] and (results / "tiny-intra.json").read_text() == before
    assert sum("already done" in line for line in log) == 2
    ev.evaluate(ds, cfg, "intra", results, runs, name="tiny", folds=[0, 1, 2], log=log.append, progress=False)
    assert ran == [2]
    mse2 = json.loads((results / "tiny-intra.json").read_text())
    assert mse2["folds"][:2] == mse["folds"]
    _check_doc(mse2, "tiny", "intra", [0, 1, 2], cfg)

    # the report lists both rows
    out = tmp_path / "results.md"
    p = subprocess.run([sys.executable, "-m", "trainer", "report", "--results", str(results), "--output", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    md = out.read_text()
    assert "## Intra-patient" in md
    assert "| tiny | 3 |" in md and "| tiny+rr | 3 |" in md
    assert f"{mse2['mean_auc']:.4f} ± {mse2['std_auc']:.4f}" in md
    assert "--name tiny" in md


def test_evaluate_inter(ds, small_cfg, tmp_path):
    cfg = _cfg(small_cfg)
    docs = ev.evaluate(ds, cfg, "inter", tmp_path / "results", tmp_path / "runs", log=lambda *_: None,
                       progress=False)
    doc = json.loads((tmp_path / "results" / "beatgan-inter.json").read_text())
    assert doc == docs["mse"]
    in_ds2 = np.isin(ds.record, DS2)
    _check_doc(doc, "beatgan", "inter", [0], cfg, n_anomalies=int((in_ds2 & (ds.cls != "N")).sum()))
    assert (tmp_path / "results" / "beatgan+rr-inter.json").is_file()
    n_test = doc["folds"][0]["n_test"]
    assert sum(n_test.values()) == int(np.isin(ds.record, DS2).sum())


def test_changed_recipe_retrains(ds, small_cfg, tmp_path, monkeypatch):
    cfg = _cfg(small_cfg)
    ev.evaluate(ds, cfg, "intra", tmp_path / "r", tmp_path / "runs", name="x", folds=[0], log=lambda *_: None,
                progress=False)
    steps: list[int] = []
    real = ev.Trainer.train_step
    monkeypatch.setattr(ev.Trainer, "train_step", lambda self, xb: (steps.append(1), real(self, xb))[1])
    ev.evaluate(ds, replace(cfg, lr=cfg.lr * 2), "intra", tmp_path / "r", tmp_path / "runs", name="x", folds=[0],
                log=lambda *_: None, progress=False)
    assert steps, "the new recipe was never trained: its results are the old recipe's model"


def test_self_distilled_model_also_scores_its_ema_teacher(ds, small_cfg, tmp_path):
    cfg = small_cfg(model="si-beatgan", epochs=1, width=4, batch=32)
    log: list[str] = []
    ev.evaluate(ds, cfg, "intra", tmp_path / "r", tmp_path / "runs", name="si", folds=[0], log=log.append,
                progress=False)
    docs = {n: json.loads((tmp_path / "r" / f"{n}-intra.json").read_text())
            for n in ("si", "si+rr", "si-ema", "si-ema+rr")}
    for name, doc in docs.items():
        _check_doc(doc, name, "intra", [0], cfg)
    g, e = docs["si"]["folds"][0], docs["si-ema"]["folds"][0]
    # two different sets of weights: different held-out errors and scores, the same test beats
    assert g["final_val_mse"] != e["final_val_mse"] and g["n_test"] == e["n_test"]
    assert any("EMA teacher" in line for line in log)


def test_plain_beatgan_has_no_ema_rows(ds, small_cfg, tmp_path):
    ev.evaluate(ds, _cfg(small_cfg), "intra", tmp_path / "r", tmp_path / "runs", name="b", folds=[0],
                log=lambda *_: None, progress=False)
    assert sorted(p.name for p in (tmp_path / "r").glob("*.json")) == ["b+rr-intra.json", "b-intra.json"]


def test_record_mean_counts_each_record_once():
    assert ev.record_mean(np.array([1.0, 1.0, 4.0]), np.array(["a", "a", "b"])) == pytest.approx(2.5)
    assert ev.record_mean(np.array([]), np.array([])) is None
