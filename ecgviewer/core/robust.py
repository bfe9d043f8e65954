"""Scores that mean the same on every patient: each record on its own scale, rhythm against its own pace.

Why: a model's reconstruction error of a new patient's normal beats sits elsewhere than MIT-BIH's
(another body, another recorder), so a fixed threshold floods one record and misses everything on
another. Two channels, each a robust z-score, joined by their maximum so neither drowns the other:

- **Morphology**: log MSE relative to the record's own beats. The centre comes from the lower part
  of the record's distribution (its 5th and 25th percentiles, read as those of a normal
  distribution), because most beats of a recording are normal but a bigeminy is half ectopic:
  the lower quarter stays inside the dominant beats as long as they are at least about a third.
  The spread is the population's (MIT-BIH DS1's normal beats): the centre is what moves between
  patients and recorders, while a record's own spread grows with its noise and its ectopy, and
  dividing by it hid the PVCs of 208 (DS1 AUC 0.964 with the population's spread, 0.946 with the
  record's: ``experiments/robust_scale_study.py``). Records with few beats use the population's centre.
  The error read is that around the QRS (``RobustScore.window_ms``; the card's, -100 .. +150 ms
  for the bundled model): P wave, baseline and T wave differ between normal beats of patients and
  recorders too, while a ventricular beat differs most around its QRS. Chosen on MIT-BIH
  (``experiments/error_aggregate_study.py``: DS2 V sensitivity at 1.5 % of DS1's N beats flagged
  0.92 against 0.81 for the whole window). The heat map still shows the error at every tick.
- **Rhythm**: prematurity against the local RR reference (:func:`reference_rr`), and the
  compensatory pause (next RR over previous), as a Mahalanobis distance counted one-sided, in the
  direction of a premature beat only (a beat after a pause is not anomalous for being late), as a
  z-score on normal beats' distances. The reference is the record's own pace already: an upper
  quantile (the card's ``rr_quantile``; 0.9 since card 2.1.2, the median before) of the beats'
  two-interval cycles over a minute, because ectopic beats, runs and missed compensations only
  ever shorten the cycle, so the longer cycles of the minute are the sinus ones (a record full of
  atrial premature beats, as MIT-BIH 232, otherwise calls them its pace: DS2 AUC 0.864 -> 0.942,
  ``experiments/rr_reference_study.py``). Where the rhythm is irregular at every lag, as in atrial
  fibrillation, prematurity has no meaning: there the card's :class:`RhythmGate` (since card 2.1.3)
  lets the rhythm channel count at most one decade, so rhythm alone cannot flag such a beat but
  still adds to an odd morphology. Irregularity is read on NN intervals, between beats of ordinary
  morphology, so that frequent PVCs in no fixed pattern are not taken for fibrillation
  (``experiments/irregularity_study.py --card-rule``, chosen on DS1's AUC).

- **Likeness** (since card 2.2.0): how unlike the record's own dominant beat a beat's QRS-T is,
  ``log(1 - r)`` with r the correlation (:func:`likeness_value`), centred on the record's beats as
  the morphology channel is and divided by DS1's spread. It needs no model of normal: a new
  patient's normal beats are like each other whatever the network makes of them, so it holds where
  the network's error moves between recorders. Joined with the morphology channel by their maximum
  (the two are views of one shape, so summing would count one oddity twice), then with rhythm as
  below (``experiments/likeness_study.py``: DS1 AUC 0.982 against 0.976 for the sum and 0.967
  without; DS2 0.954 / 0.953 against 0.944 / 0.942, reference / detector beats).

The z-scores have tails of their own (a noisy record's morphology, an atrial fibrillation's
rhythm), so each is read as a **tail probability** among MIT-BIH DS1's normal beats (quantile knots
in the card): a channel's score is -log10 of the share of normal beats at least as far out, 2 meaning
"1 in 100 normal beats". The beat's score is their sum (Fisher: the product of the two tail
probabilities): on a common scale neither channel drowns the other, and a beat odd in both (a PVC:
wide and premature) adds up. Chosen on MIT-BIH DS1 over the maximum (``experiments/robust_scale_study.py``:
AUC 0.967 vs 0.964, F vs N 0.846 vs 0.845, V sensitivity at 1 % of N flagged 0.83 vs 0.56).

The card's ``robust_score`` field holds the fitted numbers (``python -m trainer robust-fit``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ecgviewer.core.scoring import _robust, rhythm_features
from ecgviewer.core.templates import dominant_likeness, shape_features

if TYPE_CHECKING:
    from ecgviewer.core.beats import BeatSet

#: Percentiles of the record's log MSE that give its centre and spread, and their z under a normal law.
LOW_Q, MID_Q = 5.0, 25.0
_Z_LOW, _Z_MID = -1.6449, -0.6745
MIN_BEATS = 30
COMBINE_RULES = ("max", "sum")
#: Where a record's morphology centre comes from: its own beats, or the population's (ablations).
SCALES = ("record", "population")
#: Tail probabilities of the knots that map a channel's z to -log10(tail): 1 down to 1e-4, 20 a decade.
TAIL_LOG10 = np.arange(0, 81) / 20.0


def tail_knots(z_normal: np.ndarray) -> list[float]:
    """The z values that a share 10^-k of ``z_normal`` exceeds, for k in :data:`TAIL_LOG10`."""
    return np.quantile(np.asarray(z_normal, np.float64), 1.0 - 10.0 ** -TAIL_LOG10).tolist()


def tail_score(z: np.ndarray, knots: list[float]) -> np.ndarray:
    """-log10 of the share of normal beats at least ``z`` (interpolated between the knots; beyond
    the last, continued at the slope of the last decade)."""
    k = np.maximum.accumulate(np.asarray(knots, np.float64))  # monotone (ties in the quantiles)
    t = np.interp(z, k, TAIL_LOG10)
    slope = max(k[-1] - k[-21], 1e-6)  # z per decade over the last decade
    beyond = z > k[-1]
    t[beyond] = TAIL_LOG10[-1] + (z[beyond] - k[-1]) / slope
    return t.astype(np.float32)


#: Half-width in seconds of the window of the local RR reference (:func:`reference_rr`).
RR_REFERENCE_HALF_S = 30.0
#: Windows sorted at once in :func:`reference_rr` and :func:`window_nanquantile` (bounds their memory).
_QUANTILE_BLOCK = 8192
#: The quantile of the local cycles a card without ``rr_quantile`` reads: their median (cards up to 2.1.1).
RR_QUANTILE_MEDIAN = 0.5


def reference_rr(time_s: np.ndarray, rr_pre: np.ndarray, rr_post: np.ndarray, quantile: float = RR_QUANTILE_MEDIAN,
                 half_s: float = RR_REFERENCE_HALF_S) -> np.ndarray:
    """Local RR reference of each beat: the ``quantile`` of the cycles (mean of the RR intervals
    before and after a beat) of the beats within +-``half_s`` seconds.

    Why cycles: a premature beat and its compensatory pause add up to two normal cycles, so even a
    bigeminy (short, long, short, ...) gives the sinus cycle; over about a minute a run of ectopic
    beats or a slow change of rate does not pull it along. Intervals unknown (across a signal gap,
    at the record's ends) give no cycle. Where no cycle lies within the window, the nearest; NaN
    when the record has none.
    """
    t = np.asarray(time_s, dtype=np.float64)
    cycle = 0.5 * (np.asarray(rr_pre, dtype=np.float64) + np.asarray(rr_post, dtype=np.float64))
    ok = np.isfinite(cycle)
    out = np.full(len(t), np.nan, dtype=np.float32)
    if not ok.any():
        return out
    tc, c = t[ok], cycle[ok]
    lo = np.searchsorted(tc, t - half_s, side="left")
    hi = np.searchsorted(tc, t + half_s, side="right")
    empty = hi <= lo  # nothing within the window (a gap): the nearest cycle
    lo = np.where(empty, np.clip(lo - 1, 0, len(c) - 1), lo)
    hi = np.where(empty, lo + 1, hi)
    # np.quantile's linear rule on each window, many windows at a time (a 24-h record has ~100k):
    # the windows padded with +inf to one width, sorted, and read between two order statistics
    width = int((hi - lo).max())
    padded = np.concatenate([c, np.full(width, np.inf)])
    for s in range(0, len(t), _QUANTILE_BLOCK):
        a, b = lo[s:s + _QUANTILE_BLOCK], hi[s:s + _QUANTILE_BLOCK]
        idx = a[:, None] + np.arange(width)
        w = np.sort(np.where(idx < b[:, None], padded[np.minimum(idx, len(padded) - 1)], np.inf), axis=1)
        out[s:s + _QUANTILE_BLOCK] = _sorted_quantile(w, b - a, quantile)
    return out


def _sorted_quantile(w: np.ndarray, count: np.ndarray, quantile: float) -> np.ndarray:
    """np.quantile's linear rule on each row of ``w``, sorted with its ``count`` values first (the
    rest +inf); NaN for a row of none."""
    n = np.maximum(count - 1, 0)
    pos = quantile * n
    below = np.floor(pos).astype(np.int64)
    above = np.minimum(below + 1, n)
    rows = np.arange(len(w))
    lo_v, hi_v = w[rows, below], w[rows, above]
    with np.errstate(invalid="ignore"):  # a row of none reads inf - inf; NaN below
        v = lo_v + (pos - below) * (hi_v - lo_v)
    return np.where(count > 0, v, np.nan)


def prematurity_features(rr_pre: np.ndarray, rr_post: np.ndarray, rr_ref: np.ndarray) -> np.ndarray:
    """log(RR before / local RR reference) and log(RR after / RR before); 0 where unknown: the
    card's rhythm features with the local reference in place of the 8-beat mean."""
    return rhythm_features(rr_pre, rr_post, rr_ref)


