"""The bundled-model export: card, hash-checked weights, threshold from normal beats, weight choice,
and metric rows quoted by the recipe that made them, never by file name."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

from ecgviewer.core.errors import ModelError
from ecgviewer.core.model.card import read_card
from ecgviewer.core.model.loader import load_model
from trainer.bundle import refresh_card_metrics, train_bundled_model
from trainer.config import MachineConfig, recipe_id
from trainer.evaluate import SCORE_TEXT

from test_evaluate import fake_dataset  # noqa: E402  (tests/trainer is on sys.path in rootdir mode)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ds():
    return fake_dataset(n_n=400)


def _row(results, name, cfg, kind, split="intra", auc=0.9, machine=None, **extra):
    recipe = {**asdict(cfg), **asdict(machine or MachineConfig())}  # result files record the machine too
    d = {"model": name, "split": split, "recipe": recipe, "score": SCORE_TEXT[kind], "mean_auc": auc,
         "std_auc": 0.01, "mean_ap": 0.8, "std_ap": 0.02, "folds": [{"fold": 0, "sens_at_val99": 0.5,
                                                                    "spec_at_val99": 0.99}], **extra}
    (results / f"{name}-{split}.json").write_text(json.dumps(d))


def test_export_chooses_weights_by_held_out_normal_error(ds, small_cfg, tmp_path):
    cfg = small_cfg(model="si-beatgan", epochs=1, width=4, batch=32)
    results = tmp_path / "results"
    results.mkdir()
    for kind, auc in (("rr", 0.9), ("ema_rr", 0.91), ("mse", 0.8)):
        _row(results, {"rr": "tiny+rr", "ema_rr": "tiny-ema+rr", "mse": "tiny"}[kind], cfg, kind, auc=auc)
    _row(results, "other+rr", replace(cfg, lr=0.5), "rr", auc=0.99)  # another recipe: never quoted
    path = train_bundled_model(ds, cfg, tmp_path / "m", results, result_name="tiny")
    model = load_model(path, backend="torch")  # hashes and the card's consistency are checked on load
    card = model.card
    t = card.training
    assert set(t.held_out_mse) == {"generator", "ema"}
    assert t.weights == min(t.held_out_mse, key=t.held_out_mse.get)
    assert card.recipe.name == "tiny" and card.recipe.id == recipe_id(cfg)
    (row,) = card.metrics
    assert row.source == ("tiny+rr-intra.json" if t.weights == "generator" else "tiny-ema+rr-intra.json")
    assert row.mean_auc == (0.9 if t.weights == "generator" else 0.91) and row.recipe_id == card.recipe.id
    assert row.rhythm and row.weights == t.weights and row.sensitivity_at_99_specificity_threshold == 0.5
    # the threshold keeps ~99 % of the held-out normal beats below it
    assert card.threshold.set_on.split()[0] == str(round(400 * 0.05))
    assert np.isfinite(card.threshold.value)
    assert card.onnx is not None  # the export is written with the weights
    # refreshing the metrics finds the rows by recipe again, under any name
    for p in results.glob("tiny*"):
        p.unlink()
    _row(results, "renamed+rr" if t.weights == "generator" else "renamed-ema+rr", cfg,
         "rr" if t.weights == "generator" else "ema_rr", auc=0.95)
    refresh_card_metrics(path, results)
    assert [r.mean_auc for r in read_card(path).metrics] == [0.95]


def test_export_refuses_rows_of_another_recipe_before_training(ds, small_cfg, tmp_path):
    cfg = small_cfg(model="beatgan", epochs=1, width=4, batch=32)
    _row(tmp_path, "beatgan+rr", replace(cfg, epochs=9), "rr")  # the default name, another recipe
    with pytest.raises(ValueError, match=r"beatgan\+rr-intra.json: these rows measured another recipe .*epochs"):
        train_bundled_model(ds, cfg, tmp_path / "m", tmp_path)
    assert not (tmp_path / "m.json").exists() and not (tmp_path / ".m-run").exists()


def test_machine_settings_are_not_part_of_the_recipe(ds, small_cfg, tmp_path):
    """Rows measured on another machine are this recipe's; the card records the machine it trained on."""
    cfg = small_cfg(model="beatgan", epochs=1, width=4, batch=32)
    _row(tmp_path, "beatgan+rr", cfg, "rr", auc=0.77, machine=MachineConfig(device="cuda", threads=7, cpu_bf16=True))
    path = train_bundled_model(ds, cfg, tmp_path / "m", tmp_path, machine=MachineConfig(device="cpu", threads=1))
    card = read_card(path)
    assert [r.mean_auc for r in card.metrics] == [0.77]
    config = card.recipe.config
    assert (config["device"], config["amp"], config["cpu_bf16"], config["threads"]) == ("cpu", False, False, 1)
    assert "preset" not in config and card.recipe.id == recipe_id(cfg)


