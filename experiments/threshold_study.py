"""Where to put the robust score's default threshold: flag shares and sensitivities on MIT-BIH DS2
at the thresholds that flag a given share of DS1's normal beats.

Inputs are what the product steps already write: the DS1 rows of ``trainer robust-fit --cache``
and the per-beat scores of ``trainer crossdb --out`` (``*.beats.npz``). No network runs here. The
choice is made on MIT-BIH only (DS1 N beats set each candidate threshold; DS2 judges it); qtdb-x
is never read.

    python -m experiments.threshold_study --fit /tmp/ds1_fit.npz \\
        results/crossdb-mitdb-ds2-detector.beats.npz results/crossdb-mitdb-ds2-reference.beats.npz
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ecgviewer.core.classes import ANOMALY_CLASSES
from trainer.robust_fit import fit, load_rows

TARGETS = (0.005, 0.01, 0.015, 0.02, 0.03)
FLOOD = 0.10


def shares(score: np.ndarray, cls: np.ndarray, record: np.ndarray, thr: float,
           n_ref: dict[str, int] | None = None) -> dict:
    """N flagged pooled, the worst record, records over 10 %, and sensitivity per class at ``thr``:
    over ``n_ref`` reference beats of each class where given (a beat the detector missed counts as
    not flagged, as in crossdb), else over the beats scored."""
    flagged = score >= thr
    n = cls == "N"
    by_rec = {r: float(flagged[n & (record == r)].mean()) for r in np.unique(record[n])}
    worst = max(by_rec, key=by_rec.get)
    return {"n_flagged": float(flagged[n].mean()), "worst": (worst, by_rec[worst]),
            "over": sum(v > FLOOD for v in by_rec.values()),
            "se": {c: (float(flagged[cls == c].sum() / (n_ref or {}).get(c, (cls == c).sum()))
                       if (n_ref or {}).get(c, (cls == c).sum()) else None) for c in ANOMALY_CLASSES}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fit", type=Path, required=True, help="the DS1 rows cached by trainer robust-fit --cache")
    ap.add_argument("--variant", default="robust", help="the crossdb variant to read (default: %(default)s)")
    ap.add_argument("beats", nargs="+", type=Path, help="crossdb per-beat files (*.beats.npz) of MIT-BIH DS2")
    a = ap.parse_args(argv)
    if not a.fit.is_file():
        print(f"threshold_study: {a.fit}: no such file (make it with trainer robust-fit --cache)", file=sys.stderr)
        return 2
    rows = load_rows(a.fit)
    print("| DS2 beats | DS1 N flagged (target) | threshold | DS2 N flagged | worst record | records > 10 % | "
          "S Se | V Se | F Se |")
    print("|---|---|---|---|---|---|---|---|---|")
    for path in a.beats:
        with np.load(path) as z:
            score, cls, record = z[f"{a.variant}/score"], z[f"{a.variant}/cls"], z[f"{a.variant}/record"]
            n_ref = {c: int(z[f"{a.variant}/n_ref_{c}"]) for c in ANOMALY_CLASSES if f"{a.variant}/n_ref_{c}" in z.files}
        what = "detector" if "detector" in path.name else "reference" if "reference" in path.name else path.stem
        for t in TARGETS:
            thr = fit(rows, t)[0].threshold
            m = shares(score, cls, record, thr, n_ref or None)
            se = " | ".join("-" if m["se"][c] is None else f"{m['se'][c]:.2f}" for c in ("S", "V", "F"))
            print(f"| {what} | {t:.1%} | {thr:.2f} | {m['n_flagged']:.1%} | {m['worst'][0]} {m['worst'][1]:.0%} | "
                  f"{m['over']} | {se} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