def check_rr_quantile(q: float) -> float:
    """``q`` as a float if it can be a rhythm reference's quantile (in (0, 1]); else ValueError."""
    q = float(q)
    if not (np.isfinite(q) and 0.0 < q <= 1.0):
        raise ValueError(f"rr_quantile {q:g}: a quantile in (0, 1]")
    return q


def beat_features(beats: BeatSet, quantile: float) -> np.ndarray:
    """The :func:`prematurity_features` of a record's beats, against their :func:`reference_rr`."""
    ref = reference_rr(beats.centre / beats.fs, beats.rr_pre, beats.rr_post, quantile)
    return prematurity_features(beats.rr_pre, beats.rr_post, ref)


#: Beats on each side of the window of :func:`irregularity` (64 intervals, as the AF-like event rule).
IRREGULAR_HALF = 32
#: Lags of the RR pattern compared: 1 (a steady rhythm), 2 (bigeminy), 3 (trigeminy).
IRREGULAR_LAGS = (1, 2, 3)


def irregularity(step: np.ndarray, quantile: float = 0.5, half: int = IRREGULAR_HALF,
                 keep: np.ndarray | None = None) -> np.ndarray:
    """How irregular the rhythm around each beat is, from its RR intervals alone (no beat classes).

    ``step``: each beat's log(RR after / RR before) (the second :func:`prematurity_features` column;
    0 where unknown), in beat order. For each lag k in :data:`IRREGULAR_LAGS` the change of log RR
    over k intervals is taken, and its ``quantile`` of size over the +-``half`` beats around; the
    beat's irregularity is the smallest over the lags. A steady rhythm is regular at lag 1, a
    bigeminy (short, long, short, ...) at lag 2 and a trigeminy at lag 3, and premature beats in
    sinus rhythm leave runs of steady cycles between them, which a low quantile sees, so only a
    rhythm irregular at every lag and everywhere, as atrial fibrillation is, scores high. Why:
    prematurity has no meaning there, and the rhythm channel floods such a record.

    ``keep``: the beats whose intervals count, as heart-rate variability reads only NN intervals
    (between two normal beats): a change counts only where every beat it spans is kept, so PVCs in
    no fixed pattern (MIT-BIH 208) do not make a sinus rhythm look fibrillating. None: every beat.
    Where nothing counts within a window the beat reads as regular (0).
    """
    s = np.asarray(step, dtype=np.float64)
    n = len(s)
    if n == 0:
        return np.zeros(0, np.float32)
    if keep is not None:
        k = np.asarray(keep, dtype=bool)
        s = np.where(k & np.r_[True, k[:-1]] & np.r_[k[1:], True], s, np.nan)  # beyond the ends: no beat to drop
    best = np.full(n, np.nan)
    for k in IRREGULAR_LAGS:
        if n < k:
            break
        d = np.abs(np.lib.stride_tricks.sliding_window_view(s, k).sum(axis=1))  # NaN where a change is unknown
        pad = np.concatenate([np.full(half, np.nan), d, np.full(half + k - 1, np.nan)])
        best = np.fmin(best, window_nanquantile(pad, 2 * half + 1, quantile)[:n])
    return np.where(np.isfinite(best), best, 0.0).astype(np.float32)


