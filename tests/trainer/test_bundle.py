"""The bundled-model export: card, hash-checked weights, threshold from normal beats, weight choice."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgviewer.core.modelfile import load_model
from trainer.bundle import refresh_card_metrics, train_bundled_model

from test_evaluate import fake_dataset  # noqa: E402  (tests/trainer is on sys.path in rootdir mode)


@pytest.fixture(scope="module")
def ds():
    return fake_dataset(n_n=400)


def test_export_chooses_weights_by_held_out_normal_error(ds, small_cfg, tmp_path):
    cfg = small_cfg(model="si-beatgan", epochs=1, width=4, batch=32)
    results = tmp_path / "results"
    results.mkdir()
    (results / "tiny+rr-intra.json").write_text(json.dumps({"mean_auc": 0.9, "std_auc": 0.01, "mean_ap": 0.8,
                                                          "std_ap": 0.02, "folds": [{"fold": 0}]}))
    path = train_bundled_model(ds, cfg, tmp_path / "m", results, result_name="tiny")
    card = json.loads((tmp_path / "m.json").read_text())
    t = card["training"]
    assert set(t["held_out_mse"]) == {"generator", "ema"}
    assert t["weights"] == min(t["held_out_mse"], key=t["held_out_mse"].get)
    assert t["results"] == "tiny+rr" and card["metrics"]["intra"]["mean_auc"] == 0.9
    # the threshold keeps ~99 % of the held-out normal beats below it
    model = load_model(path, backend="torch")  # the hash is checked on load
    n_cal = int(card["threshold"]["set_on"].split()[0])
    assert n_cal == round(400 * 0.05)
    assert np.isfinite(card["threshold"]["value"])
    assert model.card["training"]["weights"] == t["weights"]
    # refreshing the metrics reads the same rows
    (results / "tiny+rr-intra.json").write_text(json.dumps({"mean_auc": 0.95, "folds": [{"fold": 0}]}))
    refresh_card_metrics(tmp_path / "m.json", results)
    assert json.loads((tmp_path / "m.json").read_text())["metrics"]["intra"]["mean_auc"] == 0.95


def test_export_can_be_told_which_weights(ds, small_cfg, tmp_path):
    cfg = small_cfg(model="si-beatgan", epochs=1, width=4, batch=32)
    train_bundled_model(ds, cfg, tmp_path / "m", tmp_path, weights="generator")
    assert json.loads((tmp_path / "m.json").read_text())["training"]["weights"] == "generator"


def test_asking_for_ema_weights_of_a_model_without_them_is_refused(ds, small_cfg, tmp_path):
    with pytest.raises(ValueError, match="generator weights only"):
        train_bundled_model(ds, small_cfg(model="beatgan", epochs=1, width=4, batch=32), tmp_path / "m", tmp_path,
                            weights="ema")
    assert not (tmp_path / "m.json").exists()