def test_a_card_quoting_rows_of_another_recipe_is_refused(ds, small_cfg, tmp_path):
    cfg = small_cfg(model="beatgan", epochs=1, width=4, batch=32)
    _row(tmp_path, "beatgan+rr", cfg, "rr")
    path = train_bundled_model(ds, cfg, tmp_path / "m", tmp_path, weights="generator")
    card = json.loads(path.read_text())
    card["metrics"][0]["recipe_id"] = "0" * 16
    path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match="measured recipe 0000000000000000, not this card's"):
        read_card(path)


def test_a_lab_model_of_ds1_trains_on_ds1_normal_beats_only(ds, small_cfg, tmp_path):
    """--train-records ds1: a model whose crossdb rows on DS2 are inter-patient; its card says so."""
    from trainer.splits import DS1, DS2

    cfg = small_cfg(model="beatgan", epochs=1, width=4, batch=32)
    path = train_bundled_model(ds, cfg, tmp_path / "m", tmp_path, weights="generator", train_records=DS1)
    card = read_card(path)
    assert card.training_data.records == list(DS1) and "DS2 stays unseen" in card.training_data.note
    n_ds1 = int(((ds.cls == "N") & np.isin(ds.record, DS1)).sum())
    assert card.threshold.set_on.split()[0] == str(round(n_ds1 * 0.05))  # 5 % of DS1's N beats held out
    assert f": {n_ds1 - round(n_ds1 * 0.05)} for training" in card.training_data.beats
    with pytest.raises(ValueError, match="none of the records"):
        train_bundled_model(ds, cfg, tmp_path / "m2", tmp_path, train_records=("999",))
    assert set(DS2) & set(ds.record)  # the fake set has DS2 beats: they were left out, not absent


def test_asking_for_ema_weights_of_a_model_without_them_is_refused(ds, small_cfg, tmp_path):
    with pytest.raises(ValueError, match="generator weights only"):
        train_bundled_model(ds, small_cfg(model="beatgan", epochs=1, width=4, batch=32), tmp_path / "m", tmp_path,
                            weights="ema")
    assert not (tmp_path / "m.json").exists()


def test_refreshing_the_bundled_card_reproduces_it_byte_for_byte(tmp_path):
    """``python -m trainer card`` finds the bundled card's rows by its recipe id again and changes nothing."""
    bundled = ROOT / "resources" / "models" / "si-beatgan-v2.json"
    copy = tmp_path / bundled.name
    copy.write_bytes(bundled.read_bytes())
    refresh_card_metrics(copy, ROOT / "results")
    assert copy.read_bytes() == bundled.read_bytes()


def test_refresh_quotes_database_rows_of_these_weights_at_this_threshold_only(tmp_path):
    """``trainer card`` copies crossdb rows into the card only when they scored its own weights at
    the threshold it applies; rows of other weights, an old threshold or moved marks stay out."""
    bundled = ROOT / "resources" / "models" / "si-beatgan-v2.json"
    card = json.loads(bundled.read_text())
    copy = tmp_path / "m.json"
    copy.write_text(json.dumps(card))
    for suffix in (".pt", ".onnx"):
        (tmp_path / f"m{suffix}").symlink_to(bundled.with_suffix(suffix))
    results = tmp_path / "results"
    results.mkdir()
    thr = card["robust_score"]["threshold"]
    m = {"auc": 0.97, "ap": 0.5, "auc_by_class": {"V": 0.98}, "threshold": thr, "n_flagged_pooled": 0.001,
         "n_flagged_worst": {"record": "sel1", "share": 0.02}, "records_over_10pct": 0, "n_records": 54,
         "sensitivity_by_class": {"V": 0.7}}
    own = {"data": "d/qtdb-x", "beats": "reference", "weights_sha256": card["weights"]["sha256"],
           "variants": {"robust": m}, "records": ["sel1", "sel2"], "subset": None}
    from trainer.splits import DS2

    files = {"crossdb-a.json": own,
             "crossdb-b.json": {**own, "weights_sha256": "0" * 64},
             "crossdb-c.json": {**own, "variants": {"robust": {**m, "threshold": thr + 1}}},
             "crossdb-d.json": {**own, "shift_ms": 30.0},
             "crossdb-e.json": {**own, "data": "d/mitdb", "beats": "detector", "second_lead": True, "records": list(DS2)},
             "crossdb-f.json": {**own, "subset": "sel1"},  # a chosen record is not a database
             "crossdb-g.json": {k: v for k, v in own.items() if k != "subset"},  # a file that does not say
             "crossdb-h.json": {**own, "variants": {"robust": {**m, "n_flagged_pooled": None}}},  # no N beats
             "crossdb-i.json": ["not", "a", "summary"]}
    for name, d in files.items():
        (results / name).write_text(json.dumps(d))
    refresh_card_metrics(copy, results)
    rows = read_card(copy).measured
    assert [(r.source, r.data, r.beats, r.second_lead) for r in rows] == [
        ("crossdb-a.json", "qtdb-x", "reference", False), ("crossdb-e.json", "MIT-BIH DS2", "detector", True)]
    assert rows[0].records == 54 and rows[0].worst_record == "sel1" and rows[0].sensitivity_by_class == {"V": 0.7}