def window_nanquantile(x: np.ndarray, width: int, quantile: float) -> np.ndarray:
    """``np.nanquantile`` (linear rule) of every window of ``width`` consecutive values of ``x``,
    NaN where a window holds none; the windows sorted a block at a time, with NaN as +inf, which
    is ~100x faster than ``np.nanquantile`` over a sliding view (a 24-h record's 100k beats)."""
    win = np.lib.stride_tricks.sliding_window_view(np.asarray(x, dtype=np.float64), width)
    out = np.full(len(win), np.nan)
    for a in range(0, len(win), _QUANTILE_BLOCK):
        block = win[a:a + _QUANTILE_BLOCK]
        known = ~np.isnan(block)
        w = np.sort(np.where(known, block, np.inf), axis=1)
        out[a:a + _QUANTILE_BLOCK] = _sorted_quantile(w, known.sum(axis=1), quantile)
    return out


@dataclass(frozen=True)
class RhythmGate:
    """Where the rhythm channel is held down: :func:`irregularity` at ``quantile`` above ``above``;
    there its tail score counts at most ``cap`` (0: muted), so rhythm alone cannot flag a beat of an
    irregular rhythm but still adds to an odd morphology. ``nn_below``: only the intervals between
    beats of ordinary morphology (channel score under it) measure the irregularity; None: all."""

    quantile: float
    above: float
    cap: float = 0.0
    half: int = IRREGULAR_HALF
    nn_below: float | None = None

    def check(self, tails: bool = True) -> RhythmGate:
        """This gate if its numbers make one, for a rule with tail knots (``tails``) or without;
        else ValueError naming the bad one."""
        if not 0.0 < self.quantile <= 1.0:
            raise ValueError(f"rhythm gate quantile {self.quantile:g}: a quantile in (0, 1]")
        for name, v in (("above", self.above), ("cap", self.cap)):
            if not (math.isfinite(v) and v >= 0.0):
                raise ValueError(f"rhythm gate {name} {v:g}: a number of at least 0")
        if self.half < 1:
            raise ValueError(f"rhythm gate half {self.half}: at least one beat")
        if self.nn_below is not None and not (math.isfinite(self.nn_below) and self.nn_below > 0.0):
            raise ValueError(f"rhythm gate nn_below {self.nn_below:g}: a morphology score above 0 (or none)")
        if self.nn_below is not None and not tails:
            raise ValueError("rhythm_gate nn_below reads the morphology tail score: the rule has no tails")
        return self

    def regular(self, features: np.ndarray, morphology: np.ndarray | None = None) -> np.ndarray:
        """Beats whose rhythm channel counts (``features``: :func:`prematurity_features`, beat order;
        ``morphology``: the beats' morphology channel score, needed when ``nn_below`` is set)."""
        keep = None
        if self.nn_below is not None:
            if morphology is None:
                raise ValueError("this rhythm gate reads the morphology channel: pass the beats' morphology scores")
            keep = np.asarray(morphology) < self.nn_below
        return irregularity(features[:, 1], self.quantile, self.half, keep) <= self.above

    def as_dict(self) -> dict:
        return {"quantile": self.quantile, "above": self.above, "cap": self.cap, "half": self.half,
                "nn_below": self.nn_below}

    @classmethod
    def from_dict(cls, d: dict) -> RhythmGate:
        nn = d.get("nn_below")
        return cls(float(d["quantile"]), float(d["above"]), float(d.get("cap", 0.0)), int(d.get("half", IRREGULAR_HALF)),
                   None if nn is None else float(nn))


