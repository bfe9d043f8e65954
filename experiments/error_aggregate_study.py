"""Which part of a beat's reconstruction error should the morphology channel read?

The product's morphology channel reads the mean squared error over the whole window (320 ticks:
390 ms before the R peak to 500 ms after). Much of that is P wave, baseline and T wave, where a
normal beat of another patient or recorder differs too; a ventricular beat differs most around its
QRS. This study compares other summaries of the same per-tick error, with no network trained:

- ``mean``: the product's (the whole window);
- ``qrs``: the mean over -100 .. +150 ms around the R peak;
- ``core``: the mean over -200 .. +400 ms (QRS and ST-T);
- ``top10``: the mean of the worst tenth of the ticks;
- ``smax``: the largest 50-ms moving average.

Each is put through the robust rule refitted on MIT-BIH DS1's N beats (``trainer.robust_fit.fit``),
and MIT-BIH DS2 judges it (reference and detector beats). qtdb-x is never read here.

    python -m experiments.error_aggregate_study build --data ../shared/data/mitdb --out DIR
    python -m experiments.error_aggregate_study judge --rows DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ecgviewer.core.resources import bundled_model_path
from ecgviewer.core.robust import RR_QUANTILE_MEDIAN, beat_features
from ecgviewer.core.scorer import Scorer
from experiments.irregularity_study import cells, judge, table_head
from trainer.robust_fit import fit, load_rows, reconstructed_beats, save_rows
from trainer.splits import DS1, DS2

AGGREGATES = ("mean", "qrs", "core", "top10", "smax")
SETS = (("ds1_ref", DS1, False), ("ds2_ref", DS2, False), ("ds2_det", DS2, True))
TARGETS = (0.015, 0.02, 0.03)


def aggregates(err: np.ndarray, r_tick: int, fs: float) -> dict[str, np.ndarray]:
    """Each summary of the per-tick squared error ``err`` (beats, leads, ticks) of one record."""
    e = err.reshape(len(err), -1, err.shape[-1]).mean(axis=1).astype(np.float64)
    ms = fs / 1000.0
    qrs = slice(r_tick - round(100 * ms), r_tick + round(150 * ms))
    core = slice(r_tick - round(200 * ms), r_tick + round(400 * ms))
    k = max(1, e.shape[1] // 10)
    w = round(50 * ms)
    c = np.cumsum(np.pad(e, ((0, 0), (1, 0))), axis=1)
    return {"mean": e.mean(axis=1), "qrs": e[:, qrs].mean(axis=1), "core": e[:, core].mean(axis=1),
            "top10": np.sort(e, axis=1)[:, -k:].mean(axis=1), "smax": ((c[:, w:] - c[:, :-w]) / w).max(axis=1)}


def build(data: Path, out: Path, card: Path) -> None:
    """Rows (classes, each summary, prematurity features) per set and summary, as ``OUT/SET_AGG.npz``."""
    scorer = Scorer.load(card, align="peak", rule=None)
    p = scorer.model.card.preprocessing
    out.mkdir(parents=True, exist_ok=True)
    for tag, names, detect in SETS:
        rows: dict[str, list] = {k: [] for k in AGGREGATES}
        for name in names:
            beats, err = reconstructed_beats(scorer, data / name, detect)
            f = beat_features(beats, RR_QUANTILE_MEDIAN)  # this study's rows: the median reference
            for k, v in aggregates(err, p.before, p.fs).items():
                rows[k].append((beats.cls, v.astype(np.float32), f))
            print(f"error_aggregate_study: {tag} {name}", file=sys.stderr, flush=True)
        for k, r in rows.items():
            save_rows(out / f"{tag}_{k}.npz", r)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="score MIT-BIH DS1 and DS2 with the bundled model, keep each summary")
    b.add_argument("--data", type=Path, required=True)
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--card", type=Path, default=None, help="model card (default: the bundled model)")
    j = sub.add_parser("judge", help="refit on DS1, judge on DS2, for each summary")
    j.add_argument("--rows", type=Path, required=True)
    a = ap.parse_args(argv)
    if a.cmd == "build":
        if not a.data.is_dir():
            print(f"error_aggregate_study: {a.data}: no such folder", file=sys.stderr)
            return 2
        build(a.data, a.out, a.card or bundled_model_path())
        return 0
    missing = [f"{t}_{k}.npz" for t, _, _ in SETS for k in AGGREGATES if not (a.rows / f"{t}_{k}.npz").is_file()]
    if missing:
        print(f"error_aggregate_study: {a.rows}: {missing[0]} missing (run build first)", file=sys.stderr)
        return 2
    print(table_head("error read"))
    for k in AGGREGATES:
        train = load_rows(a.rows / f"ds1_ref_{k}.npz")
        for t in TARGETS:
            rule, _ = fit(train, t, rr_quantile=RR_QUANTILE_MEDIAN)
            for tag in ("ds2_ref", "ds2_det"):
                m = judge(rule, load_rows(a.rows / f"{tag}_{k}.npz"))
                print(f"| {k} | {t:.1%} | {rule.threshold:.2f} | {tag[4:]} | {cells(m)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
