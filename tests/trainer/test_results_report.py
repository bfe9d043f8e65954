"""docs/results.md is generated from results/*.json: the tables say what the files say."""

from __future__ import annotations

import json
from pathlib import Path

from trainer.report import write_report


def _result(model: str, split: str, aucs: list[float], recipe: dict) -> dict:
    folds = [{"fold": k, "auc": a, "ap": a - 0.05, "train_s": 100.0 + k, "score_beats_per_s": 5000.0,
              "sens_at_val99": 0.4, "spec_at_val99": 0.99} for k, a in enumerate(aucs)]
    mean = sum(aucs) / len(aucs)
    return {"model": model, "split": split, "folds": folds, "mean_auc": mean, "std_auc": 0.01,
            "mean_ap": mean - 0.05, "std_ap": 0.02, "auc_by_class": {"S": {"mean": 0.7}, "V": {"mean": 0.95}},
            "recipe": recipe, "hardware": "test box"}


def test_tables_rows_commands_and_notes(tmp_path: Path) -> None:
    recipe = {"model": "si-beatgan", "width": 16, "epochs": 8, "samples_per_epoch": 32768}
    files = {"si-beatgan-intra": _result("si-beatgan", "intra", [0.91, 0.92], recipe),
             "si-beatgan+rr-intra": _result("si-beatgan+rr", "intra", [0.94, 0.95], recipe),
             "beatgan-r2-intra": _result("beatgan-r2", "intra", [0.90], {**recipe, "model": "beatgan"}),
             "beatgan-inter": _result("beatgan", "inter", [0.77], {"model": "beatgan", "width": 16, "epochs": 8})}
    for name, d in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(d))
    (tmp_path / "NOTES.md").write_text("## Notes\n\nhand-written\n")
    text = write_report(tmp_path, tmp_path / "results.md").read_text()
    intra = text[text.index("## Intra-patient"):text.index("## Inter-patient")]
    rows = [ln for ln in intra.splitlines() if ln.startswith("| ") and not ln.startswith("| model")]
    # the report's order: BeatGAN rows first, each +rr row right after its model
    assert [r.split(" | ")[0][2:] for r in rows] == ["beatgan-r2", "si-beatgan", "si-beatgan+rr"]
    assert "| si-beatgan | 2 | 0.9150 ± 0.0100 | 0.8650 ± 0.0200 | 0.700 | 0.950 |  |  | 0.400 / 0.990 | 8 x 32768 (w16) | 100 | 5000 | test box |" in rows
    assert "hand-written" in text
    commands = text[text.index("## Commands"):]
    # one command per run: the +rr rows come from the same run
    assert commands.count("--name beatgan-r2") == 1 and "si-beatgan+rr" not in commands
    assert "`si-beatgan` (intra): `python -m trainer evaluate --data-dir DIR --model si-beatgan --split intra" in commands


def test_ema_rows_follow_their_run_and_share_its_command(tmp_path: Path) -> None:
    recipe = {"model": "si-beatgan-v2", "width": 16, "epochs": 12, "samples_per_epoch": 32768}
    for model, auc in [("si-beatgan-v2-long-ema+rr", 0.95), ("si-beatgan-v2-long", 0.91),
                       ("si-beatgan-v2-long-ema", 0.92), ("si-beatgan-v2-long+rr", 0.94)]:
        (tmp_path / f"{model}-intra.json").write_text(json.dumps(_result(model, "intra", [auc], recipe)))
    text = write_report(tmp_path, tmp_path / "results.md").read_text()
    rows = [ln.split(" | ")[0][2:] for ln in text.splitlines() if ln.startswith("| si-beatgan")]
    assert rows == ["si-beatgan-v2-long", "si-beatgan-v2-long+rr", "si-beatgan-v2-long-ema", "si-beatgan-v2-long-ema+rr"]
    commands = text[text.index("## Commands"):]
    assert commands.count("python -m trainer evaluate") == 1
    assert "--name si-beatgan-v2-long --width 16 --epochs 12 --samples-per-epoch 32768`" in commands


