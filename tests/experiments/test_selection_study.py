"""The selection study's rules: which checkpoint each rule picks, and the reference's labelled split."""

from __future__ import annotations

import numpy as np

from experiments import selection_study as study


def _row(k: int, val_mse: float, val_auc: float, test_auc: float) -> dict:
    return {"checkpoint": k, "epochs": k / 4, "val_mse": val_mse, "val_auc": val_auc, "test_auc": test_auc,
            "test_ap": test_auc - 0.1}


def test_each_rule_picks_its_own_checkpoint():
    rows = [_row(1, 0.5, 0.80, 0.70), _row(2, 0.1, 0.85, 0.88), _row(3, 0.3, 0.95, 0.86), _row(4, 0.2, 0.90, 0.90)]
    got = study.choose(rows)
    assert got["last"]["checkpoint"] == 4
    assert got["normal_only"]["checkpoint"] == 2 and got["normal_only"]["test_auc"] == 0.88
    assert got["labels"]["checkpoint"] == 3 and got["labels"]["test_ap"] == 0.86 - 0.1
    assert got["oracle"]["checkpoint"] == 4


def test_ema_prefix_reads_the_ema_columns():
    rows = [{**_row(1, 0.5, 0.8, 0.7), "ema_val_mse": 0.1, "ema_val_auc": 0.1, "ema_test_auc": 0.9, "ema_test_ap": 0.8},
            {**_row(2, 0.1, 0.9, 0.8), "ema_val_mse": 0.2, "ema_val_auc": 0.2, "ema_test_auc": 0.6, "ema_test_ap": 0.5}]
    got = study.choose(rows, "ema_")
    assert got["normal_only"]["checkpoint"] == 1 and got["labels"]["checkpoint"] == 2
    assert got["oracle"]["test_auc"] == 0.9


def test_reference_split_moves_a_tenth_of_each_class():
    cls = np.array(["N"] * 100 + ["V"] * 50 + ["S"] * 30 + ["F"] * 9 + ["Q"] * 1)
    test = np.arange(len(cls))
    rest, val = study.reference_val_split(cls, test)
    assert len(np.intersect1d(rest, val)) == 0 and len(rest) + len(val) == len(test)
    assert (cls[val] != "N").all()  # normal validation beats come from the training side
    assert [(cls[val] == c).sum() for c in "VSFQ"] == [5, 3, 1, 0]


def test_rhythm_figures_follow_the_rule_of_the_reconstruction_error():
    """The "+rr" summary picks checkpoints by the generator's validation figures, then reports rr's test."""
    rows = [{**_row(1, 0.1, 0.80, 0.70), "rr_test_auc": 0.91, "rr_test_ap": 0.81},
            {**_row(2, 0.5, 0.95, 0.88), "rr_test_auc": 0.93, "rr_test_ap": 0.83},
            {**_row(3, 0.3, 0.85, 0.86), "rr_test_auc": 0.95, "rr_test_ap": 0.85}]
    got = study.choose(rows, "", "rr_")
    assert got["normal_only"]["checkpoint"] == 1 and got["normal_only"]["test_auc"] == 0.91
    assert got["labels"]["checkpoint"] == 2 and got["labels"]["test_ap"] == 0.83
    assert got["oracle"]["checkpoint"] == 3  # the best rr test AUC, not the best reconstruction AUC


def test_measure_adds_the_rhythm_score_fitted_on_normal_beats():
    import torch

    from ecgviewer.core.model.netconfig import NetConfig
    from ecgviewer.core.model.networks import Generator

    rng = np.random.default_rng(0)
    n_train, n_val, n_anom, n_test = 40, 30, 10, 60
    x = rng.normal(size=(n_train + n_val + n_anom + n_test, 1, 320)).astype(np.float32)
    cls = np.array(["N"] * (n_train + n_val) + ["V"] * n_anom + ["N"] * 40 + ["S"] * 20)
    train = np.arange(n_train)
    val_n = np.arange(n_train, n_train + n_val)
    val_a = np.arange(n_train + n_val, n_train + n_val + n_anom)
    test = np.arange(n_train + n_val + n_anom, len(cls))
    rr = rng.normal(size=(len(cls), 3)).astype(np.float32)
    rr[test[40:]] += 4.0  # the S beats of the test set come early: rhythm alone separates them
    torch.manual_seed(0)
    G = Generator(NetConfig(n_leads=1, width=4, latent=8))
    row = study.measure(G, x, cls, val_n, val_a, test, torch.device("cpu"), (rr[train], rr[test]))
    assert {"val_mse", "val_auc", "test_auc", "test_ap", "rr_test_auc", "rr_test_ap"} <= row.keys()
    assert row["rr_test_auc"] > 0.95 > row["test_auc"]  # random weights: only the rhythm term can rank them
    assert "rr_test_auc" not in study.measure(G, x, cls, val_n, val_a, test, torch.device("cpu"))


def test_a_study_resumes_its_own_recipe_and_sets_another_aside(tmp_path):
    import copy
    import dataclasses
    import json

    import torch

    from trainer.config import TrainConfig
    from trainer.train import Trainer

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 1, 320)).astype(np.float32)
    cfg = TrainConfig(model="beatgan", width=4, latent=8, batch=8, epochs=3, samples_per_epoch=16)
    run, log = tmp_path / "run", tmp_path / "study.jsonl"

    def fresh(c):
        tr = Trainer(c, x[:48], x[48:], run, log=lambda *_: None)
        ema = copy.deepcopy(tr.G)
        return tr, ema

    tr, ema = fresh(cfg)
    assert study.resume_study(tr, ema, log) == []
    tr.fit(max_steps=tr.steps_per_epoch(), progress=False)
    with torch.no_grad():
        for q in ema.parameters():
            q.add_(1.0)  # an EMA that differs from the generator, to see it come back
    torch.save(ema.state_dict(), run / "ema.pt")
    log.write_text(json.dumps({"checkpoint": 1}) + "\n" + json.dumps({"checkpoint": 2}) + "\n")  # one too many

    tr2, ema2 = fresh(cfg)
    assert study.resume_study(tr2, ema2, log) == [{"checkpoint": 1}] and tr2.state.epoch == 1
    assert log.read_text().splitlines() == ['{"checkpoint": 1}']  # the row past the checkpoint is cut
    assert all(torch.equal(a, b) for a, b in zip(ema2.state_dict().values(), ema.state_dict().values()))

    tr3, ema3 = fresh(dataclasses.replace(cfg, lr=cfg.lr / 2))  # another recipe
    assert study.resume_study(tr3, ema3, log) == [] and tr3.state.epoch == 0
    assert not log.exists() and len(list(tmp_path.glob("study.jsonl.old-*"))) == 1
    assert len(list(tmp_path.glob("run.old-*"))) == 1  # the other recipe's checkpoint, kept
