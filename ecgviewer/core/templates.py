"""Morphology templates: all beats of a record grouped by shape, as a Holter suite groups them.

Holter systems compare each beat with the templates found so far and open a new template when no
correlation reaches a threshold; the reviewer then labels a whole template at once ("these 500 are
V"). This module does the same on the model's aligned beat windows (``BeatSet.x``, lead 0): the
QRS-T part of each window (-100 ms .. +250 ms around the R peak) is centred and scaled to unit
norm, so a dot product is a Pearson correlation. Beats are assigned in chunks: those that match an
existing template are assigned with one matrix product, only the rest are walked one by one, and a
final pass moves every beat to its best template. Deterministic (no random start), no choice of
k, and 3.4 s for the 141,744 beats of a 24-hour record on 2 busy cores, where scikit-learn's
MiniBatchKMeans (k = 32) took 18.6 s (benchmarks/events_benchmark.py, docs/events.md): no new
dependency.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ecgviewer.core.beats import BEFORE, BeatSet

#: Part of the 360 Hz window compared: 100 ms before to 250 ms after the R peak (QRS, ST, most of T).
SPAN = (BEFORE - 36, BEFORE + 90)


@dataclass(frozen=True)
class TemplateParams:
    """How beats are grouped. ``threshold``: the correlation a beat needs to join a template (Holter
    systems use 0.8-0.9); ``max_templates``: beyond it, unmatched beats join their closest template."""

    threshold: float = 0.9
    max_templates: int = 200
    chunk: int = 4096


@dataclass
class Template:
    """One morphology group. ``members``: indices into the BeatSet, in time order."""

    id: int
    members: np.ndarray
    mean: np.ndarray  # (320,) mean of the members' lead-0 windows, for display
    label: str = ""  # dominant class of the members ('' when none is known)
    label_counts: dict[str, int] = field(default_factory=dict)
    max_score: float | None = None

    @property
    def count(self) -> int:
        return len(self.members)


@dataclass
class TemplateSet:
    """The templates of a record, largest first (``id`` 1 is the dominant morphology)."""

    templates: list[Template]
    assignment: np.ndarray  # (n_beats,) template id per beat
    params: TemplateParams

    def __len__(self) -> int:
        return len(self.templates)

    def by_id(self, tid: int) -> Template:
        return next(t for t in self.templates if t.id == tid)


def shape_features(x: np.ndarray, span: tuple[int, int] = SPAN) -> np.ndarray:
    """Lead-0 QRS-T segments, centred and scaled to unit norm (rows of a correlation matrix)."""
    f = np.asarray(x[:, 0, span[0]:span[1]], dtype=np.float32)
    f = f - f.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(f, axis=1, keepdims=True)
    return f / np.where(norm > 0, norm, 1.0)


def dominant_likeness(x: np.ndarray, rounds: int = 3, core: float = 0.5) -> np.ndarray:
    """Correlation of each beat with the record's dominant beat (n,), label-free.

    The dominant beat starts as the median of all beats and is re-estimated from the ``core`` share
    most like it, ``rounds`` times: a median of a bigeminy is a blend of the two shapes, but the
    beats nearest that blend lean to the more frequent shape, and a few rounds settle on it.
    """
    flat = x.reshape(len(x), -1).astype(np.float64)
    flat = flat - flat.mean(axis=1, keepdims=True)
    flat /= np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-9)
    template = np.median(flat, axis=0)
    for _ in range(rounds + 1):
        t = template - template.mean()
        r = flat @ (t / max(float(np.linalg.norm(t)), 1e-9))
        top = np.argsort(-r, kind="stable")[:max(int(core * len(flat)), 1)]
        template = np.median(flat[top], axis=0)
    return r


def cluster(features: np.ndarray, params: TemplateParams = TemplateParams()) -> np.ndarray:
    """Template index per beat (0 = first opened); see the module docstring."""
    n, d = features.shape
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return labels
    sums = np.zeros((0, d), np.float64)
    for lo in range(0, n, params.chunk):
        f = features[lo:lo + params.chunk]
        if len(sums):
            c = _unit(sums).astype(np.float32)
            corr = f @ c.T
            best = corr.argmax(axis=1)
            ok = corr[np.arange(len(f)), best] >= params.threshold
            labels[lo:lo + len(f)][ok] = best[ok]
            sums += _group_sums(best[ok], f[ok], len(sums))
        rest = np.nonzero(labels[lo:lo + len(f)] < 0)[0]
        for j in rest:  # the few beats no template matches: one at a time, opening templates
            v = f[j]
            if len(sums):
                corr = _unit(sums) @ v
                k = int(corr.argmax())
                if corr[k] >= params.threshold or len(sums) >= params.max_templates:
                    labels[lo + j] = k
                    sums[k] += v
                    continue
            sums = np.vstack([sums, v[None].astype(np.float64)])
            labels[lo + j] = len(sums) - 1
    # One reassignment pass: each beat to its best final template (earlier beats saw early means).
    c = _unit(sums).astype(np.float32)
    out = np.empty(n, np.int64)
    for lo in range(0, n, params.chunk):
        out[lo:lo + params.chunk] = (features[lo:lo + params.chunk] @ c.T).argmax(axis=1)
    return out


def _group_sums(group: np.ndarray, rows: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum of ``rows`` per group: sorted, then np.add.reduceat (15x faster than np.add.at or a
    one-hot matrix product on 2 busy cores)."""
    out = np.zeros((n_groups, rows.shape[1]), np.float64)
    if not len(rows):
        return out
    order = np.argsort(group, kind="stable")
    g = group[order]
    starts = np.flatnonzero(np.concatenate([[True], g[1:] != g[:-1]]))
    out[g[starts]] = np.add.reduceat(rows[order].astype(np.float64), starts, axis=0)
    return out


