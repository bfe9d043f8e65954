"""Test-time self-adaptation: deterministic, never trains on what it down-weights, leaves the model alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ecgviewer.core.adapt import AdaptConfig, adapt_generator
from ecgviewer.core.record import load_record
from ecgviewer.core.scorer import Scorer
from ecgviewer.core.scoring import Cancelled

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "resources" / "samples" / "119"
FAST = AdaptConfig(steps=4, batch=16, budget_s=None, pool_sample=200, gate=None)


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer.load(backend="torch")


@pytest.fixture(scope="module")
def beats(scorer):
    b = scorer.beats(load_record(SAMPLE))
    return b.x[:200].copy()


def _state(gen) -> dict:
    return {k: v.detach().clone() for k, v in gen.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_same_seed_same_weights_other_seed_other_weights(scorer, beats):
    g = scorer.torch_generator()
    a, log_a = adapt_generator(g, beats, FAST)
    b, log_b = adapt_generator(g, beats, FAST)
    c, _ = adapt_generator(g, beats, AdaptConfig(**{**FAST.__dict__, "seed": 1}))
    assert _same(_state(a), _state(b))
    assert all(np.array_equal(x, y) for x, y in zip(log_a.trained, log_b.trained))
    assert not _same(_state(a), _state(c))
    assert not _same(_state(a), _state(g)), "adaptation changed nothing"


def test_bundled_generator_is_not_modified(scorer, beats):
    g = scorer.torch_generator()
    before = _state(g)
    adapt_generator(g, beats, FAST)
    assert _same(before, _state(g))
    assert not g.training


def test_log_trained_beats_are_in_the_pool_and_never_the_trimmed_ones(scorer, beats):
    cfg = AdaptConfig(steps=6, batch=20, trim=0.25, keep=0.5, budget_s=None, pool_sample=200, gate=None)
    _, log = adapt_generator(scorer.torch_generator(), beats, cfg)
    assert 0 < len(log.pool) <= 100
    assert log.steps == 6
    for trained, trimmed in zip(log.trained, log.trimmed):
        assert len(trained) == 15 and len(trimmed) == 5
        assert not set(trained) & set(trimmed)
        assert set(trained) <= set(log.pool) and set(trimmed) <= set(log.pool)


def test_beats_it_excludes_have_no_influence(scorer, beats):
    """Beats outside the pool and beats trimmed at every step they were drawn: replace them by
    something else that is still excluded, and the adapted weights must not move by a bit."""
    g = scorer.torch_generator()
    cfg = AdaptConfig(steps=5, batch=16, trim=0.25, budget_s=None, pool_sample=200, gate=None)
    a, log = adapt_generator(g, beats, cfg)
    used = set(np.concatenate(log.trained).tolist())
    outside = np.setdiff1d(np.arange(len(beats)), log.pool)
    x2 = beats.copy()
    x2[outside] = -x2[outside][:, :, ::-1]  # a reversed, inverted beat: reconstructs even worse
    b, log2 = adapt_generator(g, x2, cfg)
    assert np.array_equal(log.pool, log2.pool)
    assert _same(_state(a), _state(b))
    assert not used & set(outside.tolist())


def test_trimmed_beats_get_no_gradient(scorer, beats):
    """Per-beat gradients: the beats a step trims contribute exactly zero to that step's update."""
    g = scorer.torch_generator()
    cfg = AdaptConfig(steps=1, batch=16, trim=0.5, budget_s=None, pool_sample=200, gate=None)
    _, log = adapt_generator(g, beats, cfg)
    trimmed = log.trimmed[0]
    xb = torch.from_numpy(beats[np.sort(np.r_[log.trained[0], trimmed])].copy()).requires_grad_(True)
    per_beat = ((g(xb) - xb) ** 2).flatten(1).mean(1)
    order = torch.argsort(per_beat.detach(), stable=True)
    per_beat[order[: len(log.trained[0])]].mean().backward()
    grad = xb.grad.flatten(1).abs().sum(1)
    batch_idx = np.sort(np.r_[log.trained[0], trimmed])
    is_trimmed = np.isin(batch_idx, trimmed)
    assert torch.all(grad[torch.from_numpy(is_trimmed)] == 0)
    assert torch.all(grad[torch.from_numpy(~is_trimmed)] > 0)


