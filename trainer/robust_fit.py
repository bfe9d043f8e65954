"""Fit a card's robust score (``ecgviewer/core/robust.py``) on MIT-BIH DS1's normal beats.

A product step: it makes the ``robust_score`` field of the shipped card. No network training: the
card's generator reconstructs DS1's beats (reference annotations, windows on the core's fiducial)
through the product's Scorer; from the N beats only it fits

- the prematurity Gaussian and its z-scaling (``PrematurityModel.fit``),
- the population centre/spread of log MSE (used for records with under 30 beats),
- each channel's tail knots (``core.robust.tail_knots``: the z of 1 in 10^k normal beats),
- the likeness channel's spread and tail knots (``core.robust.Likeness``; ``--likeness``),
- the default threshold: the score that flags ``--target`` of DS1's N beats, pooled.

DS1 (de Chazal's training half) is used so that DS2, and qtdb-x, stay for reporting. The card's
``robust_score`` and ``preprocessing.align`` are rewritten; the weights, their hashes and every other
field are untouched.

    nice -n 19 python -m trainer robust-fit --card resources/models/si-beatgan-v2.json --data ../shared/data/mitdb
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from ecgviewer.core.atomic import write_text_atomic
from ecgviewer.core.errors import ModelError
from ecgviewer.core.model.card import SCHEMA, Gate, Prematurity, RobustScore, TailKnots, read_card
from ecgviewer.core.model.card import Likeness as CardLikeness
from ecgviewer.core.record import load_record
from ecgviewer.core.robust import (
    LIKENESS_JOINS,
    LIKENESS_SPREADS,
    RR_QUANTILE_MEDIAN,
    Likeness,
    PrematurityModel,
    RhythmGate,
    beat_features,
    check_rr_quantile,
    likeness_value,
    tail_knots,
    window_error,
)
from ecgviewer.core.robust import RobustScore as Rule
from ecgviewer.core.scorer import Scorer
from trainer.config import TrainError
from trainer.export import card_json
from trainer.splits import DS1

ALIGN = "peak"
#: The error the morphology channel reads, ms from the R peak: the QRS and its edges
#: (``experiments/error_aggregate_study.py``, chosen on MIT-BIH DS1 -> DS2).
WINDOW_MS = (-100.0, 150.0)
#: The rhythm's reference: this quantile of the beats' two-interval cycles over +-30 s
#: (``core.robust.reference_rr``; ``experiments/rr_reference_study.py``, chosen on MIT-BIH DS1).
RR_QUANTILE = 0.9
#: Where the rhythm channel counts at most 1 (a decade): the median over +-32 beats of the smallest
#: |change of log RR| at lags 1-3 above 0.10, measured on NN intervals (between beats whose morphology
#: scores under 1): an irregular rhythm, as atrial fibrillation (``core.robust.irregularity``;
#: ``experiments/irregularity_study.py --card-rule``, chosen on MIT-BIH DS1's AUC).
RHYTHM_GATE = RhythmGate(0.5, 0.10, cap=1.0, nn_below=1.0)
#: How the likeness channel joins the morphology channel: their maximum (``experiments/likeness_study.py``,
#: chosen on MIT-BIH DS1's AUC over their sum; docs/method.md, "A third channel").
LIKENESS_JOIN = "max"
#: Which spread the likeness channel divides by: the record's own where wider than DS1's
#: (``experiments/likeness_study.py --spread``; docs/method.md, session 14).
LIKENESS_SPREAD = "own-wider"


def description(window_ms: tuple[float, float] | None, rr_quantile: float = RR_QUANTILE,
                gate: RhythmGate | None = None, likeness: str | None = None,
                likeness_spread: str = "population") -> str:
    """The card's words for the rule."""
    where = "the whole window" if window_ms is None else f"{window_ms[0]:+.0f} .. {window_ms[1]:+.0f} ms of the R peak"
    ref = "a 60-s median RR" if rr_quantile == RR_QUANTILE_MEDIAN else (
        f"the {rr_quantile:.0%} quantile of the two-interval cycles of the surrounding minute")
    shape = ("log MSE over " + where + " about the record's own centre (its 5th-25th percentiles) over the "
             "population's spread")
    if likeness is not None:
        shape = (("the larger of " if likeness == "max" else "the sum of ") + shape + " and log(1 - r), r the "
                 "correlation of the beat's QRS-T with the record's dominant beat, on the same scale"
                 + (" or the record's own where wider" if likeness_spread == "own-wider" else ""))
    return ("the sum of -log10 tail probabilities among DS1 normal beats of " + shape + ", and of a "
            "one-sided prematurity / compensatory-pause distance against " + ref + (
                "" if gate is None else
                (", muted" if gate.cap == 0 else f", counting at most {gate.cap:g}") +
                " where the rhythm is irregular at every lag (the "
                f"{gate.quantile:.0%} quantile over +-{gate.half} beats of the smallest |change of log RR| at lags 1-3 "
                f"above {gate.above:g}" + ("" if gate.nn_below is None else
                                           f", between beats whose morphology scores under {gate.nn_below:g}") + ")"))


