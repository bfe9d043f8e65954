"""The lab's results page: every variant run in experiments/results/ plus the studies' tables.

    python -m experiments.report            # experiments/results/ -> experiments/results.md

The run tables, throughput and commands are trainer/report.py's (the same renderer as the
product's docs/results.md); the epoch-selection and N-filter tables are rendered here, since only
the lab's studies write them. The hand-written account of the runs is experiments/HISTORY.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from statistics import fmean

from trainer.report import write_report

RULES = ("last", "normal_only", "labels", "oracle")


def selection_study_tables(folder: Path) -> list[str]:
    """The tables of experiments/selection_study.py: test AUC of the checkpoint each selection rule picks.

    First each study's mean over its folds, for each set of weights and score; then every fold's
    generator. The cells are test figures; only the "labels" and "oracle" rules ever look at labels.
    """
    runs = [json.loads(p.read_text()) for p in sorted(folder.glob("*-summary.json"))]
    if not runs:
        return []
    by_name: dict[str, list[dict]] = {}
    for r in runs:
        by_name.setdefault(r["name"], []).append(r)
    lines = ["## Epoch selection study", "",
             "`python -m experiments.selection_study` trains the reference recipe (batch 64, lr 1e-4 constant, width 32, "
             "fp32) on one fold, measures every checkpoint, and asks which checkpoint each rule picks. Test = the "
             "fold's N beats + 90 % of the anomalies; the reference's labelled validation set = held-out N beats + "
             "the other 10 %. Rules: the last checkpoint (a fixed schedule), the lowest held-out normal MSE (no "
             "label), the best validation AUC (the reference's rule: labels), the best test AUC (an oracle).", "",
             "| run | folds | epochs | train s / fold | hardware | weights, score | last | lowest normal MSE | "
             "best val AUC (labels) | oracle |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, rs in by_name.items():
        for kind, label in (("generator", "generator"), ("generator_rr", "generator, +rr"), ("ema", "EMA"),
                            ("ema_rr", "EMA, +rr")):
            if not all(kind in r for r in rs):
                continue
            cells = []
            for rule in RULES:
                auc = fmean([r[kind][rule]["test_auc"] for r in rs])
                ap = fmean([r[kind][rule]["test_ap"] for r in rs])
                cells.append(f"{auc:.4f} / {ap:.4f}")
            lines.append(f"| {name} | {len(rs)} | {fmean([r['epochs'] for r in rs]):.2f} | "
                         f"{fmean([r['train_s'] for r in rs]):.0f} | {rs[0]['hardware']} | {label} | "
                         + " | ".join(cells) + " |")
    lines += ["", "Cells: mean test AUC / AP over the folds of the checkpoint each rule picks.", "",
              "| run | fold | epochs | checkpoints | last | lowest normal MSE | best val AUC (labels) | oracle |",
              "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        c = r["generator"]
        cells = [f"{c[k]['test_auc']:.4f} / {c[k]['test_ap']:.4f} (ep {c[k]['epochs']:.2f})" for k in RULES]
        lines.append(f"| {r['name']} | {r['fold']} | {r['epochs']:.2f} | {r['checkpoints']} | " + " | ".join(cells) + " |")
    commands = sorted({r["command"].replace(f"--fold {r['fold']}", "--fold K") for r in runs})
    lines += ["", "Cells: the generator's test AUC / AP at the chosen checkpoint (its epoch). Commands: "
              + "; ".join(f"`{c}`" for c in commands), ""]
    return lines


def nfilter_study_table(path: Path) -> list[str]:
    """The table of experiments/nfilter_study.py: the same trained models, the test N beats filtered two ways."""
    if not path.is_file():
        return []
    d = json.loads(path.read_text())
    worst = sorted(d["dropped_by_record"].items(), key=lambda kv: -kv[1])[:3]
    lines = ["## The N-beat filter (a study of the benchmark, not a benchmark change)", "",
             "`python -m experiments.nfilter_study` re-scores finished runs with the test N beats kept two ways: "
             "this benchmark's filter (the project's detector, peak within 10 samples), and that filter plus "
             "an emulation of the reference code's (its peaks moved to the maximum of the band-passed MLII "
             f"within 50 ms, kept below 10 samples). The emulation drops {d['n_N_dropped_by_reference_filter']:,} "
             f"more of {d['n_N']:,} N beats ({100 * d['n_N_dropped_by_reference_filter'] / d['n_N']:.1f} %; most from "
             + ", ".join(f"record {r} ({n:,})" for r, n in worst) + "). Anomalies are never filtered.", "",
             "| run | folds | AUC / AP, this benchmark | AUC / AP, reference filter | +rr, this benchmark | +rr, reference filter |",
             "|---|---|---|---|---|---|"]
    for r in d["runs"]:
        m = r["mean"]
        cell = [f"{m[f'{w}_{k}_auc']:.4f} / {m[f'{w}_{k}_ap']:.4f}" for k in ("mse", "rr") for w in ("ours", "reference_filter")]
        lines.append(f"| {r['run']} | {len(r['folds'])} | {cell[0]} | {cell[1]} | {cell[2]} | {cell[3]} |")
    return lines + [""]


def write(results_dir: Path, output: Path) -> Path:
    sections = selection_study_tables(results_dir / "selection-study") + nfilter_study_table(
        results_dir / "nfilter-study.json")
    sections += ["## History", "", "What each run was for, what it showed and how it was found: experiments/HISTORY.md.", ""]
    return write_report(results_dir, output, command="python -m experiments.report", sections=sections,
                        title="Results of the lab: every variant run and study")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="write the lab's results page from its results folder")
    # relative, so the page names the folder as a reader's checkout has it: run from the checkout's root
    p.add_argument("--results", type=Path, default=Path("experiments/results"))
    p.add_argument("--output", type=Path, default=Path("experiments/results.md"))
    a = p.parse_args(argv)
    print(f"wrote {write(a.results, a.output)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
