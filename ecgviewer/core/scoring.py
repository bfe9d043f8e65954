"""The arithmetic of an anomaly score, on arrays: reconstruction error plus rhythm context.

Functions with no model file and no record in sight: given a network and beats as arrays, they
return scores. The trainer's evaluation calls them on its test folds, and :mod:`ecgviewer.core.scorer`
(the object that loads a model and scores a record for the viewer and the CLI) calls them too, so a
beat scores the same everywhere.

A beat's morphology score is its mean squared reconstruction error; the per-tick squared error
(lead x 320) is kept as the heat map that explains it. A model may add rhythm context: the
Mahalanobis distance of two RR ratios, fitted on normal beats only, since a premature beat's short
RR interval is what separates most S beats from N ones. The two parts are put on a common scale
with statistics of normal beats and added.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ecgviewer.core.beats import BeatSet
from ecgviewer.core.model.inference import as_reconstructor


@dataclass
class ScoreResult:
    """Per-beat scores and the per-tick errors behind them (same order as the BeatSet)."""

    score: np.ndarray  # (n,) float32: the anomaly score the threshold applies to
    mse: np.ndarray  # (n,) float32: morphology part, mean squared reconstruction error
    rhythm: np.ndarray | None  # (n,) float32 Mahalanobis distance, when the model uses rhythm
    error: np.ndarray  # (n, leads, 320) float32 squared error per tick
    recon: np.ndarray  # (n, leads, 320) float32 reconstruction
    raw: np.ndarray | None = None  # (n,) the model's raw score (before any per-record scale), for audits
    morph_z: np.ndarray | None = None  # (n,) robust score's morphology channel (core.robust)
    rhythm_z: np.ndarray | None = None  # (n,) robust score's rhythm channel
    likeness_z: np.ndarray | None = None  # (n,) robust score's likeness channel (unlike the dominant beat)
    note: str = ""  # what the user must know about how the record was scored (e.g. which lead)

    def __len__(self) -> int:
        return int(self.score.shape[0])


class Cancelled(Exception):
    """Scoring was cancelled by the caller."""


def reconstruct(generator: Any, x: np.ndarray, batch: int = 1024,
                progress: Callable[[int, int], None] | None = None,
                cancelled: Callable[[], bool] | None = None, device: Any = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Reconstructions and per-tick squared errors of beats ``x`` (n, leads, 320).

    ``generator`` is a torch ``Generator`` (run on ``device``) or a Reconstructor of
    ``ecgviewer.core.model.inference`` (the ONNX Runtime one in the packaged viewer).
    """
    run = as_reconstructor(generator, device)
    n = len(x)
    recon = np.empty_like(x, dtype=np.float32)
    for i in range(0, n, batch):
        if cancelled is not None and cancelled():
            raise Cancelled()
        recon[i:i + batch] = run(x[i:i + batch])
        if progress is not None:
            progress(min(i + batch, n), n)
    if progress is not None and n == 0:
        progress(0, 0)
    err = (recon - x) ** 2
    return recon, err.astype(np.float32)


def rhythm_features(rr_pre: np.ndarray, rr_post: np.ndarray, rr_local: np.ndarray) -> np.ndarray:
    """Log RR ratios: previous RR over the local mean, next RR over previous (0 where unknown)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.stack([np.log(rr_pre / rr_local), np.log(rr_post / rr_pre)], axis=1)
    return np.nan_to_num(f, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float64)


@dataclass
class RhythmModel:
    """Gaussian of normal beats' RR features and the z-scaling that joins it to the MSE."""

    mean: np.ndarray
    cov_inv: np.ndarray
    mse_center: float
    mse_scale: float
    rhythm_center: float
    rhythm_scale: float

    @classmethod
    def fit(cls, features: np.ndarray, mse: np.ndarray) -> RhythmModel:
        """Fit on normal beats only: their RR features and their reconstruction errors."""
        mean = features.mean(axis=0)
        cov = np.cov(features, rowvar=False) + np.eye(features.shape[1]) * 1e-6
        model = cls(mean, np.linalg.inv(cov), 0.0, 1.0, 0.0, 1.0)
        d = model.distance(features)
        model.mse_center, model.mse_scale = _robust(mse)
        model.rhythm_center, model.rhythm_scale = _robust(d)
        return model

    def distance(self, features: np.ndarray) -> np.ndarray:
        c = features - self.mean
        return np.sqrt(np.einsum("ij,jk,ik->i", c, self.cov_inv, c)).astype(np.float32)

    def combine(self, mse: np.ndarray, distance: np.ndarray) -> np.ndarray:
        z_m = (mse - self.mse_center) / self.mse_scale
        z_r = (distance - self.rhythm_center) / self.rhythm_scale
        return (z_m + z_r).astype(np.float32)

    def score(self, mse: np.ndarray, features: np.ndarray) -> np.ndarray:
        """The combined score of beats given their reconstruction errors and RR features."""
        return self.combine(mse, self.distance(features))

    def as_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "cov_inv": self.cov_inv.tolist(), "mse_center": self.mse_center,
                "mse_scale": self.mse_scale, "rhythm_center": self.rhythm_center, "rhythm_scale": self.rhythm_scale}

    @classmethod
    def from_dict(cls, d: dict) -> RhythmModel:
        return cls(np.asarray(d["mean"], float), np.asarray(d["cov_inv"], float), float(d["mse_center"]),
                   float(d["mse_scale"]), float(d["rhythm_center"]), float(d["rhythm_scale"]))


def _robust(v: np.ndarray) -> tuple[float, float]:
    """Median and a scale that ignores the tail (IQR / 1.349, never 0)."""
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return float(med), float(max((q3 - q1) / 1.349, 1e-8))


def score_arrays(generator: Any, x: np.ndarray, rhythm: RhythmModel | None = None,
                 rr: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None, **kw) -> ScoreResult:
    """Score beats given as arrays; ``rr`` = (rr_pre, rr_post, rr_local) when ``rhythm`` is set."""
    recon, err = reconstruct(generator, x, **kw)
    mse = err.reshape(len(x), -1).mean(axis=1).astype(np.float32) if len(x) else np.zeros(0, np.float32)
    if rhythm is None:
        return ScoreResult(mse, mse, None, err, recon)
    if rr is None:
        raise ValueError("this model scores rhythm too: pass the RR intervals")
    dist = rhythm.distance(rhythm_features(*rr))
    return ScoreResult(rhythm.combine(mse, dist), mse, dist, err, recon)


def score_beats(generator: Any, beats: BeatSet, rhythm: RhythmModel | None = None, **kw) -> ScoreResult:
    """Score a record's beats (see :func:`score_arrays`)."""
    return score_arrays(generator, beats.x, rhythm, (beats.rr_pre, beats.rr_post, beats.rr_local), **kw)
