"""How much of BeatGAN's published AUC comes from choosing the epoch with anomaly labels?

The reference code (hi-bingo/BeatGAN) trains 100 epochs at a constant learning rate and keeps the
epoch whose AUC is best on a validation set of 10 % of the training N beats plus 10 % of every
anomaly class, drawn from the same records as the test anomalies. This script trains that recipe
(BeatGAN's networks by default, ``--model`` for SI-BeatGAN or V2) on one fold, checkpoints every
``--every`` of an epoch, and records at each checkpoint:

- the held-out normal reconstruction error (``val_mse``: needs no label; what this project uses),
- the reference's validation AUC (``val_auc``: uses anomaly labels),
- the test AUC / AP on the fold's N beats plus the other 90 % of anomalies,
- the same with rhythm context (``rr_test_auc``; fitted on normal beats only, as evaluate does),

for the generator and for an exponential moving average (EMA) of its weights. The summary then
compares the test AUC at the last checkpoint, at the label-chosen one (the reference's rule), at
the normal-only one (lowest ``val_mse``) and the best any rule could pick (an oracle).

Results go to ``experiments/results/selection-study/<name>-fold<k>.jsonl`` (one line per checkpoint, written as
it is measured) and a ``...-summary.json``; a rerun resumes from ``runs/selection-study``.

    python -m experiments.selection_study --data-dir ../shared/data/mitdb --minutes 100
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ecgviewer.core.atomic import write_text_atomic
from ecgviewer.core.classes import ANOMALY_CLASSES
from ecgviewer.core.scoring import RhythmModel, score_arrays
from trainer.evaluate import fold_metrics
from trainer.metrics import roc_auc

ROOT = Path(__file__).resolve().parents[1]  # the checkout: default runs/ and experiments/results/

REF_VAL_ANOMALY_FRACTION = 0.1  # the reference's getPercent(..., 0.1) on each anomaly class


def reference_val_split(cls: np.ndarray, test: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Move 10 % of each anomaly class out of ``test`` into a labelled validation set, as the reference."""
    rng = np.random.default_rng(seed + 2024)
    val_anom = []
    for c in ANOMALY_CLASSES:
        idx = test[cls[test] == c]
        if len(idx):
            k = int(round(len(idx) * REF_VAL_ANOMALY_FRACTION))
            val_anom.append(rng.permutation(idx)[:k])
    val_anom = np.sort(np.concatenate(val_anom)) if val_anom else np.zeros(0, int)
    return np.setdiff1d(test, val_anom), val_anom


def choose(rows: list[dict], prefix: str = "", test_prefix: str | None = None) -> dict:
    """Test AUC/AP of the checkpoint each rule picks (ties: the earliest).

    The rules read ``prefix``'s validation figures; the test figures reported are ``test_prefix``'s
    (default ``prefix``), e.g. the score with rhythm context of the same checkpoint.
    """
    tp = prefix if test_prefix is None else test_prefix

    def at(i: int, rule: str) -> dict:
        r = rows[i]
        return {"rule": rule, "checkpoint": r["checkpoint"], "epochs": r["epochs"], "test_auc": r[tp + "test_auc"],
                "test_ap": r[tp + "test_ap"]}

    test = [r[tp + "test_auc"] for r in rows]
    return {
        "last": at(len(rows) - 1, "last checkpoint (fixed schedule)"),
        "normal_only": at(int(np.argmin([r[prefix + "val_mse"] for r in rows])), "lowest held-out normal MSE"),
        "labels": at(int(np.argmax([r[prefix + "val_auc"] for r in rows])), "best validation AUC (reference)"),
        "oracle": at(int(np.argmax(test)), "best test AUC (oracle, no rule can know it)"),
    }


