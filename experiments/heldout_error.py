"""Held-out normal error of finished evaluation runs, recomputed from their checkpoints.

Why: recipes are chosen here by the reconstruction error of held-out N beats (no anomaly label).
Runs evaluated before ``final_val_mse_record_mean`` existed lack the per-record form of it (each
record counting once, which a recipe that reweights records should be judged by); this recomputes
both forms for any run folder, so old and new recipes are compared on the same figures.

    python -m experiments.heldout_error --data-dir ../shared/data/mitdb --runs beatgan-r3 beatgan-bal --folds 0
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ecgviewer.core.scoring import score_arrays
from trainer.checkpoint import load_generator
from trainer.dataset import get_dataset
from trainer.evaluate import fold_run_dir, record_mean
from trainer.splits import get_splits

ROOT = Path(__file__).resolve().parents[1]  # the checkout: default runs/ and experiments/results/


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--runs", nargs="+", required=True, help="evaluation names (runs/NAME-SPLIT/foldK)")
    ap.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--split", default="intra", choices=["intra", "inter"])
    ap.add_argument("--runs-dir", type=Path, default=ROOT / "runs")
    a = ap.parse_args(argv)
    ds, _, _ = get_dataset(a.data_dir)
    rows = []
    for split in get_splits(a.split, ds.cls, ds.record):
        if split.fold not in a.folds:
            continue
        for name in a.runs:
            ck = fold_run_dir(a.runs_dir, name, a.split, split.fold) / "ckpt.pt"
            if not ck.is_file():
                print(f"{ck}: not found", file=sys.stderr)
                continue
            g = load_generator(ck)
            mse = score_arrays(g, ds.leads(g.cfg.n_leads)[split.val]).mse
            rows.append({"run": name, "fold": split.fold, "val_mse": float(mse.mean()),
                         "val_mse_record_mean": record_mean(mse, ds.record[split.val])})
            print(json.dumps(rows[-1]), flush=True)
    return 0 if rows else 1


if __name__ == "__main__":
    raise SystemExit(main())
