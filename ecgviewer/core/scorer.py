"""The Scorer: one loaded model applied to a record (record -> beats -> scores -> flags).

What the viewer, ``ecgviewer score`` and the self-test hold: it loads a model (the bundled one by
default), cuts a record's beats with that model's own preprocessing, scores them and knows the
card's alert threshold. The arithmetic of a score is not here but in :mod:`ecgviewer.core.scoring`,
which works on arrays and is shared with the trainer's evaluation.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ecgviewer.core.adapt import AdaptConfig, AdaptLog, adapt_generator
from ecgviewer.core.beats import BeatParams, BeatSet, extract_beats
from ecgviewer.core.classes import ANOMALY_CLASSES
from ecgviewer.core.model.loader import LoadedModel, load_model
from ecgviewer.core.record import Record
from ecgviewer.core.resources import bundled_model_path
from ecgviewer.core.scoring import ScoreResult, score_beats


class Scorer:
    """Scores beats with one loaded model. Deterministic: same beats, same scores."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self.adapt_log: AdaptLog | None = None  # what the last adapted score() did
        self._torch_model: LoadedModel | None = None

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, backend: str | None = None) -> Scorer:
        """The model at ``path``, or the bundled SI-BeatGAN V2 when None.

        ``backend``: "torch" or "onnx"; None picks ``$ECGVIEWER_BACKEND``, else torch when installed.
        """
        return cls(load_model(path if path is not None else bundled_model_path(), backend=backend))

    @property
    def backend(self) -> str:
        """What runs the network: "torch" or "onnx" (ONNX Runtime)."""
        return self.model.net.backend

    @property
    def params(self) -> BeatParams:
        return self.model.params

    @property
    def threshold(self) -> float:
        """Default alert threshold from the model card (set on normal beats only)."""
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
        needs torch) and they are scored by the tuned copy; :attr:`adapt_log` says what it did.
        """
        net = self.model.net
        self.adapt_log = None
        if adapt is not None:
            net, self.adapt_log = adapt_generator(self.torch_generator(), beats.x, adapt,
                                                  cancelled=cancelled, rr_pre=beats.rr_pre,
                                                  reference_mse=self.reference_mse)
            if self.adapt_log.stopped == "not needed":
                net = self.model.net  # same scores, same backend as without adaptation
        return score_beats(net, beats, self.model.rhythm, batch=batch,
                           progress=progress, cancelled=cancelled)

    @property
    def reference_mse(self) -> float | None:
        """The training normals' median reconstruction error, from the card (the adaptation gate)."""
        rhythm = self.model.rhythm
        return float(rhythm.mse_center) if rhythm is not None else None

    def torch_generator(self) -> Any:
        """The model's torch Generator, loaded from its weights once when the scorer runs ONNX."""
        if self.model.net.backend == "torch":
            return self.model.generator
        if self._torch_model is None:
            self._torch_model = load_model(self.model.path, backend="torch")
        return self._torch_model.generator


def flag_summary(beats: BeatSet, result: ScoreResult, threshold: float) -> dict:
    """Counts of beats and flags; with reference labels, sensitivity and specificity of the flags."""
    flagged = result.score >= threshold
    out: dict = {"beats": len(beats), "flagged": int(flagged.sum()), "skipped": dict(beats.skipped)}
    known = beats.cls != ""
    if known.any():
        anomalous = np.isin(beats.cls, ANOMALY_CLASSES)
        normal = beats.cls == "N"
        out["reference_anomalies"] = int(anomalous.sum())
        out["reference_normals"] = int(normal.sum())
        out["sensitivity"] = float(flagged[anomalous].mean()) if anomalous.any() else None
        out["specificity"] = float((~flagged[normal]).mean()) if normal.any() else None
    return out
