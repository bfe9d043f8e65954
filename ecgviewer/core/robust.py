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
- **Rhythm**: prematurity against the robust local RR reference (``BeatSet.rr_median``), and the
  compensatory pause (next RR over previous), as a Mahalanobis distance counted one-sided, in the
  direction of a premature beat only (a beat after a pause is not anomalous for being late), as a
  z-score on normal beats' distances. The reference is the record's own pace already.

The two z-scores have tails of their own (a noisy record's morphology, an atrial fibrillation's
rhythm), so each is read as a **tail probability** among MIT-BIH DS1's normal beats (quantile knots
in the card): a channel's score is -log10 of the share of normal beats at least as far out, 2 meaning
"1 in 100 normal beats". The beat's score is their sum (Fisher: the product of the two tail
probabilities): on a common scale neither channel drowns the other, and a beat odd in both (a PVC:
wide and premature) adds up. Chosen on MIT-BIH DS1 over the maximum (``experiments/robust_scale_study.py``:
AUC 0.967 vs 0.964, F vs N 0.846 vs 0.845, V sensitivity at 1 % of N flagged 0.83 vs 0.56).

The card's ``robust_score`` field holds the fitted numbers (``python -m trainer robust-fit``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgviewer.core.scoring import _robust, rhythm_features

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


def prematurity_features(rr_pre: np.ndarray, rr_post: np.ndarray, rr_median: np.ndarray) -> np.ndarray:
    """log(RR before / local median RR) and log(RR after / RR before); 0 where unknown: the card's
    rhythm features with the robust local reference in place of the 8-beat mean."""
    return rhythm_features(rr_pre, rr_post, rr_median)


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
    v = np.log(np.maximum(np.asarray(mse, dtype=np.float64), 1e-12))
    if len(v) < MIN_BEATS:
        return population
    lo, mid = np.percentile(v, [LOW_Q, MID_Q])
    spread = max((mid - lo) / (_Z_MID - _Z_LOW), 1e-6)
    return float(mid - _Z_MID * spread), float(spread)


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

    def score(self, mse: np.ndarray, features: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(score, morphology z, rhythm z or None) of a record's beats; ``features`` from
        :func:`prematurity_features` (None or no rhythm model: morphology alone)."""
        centre = record_scale(mse, self.population)[0] if self.scale == "record" else self.population[0]
        spread = self.population[1]
        zm = morphology_z(mse, centre, spread)
        tm = tail_score(zm, self.tails["morphology"]) if self.tails else zm
        if self.rhythm is None or features is None:
            return tm, zm, None
        zr = self.rhythm.z(features)
        tr = tail_score(zr, self.tails["rhythm"]) if self.tails else zr
        joined = np.maximum(tm, tr) if self.combine == "max" else tm + tr
        return joined.astype(np.float32), zm, zr

    def as_dict(self) -> dict:
        return {"format": 1, "combine": self.combine, "scale": self.scale, "threshold": self.threshold,
                "population_log_mse": list(self.population),
                "rhythm": self.rhythm.as_dict() if self.rhythm else None, "tails": self.tails}

    @classmethod
    def from_dict(cls, d: dict) -> RobustScore:
        if d.get("combine", "sum") not in COMBINE_RULES:
            raise ValueError(f"robust_score combine {d.get('combine')!r}: must be one of {COMBINE_RULES}")
        rhythm = PrematurityModel.from_dict(d["rhythm"]) if d.get("rhythm") else None
        pop = d["population_log_mse"]
        tails = d.get("tails")
        if tails is not None and any(len(tails[k]) != len(TAIL_LOG10) for k in ("morphology", "rhythm")):
            raise ValueError(f"robust_score tails: {len(TAIL_LOG10)} knots per channel expected")
        return cls(rhythm, (float(pop[0]), float(pop[1])), float(d["threshold"]), d.get("combine", "sum"),
                   d.get("scale", "record"), tails)
