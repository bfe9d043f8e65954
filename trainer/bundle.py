"""The bundled model: trained on every N beat of the benchmark records, with its model card.

The card names its recipe (a name, the recipe's fields with the machine settings it was trained
with, and its id, ``trainer.config.recipe_id``) and quotes the evaluation rows of results/ that
measured that same recipe and score. Rows are found by identity, the recipe id of the recipe stored
in each results file, never by file name: a row of another recipe is refused.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ecgviewer.core.atomic import write_text_atomic
from ecgviewer.core.beats import BeatParams
from ecgviewer.core.model.card import (
    NETWORK,
    SCHEMA,
    MeasuredRow,
    MetricRow,
    ModelCard,
    Preprocessing,
    Recipe,
    Score,
    Threshold,
    Training,
    TrainingData,
    read_card,
)
from ecgviewer.core.scoring import RhythmModel, score_arrays
from trainer.config import MachineConfig, TrainConfig, TrainError, recipe_differences, recipe_fields, recipe_id
from trainer.dataset import BeatDataset
from trainer.evaluate import SCORE_TEXT, hardware, run_name
from trainer.export import card_json, save_model
from trainer.metrics import threshold_at_specificity
from trainer.splits import VAL_FRACTION
from trainer.train import Trainer

SPECIFICITY = 0.99
CALIBRATION_SEED = 7
SPLITS = ("intra", "inter")
# evaluate's score kinds as (weights, rhythm), the two things a card says about its score
KINDS = {"mse": ("generator", False), "rr": ("generator", True), "ema_mse": ("ema", False), "ema_rr": ("ema", True)}


def recipe_of(cfg: TrainConfig, name: str, machine: dict | None = None) -> Recipe:
    """The card's recipe: its fields, then the machine settings it ran with (recorded, not hashed)."""
    return Recipe(name, recipe_id(cfg), {**recipe_fields(cfg), **(machine or {})})


def machine_used(tr: Trainer) -> dict:
    """The machine settings a run actually trained with (the device it resolved to, the precision
    it ran at there): what a card records beside its recipe."""
    return {"device": str(tr.device), "amp": tr.amp, "cpu_bf16": tr.cpu_bf16, "threads": tr.machine.threads}


def _rid(d: dict) -> str | None:
    """The recipe id of a results file's recipe; None for a recipe this trainer cannot read."""
    try:
        return recipe_id(d["recipe"])
    except (TrainError, TypeError):
        return None