def ds1_rows(card: Path, data: Path, cache: Path | None = None,
             window_ms: tuple[float, float] | None = WINDOW_MS, rr_quantile: float = RR_QUANTILE) -> list[tuple]:
    """(classes, error, prematurity features) of each DS1 record's reference beats; ``cache`` keeps them."""
    return record_rows(card, data, DS1, cache, window_ms=window_ms, rr_quantile=rr_quantile)


def record_rows(card: Path, data: Path, names: tuple[str, ...] | list[str], cache: Path | None = None,
                detect: bool = False, window_ms: tuple[float, float] | None = WINDOW_MS,
                rr_quantile: float = RR_QUANTILE) -> list[tuple]:
    """(classes, error, prematurity features, likeness) of each named record's beats, through the
    product's Scorer; the error is the mean squared error over ``window_ms`` (``core.robust.window_error``;
    None: all ticks), the features against the ``rr_quantile`` reference (``core.robust.beat_features``),
    the likeness ``core.robust.likeness_value`` (caches of session 12 and before lack it).

    ``detect``: beats of the product's detector, classed by the reference beat within 150 ms (EC57,
    as ``trainer crossdb``). ``cache`` keeps the rows (and is read instead when it exists and holds
    the same window and reference).
    """
    if cache is not None and cache.is_file():
        return load_rows(cache, window_ms, rr_quantile)
    scorer = Scorer.load(card, align=ALIGN, rule=None)
    rows = []
    for name in names:
        beats, err = reconstructed_beats(scorer, data / name, detect)
        mse = window_error(err, scorer.params.before, scorer.params.fs, window_ms)
        rows.append((beats.cls, mse, beat_features(beats, rr_quantile), likeness_value(beats.x)))
        print(f"robust-fit: {name} {len(beats)} beats", file=sys.stderr, flush=True)
    if cache is not None:
        save_rows(cache, rows, window_ms, rr_quantile)
    return rows


def reconstructed_beats(scorer: Scorer, path: Path, detect: bool = False) -> tuple:
    """A record's beats (``detect``: the detector's, classed by the reference beat within 150 ms, as
    ``trainer crossdb``) and their per-tick reconstruction errors."""
    from trainer.crossdb import classed_beats

    beats = classed_beats(scorer, load_record(path), detect)
    return beats, scorer.reconstruct(beats)[1]


_ANY = object()


