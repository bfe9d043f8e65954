"""The Scorer: record -> beats -> reconstruct -> errors -> scores, with the model's own rules.

The viewer, ``ecgviewer score`` and the evaluation (``trainer crossdb``) all go through this class, so
a beat scores the same wherever it is looked at. The steps are separate methods so that one can be
changed without the others (test-time adaptation swaps the network between ``beats`` and
``reconstruct``): :meth:`Scorer.beats`, :meth:`Scorer.reconstruct`, :meth:`Scorer.finish`.

A card with a ``robust_score`` field (``ModelCard.robust_score``, rule in ``core.robust``) scores each
record on its own scale, joined with the robust rhythm channel; the model's raw score (the card's fixed z-scaling, or the MSE) is
kept beside it for audits (``ScoreResult.raw``, :attr:`Scorer.raw_threshold`).

The arithmetic of a score lives in :mod:`ecgviewer.core.scoring` and :mod:`ecgviewer.core.robust`,
which work on arrays and are shared with the trainer.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from ecgviewer.core.adapt import AdaptConfig, AdaptLog, adapt_generator
from ecgviewer.core.beats import BeatParams, BeatSet, extract_beats
from ecgviewer.core.model.loader import LoadedModel, load_model
from ecgviewer.core.record import Record
from ecgviewer.core.resources import bundled_model_path
from ecgviewer.core.robust import RobustScore, likeness_value
from ecgviewer.core.scoring import ScoreResult, reconstruct, rhythm_features

_FROM_CARD = object()


class Scorer:
    """Scores beats with one loaded model. Deterministic: same beats, same scores.

    ``align``: the window rule (``BeatParams.align``); default: the card's, else the core's rule.
    ``rule``: the robust score; default: the card's ``robust_score`` (None: the raw score alone).
    """

    def __init__(self, model: LoadedModel, align: str | None = None, rule=_FROM_CARD) -> None:
        self.model = model
        card_rule = model.card.robust_score.rule() if model.card.robust_score is not None else None
        self.rule: RobustScore | None = card_rule if rule is _FROM_CARD else rule
        self._params = replace(model.params, align=align) if align else model.params
        self.adapt_log: AdaptLog | None = None  # what the last adapted score() did
        self._torch_model: LoadedModel | None = None

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, backend: str | None = None, **kw) -> Scorer:
        """The model at ``path``, or the bundled SI-BeatGAN V2 when None.

        ``backend``: "torch" or "onnx"; None picks ``$ECGVIEWER_BACKEND``, else torch when installed.
        """
        return cls(load_model(path if path is not None else bundled_model_path(), backend=backend), **kw)

    @property
    def backend(self) -> str:
        """What runs the network: "torch" or "onnx" (ONNX Runtime)."""
        return self.model.net.backend

    @property
    def params(self) -> BeatParams:
        return self._params

    @property
    def threshold(self) -> float:
        """Default alert threshold of :attr:`ScoreResult.score` (the robust rule's, else the card's)."""
        return self.rule.threshold if self.rule is not None else self.model.threshold

    @property
    def raw_threshold(self) -> float:
        """The card's threshold of the raw score (set on MIT-BIH's held-out normal beats)."""
        return self.model.threshold

    @property
    def name(self) -> str:
        return self.model.label

    def beats(self, record: Record, detect: bool = False) -> BeatSet:
        return extract_beats(record, self.params, detect=detect)

    def score(self, beats: BeatSet, progress: Callable[[int, int], None] | None = None,
              cancelled: Callable[[], bool] | None = None, batch: int = 256,
              adapt: AdaptConfig | None = None) -> ScoreResult:
        """Scores of ``beats``; ``batch`` 256: fastest for torch on 2 cores (8,168 vs 4,351 beats/s at
        1024), no difference for ONNX Runtime (benchmarks/scoring_batch.py).

        With ``adapt``, the generator is first fine-tuned on these beats (:mod:`ecgviewer.core.adapt`;
        needs torch) and they are reconstructed by the tuned copy; :attr:`adapt_log` says what it did.
        """
        net = None
        self.adapt_log = None
        if adapt is not None:
            tuned, self.adapt_log = adapt_generator(self.torch_generator(), beats.x, adapt,
                                                    cancelled=cancelled, rr_pre=beats.rr_pre,
                                                    reference_mse=self.reference_mse)
            if self.adapt_log.steps:  # gated off ("not needed"): the model's own net, same scores
                net = tuned
        recon, err = self.reconstruct(beats, net=net, progress=progress, cancelled=cancelled, batch=batch)
        return self.finish(beats, recon, err)

    def reconstruct(self, beats: BeatSet, net=None, batch: int = 256, **kw) -> tuple[np.ndarray, np.ndarray]:
        """Reconstructions and per-tick squared errors of the beats (``net``: another generator)."""
        return reconstruct(self.model.net if net is None else net, beats.x, batch=batch, **kw)

    def finish(self, beats: BeatSet, recon: np.ndarray, err: np.ndarray) -> ScoreResult:
        """Errors -> scores: the raw score (MSE, or the card's fixed rhythm z-scaling) and the robust one."""
        n = len(beats)
        mse = err.reshape(n, -1).mean(axis=1).astype(np.float32) if n else np.zeros(0, np.float32)
        legacy = self.model.rhythm
        dist = raw = None
        if legacy is not None:
            dist = legacy.distance(rhythm_features(beats.rr_pre, beats.rr_post, beats.rr_local))
            raw = legacy.combine(mse, dist)
        raw = mse if raw is None else raw
        if self.rule is None:
            return ScoreResult(raw, mse, dist, err, recon, raw=raw, note=beats.lead_note)
        feats = self.rule.features(beats)
        morph = self.rule.morphology_error(err, self.params.before, self.params.fs) if n else mse
        like = likeness_value(beats.x) if self.rule.likeness is not None else None
        score, zm, zr = self.rule.score(morph, feats, like)
        zl = self.rule.likeness.z(like) if like is not None else None
        return ScoreResult(score, mse, dist, err, recon, raw=raw, morph_z=zm, rhythm_z=zr, likeness_z=zl,
                           note=beats.lead_note)

    @property
    def reference_mse(self) -> float | None:
        """The training normals' median reconstruction error, from the card (the adaptation gate):
        the rhythm model's MSE centre, else the held-out normals' error the training recorded."""
        rhythm = self.model.rhythm
        if rhythm is not None:
            return float(rhythm.mse_center)
        held = self.model.card.training.held_out_mse if self.model.card.training is not None else {}
        return float(held["generator"]) if held and "generator" in held else None

    def torch_generator(self) -> Any:
        """The model's torch Generator, loaded from its weights once when the scorer runs ONNX."""
        if self.model.net.backend == "torch":
            return self.model.generator
        if self._torch_model is None:
            self._torch_model = load_model(self.model.path, backend="torch")
        return self._torch_model.generator


def flag_summary(beats: BeatSet, result: ScoreResult, threshold: float, record: Record | None = None) -> dict:
    """Counts of beats and flags; with reference labels, sensitivity and specificity of the flags.

    One matching for the CLI and the viewer: ecgviewer.core.flag_metrics.flag_summary.
    """
    from ecgviewer.core.flag_metrics import flag_summary as summary

    ann = record.annotations if record is not None else None
    reference = (ann.sample, ann.symbol) if ann is not None and len(ann) else None
    out = summary(beats, result.score, threshold, reference)
    if beats.lead_note:
        out["lead_note"] = beats.lead_note
    return out
