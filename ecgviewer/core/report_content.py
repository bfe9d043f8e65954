"""What a review report says, Qt-free: patient data from the header, the findings, the counts.

The PDF (ui/report.py) and the CSV (core/export.py) both take their numbers from here, and the
reference counts come from :class:`~ecgviewer.core.flag_metrics.FlagMetrics`, the object the flag
metrics panel shows, so report and panel cannot disagree (the panel's F 373 is the report's F 373:
reference beats the beat window could not score still count, as missed).

Findings: confirmed beats only, each once, in time order; dismissed flags are listed as dismissed;
flagged beats nobody reviewed yet are "open", never findings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ecgviewer.core.classes import ANOMALY_CLASSES
from ecgviewer.core.flag_metrics import FlagMetrics
from ecgviewer.core.review import BeatKind, BeatReview, ReviewState

_MITBIH_FIRST = re.compile(r"^\s*(\d{1,3}|\?+)\s+([MF?])\b", re.IGNORECASE)
_TAGGED = re.compile(r"<(age|sex|diagnoses|medications)>:\s*([^<]*)", re.IGNORECASE)


def patient_info(comments: list[str]) -> tuple[dict[str, str], list[str]]:
    """(fields, other comment lines) from a WFDB header's comments.

    Reads MIT-BIH's first line ("23 F 2546 N/A x1": age, sex, then recording details) and the
    tagged form of newer PhysioNet headers ("<age>: 44 <sex>: M"); 'None' lines are dropped.
    """
    fields: dict[str, str] = {}
    rest: list[str] = []
    for i, line in enumerate(comments):
        text = line.strip()
        tagged = _TAGGED.findall(text)
        m = _MITBIH_FIRST.match(text) if i == 0 else None
        if tagged:
            for key, value in tagged:
                if value.strip():
                    fields[key.capitalize()] = value.strip()
        elif m:
            age, sex = m.group(1), m.group(2).upper()
            if age.isdigit():
                fields["Age"] = age
            if sex in "MF":
                fields["Sex"] = {"M": "male", "F": "female"}[sex]
        elif text and text.lower() not in ("none", "n/a"):
            rest.append(text)
    return fields, rest


def review_counts(state: np.ndarray, flagged: np.ndarray) -> dict[str, int]:
    """Confirmed, dismissed, open (flagged, unreviewed) and flagged counts over the scored beats.

    ``state`` holds each beat's ReviewState value (ReviewStore.states_for), ``flagged`` its flag.
    The review panel and the report both count with this (numpy only: cheap at every threshold step).
    """
    state = np.asarray(state)
    flagged = np.asarray(flagged, dtype=bool)
    return {"Confirmed": int((state == ReviewState.CONFIRMED).sum()),
            "Dismissed": int((state == ReviewState.DISMISSED).sum()),
            "Open": int((flagged & (state == ReviewState.UNREVIEWED)).sum()),
            "Flagged": int(flagged.sum())}


@dataclass
class Findings:
    """The review outcome over one record's scored beats (indices into the beat arrays)."""

    confirmed: np.ndarray  # confirmed beats, time order, each once
    dismissed: np.ndarray  # dismissed beats, time order
    open_flags: np.ndarray  # flagged and not reviewed, highest score first
    state: np.ndarray  # each beat's ReviewState value
    flag: np.ndarray  # each beat's flag (score >= threshold)
    reference: dict[str, int] = field(default_factory=dict)  # class -> reference beats (panel's numbers)
    metrics: dict | None = None  # FlagMetrics.at(threshold), when the record has a reference

    def counts(self) -> dict[str, int]:
        return review_counts(self.state, self.flag)


def findings(record, sample: np.ndarray, scores: np.ndarray, threshold: float,
             states: Mapping[int, BeatReview], metrics: FlagMetrics | None = None) -> Findings:
    """Classify the beats by review state; reference counts from FlagMetrics (as the panel).

    ``sample``/``scores`` may hold the reviewer's added beats (score NaN: never flagged); a deleted
    beat is never flagged (the session's one definition of a flag). ``metrics``: the session's
    FlagMetrics (made from the scored beats when not given).
    """
    sample = np.asarray(sample, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    got = [states.get(int(s)) for s in sample]
    state = np.array([int(r.state) if r is not None else 0 for r in got], np.int8)
    deleted = np.array([r is not None and r.kind == BeatKind.DELETED for r in got], dtype=bool)
    order = np.argsort(sample, kind="stable")
    with np.errstate(invalid="ignore"):
        flagged = (scores >= threshold) & ~deleted
    confirmed = order[state[order] == ReviewState.CONFIRMED]
    dismissed = order[state[order] == ReviewState.DISMISSED]
    open_idx = np.flatnonzero(flagged & (state == ReviewState.UNREVIEWED))
    open_idx = open_idx[np.argsort(-scores[open_idx], kind="stable")]
    out = Findings(confirmed, dismissed, open_idx, state, flagged)
    fm = metrics
    if fm is None and record is not None:
        scored = np.isfinite(scores)
        fm = FlagMetrics.for_record(record, sample[scored], scores[scored])
    if fm is not None:
        m = fm.at(threshold)
        out.metrics = m
        out.reference = {"N": m["tn"] + m["fp"]} | {c: m["per_class"][c]["reference"] for c in ANOMALY_CLASSES}
    return out


def event_summary(events: list[dict]) -> list[tuple[str, int, float]]:
    """(kind, count, total seconds) per event kind, in first-seen order (CLI ``events`` JSON shape)."""
    out: dict[str, list[float]] = {}
    for e in events:
        k = str(e.get("kind", "?"))
        dur = max(float(e.get("end", e.get("start", 0.0))) - float(e.get("start", 0.0)), 0.0)
        out.setdefault(k, [0, 0.0])
        out[k][0] += 1
        out[k][1] += dur
    return [(k, int(v[0]), float(v[1])) for k, v in out.items()]


EVENT_WORDS = {
    "pause": "Pauses", "brady": "Bradycardia", "tachy": "Tachycardia", "couplet": "Ventricular couplets",
    "triplet": "Ventricular triplets", "vt": "Ventricular runs (VT)", "bigeminy": "Bigeminy",
    "trigeminy": "Trigeminy", "svt": "Supraventricular runs", "af": "Irregular rhythm (AF-like)",
}


def edited_beats(sample: np.ndarray, states: Mapping[int, BeatReview]) -> list[tuple[int, str]]:
    """(sample, what the reviewer did) for relabelled, added and deleted beats, in time order."""
    out = []
    for s in sorted(int(x) for x in sample):
        r = states.get(s)
        if r is None:
            continue
        what = {BeatKind.ADDED: "added (missed by the detector)", BeatKind.DELETED: "deleted (not a beat)"}.get(
            r.kind, "")
        if r.label:
            what = f"{what}, class {r.label}" if what else f"relabelled {r.label}"
        if what:
            out.append((s, what))
    return out
