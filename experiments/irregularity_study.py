"""Mute the rhythm channel where the rhythm is irregular at every lag (``core.robust.irregularity``)?

Two questions, both on MIT-BIH only (qtdb-x is never read here):

1. Does the measure find atrial fibrillation and flutter? With ``--data``: on each DS1 record's
   reference beats, the share of beats inside the annotators' ``(AFIB``/``(AFL`` episodes, and of
   beats outside them, that each gate value mutes (the reference rhythm labels are used to judge
   the measure, never by the product).
2. What does muting buy? For each gate value the robust rule is refitted on DS1's N beats
   (``trainer.robust_fit.fit``) at each target share, and DS2's beats judge it: pooled AUC, N beats
   flagged (pooled, worst record, records over 10 %) and sensitivity per class.

Inputs are the rows ``trainer.robust_fit.record_rows`` caches (classes, MSE, prematurity features
of each record's beats, in beat order), so no network runs here; ``--build`` makes them once
(bundled model, whole-window MSE)::

    python -m experiments.irregularity_study --build DIR --data ../shared/data/mitdb
    python -m experiments.irregularity_study --fit DIR/ds1_ref.npz --judge DIR/ds2_ref.npz DIR/ds2_det.npz \
        --data ../shared/data/mitdb

``--card-rule`` builds and fits the rows as the bundled card's rule reads them (the QRS window and
the 90 % quantile rhythm reference, ``trainer.robust_fit.WINDOW_MS`` and ``RR_QUANTILE``) instead of
session 9's (whole window, median reference), as session 11 measured them again::

    python -m experiments.irregularity_study --card-rule --build DIR --data ../shared/data/mitdb
    python -m experiments.irregularity_study --card-rule --fit DIR/ds1_ref.npz --judge DIR/ds2_ref.npz DIR/ds2_det.npz

Sensitivities here count the beats scored (a reference beat the detector missed is left out), so
they read slightly above ``trainer crossdb``'s.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ecgviewer.core.classes import ANOMALY_CLASSES, beat_mask
from ecgviewer.core.record import load_record
from ecgviewer.core.resources import bundled_model_path
from ecgviewer.core.robust import RR_QUANTILE_MEDIAN, RhythmGate, prematurity_features
from experiments.threshold_study import TARGETS
from trainer.evaluate import fold_metrics
from trainer.robust_fit import RR_QUANTILE, WINDOW_MS, fit, load_rows, record_rows, row_score
from trainer.splits import DS1, DS2

GATES = (None, RhythmGate(0.2, 0.07), RhythmGate(0.5, 0.10), RhythmGate(0.2, 0.07, cap=1.0),
         RhythmGate(0.5, 0.10, cap=1.0))
#: The same gates measured on NN intervals only (session 11, with ``--card-rule``): a beat counts as
#: normal where its morphology channel scores under 1, the ordinary 90 % of DS1's normal beats.
NN_BELOW = 1.0
NN_GATES = tuple(RhythmGate(g.quantile, g.above, g.cap, nn_below=NN_BELOW) for g in GATES[1:])
AF_RHYTHMS = ("(AFIB", "(AFL")
FLOOD = 0.10


def rhythm_labels(sample: np.ndarray, ann_sample: np.ndarray, aux: tuple[str, ...]) -> np.ndarray:
    """The annotators' rhythm in force at each beat ('' before the first rhythm mark)."""
    marks = [(s, a.strip("\x00 ")) for s, a in zip(ann_sample, aux) if a.startswith("(")]
    if not marks:
        return np.full(len(sample), "", dtype=object)
    at = np.array([m[0] for m in marks])
    names = np.array([m[1] for m in marks], dtype=object)
    i = np.searchsorted(at, sample, side="right") - 1
    return np.where(i >= 0, names[np.clip(i, 0, None)], "")