def measure(G, x: np.ndarray, cls: np.ndarray, val_n: np.ndarray, val_a: np.ndarray, test: np.ndarray,
            device, rr: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Held-out normal error, the labelled validation AUC and the test metrics of one checkpoint.

    ``rr`` (rhythm features of the training N beats and of ``test``) adds the test
    metrics of the score with rhythm context, fitted on normal beats only as evaluate does.
    """
    G.eval()
    mse_val_n = score_arrays(G, x[val_n], device=device).mse
    mse_val_a = score_arrays(G, x[val_a], device=device).mse
    mse_test = score_arrays(G, x[test], device=device).mse
    yv = np.r_[np.zeros(len(val_n), bool), np.ones(len(val_a), bool)]
    m = fold_metrics(cls[test], mse_test)
    row = {"val_mse": float(mse_val_n.mean()), "val_auc": roc_auc(yv, np.r_[mse_val_n, mse_val_a]),
           "test_auc": m["auc"], "test_ap": m["ap"], "test_auc_by_class": m["auc_by_class"]}
    if rr is not None:
        rr_train, rr_test = rr
        rhythm = RhythmModel.fit(rr_train, mse_val_n)
        mr = fold_metrics(cls[test], rhythm.score(mse_test, rr_test))
        row.update({"rr_test_auc": mr["auc"], "rr_test_ap": mr["ap"]})
    return row


def resume_study(tr, ema, log_path: Path) -> list[dict]:
    """Continue the study in ``tr``'s run folder, or start it over; returns the rows measured so far.

    A checkpoint of another recipe is moved aside by ``Trainer.resume_or_restart`` (nothing is
    deleted), and the study's rows go aside with it, so a resumed study never mixes two recipes.
    """
    import torch

    if tr.resume_or_restart():
        ema.load_state_dict(torch.load(tr.out / "ema.pt", map_location="cpu", weights_only=True))
    elif log_path.is_file():
        log_path.replace(log_path.with_name(f"{log_path.name}.old-{int(time.time())}"))
    rows = [json.loads(line) for line in log_path.read_text().splitlines()] if log_path.is_file() else []
    if len(rows) > tr.state.epoch:  # rows past the last checkpoint: cut, so new rows follow the kept ones
        rows = rows[: tr.state.epoch]
        write_text_atomic(log_path, "".join(json.dumps(r) + "\n" for r in rows))
    return rows


def main(argv: list[str] | None = None) -> int:
    import torch

    from trainer.config import REFERENCE, MachineConfig, TrainConfig
    from trainer.dataset import get_dataset
    from trainer.evaluate import hardware
    from trainer.splits import get_splits
    from trainer.train import Trainer, ema_update

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--fold", type=int, default=0)
    p.add_argument("--model", default="beatgan", choices=["beatgan", "si-beatgan", "si-beatgan-v2"])
    p.add_argument("--width", type=int, default=32, help="the reference's 32")
    p.add_argument("--amp", action="store_true", help="bf16 autocast on CUDA (the reference trains in fp32)")
    p.add_argument("--device", default="auto")
    p.add_argument("--every", type=float, default=0.25, help="checkpoint every this fraction of an epoch")
    p.add_argument("--minutes", type=float, default=100, help="stop after this much wall time (resumable)")
    p.add_argument("--max-epochs", type=float, default=100)
    p.add_argument("--ema", type=float, default=0.999, help="EMA decay per step")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--name", default="beatgan-reference")
    p.add_argument("--results", default=str(ROOT / "experiments" / "results" / "selection-study"))
    p.add_argument("--runs", default=str(ROOT / "runs" / "selection-study"))
    args = p.parse_args(argv)

    ds = get_dataset(Path(args.data_dir))[0]
    split = get_splits("intra", ds.cls, ds.record)[args.fold]
    test, val_a = reference_val_split(ds.cls, split.test, seed=args.fold)
    x = ds.leads(1)
    rr = (ds.rhythm(split.train), ds.rhythm(test))
    n_train = len(split.train)
    chunk = int(round(n_train * args.every))
    # constant learning rate (the reference's), so the "epochs" field only bounds the run
    cfg = replace(TrainConfig(**REFERENCE), model=args.model, width=args.width, samples_per_epoch=chunk,
                  epochs=int(np.ceil(args.max_epochs / args.every)))
    machine = MachineConfig(device=args.device, amp=args.amp, threads=args.threads)
    run_dir = Path(args.runs) / f"{args.name}-fold{args.fold}"
    run_dir.mkdir(parents=True, exist_ok=True)
    out = Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / f"{args.name}-fold{args.fold}.jsonl"

    tr = Trainer(cfg, x[split.train], x[split.val], run_dir, groups=ds.record[split.train], machine=machine)
    ema = copy.deepcopy(tr.G).eval()
    for q in ema.parameters():
        q.requires_grad_(False)
    rows = resume_study(tr, ema, log_path)

    def update_ema(_losses: dict) -> None:
        ema_update(ema, tr.G, args.ema)

    t_end = time.monotonic() + args.minutes * 60
    spe = tr.steps_per_epoch()
    print(f"fold {args.fold}: {n_train} training N beats, checkpoint every {spe * cfg.batch} samples; "
          f"test {len(test)} beats, labelled validation {len(split.val)} N + {len(val_a)} anomalies", flush=True)
    summary = None
    while tr.state.epoch < cfg.epochs and time.monotonic() < t_end:
        t0 = time.perf_counter()
        tr.fit(max_steps=spe, progress=False, on_step=update_ema)
        train_s = time.perf_counter() - t0
        torch.save(ema.state_dict(), run_dir / "ema.pt")
        row = {"checkpoint": tr.state.epoch, "samples": tr.state.epoch * spe * cfg.batch,
               "epochs": round(tr.state.epoch * spe * cfg.batch / n_train, 3), "train_s": round(train_s, 1)}
        row.update(measure(tr.G, x, ds.cls, split.val, val_a, test, tr.device, rr))
        row.update({f"ema_{k}": v for k, v in measure(ema, x, ds.cls, split.val, val_a, test, tr.device, rr).items()})
        tr.G.train()
        rows.append(row)
        with open(log_path, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"{row['epochs']:6.2f} ep  val_mse {row['val_mse']:.5f}  val_auc {row['val_auc']:.4f}  "
              f"test {row['test_auc']:.4f}/{row['test_ap']:.4f}  EMA test {row['ema_test_auc']:.4f}  "
              f"({train_s:.0f} s)", flush=True)
        # the summary is rewritten at every checkpoint, so a run stopped at any time has one
        summary = {"name": args.name, "fold": args.fold, "recipe": {**REFERENCE, "model": args.model,
                   "width": args.width, "n_leads": 1, "checkpoint_every_epochs": args.every, "ema": args.ema,
                   "precision": "bf16" if tr.amp else "fp32"},
                   "checkpoints": len(rows), "epochs": rows[-1]["epochs"],
                   "train_s": round(sum(r["train_s"] for r in rows), 1), "hardware": hardware(),
                   "generator": choose(rows), "ema": choose(rows, "ema_"),
                   **({"generator_rr": choose(rows, "", "rr_"), "ema_rr": choose(rows, "ema_", "ema_rr_")}
                      if all("rr_test_auc" in r for r in rows) else {}),  # rows of a run from before rr
                   "command": "python -m experiments.selection_study " + " ".join(argv if argv is not None else sys.argv[1:])}
        write_text_atomic(out / f"{args.name}-fold{args.fold}-summary.json", json.dumps(summary, indent=1) + "\n")
    if summary is not None:
        print(json.dumps({k: summary[k] for k in ("generator", "ema")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
