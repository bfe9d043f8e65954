"""A third channel: each beat's likeness to its record's own dominant beat (docs/method.md, session 13).

The network's error of a new patient's normal beats sits elsewhere than MIT-BIH's, so every
channel that reads it carries MIT-BIH's idea of normal. A Holter system compares each beat with the
record's dominant beat instead; ``core.robust.Likeness`` makes that a channel. This study compares
its joins with the morphology channel (``core.robust.LIKENESS_JOINS``) and the rule without it, each
fitted on DS1's N beats (``trainer.robust_fit.fit``) at every share of ``TARGETS``, judged on DS2,
and marks the shares the standing rule admits (``experiments/share_study.py``: DS2 pooled N flagged
within 2 % in both beat sources, 119 and 208 under 3 %). MIT-BIH only; qtdb-x is never read.
Rows: ``share_study --build``'s (they hold the likeness values since session 13)::

    python -m experiments.share_study --build DIR --card resources/models/si-beatgan-v2.json --data ../shared/data/mitdb
    python -m experiments.likeness_study --fit DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ecgviewer.core.robust import LIKENESS_JOINS, LIKENESS_SPREADS
from experiments.irregularity_study import card_rule_rows, judge
from experiments.share_study import admissible
from experiments.threshold_study import TARGETS
from trainer.robust_fit import RHYTHM_GATE, RR_QUANTILE, WINDOW_MS, fit

JOINS = ("off", *LIKENESS_JOINS)
BEATS = (("ds1_ref", "DS1 ref"), ("ds2_ref", "DS2 ref"), ("ds2_det", "DS2 det"))


def row(join: str, target: float, threshold: float, beats: str, m: dict, ok: bool) -> str:
    """One table line of a :func:`experiments.irregularity_study.judge` result."""
    bc = m["auc_by_class"]
    return (f"| {join} | {target:.1%} | {threshold:.3f} | {beats} | {m['auc']:.3f} | {m['ap']:.3f} | "
            f"{bc.get('S', 0):.3f} | {bc.get('V', 0):.3f} | {bc.get('F', 0):.3f} | {m['n']:.1%} | "
            f"{m['worst']:.0%} | {m['over']} | {sum(v > 0.05 for v in m['by_record'] if v is not None)} | {m.get('S', 0):.2f} | {m.get('V', 0):.2f} | {m.get('F', 0):.2f} | "
            f"{'yes' if ok else 'no'} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fit", type=Path, required=True,
                    help="the folder of share_study --build's rows: fit on ds1_ref.npz, judge on ds2_ref/ds2_det.npz")
    ap.add_argument("--spread", choices=LIKENESS_SPREADS, default="population",
                    help="the spread the likeness channel divides by (docs/method.md, session 14)")
    a = ap.parse_args(argv)
    got = card_rule_rows("likeness_study", a.fit / "ds1_ref.npz", [a.fit / "ds2_ref.npz", a.fit / "ds2_det.npz"])
    if got is None:
        return 2
    train, judged = got
    if any(len(r) < 4 for r in (*train, *judged["ds2_ref"], *judged["ds2_det"])):
        print(f"likeness_study: {a.fit}: rows without likeness values (built before session 13): rebuild them",
              file=sys.stderr)
        return 2
    print("| join | DS1 share | threshold | beats | AUC | AP | S | V | F | N flagged | worst | > 10 % | "
          "> 5 % | S Se | V Se | F Se | admissible |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for join in JOINS:
        for target in TARGETS:
            rule, _ = fit(train, target, gate=RHYTHM_GATE, window_ms=WINDOW_MS, rr_quantile=RR_QUANTILE,
                          likeness=None if join == "off" else join, likeness_spread=a.spread)
            res = {tag: judge(rule, train if tag == "ds1_ref" else judged[tag]) for tag, _ in BEATS}
            ok = admissible(res["ds1_ref"], [res["ds2_ref"], res["ds2_det"]])
            for tag, name in BEATS:
                print(row(join, target, rule.threshold, name, res[tag], ok), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
