"""The bundled model: trained on every N beat of the benchmark records, with its model card."""

from __future__ import annotations

import datetime as _dt
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ecgviewer.core.atomic import write_text_atomic
from ecgviewer.core.beats import BeatParams
from ecgviewer.core.modelfile import save_model
from ecgviewer.core.scoring import RhythmModel, score_arrays
from trainer.config import MachineConfig
from trainer.dataset import BeatDataset
from trainer.evaluate import hardware
from trainer.metrics import threshold_at_specificity
from trainer.splits import VAL_FRACTION
from trainer.train import TrainConfig, Trainer

SPECIFICITY = 0.99
CALIBRATION_SEED = 7


def _metrics_from(results_dir: Path, name: str) -> dict:
    out = {}
    for split in ("intra", "inter"):
        p = results_dir / f"{name}-{split}.json"
        if p.is_file():
            d = json.loads(p.read_text())
            folds = d.get("folds", [])
            out[split] = {k: d.get(k) for k in ("mean_auc", "std_auc", "mean_ap", "std_ap", "auc_by_class")}
            out[split]["folds"] = len(folds)
            sens = [f["sens_at_val99"] for f in folds if "sens_at_val99" in f]
            spec = [f["spec_at_val99"] for f in folds if "spec_at_val99" in f]
            if sens:
                out[split]["sensitivity_at_99_specificity_threshold"] = float(np.mean(sens))
                out[split]["test_specificity_at_that_threshold"] = float(np.mean(spec))
    return out


def train_bundled_model(ds: BeatDataset, cfg: TrainConfig, output: Path, results_dir: Path,
                        version: str = "2.0.0", use_rhythm: bool = True, weights: str = "auto",
                        result_name: str | None = None, machine: MachineConfig | None = None) -> Path:
    """Train on all N beats of the 44 records but a held-out 5 % that sets the alert threshold.

    ``weights``: "generator", "ema" (the EMA teacher of the self-distilled models) or "auto" (the
    one with the lower held-out normal error). ``result_name``: the results/ rows whose figures the
    card quotes (default: the recipe's model name).
    """
    available = ["generator"] + (["ema"] if cfg.has_ema_teacher else [])
    if weights not in ("auto", *available):  # checked before hours of training, not after
        raise ValueError(f"weights {weights!r}: this model has {' and '.join(available)} weights only")
    t0 = time.perf_counter()
    normal = np.flatnonzero(ds.cls == "N")
    perm = np.random.default_rng(CALIBRATION_SEED).permutation(normal)
    n_cal = int(round(len(perm) * VAL_FRACTION))
    cal, train = np.sort(perm[:n_cal]), np.sort(perm[n_cal:])
    x = ds.leads(cfg.n_leads)
    tr = Trainer(cfg, x[train], x[cal], output.parent / f".{output.name}-run", groups=ds.record[train], machine=machine)
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
    rhythm = None
    scores = cal_scores.mse
    if use_rhythm:
        rhythm = RhythmModel.fit(ds.rhythm(train), cal_scores.mse)
        scores = rhythm.score(cal_scores.mse, ds.rhythm(cal))
    threshold = threshold_at_specificity(scores, SPECIFICITY)
    name = (result_name or cfg.model) + ("+rr" if use_rhythm else "")
    card = {
        "name": "SI-BeatGAN V2" if cfg.model == "si-beatgan-v2" else cfg.model,
        "version": version,
        "created": _dt.date.today().isoformat(),
        "preprocessing": {**BeatParams(n_leads=cfg.n_leads).as_dict(),
                          "filter": "FIR band-pass 3-45 Hz, order 0.3 x fs, zero phase",
                          "leads": "MLII (or II / ECG by name)" + (" + a chest lead" if cfg.n_leads == 2 else ""),
                          "r_peaks": "reference beat annotations when present, else the QRS detector"},
        "training_data": {
            "database": "MIT-BIH Arrhythmia Database v1.0.0 (ODC-By 1.0; Moody & Mark 2001; Goldberger et al. 2000)",
            "records": ds.info["records"],
            "beats": f"N beats (BeatGAN mapping N, L, R; R peak confirmed by the detector within 10 samples) "
                     f"of the 44 non-paced records: {len(train)} for training, {len(cal)} held out (seed "
                     f"{CALIBRATION_SEED}) to set the threshold. No S, V, F or Q beat was used.",
            "note": "This model saw every benchmark record's N beats; the evaluation figures below come from "
                    "models trained without their test folds (docs/results.md).",
        },
        "recipe": asdict(cfg),
        "training": {"epochs": tr.state.epoch, "wall_s": round(time.perf_counter() - t0, 1), "hardware": hardware(),
                     "final_val_mse": tr.state.history[-1]["val_mse"] if tr.state.history else None,
                     "weights": chosen, "held_out_mse": held_out, "results": name},
        "score": {"kind": "mse+rhythm" if use_rhythm else "mse",
                  "description": "mean squared reconstruction error" + (
                      ", as a robust z-score, plus the robust z-score of the Mahalanobis distance of two log "
                      "RR ratios (fitted on normal beats)" if use_rhythm else ""),
                  "rhythm": rhythm.as_dict() if rhythm else None},
        "threshold": {"value": threshold, "specificity_target": SPECIFICITY,
                      "set_on": f"{len(cal)} held-out N beats"},
        "metrics": _metrics_from(results_dir, name),
        "licence": "model weights: MIT; training data: MIT-BIH, ODC-By 1.0 (attribution in the card)",
    }
    return save_model(G, card, output, onnx=True)


def refresh_card_metrics(card: Path, results_dir: Path) -> Path:
    """Rewrite a card's measured metrics from results/ (the weights and their hash are untouched)."""
    data = json.loads(card.read_text())
    recipe = data.get("recipe", {})
    name = data.get("training", {}).get("results") or (
        recipe.get("model", "si-beatgan-v2") + ("+rr" if data.get("score", {}).get("rhythm") else ""))
    data["metrics"] = _metrics_from(results_dir, name)
    data["metrics_recipe_note"] = ("5-fold figures come from models trained with this card's recipe on each fold's "
                                   "training N beats only (results/*.json)")
    write_text_atomic(card, json.dumps(data, indent=2) + "\n")
    return card