def load_rows(cache: Path, window_ms=_ANY, rr_quantile=_ANY) -> list[tuple]:
    """The per-record rows :func:`save_rows` kept (the file is this trainer's own, not user input).
    ``window_ms``, ``rr_quantile``: refuse a cache of another error window or rhythm reference."""
    with np.load(cache, allow_pickle=True) as z:
        if rr_quantile is not _ANY:
            kept_q = float(z["rr_quantile"]) if "rr_quantile" in z.files else RR_QUANTILE_MEDIAN  # older caches
            if kept_q != float(rr_quantile):
                raise TrainError(f"{cache}: rows against the {kept_q:g} RR quantile, not {rr_quantile:g}: "
                                 "use another --cache file")
        if window_ms is not _ANY:
            kept = z["window_ms"] if "window_ms" in z.files else np.full(2, np.nan)  # older caches: all ticks
            kept_w = None if np.isnan(kept).all() else (float(kept[0]), float(kept[1]))
            if kept_w != (None if window_ms is None else tuple(map(float, window_ms))):
                raise TrainError(f"{cache}: rows of error window {kept_w}, not {window_ms}: "
                                 "use another --cache file")
        return list(z["rows"])


def save_rows(cache: Path, rows: list[tuple], window_ms: tuple[float, float] | None = None,
              rr_quantile: float = RR_QUANTILE) -> None:
    """Keep per-record rows in an .npz (an object array of tuples, whatever the records' lengths),
    with the error window they were read over (NaN: the whole window) and the RR quantile of their
    rhythm reference."""
    arr = np.empty(len(rows), dtype=object)
    for i, r in enumerate(rows):
        arr[i] = tuple(r)
    np.savez(cache, rows=arr, window_ms=np.array(window_ms if window_ms is not None else (np.nan, np.nan)),
             rr_quantile=np.float64(rr_quantile))


def fit(rows: list[tuple], target: float = 0.01, gate: RhythmGate | None = None,
        fit_regular: bool = False, window_ms: tuple[float, float] | None = None,
        rr_quantile: float = RR_QUANTILE, spread_floor: float | None = None,
        likeness: str | None = None, likeness_spread: str = "population") -> tuple[Rule, int]:
    """The robust rule fitted on the N beats of ``rows``, and how many N beats it saw (``gate``:
    None by default here, for the studies; the card's default is the CLI's, :data:`RHYTHM_GATE`).

    ``window_ms``: the error window the rows' errors were read over; ``rr_quantile``: the reference
    their rhythm features were taken against; the rule reads the same.

    ``gate``: where the rhythm is irregular at every lag the rhythm channel is held down
    (``core.robust.RhythmGate``); the threshold flags ``target`` of all N beats under it.
    ``fit_regular``: fit the prematurity model and the rhythm tail on the N beats outside the gate
    only (an ablation: ``experiments/irregularity_study.py``). ``spread_floor``: the morphology
    channel divides by the record's own spread, at least this share of the population's (an
    ablation: ``experiments/record_spread_study.py``; cards have no such field). ``likeness``: join
    the likeness channel so (``core.robust.LIKENESS_JOINS``), fitted on the rows' likeness values,
    on the spread ``likeness_spread`` names (``core.robust.LIKENESS_SPREADS``).
    """
    if likeness is not None and any(len(r) < 4 for r in rows):
        raise TrainError("these rows hold no likeness values (a cache of session 12 or before): use another --cache file")
    n = [r[0] == "N" for r in rows]
    if fit_regular and gate and gate.nn_below is not None:
        raise ValueError("fit_regular reads a gate on every interval (nn_below None): the morphology is not fitted yet")
    counts = [m & gate.regular(r[2]) for r, m in zip(rows, n)] if fit_regular and gate else n
    feats_n = np.concatenate([r[2][m] for r, m in zip(rows, counts)])
    logmse_n = np.log(np.concatenate([r[1][m] for r, m in zip(rows, n)]))
    q1, med, q3 = np.percentile(logmse_n, [25, 50, 75])
    rule = Rule(PrematurityModel.fit(feats_n), (float(med), float((q3 - q1) / 1.349)), 0.0, "sum", "record",
                spread_floor=spread_floor)
    zs = [rule.score(r[1], r[2]) for r in rows]
    rule.tails = {"morphology": tail_knots(np.concatenate([z[1][m] for z, m in zip(zs, n)])),
                  "rhythm": tail_knots(np.concatenate([z[2][m] for z, m in zip(zs, counts)]))}
    rule.gate = gate
    rule.window_ms = None if window_ms is None else (float(window_ms[0]), float(window_ms[1]))
    rule.rr_quantile = float(rr_quantile)
    if likeness is not None:
        rule.likeness = Likeness.fit([r[3] for r in rows], n, likeness, likeness_spread)
    scores_n = np.concatenate([row_score(rule, r)[0][m] for r, m in zip(rows, n)])
    rule.threshold = float(np.quantile(scores_n, 1.0 - target))
    return rule, int(sum(m.sum() for m in n))


