"""Which share of DS1's normal beats the default threshold flags, for any card, by the standing rule.

The rule was fixed in session 8, before looking (docs/method.md, "Default threshold"), and the
guard added in session 11: the largest DS1 share for which DS2's pooled N beats flagged stay within
issue 15's 2 % in every beat source judged, while DS1's frequent-ectopy records 119 and 208 keep
under 3 % of their N beats flagged (the product's test
``test_frequent_ectopy_does_not_flood_the_normal_beats``). The rule fitted is the card's
(``trainer robust-fit``'s defaults: QRS window, 90 % rhythm reference, the rhythm gate on NN
intervals). MIT-BIH only; qtdb-x is never read. For a retrained candidate::

    python -m experiments.share_study --build DIR --card OUT/si-beatgan-v2.json --data ../shared/data/mitdb
    python -m experiments.share_study --fit DIR/ds1_ref.npz --judge DIR/ds2_ref.npz DIR/ds2_det.npz

then ``python -m trainer robust-fit --card OUT/si-beatgan-v2.json --data ../shared/data/mitdb
--target SHARE --cache DIR/ds1_ref.npz`` writes the chosen share into the card.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments.irregularity_study import ECTOPY, build_rows, card_rule_rows, cells, ectopy_cell, judge, table_head
from experiments.threshold_study import TARGETS
from trainer.robust_fit import RHYTHM_GATE, RR_QUANTILE, WINDOW_MS, fit
from trainer.splits import DS1

#: Issue 15's bar on DS2's pooled N beats flagged, and the product's guard on 119's and 208's.
POOLED_BAR = 0.02
ECTOPY_GUARD = 0.03


def admissible(ds1: dict, judged: list[dict]) -> bool:
    """Whether a share keeps every judged set's pooled N flagged within :data:`POOLED_BAR` and
    the :data:`ECTOPY` records of DS1 (a :func:`judge` of DS1's rows, in DS1's order) under the guard."""
    guard = all(ds1["by_record"][DS1.index(name)] < ECTOPY_GUARD for name in ECTOPY)
    return guard and all(m["n"] <= POOLED_BAR for m in judged)


def choose(rows: list[tuple[float, bool]]) -> float | None:
    """The largest share of ``(share, admissible)`` rows that is admissible (None: none is)."""
    ok = [t for t, good in rows if good]
    return max(ok) if ok else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", type=Path, help="score DS1 and DS2 rows with --card into this folder, then stop")
    ap.add_argument("--card", type=Path, help="the model card to build rows with (with --build)")
    ap.add_argument("--data", type=Path, help="the MIT-BIH folder (with --build)")
    ap.add_argument("--fit", type=Path, help="DS1 rows (--build's ds1_ref.npz or robust-fit's --cache)")
    ap.add_argument("--judge", type=Path, nargs="+", help="DS2 rows to judge on (--build's ds2_ref.npz, ds2_det.npz)")
    a = ap.parse_args(argv)
    if a.build is not None:
        if a.card is None or not a.card.is_file():
            print(f"share_study: --build needs --card, an existing model card (got {a.card})", file=sys.stderr)
            return 2
        if a.data is None or not a.data.is_dir():
            print("share_study: --build needs --data, the MIT-BIH folder", file=sys.stderr)
            return 2
        build_rows(a.card, a.data, a.build)
        return 0
    if a.fit is None or not a.judge:
        ap.error("--fit and --judge are needed (or --build with --card and --data)")
    rows = card_rule_rows("share_study", a.fit, a.judge)
    if rows is None:
        return 2
    train, judged = rows
    head, line = table_head("rule", "rows").split("\n")
    print(f"{head} DS1 N flagged in {', '.join(ECTOPY)} | admissible |\n{line}---|---|")
    verdicts = []
    for t in TARGETS:
        rule, _ = fit(train, t, gate=RHYTHM_GATE, window_ms=WINDOW_MS, rr_quantile=RR_QUANTILE)
        mine = judge(rule, train)
        theirs = {what: judge(rule, rows) for what, rows in judged.items()}
        good = admissible(mine, list(theirs.values()))
        verdicts.append((t, good))
        print(f"| card rule | {t:.1%} | {rule.threshold:.2f} | {a.fit.stem} | {cells(mine)} {ectopy_cell(mine)} | "
              f"{'yes' if good else 'no'} |")
        for what, m in theirs.items():
            print(f"| card rule | {t:.1%} | {rule.threshold:.2f} | {what} | {cells(m)} | |", flush=True)
    share = choose(verdicts)
    print("chosen share: none admissible" if share is None else f"chosen share: {share:.1%}")
    return 0 if share is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