def test_selection_study_table(tmp_path: Path) -> None:
    def pick(base: float) -> dict:
        return {k: {"checkpoint": i + 1, "epochs": 0.25 * (i + 1), "test_auc": base + i / 100,
                    "test_ap": base - 0.1 + i / 100} for i, k in enumerate(("last", "normal_only", "labels", "oracle"))}

    (tmp_path / "selection-study").mkdir()
    for fold, base in ((0, 0.90), (1, 0.92)):
        summary = {"name": "beatgan-reference", "fold": fold, "epochs": 1.0, "checkpoints": 4, "train_s": 500.0 + fold,
                   "hardware": "2 CPU cores", "generator": pick(base), "ema": pick(base - 0.2),
                   "generator_rr": pick(base + 0.02), "ema_rr": pick(base - 0.1),
                   "command": f"python scripts/selection_study.py --fold {fold}"}
        (tmp_path / "selection-study" / f"beatgan-reference-fold{fold}-summary.json").write_text(json.dumps(summary))
    # a study from before the rhythm figures: no "+rr" rows, and it still renders
    old = {"name": "old", "fold": 0, "epochs": 1.0, "checkpoints": 4, "train_s": 7.0, "hardware": "h",
           "generator": pick(0.8), "ema": pick(0.7), "command": "python scripts/selection_study.py --name old"}
    (tmp_path / "selection-study" / "old-fold0-summary.json").write_text(json.dumps(old))
    text = write_report(tmp_path, tmp_path / "results.md").read_text()
    # the mean over the two folds, per rule
    assert ("| beatgan-reference | 2 | 1.00 | 500 | 2 CPU cores | generator | 0.9100 / 0.8100 | 0.9200 / 0.8200 | "
            "0.9300 / 0.8300 | 0.9400 / 0.8400 |") in text
    assert "| beatgan-reference | 2 | 1.00 | 500 | 2 CPU cores | generator, +rr | 0.9300 / 0.8300 |" in text
    assert "| beatgan-reference | 2 | 1.00 | 500 | 2 CPU cores | EMA | 0.7100 / 0.6100 |" in text
    assert "| old | 1 | 1.00 | 7 | h | generator | 0.8000" in text and "| old | 1 | 1.00 | 7 | h | generator, +rr" not in text
    # every fold's generator, with the epoch each rule picked
    assert ("| beatgan-reference | 1 | 1.00 | 4 | 0.9200 / 0.8200 (ep 0.25) | 0.9300 / 0.8300 (ep 0.50) | "
            "0.9400 / 0.8400 (ep 0.75) | 0.9500 / 0.8500 (ep 1.00) |") in text
    assert "`python scripts/selection_study.py --fold K`" in text  # one command for the folds of a study


def test_nfilter_study_table(tmp_path: Path) -> None:
    mean = {f"{w}_{k}_{m}": v for w, base in (("ours", 0.93), ("reference_filter", 0.94))
            for k, add in (("mse", 0.0), ("rr", 0.01)) for m, v in (("auc", base + add), ("ap", base + add - 0.05))}
    study = {"n_N": 1000, "n_N_dropped_by_reference_filter": 30, "dropped_by_record": {"117": 5, "207": 25},
             "runs": [{"run": "beatgan-r3", "folds": [{}, {}], "mean": mean}]}
    (tmp_path / "nfilter-study.json").write_text(json.dumps(study))
    text = write_report(tmp_path, tmp_path / "results.md").read_text()
    assert "drops 30 more of 1,000 N beats (3.0 %; most from record 207 (25), record 117 (5))" in text
    assert "| beatgan-r3 | 2 | 0.9300 / 0.8800 | 0.9400 / 0.8900 | 0.9400 / 0.8900 | 0.9500 / 0.9000 |" in text
    assert "| nfilter" not in text  # the study file is not a results row


def test_a_one_fold_row_shows_no_spread(tmp_path: Path) -> None:
    (tmp_path / "x-intra.json").write_text(json.dumps(_result("x", "intra", [0.9], {"model": "beatgan"})))
    text = write_report(tmp_path, tmp_path / "results.md").read_text()
    assert "| x | 1 | 0.9000 | 0.8500 |" in text and "± 0.0000" not in text


def test_a_v2_row_names_the_contrastive_settings_it_changed(tmp_path: Path) -> None:
    base = {"model": "si-beatgan-v2", "width": 32, "epochs": 3, "con_weight": 0.1, "con_tau": 0.5}
    files = {"si-beatgan-v2-r3": base, "si-beatgan-v2-w03": {**base, "con_weight": 0.3},
             "si-beatgan-v2-t01": {**base, "con_tau": 0.1}}
    for name, recipe in files.items():
        (tmp_path / f"{name}-intra.json").write_text(json.dumps(_result(name, "intra", [0.93], recipe)))
    text = write_report(tmp_path, tmp_path / "results.md").read_text()
    budget = {ln.split(" | ")[0][2:]: ln.split(" | ")[9] for ln in text.splitlines() if ln.startswith("| si-beatgan")}
    assert budget == {"si-beatgan-v2-r3": "3 x all (w32)", "si-beatgan-v2-w03": "3 x all (w32, con weight 0.3)",
                      "si-beatgan-v2-t01": "3 x all (w32, con tau 0.1)"}
