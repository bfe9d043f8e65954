"""The lab's page: the studies' tables say what their files say (the run tables are tests/trainer's)."""

from __future__ import annotations

import json
from pathlib import Path

from experiments.report import write


def test_selection_study_table(tmp_path: Path) -> None:
    def pick(base: float) -> dict:
        return {k: {"checkpoint": i + 1, "epochs": 0.25 * (i + 1), "test_auc": base + i / 100,
                    "test_ap": base - 0.1 + i / 100} for i, k in enumerate(("last", "normal_only", "labels", "oracle"))}

    (tmp_path / "selection-study").mkdir()
    for fold, base in ((0, 0.90), (1, 0.92)):
        summary = {"name": "beatgan-reference", "fold": fold, "epochs": 1.0, "checkpoints": 4, "train_s": 500.0 + fold,
                   "hardware": "2 CPU cores", "generator": pick(base), "ema": pick(base - 0.2),
                   "generator_rr": pick(base + 0.02), "ema_rr": pick(base - 0.1),
                   "command": f"python -m experiments.selection_study --fold {fold}"}
        (tmp_path / "selection-study" / f"beatgan-reference-fold{fold}-summary.json").write_text(json.dumps(summary))
    # a study from before the rhythm figures: no "+rr" rows, and it still renders
    old = {"name": "old", "fold": 0, "epochs": 1.0, "checkpoints": 4, "train_s": 7.0, "hardware": "h",
           "generator": pick(0.8), "ema": pick(0.7), "command": "python -m experiments.selection_study --name old"}
    (tmp_path / "selection-study" / "old-fold0-summary.json").write_text(json.dumps(old))
    text = write(tmp_path, tmp_path / "results.md").read_text()
    # the mean over the two folds, per rule
    assert ("| beatgan-reference | 2 | 1.00 | 500 | 2 CPU cores | generator | 0.9100 / 0.8100 | 0.9200 / 0.8200 | "
            "0.9300 / 0.8300 | 0.9400 / 0.8400 |") in text
    assert "| beatgan-reference | 2 | 1.00 | 500 | 2 CPU cores | generator, +rr | 0.9300 / 0.8300 |" in text
    assert "| beatgan-reference | 2 | 1.00 | 500 | 2 CPU cores | EMA | 0.7100 / 0.6100 |" in text
    assert "| old | 1 | 1.00 | 7 | h | generator | 0.8000" in text and "| old | 1 | 1.00 | 7 | h | generator, +rr" not in text
    # every fold's generator, with the epoch each rule picked
    assert ("| beatgan-reference | 1 | 1.00 | 4 | 0.9200 / 0.8200 (ep 0.25) | 0.9300 / 0.8300 (ep 0.50) | "
            "0.9400 / 0.8400 (ep 0.75) | 0.9500 / 0.8500 (ep 1.00) |") in text
    assert "`python -m experiments.selection_study --fold K`" in text  # one command for the folds of a study


def test_nfilter_study_table(tmp_path: Path) -> None:
    mean = {f"{w}_{k}_{m}": v for w, base in (("ours", 0.93), ("reference_filter", 0.94))
            for k, add in (("mse", 0.0), ("rr", 0.01)) for m, v in (("auc", base + add), ("ap", base + add - 0.05))}
    study = {"n_N": 1000, "n_N_dropped_by_reference_filter": 30, "dropped_by_record": {"117": 5, "207": 25},
             "runs": [{"run": "beatgan-r3", "folds": [{}, {}], "mean": mean}]}
    (tmp_path / "nfilter-study.json").write_text(json.dumps(study))
    text = write(tmp_path, tmp_path / "results.md").read_text()
    assert "drops 30 more of 1,000 N beats (3.0 %; most from record 207 (25), record 117 (5))" in text
    assert "| beatgan-r3 | 2 | 0.9300 / 0.8800 | 0.9400 / 0.8900 | 0.9400 / 0.8900 | 0.9500 / 0.9000 |" in text
    assert "| nfilter" not in text  # the study file is not a results row
