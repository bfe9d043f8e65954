"""Morphology templates: shapes grouped apart, labels and scores per template, on MIT-BIH 119."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgviewer.core.beats import BeatSet
from ecgviewer.core.templates import TemplateParams, build_templates, cluster, shape_features

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples"


def synthetic_beats(shapes: list[str], seed: int = 0) -> BeatSet:
    """Beats of a narrow upright QRS ("n") or a wide inverted one ("v"), with noise and small shifts."""
    rng = np.random.default_rng(seed)
    tick = np.arange(320)
    x = np.empty((len(shapes), 1, 320), np.float32)
    for i, s in enumerate(shapes):
        c = 140 + rng.integers(-1, 2)
        w = np.exp(-0.5 * ((tick - c) / 4.0) ** 2) if s == "n" else -np.exp(-0.5 * ((tick - c - 10) / 14.0) ** 2)
        w = w + 0.25 * np.exp(-0.5 * ((tick - c - 90) / 15.0) ** 2) + rng.normal(0, 0.03, 320)
        x[i, 0] = 2 * (w - w.min()) / (w.max() - w.min()) - 1
    n = len(shapes)
    sample = np.arange(1, n + 1) * 300
    cls = np.array(["N" if s == "n" else "V" for s in shapes])
    rr = np.full(n, 300 / 360, np.float32)
    return BeatSet("syn", 360.0, ["MLII"], x, sample, cls, cls, rr, rr, rr, "reference")


def test_two_shapes_make_two_templates_with_counts_labels_and_scores():
    shapes = ["n"] * 300 + ["v"] * 60
    np.random.default_rng(2).shuffle(shapes)
    beats = synthetic_beats(shapes)
    scores = np.where(beats.cls == "V", 5.0, 1.0) + np.arange(len(beats)) * 1e-3
    ts = build_templates(beats, scores=scores)
    assert [t.count for t in ts.templates] == [300, 60]
    assert [t.label for t in ts.templates] == ["N", "V"]
    assert [t.id for t in ts.templates] == [1, 2]
    v = ts.templates[1]
    assert v.max_score == pytest.approx(scores[beats.cls == "V"].max())
    assert np.all(beats.cls[v.members] == "V") and np.all(ts.assignment[v.members] == 2)
    assert v.mean.shape == (320,) and v.mean[150] < -0.5  # inverted wide QRS
    assert list(v.members) == sorted(v.members)


def test_caller_classes_label_the_templates():
    beats = synthetic_beats(["n"] * 20 + ["v"] * 10)
    relabelled = np.array(["N"] * 20 + ["Q"] * 10)
    ts = build_templates(beats, classes=relabelled)
    assert [t.label for t in ts.templates] == ["N", "Q"]
    assert build_templates(beats, classes=np.full(30, "")).templates[0].label == ""


def test_deterministic_and_threshold_sets_granularity():
    beats = synthetic_beats(["n"] * 200 + ["v"] * 50)
    a, b = build_templates(beats), build_templates(beats)
    assert np.array_equal(a.assignment, b.assignment)
    loose = build_templates(beats, params=TemplateParams(threshold=-1.0))
    strict = build_templates(beats, params=TemplateParams(threshold=0.999))
    assert len(loose) == 1 and len(strict) > len(a)


def test_max_templates_caps_the_list():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(500, 40)).astype(np.float32)
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    labels = cluster(f, TemplateParams(threshold=0.99, max_templates=7))
    assert len(np.unique(labels)) <= 7


def test_features_are_unit_norm_correlations():
    beats = synthetic_beats(["n", "v"])
    f = shape_features(beats.x)
    assert np.allclose(np.linalg.norm(f, axis=1), 1, atol=1e-5) and np.allclose(f.mean(axis=1), 0, atol=1e-6)


def test_no_beats():
    beats = synthetic_beats([])
    ts = build_templates(beats)
    assert len(ts) == 0 and len(ts.assignment) == 0


def test_record_119_v_beats_get_their_own_templates():
    from ecgviewer.core.beats import extract_beats
    from ecgviewer.core.record import load_record

    beats = extract_beats(load_record(SAMPLE / "119"))
    ts = build_templates(beats)
    assert ts.templates[0].label == "N" and ts.templates[0].count > 1000
    pure = sum(t.label_counts.get(t.label, 0) for t in ts.templates) / len(beats)
    assert pure > 0.99
    assert sum(t.count for t in ts.templates) == len(beats)
    assert sum(t.count for t in ts.templates if t.label == "V") >= 0.98 * int((beats.cls == "V").sum())
