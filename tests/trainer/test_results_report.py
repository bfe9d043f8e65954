"""A results page is generated from a folder of evaluation JSON: the tables say what the files say."""

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


def test_rows_order_by_model_family_not_by_a_list_of_names(tmp_path: Path) -> None:
    for name, model in (("zz-beatgan-variant", "beatgan"), ("aa-v2", "si-beatgan-v2"), ("mm-si", "si-beatgan")):
        (tmp_path / f"{name}-intra.json").write_text(json.dumps(_result(name, "intra", [0.9], {"model": model})))
    text = write_report(tmp_path, tmp_path / "results.md").read_text()
    rows = [ln.split(" | ")[0][2:] for ln in text.splitlines() if ln.startswith("| ") and " | 1 | " in ln]
    assert rows == ["zz-beatgan-variant", "mm-si", "aa-v2"]


def test_another_split_gets_its_own_table_after_intra_and_inter(tmp_path: Path) -> None:
    for name, split in (("x", "qtdb-x"), ("x", "inter"), ("x", "intra")):
        (tmp_path / f"{name}-{split}.json").write_text(json.dumps(_result(name, split, [0.9], {"model": "beatgan"})))
    text = write_report(tmp_path, tmp_path / "results.md").read_text()
    heads = [ln for ln in text.splitlines() if ln.startswith("## ") and ln != "## Commands"]
    assert heads == ["## Intra-patient (BeatGAN 5-fold)", "## Inter-patient (DS1 -> DS2)", "## Split qtdb-x"]


def test_the_page_names_the_command_and_folder_it_came_from(tmp_path: Path) -> None:
    (tmp_path / "x-intra.json").write_text(json.dumps(_result("x", "intra", [0.9], {"model": "beatgan"})))
    text = write_report(tmp_path, tmp_path / "out.md").read_text()
    assert f"Generated by `python -m trainer report --results {tmp_path.as_posix()} --output" in text


def test_crossdb_rows_get_their_table_with_the_shipped_variants(tmp_path: Path) -> None:
    from trainer.report import render
    from trainer.splits import DS2

    m = {"auc": 0.9, "ap": 0.5, "auc_by_class": {"V": 0.95}, "threshold": 3.4, "n_flagged_pooled": 0.01,
         "n_flagged_worst": {"record": "r1", "share": 0.05}, "records_over_10pct": 0, "n_records": 2,
         "sensitivity_by_class": {"V": 0.8}}
    doc = {"data": "x/qtdb-x", "beats": "detector", "variants": {"baseline": m, "align": m, "robust": m},
           "wall_s": 60, "command": "python -m trainer crossdb --data x/qtdb-x --beats detector",
           "model": "SI-BeatGAN V2 2.2.0"}
    (tmp_path / "crossdb-qtdbx-detector.json").write_text(json.dumps(doc))
    (tmp_path / "crossdb-mitdb-second.json").write_text(json.dumps(
        {**doc, "data": "x/mitdb", "beats": "reference", "second_lead": True, "model": "SI-BeatGAN V2 2.1.0",
         "records": list(DS2)}))
    page = render(tmp_path, "cmd")
    assert "## Other databases and the detector" in page and "`python -m trainer crossdb --data x/qtdb-x" in page
    rows = [ln for ln in page.splitlines() if ln.startswith("| 2.2.0 | qtdb-x | detector |")]
    assert [r.split(" | ")[3] for r in rows] == ["baseline", "robust"]
    assert "| 2.1.0 | MIT-BIH DS2 | reference, second lead alone | robust |" in page
    assert "| 0.950 |" in rows[0] and "| 1.0% | r1 5% | 0 of 2 |" in rows[0]