def detection_table(data: Path) -> list[str]:
    """Share of DS1 reference beats muted by each gate, inside and outside AF/flutter episodes."""
    inside, outside = [], []
    for name in DS1:
        rec = load_record(data / name)
        ann = rec.annotations
        m = beat_mask(ann.symbol)
        sample = ann.sample[m]
        rr = np.diff(sample) / rec.fs
        nan = [np.nan]
        rr_pre, rr_post = np.concatenate([nan, rr]), np.concatenate([rr, nan])
        step = prematurity_features(rr_pre, rr_post, np.full(len(sample), np.median(rr)))[:, 1]
        af = np.isin(rhythm_labels(sample, ann.sample, ann.aux_note), AF_RHYTHMS)
        feats = np.stack([np.zeros_like(step), step], axis=1)
        muted = np.stack([~g.regular(feats) for g in GATES[1:]])
        inside.append(muted[:, af])
        outside.append(muted[:, ~af])
    a, o = np.concatenate(inside, axis=1), np.concatenate(outside, axis=1)
    lines = [f"DS1 reference beats: {a.shape[1]} in AF/flutter episodes, {o.shape[1]} outside",
             "| gate | muted in AF/flutter | muted outside |", "|---|---|---|"]
    for g, ai, oi in zip(GATES[1:], a, o):
        lines.append(f"| {label(g)} | {ai.mean():.1%} | {oi.mean():.2%} |")
    return lines


def build_rows(card: Path, data: Path, folder: Path, window_ms: tuple[float, float] | None = WINDOW_MS,
               rr_quantile: float = RR_QUANTILE) -> None:
    """Score DS1 (reference beats) and DS2 (reference and detector beats) with ``card`` into
    ``folder``/ds1_ref.npz, ds2_ref.npz and ds2_det.npz, the rows the studies fit and judge."""
    folder.mkdir(parents=True, exist_ok=True)
    for tag, names, detect in (("ds1_ref", DS1, False), ("ds2_ref", DS2, False), ("ds2_det", DS2, True)):
        record_rows(card, data, names, folder / f"{tag}.npz", detect=detect, window_ms=window_ms,
                    rr_quantile=rr_quantile)


def card_rule_rows(tool: str, fit_rows: Path, judge_rows: list[Path]) -> tuple[list[tuple], dict[str, list[tuple]]] | None:
    """DS1's rows and each judged file's rows (by file stem), read as the card's rule reads them
    (QRS window, 90 % reference); None, said on stderr as ``tool``, when a file is missing or the
    rows to fit on are not DS1's 22 records."""
    for p in (fit_rows, *judge_rows):
        if not p.is_file():
            print(f"{tool}: {p}: no such file", file=sys.stderr)
            return None
    train = load_rows(fit_rows, WINDOW_MS, RR_QUANTILE)
    if len(train) != len(DS1):
        print(f"{tool}: {fit_rows}: not DS1's {len(DS1)} records", file=sys.stderr)
        return None
    return train, {p.stem: load_rows(p, WINDOW_MS, RR_QUANTILE) for p in judge_rows}


def label(g: RhythmGate | None) -> str:
    if g is None:
        return "off"
    return f"q{g.quantile:g} > {g.above:g}, cap {g.cap:g}" + ("" if g.nn_below is None else f", NN (morphology < {g.nn_below:g})")


def judge(rule, rows: list[tuple]) -> dict:
    """Pooled AUC, AP (and AUC by class) and the flag shares of ``rule`` on ``rows`` (``by_record``:
    each row's share of N beats flagged, None for a row without N beats)."""
    score = [row_score(rule, r)[0] for r in rows]
    cls = np.concatenate([r[0] for r in rows])
    s = np.concatenate(score).astype(np.float64)
    known = np.isin(cls, ("N", *ANOMALY_CLASSES))
    metrics = fold_metrics(cls[known], s[known])
    flagged = s >= rule.threshold
    by_record = [float((sc[r[0] == "N"] >= rule.threshold).mean()) if (r[0] == "N").any() else None
                 for sc, r in zip(score, rows)]
    by_rec = [v for v in by_record if v is not None]
    return {"auc": metrics["auc"], "ap": metrics["ap"], "auc_by_class": metrics["auc_by_class"],
            "n": float(flagged[cls == "N"].mean()), "worst": max(by_rec),
            "over": sum(v > FLOOD for v in by_rec), "by_record": by_record,
            **{c: float(flagged[cls == c].mean()) for c in ANOMALY_CLASSES if (cls == c).any()}}


