"""Scoring: the rhythm model, score composition, progress and cancellation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ecgviewer.core.model.netconfig import NetConfig
from ecgviewer.core.model.networks import Generator
from ecgviewer.core.scoring import Cancelled, RhythmModel, reconstruct, rhythm_features, score_arrays
from trainer.discriminator import init_weights


def _normal_rr(n: int = 500, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rr_local = rng.normal(0.8, 0.03, n)
    return rr_local * rng.normal(1, 0.03, n), rr_local * rng.normal(1, 0.03, n), rr_local


@pytest.fixture(scope="module")
def rhythm() -> RhythmModel:
    rng = np.random.default_rng(1)
    return RhythmModel.fit(rhythm_features(*_normal_rr()), rng.gamma(2.0, 0.005, 500))


@pytest.fixture(scope="module")
def generator() -> Generator:
    torch.manual_seed(0)
    g = Generator(NetConfig(width=4, latent=8))
    g.apply(init_weights)
    return g.eval()


def test_rhythm_features_by_hand():
    f = rhythm_features(np.array([0.8, 0.5, np.nan]), np.array([0.8, 1.1, 0.8]), np.array([0.8, 0.8, 0.8]))
    assert f[0].tolist() == [0.0, 0.0]
    assert f[1] == pytest.approx([np.log(0.5 / 0.8), np.log(1.1 / 0.5)])
    assert f[2].tolist() == [0.0, 0.0]  # unknown neighbour: no evidence either way
    assert f.dtype == np.float64


def test_premature_beat_is_far(rhythm):
    normal = rhythm.distance(rhythm_features(*_normal_rr(200, seed=5)))  # unseen normal beats
    premature = rhythm.distance(rhythm_features(np.array([0.5]), np.array([1.1]), np.array([0.8])))
    assert premature[0] > 3 * np.percentile(normal, 99)
    # the Mahalanobis distance by hand for one point
    f = rhythm_features(np.array([0.7]), np.array([0.9]), np.array([0.8]))
    c = f[0] - rhythm.mean
    assert rhythm.distance(f)[0] == pytest.approx(np.sqrt(c @ rhythm.cov_inv @ c), rel=1e-5)
    assert rhythm.distance(rhythm.mean[None, :])[0] == 0.0


def test_fit_scales_are_robust_medians(rhythm):
    rng = np.random.default_rng(1)
    mse = rng.gamma(2.0, 0.005, 500)
    q1, med, q3 = np.percentile(mse, [25, 50, 75])
    assert rhythm.mse_center == pytest.approx(med) and rhythm.mse_scale == pytest.approx((q3 - q1) / 1.349)
    # normal beats sit near 0 after the z-scaling: the median combined score of the fit set is small
    d = rhythm.distance(rhythm_features(*_normal_rr()))
    assert abs(np.median(rhythm.combine(mse, d))) < 1.0
    # a constant error still gives a usable (non-zero) scale
    flat = RhythmModel.fit(rhythm_features(*_normal_rr()), np.full(500, 0.01))
    assert flat.mse_scale > 0 and np.isfinite(flat.combine(np.array([0.02]), np.array([1.0]))).all()


def test_combine_is_monotone_in_both_parts(rhythm):
    mse = np.linspace(0, 0.05, 11)
    dist = np.linspace(0, 10, 11).astype(np.float32)
    grid = rhythm.combine(mse[:, None], dist[None, :])
    assert np.all(np.diff(grid, axis=0) > 0) and np.all(np.diff(grid, axis=1) > 0)
    assert grid.dtype == np.float32


def test_as_dict_round_trip(rhythm):
    back = RhythmModel.from_dict(json.loads(json.dumps(rhythm.as_dict())))
    f = rhythm_features(*_normal_rr(50, seed=9))
    assert np.array_equal(back.distance(f), rhythm.distance(f))
    assert np.array_equal(back.mean, rhythm.mean) and np.array_equal(back.cov_inv, rhythm.cov_inv)
    assert (back.mse_center, back.mse_scale, back.rhythm_center, back.rhythm_scale) == (
        rhythm.mse_center, rhythm.mse_scale, rhythm.rhythm_center, rhythm.rhythm_scale)


def test_score_arrays_with_and_without_rhythm(generator, rhythm):
    x = np.random.default_rng(0).uniform(-1, 1, (40, 1, 320)).astype(np.float32)
    plain = score_arrays(generator, x)
    assert plain.rhythm is None and np.array_equal(plain.score, plain.mse)
    assert plain.mse == pytest.approx(((plain.recon - x) ** 2).mean(axis=(1, 2)), rel=1e-5)
    assert plain.error.shape == x.shape and plain.error.dtype == np.float32
    with pytest.raises(ValueError, match="RR"):
        score_arrays(generator, x, rhythm)
    rr = tuple(a[:40] for a in _normal_rr())
    both = score_arrays(generator, x, rhythm, rr)
    assert np.array_equal(both.mse, plain.mse)
    assert np.array_equal(both.score, rhythm.combine(plain.mse, rhythm.distance(rhythm_features(*rr))))


def test_progress_and_cancel(generator):
    x = np.zeros((250, 1, 320), np.float32)
    seen = []
    reconstruct(generator, x, batch=100, progress=lambda i, n: seen.append((i, n)))
    assert seen == [(100, 250), (200, 250), (250, 250)]
    calls = iter([False, True])
    with pytest.raises(Cancelled):
        reconstruct(generator, x, batch=100, cancelled=lambda: next(calls))
    seen.clear()
    empty = score_arrays(generator, np.zeros((0, 1, 320), np.float32), progress=lambda i, n: seen.append((i, n)))
    assert len(empty) == 0 and seen == [(0, 0)]