@dataclass
class PrematurityModel:
    """Gaussian of normal beats' prematurity features; distance counted towards prematurity only."""

    mean: np.ndarray
    cov_inv: np.ndarray
    center: float
    scale: float

    @classmethod
    def fit(cls, features: np.ndarray) -> PrematurityModel:
        """Fit on normal beats' :func:`prematurity_features`."""
        mean = features.mean(axis=0)
        cov = np.cov(features, rowvar=False) + np.eye(features.shape[1]) * 1e-6
        model = cls(mean, np.linalg.inv(cov), 0.0, 1.0)
        model.center, model.scale = _robust(model.distance(features))
        return model

    def distance(self, features: np.ndarray) -> np.ndarray:
        c = features - self.mean
        c[:, 0] = np.minimum(c[:, 0], 0.0)  # earlier than the local pace
        c[:, 1] = np.maximum(c[:, 1], 0.0)  # followed by a longer interval (compensatory pause)
        return np.sqrt(np.einsum("ij,jk,ik->i", c, self.cov_inv, c)).astype(np.float32)

    def z(self, features: np.ndarray) -> np.ndarray:
        return ((self.distance(features) - self.center) / self.scale).astype(np.float32)

    def as_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "cov_inv": self.cov_inv.tolist(), "center": self.center,
                "scale": self.scale}

    @classmethod
    def from_dict(cls, d: dict) -> PrematurityModel:
        return cls(np.asarray(d["mean"], float), np.asarray(d["cov_inv"], float), float(d["center"]),
                   float(d["scale"]))