#: DS1 records of frequent ectopy whose N beats the product's test keeps under 3 % flagged
#: (tests/core/test_robust.py::test_frequent_ectopy_does_not_flood_the_normal_beats).
ECTOPY = ("119", "208")


def ectopy_cell(ds1: dict) -> str:
    """The :data:`ECTOPY` records' N shares from a :func:`judge` of DS1's rows, in DS1's order."""
    return ", ".join(f"{name} {ds1['by_record'][DS1.index(name)]:.1%}" for name in ECTOPY)


def table_head(first: str, beats: str = "DS2 beats") -> str:
    """The header lines of the tables whose rows end in :func:`cells`."""
    return (f"| {first} | DS1 share | threshold | {beats} | AUC | N flagged | worst record | records > 10 % | "
            "S Se | V Se | F Se |\n|---|---|---|---|---|---|---|---|---|---|---|")


def cells(m: dict) -> str:
    """The table cells of a :func:`judge` result, from the AUC on."""
    return (f"{m['auc']:.3f} | {m['n']:.1%} | {m['worst']:.0%} | {m['over']} | {m.get('S', 0):.2f} | "
            f"{m.get('V', 0):.2f} | {m.get('F', 0):.2f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", type=Path, help="score DS1 and DS2 (reference and detector beats) into this folder, then stop")
    ap.add_argument("--fit", type=Path, help="DS1 rows (trainer.robust_fit.record_rows cache)")
    ap.add_argument("--judge", type=Path, nargs="+", help="DS2 rows to judge on")
    ap.add_argument("--data", type=Path, help="MIT-BIH folder: also check the measure against AF/flutter labels")
    ap.add_argument("--card-rule", action="store_true",
                    help="rows and fits as the card's rule reads them (QRS window, 90 %% quantile reference), not session 9's")
    ap.add_argument("--fit-regular", action="store_true",
                    help="fit the rhythm model and tail on N beats outside the gate only (default: all N beats)")
    a = ap.parse_args(argv)
    window, quantile = (WINDOW_MS, RR_QUANTILE) if a.card_rule else (None, RR_QUANTILE_MEDIAN)
    if a.build is not None:
        if a.data is None or not a.data.is_dir():
            print("irregularity_study: --build needs --data, the MIT-BIH folder", file=sys.stderr)
            return 2
        build_rows(bundled_model_path(), a.data, a.build, window, quantile)
        return 0
    if a.fit is None or not a.judge:
        ap.error("--fit and --judge are needed (or --build)")
    if a.card_rule and a.fit_regular:
        ap.error("--fit-regular reads gates on every interval only; the NN gates of --card-rule need the morphology fitted first")
    for p in (a.fit, *a.judge):
        if not p.is_file():
            print(f"irregularity_study: {p}: no such file", file=sys.stderr)
            return 2
    if a.data is not None:
        print("\n".join(detection_table(a.data)) + "\n")
    train = load_rows(a.fit, window, quantile)
    judged = {p.stem: load_rows(p, window, quantile) for p in a.judge}
    head, rule_line = table_head("gate", "rows").split("\n")
    print(f"{head} DS1 AUC | DS1 N flagged in {', '.join(ECTOPY)} |\n{rule_line}---|---|")
    for g in GATES + (NN_GATES if a.card_rule else ()):
        for t in TARGETS:
            rule, _ = fit(train, t, gate=g, fit_regular=a.fit_regular, window_ms=window, rr_quantile=quantile)
            mine = judge(rule, train)
            own = mine["auc"]  # the choice: DS1's AUC, to four places (gates tie at three)
            ectopy = ectopy_cell(mine) if len(train) == len(DS1) else "-"  # robust-fit's cache: DS1, in order
            print(f"| {label(g)} | {t:.1%} | {rule.threshold:.2f} | {a.fit.stem} | {cells(mine)} {own:.4f} | {ectopy} |")
            for what, rows in judged.items():
                print(f"| {label(g)} | {t:.1%} | {rule.threshold:.2f} | {what} | {cells(judge(rule, rows))} {own:.4f} |",
                      flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