def row_score(rule: Rule, row: tuple) -> tuple:
    """``rule.score`` of one of :func:`record_rows`' rows (its likeness values where it has them)."""
    return rule.score(row[1], row[2], row[3] if len(row) > 3 else None)


def card_field(rule: Rule, n_normal: int, target: float, command: str) -> RobustScore:
    """The card's typed ``robust_score`` of a fitted rule."""
    p = rule.rhythm
    return RobustScore(
        threshold=rule.threshold, population_log_mse=rule.population, combine=rule.combine, scale=rule.scale,
        rhythm=None if p is None else Prematurity(
            mean=tuple(float(v) for v in p.mean), cov_inv=tuple(tuple(float(v) for v in r) for r in p.cov_inv),
            center=float(p.center), scale=float(p.scale)),
        tails=TailKnots(morphology=list(rule.tails["morphology"]), rhythm=list(rule.tails["rhythm"])),
        description=description(rule.window_ms, rule.rr_quantile, rule.gate,
                                None if rule.likeness is None else rule.likeness.join,
                                "population" if rule.likeness is None else rule.likeness.spread),
        fitted_on=f"MIT-BIH DS1 reference beats, N only ({n_normal} beats); threshold flags {target:.1%} of them",
        command=command, target=float(target), n_normal=int(n_normal), window_ms=rule.window_ms,
        rr_quantile=rule.rr_quantile,
        rhythm_gate=None if rule.gate is None else Gate(**rule.gate.as_dict()),
        likeness=None if rule.likeness is None else CardLikeness(
            population=tuple(rule.likeness.population), knots=list(rule.likeness.knots), join=rule.likeness.join,
            spread=rule.likeness.spread))


