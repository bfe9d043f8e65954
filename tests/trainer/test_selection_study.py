"""The selection study's rules: which checkpoint each rule picks, and the reference's labelled split."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

_spec = importlib.util.spec_from_file_location(
    "selection_study", Path(__file__).resolve().parents[2] / "scripts" / "selection_study.py")
study = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(study)


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
