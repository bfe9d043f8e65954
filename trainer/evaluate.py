"""The evaluation protocol: train per fold on normal beats, score the test beats, write results.

Model selection uses no anomaly label: the recipe is a fixed schedule (cosine decay to a fixed
epoch count) and the model of the last epoch is scored. Held-out normal beats give the
reconstruction error of each epoch (logged) and the scale of the rhythm term. Each fold's result
is written as soon as it is done, so a run cut short keeps what it finished.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from ecgviewer.core.atomic import write_text_atomic
from ecgviewer.core.classes import ANOMALY_CLASSES
from ecgviewer.core.scoring import RhythmModel, score_arrays
from trainer.augment import shift_by
from trainer.config import MachineConfig, TrainConfig, recipe_differences, recipe_id
from trainer.dataset import BeatDataset
from trainer.metrics import average_precision, roc_auc, threshold_at_specificity
from trainer.splits import Split, get_splits
from trainer.train import Trainer


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), for result and benchmark records."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware() -> str:
    cpu = cpu_model()
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return f"{os.cpu_count()} CPU cores ({cpu})" + (f", GPU {gpu}" if gpu else "")


def fold_metrics(cls: np.ndarray, scores: np.ndarray) -> dict:
    """AUC and AP overall (anomaly vs N) and per class (that class vs N)."""
    y = cls != "N"
    out = {"auc": roc_auc(y, scores), "ap": average_precision(y, scores), "auc_by_class": {}, "ap_by_class": {},
           "n_test": {c: int((cls == c).sum()) for c in ("N",) + ANOMALY_CLASSES}}
    for c in ANOMALY_CLASSES:
        m = (cls == c) | (cls == "N")
        if (cls == c).any():
            out["auc_by_class"][c] = roc_auc(cls[m] == c, scores[m])
            out["ap_by_class"][c] = average_precision(cls[m] == c, scores[m])
    return out


def summarise(folds: list[dict]) -> dict:
    def ms(key: str) -> tuple[float, float]:
        v = np.array([f[key] for f in folds], dtype=float)
        return float(v.mean()), float(v.std())

    mean_auc, std_auc = ms("auc")
    mean_ap, std_ap = ms("ap")
    by = {}
    for c in ANOMALY_CLASSES:
        v = [f["auc_by_class"][c] for f in folds if c in f["auc_by_class"]]
        if v:
            by[c] = {"mean": float(np.mean(v)), "std": float(np.std(v))}
    return {"mean_auc": mean_auc, "std_auc": std_auc, "mean_ap": mean_ap, "std_ap": std_ap, "auc_by_class": by}


def _write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(payload, indent=1) + "\n")


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive lock beside ``path``, so parallel fold runs can share one results file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as f:
        try:
            import fcntl

            fcntl.flock(f, fcntl.LOCK_EX)
        except ImportError:  # Windows: runs there are sequential
            pass
        yield


def _load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def record_mean(values: np.ndarray, record: np.ndarray) -> float | None:
    """Mean over records of each record's mean value."""
    if not len(values):
        return None
    _, inverse = np.unique(record, return_inverse=True)
    return float(np.mean(np.bincount(inverse, weights=values) / np.bincount(inverse)))


def fold_run_dir(runs_dir: Path, name: str, split_name: str, fold: int) -> Path:
    """Where ``evaluate`` trains (and checkpoints) one fold of one named evaluation."""
    return Path(runs_dir) / f"{name}-{split_name}" / f"fold{fold}"