def record_scale(mse: np.ndarray, population: tuple[float, float]) -> tuple[float, float]:
    """Centre (median-equivalent) and spread of a record's log MSE from its lower part (see module).

    ``population``: (centre, spread) used when the record has under :data:`MIN_BEATS` beats.
    """
    return log_scale(np.log(np.maximum(np.asarray(mse, dtype=np.float64), 1e-12)), population)


def log_scale(v: np.ndarray, population: tuple[float, float]) -> tuple[float, float]:
    """:func:`record_scale` of values already on a log scale (the likeness channel's)."""
    v = np.asarray(v, dtype=np.float64)
    if len(v) < MIN_BEATS:
        return population
    lo, mid = np.percentile(v, [LOW_Q, MID_Q])
    spread = max((mid - lo) / (_Z_MID - _Z_LOW), 1e-6)
    return float(mid - _Z_MID * spread), float(spread)


def window_error(err: np.ndarray, r_tick: int, fs: float, window_ms: tuple[float, float] | None) -> np.ndarray:
    """Each beat's mean squared error over ``window_ms`` (ms from the R peak at tick ``r_tick``;
    None: the whole window), all leads; ``err`` is (beats, leads, ticks) or (beats, ticks)."""
    e = np.asarray(err)
    if not len(e):
        return np.zeros(0, np.float32)
    e = e.reshape(len(e), -1, e.shape[-1])
    if window_ms is not None:  # a view: a 24-h record's errors are not copied
        lo = max(r_tick + round(window_ms[0] * fs / 1000.0), 0)
        hi = min(r_tick + round(window_ms[1] * fs / 1000.0), e.shape[-1])
        e = e[..., lo:hi]
    return e.mean(axis=(1, 2), dtype=np.float64).astype(np.float32)


#: Smallest 1 - r the likeness channel reads (a correlation of 1 to float precision).
LIKENESS_FLOOR = 1e-6
#: How the likeness channel joins the morphology channel's tail: the larger of the two, or their sum.
LIKENESS_JOINS = ("max", "sum")
#: Which spread divides a record's likeness values: DS1's pooled one (card 2.2.0), or the record's
#: own where that is wider ("own-wider": a record whose normal beats vary more than DS1's).
LIKENESS_SPREADS = ("population", "own-wider")


def likeness_value(x: np.ndarray) -> np.ndarray:
    """log(1 - r) of each beat window ``x`` (beats, leads, ticks), r the correlation of its lead-0
    QRS-T with the record's dominant beat (``core.templates``); label-free, so the same on reference
    and detected beats, and unchanged by the record's gain (a correlation)."""
    if len(x) == 0:
        return np.zeros(0, np.float32)
    r = dominant_likeness(shape_features(x))
    return np.log(np.maximum(1.0 - r, LIKENESS_FLOOR)).astype(np.float32)


