"""The Holter analysis of one record: beat classes, templates, rhythm events and the heart-rate trend.

One function, :func:`analyse`, for ``ecgviewer events``, ``ecgviewer templates`` and the viewer's
panels, so the viewer shows exactly what the command line prints (:func:`events_payload`,
:func:`templates_payload`).

Beat classes, in order of preference: the caller's (the reviewer's relabelled classes), the
record's reference annotations, else *provisional* classes derived here and labelled so: a beat
whose QRS-T shape correlates less than ``v_corr`` with the dominant template is V; a beat of normal
shape whose RR interval is at least ``sv_prematurity`` shorter than the mean of the 8 before it is
S; the rest N. This is the usual Holter first pass (morphology, then prematurity) without QRS width
or P-wave analysis; docs/events.md measures it against the reference labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ecgviewer.core.beats import BeatSet
from ecgviewer.core.events import Event, EventCriteria, count_by_kind, find_events
from ecgviewer.core.templates import (
    TemplateParams,
    TemplateSet,
    build_templates,
    member_correlation,
    relabel,
    shape_features,
)
from ecgviewer.core.trends import MinuteTrend, hourly_table, minute_trend


@dataclass(frozen=True)
class ProvisionalCriteria:
    """Rules for classes of beats without labels (see the module docstring)."""

    v_corr: float = 0.7
    sv_prematurity: float = 0.2


@dataclass
class HolterAnalysis:
    record: str
    fs: float
    duration: float
    sample: np.ndarray
    classes: np.ndarray
    class_source: str  # "caller", "reference" or "provisional"
    templates: TemplateSet
    events: list[Event]
    trend: MinuteTrend
    criteria: EventCriteria
    #: The reviewer's template relabels applied (template id -> class letter or "artefact").
    labels: dict[int, str] = field(default_factory=dict)
    #: Beats the reviewer called artefact (None: none): left out of the events, the trend and the hourly counts.
    artefact: np.ndarray | None = None

    def counts(self) -> dict[str, int]:
        return count_by_kind(self.events)

    def hourly(self) -> list[dict]:
        """The hourly table of the beats kept (artefacts are no beats of any class)."""
        keep = np.ones(len(self.sample), bool) if self.artefact is None else ~self.artefact
        return hourly_table(self.trend, self.sample[keep], self.fs, self.classes[keep], self.events)


def provisional_classes(beats: BeatSet, templates: TemplateSet,
                        criteria: ProvisionalCriteria = ProvisionalCriteria(),
                        features: np.ndarray | None = None) -> np.ndarray:
    """N/S/V per beat from shape (against the dominant template) and prematurity."""
    corr = member_correlation(beats, templates, 1, features)
    with np.errstate(invalid="ignore"):
        premature = np.nan_to_num(beats.rr_pre / beats.rr_local, nan=1.0) < 1.0 - criteria.sv_prematurity
    return np.where(corr < criteria.v_corr, "V", np.where(premature, "S", "N")).astype("<U1")


def kept_rr(beats: BeatSet, keep: np.ndarray) -> np.ndarray:
    """RR before each kept beat once the others are taken out (artefacts called beats).

    Where the previous beat is kept the BeatSet's own ``rr_pre`` stands (it knows R peaks the
    windows left out); where beats were taken out in between, the time since the last kept beat.
    """
    idx = np.nonzero(keep)[0]
    rr = beats.rr_pre[idx].astype(np.float64)
    if len(idx) > 1:
        jumped = np.diff(idx) > 1
        # an unknown interval among those joined (a signal gap) leaves the joined one unknown too
        unknown = np.concatenate([[0], np.cumsum(~np.isfinite(beats.rr_pre))])
        across = (unknown[idx[1:] + 1] - unknown[idx[:-1] + 1]) > 0
        rr[1:][jumped] = np.where(across, np.nan, np.diff(beats.time[idx]))[jumped]
    return rr


def analyse(beats: BeatSet, duration_s: float, scores: np.ndarray | None = None,
            classes: np.ndarray | None = None, criteria: EventCriteria = EventCriteria(),
            template_params: TemplateParams = TemplateParams(),
            provisional: ProvisionalCriteria = ProvisionalCriteria(),
            artefact: np.ndarray | None = None) -> HolterAnalysis:
    """Classes, templates, events and trend of ``beats`` (``scores``: ScoreResult.score, optional).

    ``artefact``: beats the reviewer called artefact (a boolean mask): they keep their template but
    are left out of the events and the trend, and the RR intervals around them are joined.
    Event beat indices (``first``, ``last``) always index ``beats``.
    """
    if classes is not None:
        cls, source = np.asarray(classes).astype("<U1"), "caller"
    elif beats.source == "reference" and (beats.cls != "").any():
        cls, source = beats.cls, "reference"
    else:
        cls, source = None, "provisional"
    features = shape_features(beats.x) if len(beats) else None
    templates = build_templates(beats, cls, scores, template_params, features)
    if cls is None:
        cls = provisional_classes(beats, templates, provisional, features)
        templates = relabel(templates, cls)
    keep = np.ones(len(beats), bool) if artefact is None else ~np.asarray(artefact, bool)
    idx = np.nonzero(keep)[0]
    rr = kept_rr(beats, keep)
    events = find_events(beats.sample[idx], beats.fs, cls[idx], criteria, rr)
    for e in events:
        n = e.beats
        e.first, e.last = int(idx[e.first]), int(idx[e.last])
        e.n_beats = n if n != e.last - e.first + 1 else None
    trend = minute_trend(beats.sample[idx], beats.fs, duration_s, rr, criteria.rate_beats)
    return HolterAnalysis(beats.record, beats.fs, duration_s, beats.sample, cls, source, templates, events,
                          trend, criteria, artefact=None if artefact is None else ~keep)


def with_labels(base: HolterAnalysis, beats: BeatSet, labels: Mapping[int, str], scores: np.ndarray | None = None,
                template_params: TemplateParams = TemplateParams()) -> HolterAnalysis:
    """``base`` again with whole templates relabelled (template id -> N/S/V/F/Q or "artefact").

    The classes are ``base``'s (reference or provisional) with each relabelled template's members
    set to its new class; "artefact" members leave the events and the trend. Unknown ids are
    ignored (the beats changed since the relabel was made).
    """
    known = {t.id for t in base.templates.templates}
    labels = {int(k): str(v) for k, v in labels.items() if int(k) in known}
    if not labels:
        return base
    cls = base.classes.copy()
    artefact = np.zeros(len(beats), bool)
    for tid, label in labels.items():
        members = base.templates.by_id(tid).members
        if label == "artefact":
            artefact[members] = True
        else:
            cls[members] = label
    a = analyse(beats, base.duration, scores, classes=cls, criteria=base.criteria, template_params=template_params,
                artefact=artefact)
    a.class_source, a.labels = base.class_source, labels
    return a


def analyse_reviewed(beats: BeatSet, duration_s: float, scores: np.ndarray | None = None, store=None,
                     labels: Mapping[int, str] | None = None, criteria: EventCriteria = EventCriteria(),
                     classes: np.ndarray | None = None) -> HolterAnalysis:
    """:func:`analyse` with the reviewer's template relabels: those saved in ``store`` (an
    :class:`~ecgviewer.core.event_review.EventReviewStore`) that still fit, then ``labels``;
    ``classes``: per-beat classes the reviewer set beat by beat, under the template relabels.
    What ``ecgviewer events`` / ``templates`` and the viewer's docks show."""
    base = analyse(beats, duration_s, scores, classes=classes, criteria=criteria)
    merged = {} if store is None else store.labels_for(base.templates, beats.sample)
    merged.update(labels or {})
    return with_labels(base, beats, merged, scores)