def run_fold(ds: BeatDataset, cfg: TrainConfig, split: Split, run_dir: Path, log=print, progress: bool = True,
             machine: MachineConfig | None = None) -> dict:
    """Train (or resume) one fold and score its test set; returns metrics for each score kind.

    Kinds: "mse" (reconstruction error), "rr" (plus rhythm); with an EMA teacher also "ema_mse"
    and "ema_rr", the same scores from the teacher's weights.
    """
    x = ds.leads(cfg.n_leads)
    t0 = time.perf_counter()
    tr = Trainer(cfg, out_dir=run_dir, log=log, machine=machine,
                 **ds.trainer_inputs(cfg, split.train, split.val))
    tr.resume_or_restart(log=log)
    tr.fit(progress=progress)
    if tr.state.epoch < cfg.epochs:
        raise KeyboardInterrupt
    train_s = time.perf_counter() - t0
    rr_train, rr_test, rr_val = ds.rhythm(split.train), ds.rhythm(split.test), ds.rhythm(split.val)
    cls = ds.cls[split.test]
    common = {"fold": split.fold, "train_s": round(train_s, 1), "n_train": int(len(split.train)),
              "epochs": tr.state.epoch, "precision": "bf16" if tr.amp or tr.cpu_bf16 else "fp32"}
    out = {}
    # the trained generator; for the self-distilled models also their EMA teacher (a Polyak average
    # of the generator's weights), which is scored the same way and chosen by held-out normal error
    nets = {"": tr.G}
    if cfg.has_ema_teacher:
        nets["ema_"] = tr.teacher
    for prefix, net in nets.items():
        G = net.eval()
        t1 = time.perf_counter()
        test = score_arrays(G, x[split.test], device=tr.device)
        score_s = time.perf_counter() - t1
        val = score_arrays(G, x[split.val], device=tr.device)
        # rhythm context, fitted on normal beats only: RR features of the training N beats, scale of
        # the reconstruction error from the held-out N beats
        rhythm = RhythmModel.fit(rr_train, val.mse)
        combined = rhythm.score(test.mse, rr_test)
        val_combined = rhythm.score(val.mse, rr_val)
        both = {**common, "score_beats_per_s": round(len(test.mse) / score_s, 1),
                "final_val_mse": float(val.mse.mean()) if len(val.mse) else None,
                # the same, each record counting once: the criterion for recipes that reweight records
                "final_val_mse_record_mean": record_mean(val.mse, ds.record[split.val])}
        out[prefix + "mse"] = {**both, **fold_metrics(cls, test.mse), **operating_point(cls, test.mse, val.mse),
                               **(robustness_metrics(G, ds, cfg, split, tr.device) if not prefix else {})}
        out[prefix + "rr"] = {**both, **fold_metrics(cls, combined), **operating_point(cls, combined, val_combined)}
    return out


#: The shift of the shifted-test metric: 8 ticks (22 ms at 360 Hz), alternately early and late.
TEST_SHIFT = 8


def robustness_metrics(G, ds: BeatDataset, cfg: TrainConfig, split: Split, device) -> dict:
    """Morphology AUC/AP of the same test beats as other recorders would give them: on the second
    lead cut alone (``other_lead_*``: V1, V2, V4, V5, their own polarity and fiducial) and with every
    window moved by TEST_SHIFT ticks (``shift_*``: a fiducial off by 22 ms). What the tolerance
    augmentations (aug_shift, aug_invert, other_lead) are meant to buy, measured without labels
    changing; one-lead models only."""
    if cfg.n_leads != 1:
        return {}
    out = {}
    cls = ds.cls[split.test]
    x = ds.leads(1)[split.test]
    ticks = torch.from_numpy(np.where(np.arange(len(x)) % 2 == 0, TEST_SHIFT, -TEST_SHIFT))
    tests = {"shift": shift_by(torch.from_numpy(np.ascontiguousarray(x, np.float32)), ticks).numpy()}
    if ds.x_other is not None:
        tests["other_lead"] = ds.other_lead()[split.test]
    for name, xt in tests.items():
        m = fold_metrics(cls, score_arrays(G, xt, device=device).mse)
        out.update({f"{name}_auc": m["auc"], f"{name}_ap": m["ap"], f"{name}_auc_by_class": m["auc_by_class"]})
    return out


def operating_point(cls: np.ndarray, scores: np.ndarray, val_normal: np.ndarray, specificity: float = 0.99) -> dict:
    """Sensitivity and specificity on the test set at the threshold set on held-out normal beats."""
    thr = threshold_at_specificity(val_normal, specificity)
    flagged = scores >= thr
    return {"threshold_val99": thr, "sens_at_val99": float(flagged[cls != "N"].mean()),
            "spec_at_val99": float((~flagged[cls == "N"]).mean())}