@dataclass(frozen=True)
class Likeness:
    """The likeness channel (see module): ``population`` (centre, spread) of DS1's normal beats'
    :func:`likeness_value`, the ``knots`` of its tail among them, and its ``join``."""

    population: tuple[float, float]
    knots: list[float]
    join: str = "max"
    spread: str = "population"

    @classmethod
    def fit(cls, values: list[np.ndarray], normal: list[np.ndarray], join: str = "max",
            spread: str = "population") -> Likeness:
        """Fitted on the normal beats (``normal`` masks) of records' :func:`likeness_value`: their
        median and IQR spread, then the knots of their record-centred z."""
        population = _robust(np.concatenate([v[m] for v, m in zip(values, normal)]).astype(np.float64))
        bare = cls(population, [0.0] * len(TAIL_LOG10), join, spread).check()  # z reads the population only
        knots = tail_knots(np.concatenate([bare.z(v)[m] for v, m in zip(values, normal)]))
        return cls(population, knots, join, spread).check()

    def check(self) -> Likeness:
        """This channel if its numbers make one; else ValueError naming the bad one."""
        if self.join not in LIKENESS_JOINS:
            raise ValueError(f"likeness join {self.join!r}: must be one of {', '.join(LIKENESS_JOINS)}")
        if self.spread not in LIKENESS_SPREADS:
            raise ValueError(f"likeness spread {self.spread!r}: must be one of {', '.join(LIKENESS_SPREADS)}")
        if len(self.knots) != len(TAIL_LOG10):
            raise ValueError(f"likeness knots: {len(TAIL_LOG10)} expected, not {len(self.knots)}")
        if not all(math.isfinite(v) for v in (*self.population, *self.knots)):
            raise ValueError("likeness holds a number that is not finite")
        if self.population[1] <= 0:
            raise ValueError("likeness: a spread must be positive")
        return self

    def z(self, value: np.ndarray) -> np.ndarray:
        """Robust z of a record's :func:`likeness_value`: centre from its own beats, spread DS1's
        (or, with ``spread="own-wider"``, the record's own where that is wider)."""
        centre, own = log_scale(value, self.population)
        spread = max(own, self.population[1]) if self.spread == "own-wider" else self.population[1]
        return ((np.asarray(value, np.float64) - centre) / spread).astype(np.float32)

    def tail(self, value: np.ndarray) -> np.ndarray:
        return tail_score(self.z(value), self.knots)

    def as_dict(self) -> dict:
        d = {"population": list(self.population), "knots": list(self.knots), "join": self.join}
        return d if self.spread == "population" else {**d, "spread": self.spread}

    @classmethod
    def from_dict(cls, d: dict) -> Likeness:
        pop = d["population"]
        return cls((float(pop[0]), float(pop[1])), [float(v) for v in d["knots"]], d.get("join", "max"),
                   d.get("spread", "population")).check()


def morphology_z(mse: np.ndarray, centre: float, spread: float) -> np.ndarray:
    return ((np.log(np.maximum(np.asarray(mse, dtype=np.float64), 1e-12)) - centre) / spread).astype(np.float32)