def _results(results_dir: Path) -> list[tuple[Path, dict]]:
    """Every evaluation results file under ``results_dir`` (JSON objects with a recipe and folds)."""
    out = []
    for p in sorted(results_dir.rglob("*.json")) if results_dir.is_dir() else []:
        try:
            d = json.loads(p.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(d, dict) and isinstance(d.get("recipe"), dict) and d.get("split") in SPLITS:
            out.append((p, d))
    return out


def _row(path: Path, results_dir: Path, d: dict, rid: str, weights: str, rhythm: bool) -> MetricRow:
    folds = d.get("folds", [])
    sens = [f["sens_at_val99"] for f in folds if "sens_at_val99" in f]
    spec = [f["spec_at_val99"] for f in folds if "spec_at_val99" in f]
    return MetricRow(split=d["split"], source=path.relative_to(results_dir).as_posix(), recipe_id=rid,
                     weights=weights, rhythm=rhythm, folds=len(folds), mean_auc=d.get("mean_auc"),
                     std_auc=d.get("std_auc"), mean_ap=d.get("mean_ap"), std_ap=d.get("std_ap"),
                     auc_by_class=d.get("auc_by_class") or {},
                     sensitivity_at_99_specificity_threshold=float(np.mean(sens)) if sens else None,
                     test_specificity_at_that_threshold=float(np.mean(spec)) if spec else None)


def metric_rows(results_dir: Path, recipe: Recipe, weights: str, rhythm: bool) -> list[MetricRow]:
    """The rows (one a split) that measured ``recipe`` with this score; where several did, the one
    with the most folds."""
    best: dict[str, MetricRow] = {}
    for path, d in _results(results_dir):
        kind = next((k for k, text in SCORE_TEXT.items() if text == d.get("score")), None)
        if kind is None or KINDS[kind] != (weights, rhythm) or _rid(d) != recipe.id:
            continue
        row = _row(path, results_dir, d, recipe.id, weights, rhythm)
        if row.split not in best or row.folds > best[row.split].folds:
            best[row.split] = row
    return [best[s] for s in SPLITS if s in best]


def check_named_results(results_dir: Path, name: str, cfg: TrainConfig) -> None:
    """Refuse results/NAME*-SPLIT.json rows that measured another recipe than ``cfg``."""
    for path, d in _results(results_dir):
        if run_name(str(d.get("model", ""))) != name:
            continue
        if _rid(d) != recipe_id(cfg):
            diff = recipe_differences(d["recipe"], cfg) or ["values this trainer cannot read"]
            raise ValueError(f"{path}: these rows measured another recipe (differs in {', '.join(diff)}); "
                             "the card would quote them for a model they did not measure: name this recipe's own rows "
                             "(--result-name) or evaluate it first")


def train_bundled_model(ds: BeatDataset, cfg: TrainConfig, output: Path, results_dir: Path,
                        version: str = "2.0.0", use_rhythm: bool = True, weights: str = "auto",
                        result_name: str | None = None, machine: MachineConfig | None = None,
                        train_records: tuple[str, ...] | None = None) -> Path:
    """Train on all N beats of the 44 records but a held-out 5 % that sets the alert threshold.

    ``train_records``: the N beats of these records only (DS1: a lab model whose ``trainer crossdb``
    rows on DS2 measure the product's scoring inter-patient; never the bundled model).

    ``weights``: "generator", "ema" (the EMA teacher of the self-distilled models) or "auto" (the
    one with the lower held-out normal error). ``result_name``: the recipe's name, the one its
    results/ rows carry (default: the model's); rows under that name of another recipe are refused
    before training. The card quotes the rows that measured this recipe, whatever their name.
    """
    available = ["generator"] + (["ema"] if cfg.has_ema_teacher else [])
    if weights not in ("auto", *available):  # checked before hours of training, not after
        raise ValueError(f"weights {weights!r}: this model has {' and '.join(available)} weights only")
    name = result_name or cfg.model
    check_named_results(results_dir, name, cfg)
    t0 = time.perf_counter()
    used = np.isin(ds.record, train_records) if train_records is not None else np.ones(len(ds), bool)
    if not used.any():
        raise ValueError(f"none of the records {', '.join(train_records)} is in the dataset")
    normal = np.flatnonzero((ds.cls == "N") & used)
    records = list(train_records) if train_records is not None else list(ds.info["records"])
    perm = np.random.default_rng(CALIBRATION_SEED).permutation(normal)
    n_cal = int(round(len(perm) * VAL_FRACTION))
    cal, train = np.sort(perm[:n_cal]), np.sort(perm[n_cal:])
    x = ds.leads(cfg.n_leads)
    tr = Trainer(cfg, out_dir=output.parent / f".{output.name}-run", machine=machine,
                 **ds.trainer_inputs(cfg, train, cal))
    tr.resume_or_restart()  # an interrupted export continues; a run of another recipe is set aside
    tr.fit()
    # the generator, or its EMA teacher when it has one: whichever reconstructs the held-out normal
    # beats better (the rule the evaluation's -ema rows are compared by; no anomaly label)
    candidates = {"generator": tr.G.cpu().eval()}
    if cfg.has_ema_teacher:
        candidates["ema"] = tr.teacher.cpu().eval()
    cal_by = {k: score_arrays(g, x[cal]) for k, g in candidates.items()}
    held_out = {k: float(v.mse.mean()) for k, v in cal_by.items()}
    chosen = weights if weights != "auto" else min(held_out, key=held_out.get)
    G, cal_scores = candidates[chosen], cal_by[chosen]
    recipe = recipe_of(cfg, name, machine_used(tr))
    rhythm = None
    scores = cal_scores.mse
    if use_rhythm:
        rhythm = RhythmModel.fit(ds.rhythm(train), cal_scores.mse)
        scores = rhythm.score(cal_scores.mse, ds.rhythm(cal))
    threshold = threshold_at_specificity(scores, SPECIFICITY)
    params = BeatParams(n_leads=cfg.n_leads)
    card = ModelCard(
        schema=SCHEMA, name="SI-BeatGAN V2" if cfg.model == "si-beatgan-v2" else cfg.model, version=version,
        network=NETWORK, architecture=G.cfg, created=_dt.date.today().isoformat(),
        preprocessing=Preprocessing(
            n_leads=params.n_leads, fs=params.fs, before=params.before, after=params.after, band_hz=params.band_hz,
            filter="FIR band-pass 3-45 Hz, order 0.3 x fs, zero phase",
            leads="MLII (or II / ECG by name)" + (" + a chest lead" if cfg.n_leads == 2 else ""),
            r_peaks="reference beat annotations when present, else the QRS detector"),
        training_data=TrainingData(
            database="MIT-BIH Arrhythmia Database v1.0.0 (ODC-By 1.0; Moody & Mark 2001; Goldberger et al. 2000)",
            records=records,
            beats=f"N beats (BeatGAN mapping N, L, R; R peak confirmed by the detector within 10 samples) "
                  f"of the {len(records)} " + ("non-paced records" if train_records is None else "records named")
                  + f": {len(train)} for training, {len(cal)} held out (seed "
                  f"{CALIBRATION_SEED}) to set the threshold. No S, V, F or Q beat was used.",
            note="This model saw every benchmark record's N beats; the evaluation figures below come from "
                 "models trained with the same recipe without their test folds (docs/results.md)."
            if train_records is None else
            "A lab model: trained on the N beats of the records named only (MIT-BIH DS1: DS2 stays unseen)."),
        recipe=recipe,
        training=Training(epochs=tr.state.epoch, wall_s=round(time.perf_counter() - t0, 1), hardware=hardware(),
                          final_val_mse=tr.state.history[-1]["val_mse"] if tr.state.history else None,
                          weights=chosen, held_out_mse=held_out),
        score=Score(kind="mse+rhythm" if use_rhythm else "mse",
                    description="mean squared reconstruction error" + (
                        ", as a robust z-score, plus the robust z-score of the Mahalanobis distance of two log "
                        "RR ratios (fitted on normal beats)" if use_rhythm else ""),
                    rhythm=rhythm),
        threshold=Threshold(value=threshold, specificity_target=SPECIFICITY, set_on=f"{len(cal)} held-out N beats"),
        metrics=metric_rows(results_dir, recipe, chosen, use_rhythm),
        licence="model weights: MIT; training data: MIT-BIH, ODC-By 1.0 (attribution in the card)",
    )
    return save_model(G, card, output, onnx=True)


def measured_rows(results_dir: Path, card: ModelCard) -> list[MeasuredRow]:
    """The ``trainer crossdb`` files in ``results_dir`` that scored this card's weights at its
    threshold, as card rows (the variant the product scores with: ``crossdb.product_variant``).
    Files of other weights, or taken before a refit moved the threshold, are left out."""
    if card.weights is None:
        return []
    from trainer.crossdb import database_label, is_whole_database, product_variant

    variant = product_variant(card)
    threshold = card.default_threshold

    rows = []
    for path in sorted(Path(results_dir).glob("crossdb-*.json")):
        try:
            d = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if not isinstance(d, dict) or d.get("weights_sha256") != card.weights.sha256 or d.get("shift_ms"):
            continue
        m = d.get("variants", {}).get(variant)
        if m is None or m.get("n_flagged_pooled") is None or not is_whole_database(d):
            continue  # a card quotes whole databases with normal beats in them, nothing less
        if not math.isclose(m["threshold"], threshold, rel_tol=1e-9):
            continue
        worst = m.get("n_flagged_worst") or {}
        rows.append(MeasuredRow(
            data=database_label(d), beats=d["beats"],
            source=path.name, weights_sha256=d["weights_sha256"], threshold=m["threshold"], records=m["n_records"],
            auc=m["auc"], ap=m["ap"], n_flagged=m["n_flagged_pooled"], worst_record=str(worst.get("record", "")),
            worst_share=float(worst.get("share", 0.0)), records_over_10pct=m["records_over_10pct"],
            second_lead=bool(d.get("second_lead")), auc_by_class=dict(m["auc_by_class"]),
            sensitivity_by_class=dict(m["sensitivity_by_class"])))
    return rows


def refresh_card_metrics(card: Path, results_dir: Path) -> Path:
    """Rewrite a card's measured metrics from results/: its recipe's evaluation rows and the database
    rows of its own weights (the weights and their hash are untouched)."""
    c = read_card(card)
    weights = c.training.weights if c.training else "generator"
    c = replace(c, metrics=metric_rows(results_dir, c.recipe, weights, c.score.rhythm is not None),
                measured=measured_rows(results_dir, c))
    write_text_atomic(card, card_json(c))
    return card