SCORE_TEXT = {
    "mse": "mean squared reconstruction error",
    "rr": "reconstruction z-score + RR-ratio Mahalanobis z-score (normal beats only)",
    "ema_mse": "mean squared reconstruction error of the EMA teacher's weights",
    "ema_rr": "EMA teacher's reconstruction z-score + RR-ratio Mahalanobis z-score (normal beats only)",
}


def result_name(name: str, kind: str) -> str:
    """The results/ name of a score kind: NAME, NAME+rr, NAME-ema, NAME-ema+rr."""
    return name + ("-ema" if kind.startswith("ema_") else "") + ("+rr" if kind.endswith("rr") else "")


def run_name(model: str) -> str:
    """The inverse of :func:`result_name`: the run a row comes from (NAME for NAME, NAME+rr, NAME-ema...)."""
    return model.removesuffix("+rr").removesuffix("-ema")


def evaluate(ds: BeatDataset, cfg: TrainConfig, split_name: str, results_dir: Path, runs_dir: Path,
             name: str | None = None, folds: list[int] | None = None, log=print, progress: bool = True,
             machine: MachineConfig | None = None) -> dict:
    """Run the protocol for one model and split into results/<name>-<split>.json, <name>+rr-<split>.json
    and, for the self-distilled models, <name>-ema-<split>.json and <name>-ema+rr-<split>.json."""
    name = name or cfg.model
    splits = get_splits(split_name, ds.cls, ds.record)
    if folds is not None:
        splits = [s for s in splits if s.fold in folds]
    kinds = ["mse", "rr"] + (["ema_mse", "ema_rr"] if cfg.has_ema_teacher else [])
    paths = {k: results_dir / f"{result_name(name, k)}-{split_name}.json" for k in kinds}
    docs = {}
    for kind, p in paths.items():
        prev = _load(p)
        if prev is None or "recipe" not in prev or recipe_differences(prev["recipe"], cfg):
            prev = {"model": result_name(name, kind), "split": split_name, "folds": [],
                    "recipe": asdict(cfg), "recipe_id": recipe_id(cfg), "score": SCORE_TEXT[kind],
                    "hardware": hardware(), "wall_s": 0.0}
        docs[kind] = prev
    for sp in splits:
        if all(any(f["fold"] == sp.fold for f in docs[k]["folds"]) for k in kinds):
            log(f"{name} {split_name} fold {sp.fold}: already done")
            continue
        t0 = time.perf_counter()
        fold_cfg = replace(cfg, teacher=cfg.teacher.format(fold=sp.fold)) if cfg.teacher else cfg
        res = run_fold(ds, fold_cfg, sp, fold_run_dir(runs_dir, name, split_name, sp.fold), log=log, progress=progress,
                       machine=machine)
        wall = time.perf_counter() - t0
        for kind in kinds:
            with _locked(paths[kind]):
                # merge with what other processes (other folds of the same model) wrote meanwhile
                on_disk = _load(paths[kind])
                same = on_disk is not None and "recipe" in on_disk and not recipe_differences(on_disk["recipe"], cfg)
                d = on_disk if same else docs[kind]
                d["folds"] = [f for f in d["folds"] if f["fold"] != sp.fold] + [{**res[kind], "wall_s": round(wall, 1)}]
                d["folds"].sort(key=lambda f: f["fold"])
                d["wall_s"] = round(sum(f["wall_s"] for f in d["folds"]), 1)
                d["hardware"] = hardware()
                d["dataset"] = ds.info.get("cache_key")
                d["recipe_id"] = recipe_id(cfg)
                d.update(summarise(d["folds"]))
                _write_json(paths[kind], d)
                docs[kind] = d
        log(f"{name} {split_name} fold {sp.fold}: AUC {res['mse']['auc']:.4f} AP {res['mse']['ap']:.4f} | "
            f"+rr AUC {res['rr']['auc']:.4f} AP {res['rr']['ap']:.4f} ({wall:.0f} s)")
        if "ema_mse" in res:
            log(f"{name} {split_name} fold {sp.fold} EMA teacher: AUC {res['ema_mse']['auc']:.4f} "
                f"+rr AUC {res['ema_rr']['auc']:.4f} (held-out normal MSE {res['ema_mse']['final_val_mse']:.5f}"
                f" vs {res['mse']['final_val_mse']:.5f})")
    return docs
