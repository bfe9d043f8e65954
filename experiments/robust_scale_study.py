"""Which spread the per-record morphology scale divides by (the record's own or the population's), and
how the two channels' tail scores are joined (max, or sum: Fisher's product of tail probabilities).

Reads the DS1 cache that ``python -m trainer robust-fit --cache`` writes (the bundled generator's
errors and RR features of MIT-BIH DS1's reference beats) and, for each rule, refits the tail knots
and prints DS1's AUC (all, S, V, F vs N), the threshold flagging 1 % of N beats, the worst record's
N share and V/S sensitivity there. DS1 is the training half: choosing here leaves DS2 and qtdb-x
for reporting.

    python -m trainer robust-fit --card /tmp/card.json --data ../shared/data/mitdb --cache /tmp/ds1_fit.npz
    python -m experiments.robust_scale_study /tmp/ds1_fit.npz

(``/tmp/card.json``: a copy of the bundled card, so that the study rewrites no shipped file.)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ecgviewer.core.model.card import read_card
from ecgviewer.core.robust import (
    RobustScore,
    morphology_z,
    record_scale,
    tail_knots,
    tail_score,
)
from trainer.metrics import roc_auc
from trainer.splits import DS1

CARD = Path(__file__).resolve().parents[1] / "resources" / "models" / "si-beatgan-v2.json"


def _auc(cls: np.ndarray, s: np.ndarray, c: str | None = None) -> float:
    m = np.isin(cls, list("NSVFQ")) if c is None else (cls == c) | (cls == "N")
    return roc_auc(cls[m] != "N", s[m])


def study(rows: list, base: RobustScore, spread: str, combine: str = "max") -> str:
    zm, zr, cls = [], [], []
    for c, mse, f, *_ in rows:  # rows of session 13 on also hold likeness values
        centre, own = record_scale(mse, base.population)
        zm.append(morphology_z(mse, centre, own if spread == "record" else base.population[1]))
        zr.append(base.rhythm.z(f))
        cls.append(c)
    n = [c == "N" for c in cls]
    km = tail_knots(np.concatenate([z[m] for z, m in zip(zm, n)]))
    kr = tail_knots(np.concatenate([z[m] for z, m in zip(zr, n)]))
    join = np.maximum if combine == "max" else np.add
    per = [join(tail_score(a, km), tail_score(b, kr)) for a, b in zip(zm, zr)]
    s, c = np.concatenate(per), np.concatenate(cls)
    thr = np.quantile(s[c == "N"], 0.99)
    shares = {r: float((p[k == "N"] >= thr).mean()) for r, p, k in zip(DS1, per, cls)}
    worst = max(shares, key=shares.get)
    return (f"{spread:10s} {combine:3s} AUC {_auc(c, s):.3f} S {_auc(c, s, 'S'):.3f} V {_auc(c, s, 'V'):.3f} F {_auc(c, s, 'F'):.3f} "
            f"threshold {thr:.2f} worst {worst} {shares[worst]:.3f} records>10% {sum(v > 0.1 for v in shares.values())} "
            f"V Se {(s[c == 'V'] >= thr).mean():.3f} S Se {(s[c == 'S'] >= thr).mean():.3f}")


def main() -> int:
    rows = list(np.load(sys.argv[1], allow_pickle=True)["rows"])
    base = read_card(CARD).robust_score.rule()
    for spread, combine in (("record", "max"), ("population", "max"), ("record", "sum"), ("population", "sum")):
        print(study(rows, base, spread, combine), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
