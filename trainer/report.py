"""A results page generated from a folder of evaluation JSON, so every figure on it comes from a run.

Generic: it renders whatever ``trainer evaluate`` wrote into the folder (one table per split, rows
ordered by model family, then name, each ``+rr`` / ``-ema`` row after its run), the throughput
benchmark files there, the ``trainer crossdb`` rows there (other databases, the detector's beats),
the folder's hand-written NOTES.md and the command behind each run. The
product's page is ``python -m trainer report`` (results/ -> docs/results.md); the lab's
(experiments/report.py) adds its studies to the same tables.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, fields
from pathlib import Path

from trainer.config import MODELS, TrainConfig
from trainer.evaluate import run_name

SPLIT_TITLES = {"intra": "Intra-patient (BeatGAN 5-fold)", "inter": "Inter-patient (DS1 -> DS2)"}


def _pm(d: dict, key: str) -> str:
    m, s = d.get(f"mean_{key}"), d.get(f"std_{key}")
    if m is None:
        return ""
    return f"{m:.4f}" if len(d.get("folds", [])) == 1 else f"{m:.4f} ± {s:.4f}"  # one fold has no spread


def _command(d: dict) -> str:
    recipe = d.get("recipe", {})
    default = asdict(TrainConfig(model=recipe.get("model", "beatgan")))
    opts = [f"--{k.replace('_', '-')} {v}" for k, v in recipe.items()
            if k in {f.name for f in fields(TrainConfig)} and k not in ("model", "preset") and v != default.get(k)]
    name = run_name(d["model"])
    extra = f" --name {name}" if name != recipe.get("model") else ""
    return (f"python -m trainer evaluate --data-dir DIR --model {recipe.get('model')} --split {d['split']}{extra} "
            + " ".join(opts)).strip()


def _sort_key(d: dict) -> tuple:
    model = d.get("recipe", {}).get("model")
    family = MODELS.index(model) if model in MODELS else len(MODELS)
    return (family, run_name(d["model"]), "-ema" in d["model"], d["model"].endswith("+rr"))


def _splits(docs: list[dict]) -> list[str]:
    """The splits present: intra and inter first, any other (a cross-database set) after, by name."""
    found = {d["split"] for d in docs}
    return [s for s in SPLIT_TITLES if s in found] + sorted(found - SPLIT_TITLES.keys())


def load_results(results_dir: Path) -> list[dict]:
    """Every evaluation document (a JSON with folds) in ``results_dir``, in the report's order."""
    docs = [json.loads(p.read_text()) for p in sorted(results_dir.glob("*.json"))]
    return sorted((d for d in docs if isinstance(d, dict) and d.get("folds")), key=_sort_key)


def _row(d: dict) -> str:
    f = d["folds"]
    by = d.get("auc_by_class", {})
    cls = [f"{by[c]['mean']:.3f}" if c in by else "" for c in "SVFQ"]
    sens = [x["sens_at_val99"] for x in f if "sens_at_val99" in x]
    spec = [x["spec_at_val99"] for x in f if "spec_at_val99" in x]
    op = f"{sum(sens) / len(sens):.3f} / {sum(spec) / len(spec):.3f}" if sens else ""
    train_s = sum(x.get("train_s", 0) for x in f) / len(f)
    speed = sum(x.get("score_beats_per_s", 0) for x in f) / len(f)
    r = d.get("recipe", {})
    trained = {x["precision"] for x in f if "precision" in x}
    if not trained:  # rows written before folds recorded it: what the recipe asked for on that hardware
        trained = {"bf16" if r.get("cpu_bf16") or (r.get("amp") and "GPU" in d.get("hardware", "")) else "fp32"}
    extras = [p for p in sorted(trained) if p != "fp32"]
    extras += [f"warp {r['warp_frac']:g}"] if r.get("warp_frac") else []
    extras += [f"record balance {r['record_balance']:g}"] if r.get("record_balance") else []
    # the contrastive term's weight and temperature, where a V2 row departs from the defaults
    if r.get("model") == "si-beatgan-v2":
        extras += [f"{k} {r[key]:g}" for k, key in (("con weight", "con_weight"), ("con tau", "con_tau"))
                   if key in r and r[key] != getattr(TrainConfig, key)]
    budget = f"{r.get('epochs')} x {r.get('samples_per_epoch') or 'all'} (w{r.get('width')}" + \
        "".join(f", {e}" for e in extras) + ")"
    return (f"| {d['model']} | {len(f)} | {_pm(d, 'auc')} | {_pm(d, 'ap')} | " + " | ".join(cls)
            + f" | {op} | {budget} | {train_s:.0f} | {speed:.0f} | {d.get('hardware', '')} |")


