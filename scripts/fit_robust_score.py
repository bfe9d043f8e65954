"""Fit the card's ``robust_score`` rule (ecgviewer/core/robust.py) on MIT-BIH DS1's normal beats.

No network training: the bundled generator reconstructs DS1's beats (reference annotations, windows
on the core's fiducial) through the product's Scorer; from the N beats only it fits

- the prematurity Gaussian and its z-scaling (``PrematurityModel.fit``),
- the population centre/spread of log MSE (used for records with under 30 beats),
- each channel's tail knots (``core.robust.tail_knots``: the z of 1 in 10^k normal beats),
- the default threshold: the score that flags ``--target`` of DS1's N beats, pooled.

DS1 (de Chazal's training half) is used so that DS2, and qtdb-x, stay for reporting. Writes the
``robust_score`` field of the card (the weights and every other field are untouched).

    nice -n 19 python scripts/fit_robust_score.py --data ../shared/data/mitdb --card resources/models/si-beatgan-v2.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ecgviewer.core.atomic import write_text_atomic
from ecgviewer.core.record import load_record
from ecgviewer.core.robust import (
    PrematurityModel,
    RobustScore,
    prematurity_features,
    tail_knots,
)
from ecgviewer.core.scorer import Scorer
from trainer.splits import DS1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--card", type=Path, default=Path("resources/models/si-beatgan-v2.json"))
    ap.add_argument("--target", type=float, default=0.01, help="share of DS1's N beats over the threshold")
    ap.add_argument("--cache", type=Path, help="keep DS1's errors and RR features in this .npz (refits skip the network)")
    args = ap.parse_args()
    if args.cache and args.cache.is_file():
        z = np.load(args.cache, allow_pickle=True)
        rows = list(z["rows"])
    else:
        scorer = Scorer.load(args.card, align="peak", rule=None)
        rows = []
        for name in DS1:
            beats = scorer.beats(load_record(args.data / name))
            _, err = scorer.reconstruct(beats)
            mse = err.reshape(len(beats), -1).mean(axis=1)
            rows.append((beats.cls, mse, prematurity_features(beats.rr_pre, beats.rr_post, beats.rr_median)))
            print(f"fit: {name} {len(beats)} beats", file=sys.stderr, flush=True)
        if args.cache:
            np.savez(args.cache, rows=np.array(rows, dtype=object))
    n = [r[0] == "N" for r in rows]
    feats_n = np.concatenate([r[2][m] for r, m in zip(rows, n)])
    logmse_n = np.log(np.concatenate([r[1][m] for r, m in zip(rows, n)]))
    q1, med, q3 = np.percentile(logmse_n, [25, 50, 75])
    rule = RobustScore(PrematurityModel.fit(feats_n), (float(med), float((q3 - q1) / 1.349)), 0.0, "sum", "record")
    zs = [rule.score(r[1], r[2]) for r in rows]
    rule.tails = {"morphology": tail_knots(np.concatenate([z[1][m] for z, m in zip(zs, n)])),
                  "rhythm": tail_knots(np.concatenate([z[2][m] for z, m in zip(zs, n)]))}
    scores_n = np.concatenate([rule.score(r[1], r[2])[0][m] for r, m in zip(rows, n)])
    rule.threshold = float(np.quantile(scores_n, 1.0 - args.target))
    card = json.loads(args.card.read_text())
    card["robust_score"] = {
        **rule.as_dict(), "align": "peak",
        "description": "the sum of two channels' -log10 tail probabilities among DS1 normal beats: log MSE "
                       "about the record's own centre (its 5th-25th percentiles) over the population's spread, and a "
                       "one-sided prematurity / compensatory-pause distance against a 60-s median RR",
        "fitted_on": f"MIT-BIH DS1 reference beats, N only ({len(feats_n)} beats); threshold flags "
                     f"{args.target:.1%} of them",
        "command": "python scripts/fit_robust_score.py --data ../shared/data/mitdb --card " + str(args.card),
        "note": "a field of its own, read by ecgviewer.core.scorer; the rest of the card is the model's as trained",
    }
    write_text_atomic(args.card, json.dumps(card, indent=2) + "\n")
    print(json.dumps(card["robust_score"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