def _unit(m: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(m, axis=-1, keepdims=True)
    return m / np.where(norm > 0, norm, 1.0)


def build_templates(beats: BeatSet, classes: np.ndarray | None = None, scores: np.ndarray | None = None,
                    params: TemplateParams = TemplateParams(), features: np.ndarray | None = None) -> TemplateSet:
    """Group ``beats`` by shape; label each template with its members' dominant class.

    ``classes``: per-beat class letters (N/S/V/F/Q, '' unknown), default the beats' reference
    classes; ``scores``: per-beat anomaly scores (``ScoreResult.score``) for each template's maximum;
    ``features``: :func:`shape_features` of the beats when the caller has them already.
    """
    n = len(beats)
    if features is None and n:
        features = shape_features(beats.x)
    idx = cluster(features, params) if n else np.zeros(0, np.int64)
    cls = beats.cls if classes is None else np.asarray(classes)
    groups = [np.nonzero(idx == k)[0] for k in np.unique(idx)]
    groups.sort(key=lambda g: (-len(g), int(g[0])))
    assignment = np.zeros(n, np.int64)
    templates = []
    for tid, members in enumerate(groups, start=1):
        assignment[members] = tid
        label, counts = _dominant(cls[members])
        top = float(np.max(scores[members])) if scores is not None and len(members) else None
        templates.append(Template(tid, members, beats.x[members, 0].mean(axis=0), label,
                                  counts, top))
    return TemplateSet(templates, assignment, params)


def _dominant(cls: np.ndarray) -> tuple[str, dict[str, int]]:
    """The most frequent non-empty class (ties: alphabetical first) and the counts of all."""
    names, n_of = np.unique(cls, return_counts=True)
    counts = {str(k): int(v) for k, v in zip(names, n_of) if k}
    return (max(sorted(counts), key=lambda k: counts[k]) if counts else ""), counts


def relabel(templates: TemplateSet, classes: np.ndarray) -> TemplateSet:
    """The same templates with labels from other per-beat ``classes`` (no clustering again)."""
    out = []
    for t in templates.templates:
        label, counts = _dominant(np.asarray(classes)[t.members])
        out.append(Template(t.id, t.members, t.mean, label, counts, t.max_score))
    return TemplateSet(out, templates.assignment, templates.params)


def member_correlation(beats: BeatSet, templates: TemplateSet, reference: int = 1,
                       features: np.ndarray | None = None) -> np.ndarray:
    """Each beat's correlation with template ``reference``'s mean shape (1: the dominant one)."""
    if not len(templates):
        return np.zeros(0, np.float32)
    ref = shape_features(templates.by_id(reference).mean[None, None, :])[0]
    return (shape_features(beats.x) if features is None else features) @ ref