def test_cancel_stops_it(scorer, beats):
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):
        adapt_generator(scorer.torch_generator(), beats, AdaptConfig(steps=50, batch=16, budget_s=None, gate=None),
                        cancelled=cancelled)


def test_time_budget_stops_early(scorer, beats):
    _, log = adapt_generator(scorer.torch_generator(), beats,
                             AdaptConfig(steps=10_000, batch=16, budget_s=1.0, pool_sample=200, gate=None))
    assert log.stopped == "budget" and log.steps < 10_000


def test_bad_config_is_refused():
    for bad in ({"keep": 0.0}, {"trim": 1.0}, {"params": "encoder"}, {"lr": 0.0}, {"batch": 1}, {"gate": 0.0},
                {"pool": "random"}):
        with pytest.raises(ValueError):
            AdaptConfig(**bad)


def test_decoder_only_leaves_the_encoder(scorer, beats):
    g = scorer.torch_generator()
    a, _ = adapt_generator(g, beats, AdaptConfig(**{**FAST.__dict__, "params": "decoder"}))
    assert _same({k: v for k, v in _state(a).items() if k.startswith("encoder.")},
                 {k: v for k, v in _state(g).items() if k.startswith("encoder.")})
    assert not _same(_state(a), _state(g))


def test_scorer_adapt_lowers_the_normal_error_of_an_unseen_lead(scorer):
    """A lead the model never saw (119's second channel), adapted regardless of the gate: its error comes down."""
    import dataclasses

    rec = load_record(SAMPLE)
    if rec.n_channels < 2:
        pytest.skip("the sample has one channel")
    rec = dataclasses.replace(rec, signal=rec.signal[:, [1]], channel_names=["ECG"], units=rec.units[1:2])
    b = scorer.beats(rec)
    plain = scorer.score(b)
    adapted = scorer.score(b, adapt=AdaptConfig(steps=30, budget_s=None, gate=None))
    n = b.cls == "N"
    assert np.median(adapted.mse[n]) < 0.8 * np.median(plain.mse[n])
    assert scorer.adapt_log is not None and scorer.adapt_log.steps == 30


def _run(*args: str, block_torch: bool = False) -> subprocess.CompletedProcess:
    pre = ("import sys\nclass _Block:\n    def find_spec(self, name, path=None, target=None):\n"
           "        if name == 'torch' or name.startswith('torch.'):\n            raise ImportError('blocked')\n"
           "sys.meta_path.insert(0, _Block())\n") if block_torch else ""
    code = pre + "import sys; from ecgviewer.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "ECGVIEWER_BACKEND": "onnx"}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          cwd=str(ROOT), timeout=300)


def test_gate_leaves_a_record_the_model_knows_alone(scorer):
    """MIT-BIH 119's MLII is what the model was trained on: the gate keeps the scores as they were."""
    b = scorer.beats(load_record(SAMPLE))
    plain = scorer.score(b)
    gated = scorer.score(b, adapt=AdaptConfig(budget_s=None))
    assert scorer.adapt_log.stopped == "not needed" and scorer.adapt_log.steps == 0
    assert scorer.adapt_log.pool_error < 4.0 * scorer.reference_mse
    assert np.array_equal(plain.score, gated.score)


def test_cli_adapt_is_gated_and_off_by_default():
    p = _run("score", str(SAMPLE), "--json", "--adapt")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["adaptation"]["adapted"] is False and out["adaptation"]["stopped"] == "not needed"
    q = _run("score", str(SAMPLE), "--json")
    assert "adaptation" not in json.loads(q.stdout)
    assert [b["score"] for b in json.loads(q.stdout)["beats"]] == [b["score"] for b in out["beats"]]


def test_cli_adapt_without_torch_says_so_in_one_line():
    p = _run("score", str(SAMPLE), "--adapt", "--json", block_torch=True)
    assert p.returncode == 0, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "needs PyTorch" in lines[0], p.stderr
    assert "adaptation" not in json.loads(p.stdout)


def test_gate_without_a_reference_adapts_nothing(scorer, beats):
    """A card that records no training error cannot say whether a record is foreign: left alone."""
    g = scorer.torch_generator()
    same, log = adapt_generator(g, beats, AdaptConfig(steps=4, batch=16, budget_s=None, pool_sample=200))
    assert same is g and log.stopped == "no reference" and log.steps == 0