@dataclass
class RobustScore:
    """The card's ``robust_score`` field: how a record's beats are put on a patient-independent scale."""

    rhythm: PrematurityModel | None
    population: tuple[float, float]  # (centre, spread) of log MSE of normal beats, for short records
    threshold: float
    combine: str = "sum"
    scale: str = "record"  # "record" (the record's own beats) or "population" (the card's, for ablations)
    tails: dict | None = None  # {"morphology": knots, "rhythm": knots} (tail_knots); None: plain z-scores
    gate: RhythmGate | None = None  # where the rhythm channel is muted (an irregular rhythm); None: nowhere
    window_ms: tuple[float, float] | None = None  # the error the morphology channel reads; None: whole window
    rr_quantile: float = RR_QUANTILE_MEDIAN  # which local cycle is the rhythm's reference (:func:`reference_rr`)
    # the morphology spread: None, the population's (every card); else the record's own, between this
    # share of the population's and all of it (``experiments/record_spread_study.py``; no card field)
    spread_floor: float | None = None
    likeness: Likeness | None = None  # the likeness channel (card 2.2.0 on); None: not read

    def features(self, beats: BeatSet) -> np.ndarray:
        """The rhythm channel's features of a record's beats (:func:`beat_features` at this rule's quantile)."""
        return beat_features(beats, self.rr_quantile)

    def morphology_error(self, err: np.ndarray, r_tick: int, fs: float) -> np.ndarray:
        """The per-beat error this rule's morphology channel reads, from the per-tick errors."""
        return window_error(err, r_tick, fs, self.window_ms)

    def score(self, mse: np.ndarray, features: np.ndarray | None,
              likeness: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(score, morphology z, rhythm z or None) of a record's beats; ``features`` from
        :func:`prematurity_features` (None or no rhythm model: morphology alone); ``likeness`` the
        beats' :func:`likeness_value`, needed when the rule reads that channel."""
        centre, own = record_scale(mse, self.population) if self.scale == "record" else self.population
        spread = self.population[1]
        if self.spread_floor is not None and self.scale == "record":  # an ablation: the record's own spread
            spread = float(np.clip(own, self.spread_floor * spread, spread))
        zm = morphology_z(mse, centre, spread)
        tm = tail_score(zm, self.tails["morphology"]) if self.tails else zm
        shape = tm
        if self.likeness is not None:
            if likeness is None:
                raise ValueError("this rule reads the likeness channel: pass the beats' likeness values")
            tl = self.likeness.tail(likeness)
            shape = (np.maximum(tm, tl) if self.likeness.join == "max" else tm + tl).astype(np.float32)
        if self.rhythm is None or features is None:
            return shape, zm, None
        zr = self.rhythm.z(features)
        tr = tail_score(zr, self.tails["rhythm"]) if self.tails else zr
        if self.gate is not None:  # NN intervals by the network's morphology channel alone (as chosen, card 2.1.3)
            tr = np.where(self.gate.regular(features, tm), tr, np.minimum(tr, np.float32(self.gate.cap)))
        joined = np.maximum(shape, tr) if self.combine == "max" else shape + tr
        return joined.astype(np.float32), zm, zr

    def as_dict(self) -> dict:
        return {"format": 1, "combine": self.combine, "scale": self.scale, "threshold": self.threshold,
                "population_log_mse": list(self.population),
                "rhythm": self.rhythm.as_dict() if self.rhythm else None, "tails": self.tails,
                "rhythm_gate": self.gate.as_dict() if self.gate else None,
                "window_ms": list(self.window_ms) if self.window_ms is not None else None,
                "rr_quantile": self.rr_quantile,
                "likeness": self.likeness.as_dict() if self.likeness is not None else None}

    @classmethod
    def from_dict(cls, d: dict) -> RobustScore:
        if d.get("combine", "sum") not in COMBINE_RULES:
            raise ValueError(f"robust_score combine {d.get('combine')!r}: must be one of {COMBINE_RULES}")
        rhythm = PrematurityModel.from_dict(d["rhythm"]) if d.get("rhythm") else None
        pop = d["population_log_mse"]
        tails = d.get("tails")
        if tails is not None and any(len(tails[k]) != len(TAIL_LOG10) for k in ("morphology", "rhythm")):
            raise ValueError(f"robust_score tails: {len(TAIL_LOG10)} knots per channel expected")
        gate = RhythmGate.from_dict(d["rhythm_gate"]).check(tails is not None) if d.get("rhythm_gate") else None
        w = d.get("window_ms")
        q = d.get("rr_quantile")
        q = RR_QUANTILE_MEDIAN if q is None else check_rr_quantile(q)
        if (d.get("likeness") is not None) and tails is None:
            raise ValueError("robust_score likeness is read as a tail: the rule has no tails")
        like = Likeness.from_dict(d["likeness"]) if d.get("likeness") is not None else None
        return cls(rhythm, (float(pop[0]), float(pop[1])), float(d["threshold"]), d.get("combine", "sum"),
                   d.get("scale", "record"), tails, gate, None if w is None else (float(w[0]), float(w[1])), q,
                   likeness=like)
