"""Divide each record's morphology error by its own spread? The same false-alarm rate on every record.

The morphology channel centres each record's log error on the record's own lower part but divides
by the population's spread (MIT-BIH DS1's normal beats, pooled), because a record's own spread grows
with its noise and its ectopy (session 7: dividing by it hid 208's PVCs). Every DS1 record's own
spread is narrower than the population's, though, so a clean record's normal beats never reach the
threshold while a noisy one's do: the default threshold does not mean the same false-alarm rate on
every record, as issue 15 asks (qtdb-x, cleaner still, has 0.1 % of its N beats flagged at a
threshold set for 1 % on DS1). Here the record's own spread is used, capped at the population's
(so a noisy record is never read on a wider scale than today) and floored at a share of it.

For each floor and DS1 share the rule (card 2.1.3's: QRS window, 90 % rhythm reference, rhythm
gate on NN intervals) is refitted on DS1's N beats and judged on DS1 itself and DS2. Besides the
columns of the other studies, the DS1 rows give the records with under 0.1 % of their N beats
flagged (records the threshold never reaches) and 119's and 208's shares (the product's guard).
MIT-BIH only; qtdb-x is never read. Rows as ``irregularity_study --card-rule --build`` writes them::

    python -m experiments.irregularity_study --card-rule --build DIR --data ../shared/data/mitdb
    python -m experiments.record_spread_study --fit DIR/ds1_ref.npz --judge DIR/ds2_ref.npz DIR/ds2_det.npz
"""

from __future__ import annotations

import argparse
from pathlib import Path

from experiments.irregularity_study import ECTOPY, card_rule_rows, cells, ectopy_cell, judge, table_head
from experiments.threshold_study import TARGETS
from trainer.robust_fit import RHYTHM_GATE, RR_QUANTILE, WINDOW_MS, fit

#: The record's own spread is used between this share of the population's and all of it (None: today's rule).
FLOORS = (None, 0.5, 0.25)
QUIET = 0.001


def quiet(m: dict) -> int:
    """Records of a :func:`judge` with N beats, under :data:`QUIET` of them flagged."""
    return sum(v < QUIET for v in m["by_record"] if v is not None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fit", type=Path, required=True, help="DS1 rows (irregularity_study --card-rule --build)")
    ap.add_argument("--judge", type=Path, nargs="+", required=True, help="DS2 rows to judge on")
    a = ap.parse_args(argv)
    rows = card_rule_rows("record_spread_study", a.fit, a.judge)
    if rows is None:
        return 2
    train, judged = rows
    head, line = table_head("spread floor", "rows").split("\n")
    print(f"{head} DS1 AUC | DS1 records < 0.1 % | DS1 N flagged in {', '.join(ECTOPY)} |\n{line}---|---|---|")
    for floor in FLOORS:
        name = "population" if floor is None else f"own, >= {floor:g} x population"
        for t in TARGETS:
            rule, _ = fit(train, t, gate=RHYTHM_GATE, window_ms=WINDOW_MS, rr_quantile=RR_QUANTILE, spread_floor=floor)
            mine = judge(rule, train)
            print(f"| {name} | {t:.1%} | {rule.threshold:.2f} | ds1_ref | {cells(mine)} {mine['auc']:.4f} | "
                  f"{quiet(mine)} | {ectopy_cell(mine)} |", flush=True)
            for what, rows in judged.items():
                m = judge(rule, rows)
                print(f"| {name} | {t:.1%} | {rule.threshold:.2f} | {what} | {cells(m)} | {quiet(m)} | |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