def cmd_robust_fit(args: argparse.Namespace) -> int:
    if not args.data.is_dir():
        raise FileNotFoundError(f"{args.data}: no such folder")
    if not 0.0 < args.target < 1.0:
        raise TrainError(f"--target {args.target}: a share between 0 and 1")
    try:
        card = read_card(args.card)
    except ModelError as e:
        raise TrainError(str(e)) from None
    window = None if args.whole_window else tuple(args.window_ms)
    if window is not None and not window[0] < window[1]:
        raise TrainError(f"--window-ms {window[0]:g} {window[1]:g}: the end must come after the start")
    try:
        check_rr_quantile(args.rr_quantile)
    except ValueError:
        raise TrainError(f"--rr-quantile {args.rr_quantile:g}: a quantile in (0, 1]") from None
    gate = None
    if not args.no_rhythm_gate:
        nn = args.rhythm_gate[3]
        try:  # before the rows: without a cache they take minutes
            gate = RhythmGate(*args.rhythm_gate[:3], nn_below=None if nn == np.inf else nn).check()
        except ValueError as e:
            raise TrainError(f"--rhythm-gate {' '.join(f'{v:g}' for v in args.rhythm_gate)}: {e}") from None
    rows = ds1_rows(args.card, args.data, args.cache, window, args.rr_quantile)
    join = None if args.likeness == "off" else args.likeness
    rule, n_normal = fit(rows, args.target, gate=gate, window_ms=window, rr_quantile=args.rr_quantile, likeness=join,
                         likeness_spread=args.likeness_spread)
    command = f"nice -n 19 python -m trainer robust-fit --card {args.card} --data {args.data}" + (
        f" --target {args.target:g}" if args.target != 0.01 else "") + (
        " --whole-window" if window is None else
        f" --window-ms {window[0]:g} {window[1]:g}" if window != WINDOW_MS else "") + (
        f" --rr-quantile {args.rr_quantile:g}" if args.rr_quantile != RR_QUANTILE else "") + (
        " --no-rhythm-gate" if gate is None else "" if gate == RHYTHM_GATE else
        " --rhythm-gate " + " ".join(f"{v:g}" for v in args.rhythm_gate)) + (  # inf prints as inf
        "" if join == LIKENESS_JOIN else f" --likeness {args.likeness}") + (
        "" if join is None or args.likeness_spread == LIKENESS_SPREAD else f" --likeness-spread {args.likeness_spread}")
    if card.measured:  # rows taken at the old threshold no longer describe this card
        print(f"robust-fit: {len(card.measured)} measured rows dropped (taken at the old threshold; rerun "
              "trainer crossdb, then trainer card)", file=sys.stderr)
    card = replace(card, schema=SCHEMA, preprocessing=replace(card.preprocessing, align=ALIGN),
                   robust_score=card_field(rule, n_normal, args.target, command), measured=[])
    write_text_atomic(args.card, card_json(card))
    print(f"robust-fit: {args.card}: threshold {rule.threshold:.4g} on {n_normal} DS1 N beats", file=sys.stderr)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The ``robust-fit`` subcommand (one hook in trainer/cli.py)."""
    p = sub.add_parser("robust-fit", help="fit a model card's robust score on MIT-BIH DS1's normal beats "
                                          "(rewrites its robust_score field; weights untouched)")
    p.add_argument("--card", type=Path, required=True, help="the model card (.json) to fit and rewrite")
    p.add_argument("--data", type=Path, required=True, help="MIT-BIH folder (WFDB records with .atr annotations)")
    p.add_argument("--target", type=float, default=0.01,
                   help="share of DS1's N beats over the fitted threshold (default: %(default)s)")
    p.add_argument("--cache", type=Path, help="keep DS1's errors and RR features in this .npz (refits skip the network)")
    p.add_argument("--window-ms", type=float, nargs=2, default=WINDOW_MS, metavar=("FROM", "TO"),
                   help="the error the morphology channel reads, ms from the R peak (default: %(default)s)")
    p.add_argument("--whole-window", action="store_true", help="read the error of the whole beat window instead")
    p.add_argument("--rr-quantile", type=float, default=RR_QUANTILE,
                   help="the rhythm's reference: this quantile of the two-interval cycles over +-30 s "
                        "(0.5: the median, cards up to 2.1.1; default: %(default)s)")
    g = RHYTHM_GATE
    gates = p.add_mutually_exclusive_group()
    gates.add_argument("--rhythm-gate", type=float, nargs=4, default=(g.quantile, g.above, g.cap, g.nn_below),
                   metavar=("QUANTILE", "ABOVE", "CAP", "NN_BELOW"),
                   help="hold the rhythm channel at CAP where the QUANTILE over +-32 beats of the smallest |change of "
                        "log RR| at lags 1-3, between beats whose morphology scores under NN_BELOW, is above ABOVE: "
                        "an irregular rhythm; NN_BELOW inf: every interval (default: %(default)s)")
    gates.add_argument("--no-rhythm-gate", action="store_true", help="never hold the rhythm channel down (cards up to 2.1.2)")
    p.add_argument("--likeness", choices=(*LIKENESS_JOINS, "off"), default=LIKENESS_JOIN,
                   help="join the likeness channel (unlike the record's dominant beat) with the morphology channel "
                        "by their max or sum; off: cards up to 2.1.3 (default: %(default)s)")
    p.add_argument("--likeness-spread", choices=LIKENESS_SPREADS, default=LIKENESS_SPREAD,
                   help="divide a record's likeness values by DS1's spread (population: card 2.2.0) or by the "
                        "record's own where that is wider (default: %(default)s)")
    p.set_defaults(func=cmd_robust_fit)
