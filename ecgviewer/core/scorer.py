"""The Scorer: one loaded model applied to a record (record -> beats -> scores -> flags).

What the viewer, ``ecgviewer score`` and the self-test hold: it loads a model (the bundled one by
default), cuts a record's beats with that model's own preprocessing, scores them and knows the
card's alert threshold. The arithmetic of a score is not here but in :mod:`ecgviewer.core.scoring`,
which works on arrays and is shared with the trainer's evaluation.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ecgviewer.core.beats import BeatParams, BeatSet, extract_beats
from ecgviewer.core.model.loader import LoadedModel, load_model
from ecgviewer.core.record import Record
from ecgviewer.core.resources import bundled_model_path
from ecgviewer.core.scoring import ScoreResult, score_beats


class Scorer:
    """Scores beats with one loaded model. Deterministic: same beats, same scores."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model

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
              cancelled: Callable[[], bool] | None = None, batch: int = 256) -> ScoreResult:
        """Scores of ``beats``; ``batch`` 256: fastest for torch on 2 cores (8,168 vs 4,351 beats/s at
        1024), no difference for ONNX Runtime (benchmarks/scoring_batch.py)."""
        return score_beats(self.model.net, beats, self.model.rhythm, batch=batch,
                           progress=progress, cancelled=cancelled)


def flag_summary(beats: BeatSet, result: ScoreResult, threshold: float, record: Record | None = None) -> dict:
    """Counts of beats and flags; with reference labels, sensitivity and specificity of the flags.

    One matching for the CLI and the viewer: ecgviewer.core.flag_metrics.flag_summary.
    """
    from ecgviewer.core.flag_metrics import flag_summary as summary

    ann = record.annotations if record is not None else None
    reference = (ann.sample, ann.symbol) if ann is not None and len(ann) else None
    return summary(beats, result.score, threshold, reference)
