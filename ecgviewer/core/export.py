"""CSV export of every beat with its score, flag and review, for spreadsheets and audits.

UTF-8 with a byte-order mark, so Excel shows accented notes correctly; the csv module quotes any
field holding a comma, quote or line break, so free-text notes survive unchanged. The file is
written atomically like the review sidecar: a half-written export never replaces a good one.
``class`` and ``beat`` carry the reviewer's relabelled, added and deleted beats; ``template`` and
``events`` say which morphology template a beat belongs to and which rhythm events it falls in (from the ``ecgviewer templates`` / ``events`` JSON lists; empty when not given).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ecgviewer.core.atomic import atomic_write
from ecgviewer.core.classes import BEATGAN_CLASSES
from ecgviewer.core.review import EMPTY, BeatKind, BeatReview

COLUMNS = ("time_s", "sample", "reference", "reference_class", "class", "beat", "score", "flagged", "review_state",
           "note", "template", "events")
#: The ``beat`` column: where the beat comes from (BeatKind); "original" is one of the record's own beats, from its
#: annotations or the detector, whichever the record was scored on (not "detected": most come from annotations).
BEAT_ORIGIN = {BeatKind.DETECTED: "original", BeatKind.ADDED: "added", BeatKind.DELETED: "deleted"}
ENCODING = "utf-8-sig"


def beat_rows(sample: np.ndarray, fs: float, scores: np.ndarray, threshold: float,
              reference: np.ndarray | None = None,
              reviews: Mapping[int, BeatReview] | None = None, templates: list[dict] | None = None,
              events: list[dict] | None = None) -> list[list[str]]:
    """One row of text per beat, in time order (the columns of :data:`COLUMNS`).

    ``class`` is the reviewer's class where the beat was relabelled, else the reference class;
    a beat the reviewer added has no score (empty) and, like a deleted one, is never flagged.
    """
    sample = np.asarray(sample, dtype=np.int64)
    scores = np.asarray(scores)  # its own dtype: flagged exactly as the viewer and the CLI compare (float32)
    if scores.shape != sample.shape:
        raise ValueError(f"{len(scores)} scores for {len(sample)} beats")
    ref = np.full(len(sample), "", dtype=object) if reference is None else np.asarray(reference, dtype=object)
    reviews = reviews or {}
    template_of = {int(s): str(t.get("id", "")) for t in templates or [] for s in t.get("samples", [])}
    kinds = _event_kinds(sample / fs, events or [])
    rows = []
    for i in np.argsort(sample, kind="stable"):
        s = int(sample[i])
        r = reviews.get(s, EMPTY)
        sym = str(ref[i] or "")
        ref_class = BEATGAN_CLASSES.get(sym, "")
        scored = bool(np.isfinite(scores[i]))
        flag = bool(scored and scores[i] >= threshold and r.kind != BeatKind.DELETED)
        rows.append([
            f"{s / fs:.3f}", str(s), sym, ref_class, r.label or ref_class, BEAT_ORIGIN[r.kind],
            f"{scores[i]:.6g}" if scored else "", "1" if flag else "0", r.state.label, r.note,
            template_of.get(s, ""), kinds[i],
        ])
    return rows


def _event_kinds(times: np.ndarray, events: list[dict]) -> list[str]:
    """Per beat, the kinds of the events whose [start, end] holds it ('pause;vt'), '' for none."""
    out: list[list[str]] = [[] for _ in range(len(times))]
    order = np.argsort(times, kind="stable")
    st = np.asarray(times, dtype=np.float64)[order]
    for e in events:
        start = float(e.get("start", 0.0))
        end = float(e.get("end", start))
        for j in order[np.searchsorted(st, start, "left"):np.searchsorted(st, end, "right")]:
            kind = str(e.get("kind", ""))
            if kind not in out[j]:
                out[j].append(kind)
    return [";".join(k) for k in out]


def export_csv(path: str | os.PathLike[str], sample: np.ndarray, fs: float, scores: np.ndarray,
               threshold: float, reference: np.ndarray | None = None,
               reviews: Mapping[int, BeatReview] | None = None, templates: list[dict] | None = None,
               events: list[dict] | None = None) -> Path:
    """Write all beats to ``path`` as CSV (see module doc); returns the path.

    ``reference`` holds each beat's reference symbol ('' where none; see
    flag_metrics.reference_labels), ``reviews`` the ReviewStore's reviews().
    """
    path = Path(path)
    rows = beat_rows(sample, fs, scores, threshold, reference, reviews, templates, events)
    with atomic_write(path, "w", fsync=True, encoding=ENCODING, newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        w.writerow(COLUMNS)
        w.writerows(rows)
    return path


def summary_path(beats_csv: str | os.PathLike[str]) -> Path:
    """``x_beats.csv`` -> ``x_summary.csv`` (beside it); any other name gets ``_summary`` added."""
    p = Path(beats_csv)
    stem = p.stem[: -len("_beats")] if p.stem.endswith("_beats") else p.stem
    return p.with_name(f"{stem}_summary.csv")


def summary_rows(record, sample: np.ndarray, scores: np.ndarray, threshold: float,
                 reviews: Mapping[int, BeatReview], *, model: str = "", reviewer: str = "", when: str = "",
                 metrics=None, events: list[dict] | None = None,
                 templates: list[dict] | None = None) -> list[tuple[str, str, str]]:
    """(section, item, value) rows: what the PDF report's first page says, for a spreadsheet.

    The counts come from :func:`~ecgviewer.core.report_content.findings`, the report's and the
    panel's one source, so the three never disagree.
    """
    from ecgviewer.core.report_content import EVENT_WORDS, event_summary, findings, patient_info

    rows: list[tuple[str, str, str]] = [("record", "name", record.name), ("record", "duration_s", f"{record.duration:.1f}")]
    if record.start is not None:
        rows.append(("record", "start", str(record.start)))
    fields, comments = patient_info(list(record.comments))
    rows += [("patient", k.lower(), v) for k, v in fields.items()] + [("patient", "comment", c) for c in comments]
    rows += [("review", "reviewer", reviewer), ("review", "date", when), ("review", "model", model),
             ("review", "threshold", f"{threshold:.6g}")]
    f = findings(record, sample, scores, threshold, reviews, metrics)
    rows += [("findings", "beats", str(len(sample))), ("findings", "flagged", str(int(f.flag.sum()))),
             ("findings", "confirmed", str(len(f.confirmed))), ("findings", "dismissed", str(len(f.dismissed))),
             ("findings", "flagged_not_reviewed", str(len(f.open_flags)))]
    rows += [("reference", c, str(n)) for c, n in f.reference.items()]
    for kind, n, secs in event_summary(events or []):
        rows.append(("events", EVENT_WORDS.get(kind, kind), f"{n} ({secs:.1f} s)"))
    for t in templates or []:
        score = "" if t.get("max_score") is None else f", highest score {t['max_score']:.4g}"
        rows.append(("templates", f"template {t['id']}", f"{t['count']} beats, {t.get('label') or '-'}{score}"))
    return rows


def export_summary_csv(path: str | os.PathLike[str], rows: list[tuple[str, str, str]]) -> Path:
    """Write :func:`summary_rows` as a three-column CSV (atomically, UTF-8 with BOM like the beats)."""
    path = Path(path)
    with atomic_write(path, "w", fsync=True, encoding=ENCODING, newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        w.writerow(("section", "item", "value"))
        w.writerows(rows)
    return path