def events_payload(a: HolterAnalysis, decisions: Mapping[str, str] | None = None) -> dict:
    """What ``ecgviewer events --json`` prints; ``decisions``: event key -> "confirmed"/"dismissed"."""
    events = []
    for e in a.events:
        d = e.as_dict()
        d["review"] = (decisions or {}).get(e.key)
        events.append(d)
    return {"record": a.record, "class_source": a.class_source,
            "template_labels": {str(k): v for k, v in sorted(a.labels.items())}, "criteria": a.criteria.as_dict(),
            "counts": a.counts(), "heart_rate": a.trend.summary(), "events": events, "hourly": a.hourly()}


def templates_payload(a: HolterAnalysis, beats: BeatSet) -> dict:
    """What ``ecgviewer templates --json`` prints; ``samples``: every member beat's R-peak sample."""
    return {"record": a.record, "class_source": a.class_source, "threshold": a.templates.params.threshold,
            "template_labels": {str(k): v for k, v in sorted(a.labels.items())},
            "templates": [{"id": t.id, "count": t.count, "label": a.labels.get(t.id, t.label) or None,
                           "labels": t.label_counts,
                           "max_score": None if t.max_score is None else float(f"{t.max_score:.7g}"),
                           "samples": [int(s) for s in beats.sample[t.members]]}
                          for t in a.templates.templates]}


