"""Which local cycle the rhythm channel measures prematurity against: a quantile of the cycles.

The rhythm channel's reference was the median over +-30 s of the beats' two-interval cycles (mean
of the RR intervals before and after each beat; ``core.robust.reference_rr``). A premature beat and
its compensatory pause still make two sinus cycles, but runs of atrial premature beats, which have
no full compensation, make shorter cycles, and where such runs are most beats (MIT-BIH 232) the
median is the run's cycle, so the premature beats look on time. Ectopy, runs and missed
compensations only ever shorten a cycle, so an upper quantile of the minute's cycles stays on the
sinus cycle while a missed beat or two (a longer cycle) stays below it.

For each quantile the robust rule is refitted on MIT-BIH DS1's N beats (``trainer.robust_fit.fit``:
prematurity Gaussian, tails, threshold) and judged on DS1 (the choice: its AUC) and DS2 (reference and
detector beats; reported). qtdb-x is never read here. The errors are those the product's
morphology channel reads (the QRS window), from the rows of

    python -m experiments.error_aggregate_study build --data ../shared/data/mitdb --out DIR
    python -m experiments.rr_reference_study --rows DIR --data ../shared/data/mitdb

The network does not run here again: the beats' RR intervals are cut afresh (no reconstruction)
and must be the same beats as the rows'.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ecgviewer.core.record import load_record
from ecgviewer.core.resources import bundled_model_path
from ecgviewer.core.robust import beat_features
from ecgviewer.core.scorer import Scorer
from experiments.irregularity_study import cells, judge, table_head
from trainer.crossdb import classed_beats
from trainer.robust_fit import WINDOW_MS, fit, load_rows
from trainer.splits import DS1, DS2

QUANTILES = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0)
TARGETS = (0.015, 0.02)
SETS = (("ds1_ref", DS1, False), ("ds2_ref", DS2, False), ("ds2_det", DS2, True))


def beats_of(data: Path) -> dict[str, list]:
    """Each set's beats (RR intervals, classes), as the product cuts them."""
    scorer = Scorer.load(bundled_model_path(), align="peak", rule=None)
    return {tag: [classed_beats(scorer, load_record(data / n), det) for n in names] for tag, names, det in SETS}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=Path, required=True, help="the folder error_aggregate_study build wrote")
    ap.add_argument("--data", type=Path, required=True, help="the MIT-BIH folder")
    a = ap.parse_args(argv)
    files = {t: a.rows / f"{t}_qrs.npz" for t, _, _ in SETS}
    missing = [p for p in files.values() if not p.is_file()]
    if missing or not a.data.is_dir():
        print(f"rr_reference_study: {missing[0] if missing else a.data} missing (run error_aggregate_study build)",
              file=sys.stderr)
        return 2
    mse = {t: load_rows(p) for t, p in files.items()}
    beats = beats_of(a.data)
    for t in mse:
        if [len(r[1]) for r in mse[t]] != [len(b) for b in beats[t]]:
            print(f"rr_reference_study: {t}: the rows are of other beats than these records'", file=sys.stderr)
            return 2
    print(table_head("RR quantile", "beats"))
    for q in QUANTILES:
        rows = {t: [(b.cls, r[1], beat_features(b, q)) for b, r in zip(beats[t], mse[t])] for t in mse}
        for target in TARGETS:
            rule, _ = fit(rows["ds1_ref"], target, window_ms=WINDOW_MS, rr_quantile=q)
            for t in ("ds1_ref", "ds2_ref", "ds2_det"):
                print(f"| {q:g} | {target:.1%} | {rule.threshold:.2f} | {t} | {cells(judge(rule, rows[t]))}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