def result_tables(docs: list[dict]) -> list[str]:
    """One table per split: AUC/AP, per class, the operating point, budget, time and hardware."""
    lines: list[str] = []
    for split in _splits(docs):
        lines += [f"## {SPLIT_TITLES.get(split, f'Split {split}')}", "",
                  "| model | folds | AUC | AP | S | V | F | Q | Sens@99 / Spec | epochs x beats | train s/fold | "
                  "score beats/s | hardware |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        lines += [_row(d) for d in docs if d["split"] == split]
        lines.append("")
    return lines


def throughput_table(results_dir: Path) -> list[str]:
    """The throughput-*.json files of benchmarks/throughput.py in the folder, one column each."""
    runs = [json.loads(b.read_text()) for b in sorted(results_dir.glob("throughput-*.json"))]
    if not runs:
        return []
    keys = list(dict.fromkeys(k for r in runs for k in r if k.startswith(("train:", "score:"))))  # every run's rows
    lines = ["## Throughput", "",
             "`python -m benchmarks.throughput --device cpu|cuda --json DIR/throughput-NAME.json`: "
             "samples/s (training steps, D + G) and beats/s (scoring); each file is one run, the "
             "reference configuration measured beside the recipes in that same run.", "",
             "| measure | " + " | ".join(f"{r['device']} ({r.get('threads')} threads, torch {r.get('torch')})"
                                       for r in runs) + " |",
             "|---|" + "---|" * len(runs)]
    lines += [f"| {k} | " + " | ".join(f"{r[k]:,.0f}" if k in r else "" for r in runs) + " |" for k in keys]
    return lines + [""]


#: The crossdb variants the product's page shows: the model as shipped up to 2.1.0, and its score now.
CROSSDB_SHOWN = ("baseline", "robust")


def _f(v: float | None, fmt: str = ".3f") -> str:
    return "-" if v is None else format(v, fmt)


def crossdb_rows(d: dict, variants: Iterable[str] | None = None, full: bool = False) -> list[str]:
    """Table rows of one ``trainer crossdb`` file: one per variant (all when ``variants`` is None);
    ``full`` adds the threshold and the run's time (the lab's table, :data:`CROSSDB_FULL_HEADER`)."""
    from trainer.crossdb import database_label

    data = database_label(d)
    beats = d["beats"] + (f", marks {d['shift_ms']:+g} ms" if d.get("shift_ms") else "") + (
        ", second lead alone" if d.get("second_lead") else "")
    model = d.get("model", "").rsplit(" ", 1)[-1]  # the card's version: rows of two models sit in one table
    out = []
    for name, m in d["variants"].items():
        if variants is not None and name not in variants:
            continue
        c, se, w = m["auc_by_class"], m["sensitivity_by_class"], m["n_flagged_worst"] or {}
        thr = f" {m['threshold']:.3g} |" if full else ""
        run = f" {d['wall_s'] / 60:.0f} min |" if full else ""
        out.append(f"| {model} | {data} | {beats} | {name} | {m['auc']:.3f} | {m['ap']:.3f} | {_f(c.get('S'))} | "
                   f"{_f(c.get('V'))} | {_f(c.get('F'))} |{thr} {m['n_flagged_pooled']:.1%} | {w.get('record')} "
                   f"{w.get('share', 0):.0%} | {m['records_over_10pct']} of {m['n_records']} | "
                   f"{_f(se.get('S'), '.2f')} | {_f(se.get('V'), '.2f')} | {_f(se.get('F'), '.2f')} |{run}")
    return out


CROSSDB_HEADER = ["| model | data | beats | score | AUC | AP | S | V | F | N flagged | worst record | records > 10 % "
                  "| S Se | V Se | F Se |", "|---" * 15 + "|"]
CROSSDB_FULL_HEADER = ["| model | data | beats | variant | AUC | AP | S | V | F | threshold | N flagged | worst record "
                       "| records > 10 % | S Se | V Se | F Se | run (all variants) |", "|---" * 17 + "|"]


def crossdb_table(results_dir: Path, variants: Iterable[str] | None = CROSSDB_SHOWN) -> list[str]:
    """The crossdb-*.json files in the folder: whole databases through the product's Scorer."""
    runs = [json.loads(p.read_text()) for p in sorted(results_dir.glob("crossdb-*.json"))]
    if not runs:
        return []
    lines = ["## Other databases and the detector", "",
             "`python -m trainer crossdb`: every record through the product's Scorer, beats from the reference "
             "annotations or the product's QRS detector (classes by EC57 matching), the bundled model at its "
             "default threshold. `baseline`: windows at the marks and the card's raw score (the model as "
             "shipped up to 2.1.0); `robust`: windows on the core's fiducial and the per-record robust score "
             "(docs/method.md). qtdb-x is a test set, reported once. N flagged: pooled share of N beats over "
             "the threshold; Se: sensitivity per class there.", ""]
    lines += CROSSDB_HEADER + [r for d in runs for r in crossdb_rows(d, variants)] + [""]
    lines += [f"- `{d['command']}`" for d in runs if d.get("command")]
    return lines + [""]


def commands(docs: list[dict]) -> list[str]:
    """The command behind each run (its +rr and -ema rows come from the same run)."""
    lines = ["## Commands", "", "Each row, rerun (results are resumed per fold; delete the JSON to start over). "
             "`+rr` and `-ema` rows come from the same run as their row (the same trained models, scored "
             "with the rhythm term too, or with the EMA teacher's weights):", ""]
    lines += [f"- `{d['model']}` ({split}): `{_command(d)}`" for split in _splits(docs) for d in docs
              if d["split"] == split and d["model"] == run_name(d["model"])]
    return lines + [""]


def render(results_dir: Path, command: str, sections: Iterable[str] = (), title: str = "Results") -> str:
    """The page: header, result tables, throughput, crossdb, ``sections`` (more tables), NOTES.md, commands."""
    docs = load_results(results_dir)
    lines = [f"# {title}", "",
             f"Generated by `{command}` from `{results_dir.as_posix()}/*.json`; do not edit by hand.",
             "Protocol: docs/method.md. AUC/AP: anomaly (S, V, F, Q) vs N over each fold's test set; per-class",
             "columns: that class vs N. `+rr` rows add the rhythm term to the same trained models' scores.",
             "Sens@99: sensitivity on the test fold at the threshold that keeps 99 % of held-out *normal training*",
             "beats below it (no anomaly labels); Spec is the test specificity there.", ""]
    lines += result_tables(docs) + throughput_table(results_dir) + crossdb_table(results_dir) + list(sections)
    notes = results_dir / "NOTES.md"
    if notes.is_file():
        lines += [notes.read_text().rstrip(), ""]
    return "\n".join(lines + commands(docs))


def write_report(results_dir: Path, output: Path, command: str | None = None, sections: Iterable[str] = (),
                 title: str = "Results") -> Path:
    command = command or f"python -m trainer report --results {results_dir.as_posix()} --output {output.as_posix()}"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(results_dir, command, sections, title))
    return output
