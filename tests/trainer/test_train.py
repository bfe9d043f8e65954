"""Training: every model kind trains on real beats, distillation carries gradient, resume and seeds.

Runs are tiny (width 4, batch 32, a few hundred MIT-BIH N beats, one thread) so they fit in CI.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from trainer.augment import augment
from trainer.checkpoint import load_generator
from trainer.losses import attention_transfer, nt_xent, tick_error_kd
from trainer.train import Trainer


def _quiet(*_a, **_k) -> None:
    pass


def _record_steps(tr: Trainer) -> list[dict]:
    """Wrap ``tr.train_step`` so every step's losses are kept, in order."""
    steps: list[dict] = []
    inner = tr.train_step

    def wrapped(x):
        out = inner(x)
        steps.append(out)
        return out

    tr.train_step = wrapped
    return steps


def _states(tr: Trainer) -> dict[str, dict[str, torch.Tensor]]:
    out = {"G": tr.G.state_dict(), "D": tr.D.state_dict()}
    if tr.teacher is not None:
        out["T"] = tr.teacher.state_dict()
    if tr.P is not None:
        out["P"] = tr.P.state_dict()
    return out


def _assert_same_states(a: Trainer, b: Trainer) -> None:
    sa, sb = _states(a), _states(b)
    assert sa.keys() == sb.keys()
    for net in sa:
        assert sa[net].keys() == sb[net].keys()
        for k in sa[net]:
            assert torch.equal(sa[net][k], sb[net][k]), f"{net}.{k} differs"


def _same_states(a: Trainer, b: Trainer) -> bool:
    sa, sb = _states(a), _states(b)
    return all(torch.equal(sa[n][k], sb[n][k]) for n in sa for k in sa[n])


@pytest.fixture(scope="module")
def teacher_ckpt(tmp_path_factory, n_beats):
    """A trained width-8 beatgan checkpoint: the frozen teacher of a small student."""
    from trainer.config import TrainConfig

    torch.set_num_threads(1)
    cfg = TrainConfig(model="beatgan", width=8, latent=16, batch=32, epochs=1)
    out = tmp_path_factory.mktemp("teacher")
    Trainer(cfg, n_beats[:128], None, out, log=_quiet).fit(progress=False)
    return out / "ckpt.pt"


KINDS = {
    "beatgan": dict(model="beatgan"),
    "si-beatgan": dict(model="si-beatgan"),
    "v2-disc": dict(model="si-beatgan-v2", con_place="disc"),
    "v2-enc": dict(model="si-beatgan-v2", con_place="enc"),
    "student": dict(model="beatgan"),  # teacher= set below
}


# ---- 1. every kind trains end to end -----------------------------------------------------------

@pytest.mark.parametrize("kind", list(KINDS))
def test_one_epoch_each_kind(kind, n_beats, small_cfg, tmp_path, request):
    kw = dict(KINDS[kind])
    if kind == "student":
        kw["teacher"] = str(request.getfixturevalue("teacher_ckpt"))
    cfg = small_cfg(**kw)
    x = n_beats[:192]
    tr = Trainer(cfg, x, n_beats[-32:], tmp_path / "run", log=_quiet)
    t_before = None if tr.teacher is None else {k: v.clone() for k, v in tr.teacher.state_dict().items()}
    steps = _record_steps(tr)
    state = tr.fit(progress=False)

    assert state.epoch == 1 and len(state.history) == 1
    assert len(steps) == len(x) // cfg.batch == 6
    for s in steps:
        assert all(math.isfinite(v) for v in s.values()), s
    h = state.history[0]
    assert h["val_mse"] is not None and 0 < h["val_mse"] < 4  # beats and outputs lie in [-1, 1]
    # the terms of each kind are switched on, and only those
    uses_kd = kind != "beatgan"
    assert (h["distillation"] > 0) == uses_kd
    assert (h["contrastive"] > 0) == kind.startswith("v2")
    assert (tr.teacher is not None) == uses_kd
    if tr.teacher is not None:
        assert not any(p.requires_grad for p in tr.teacher.parameters())
        moved = any(not torch.equal(v, tr.teacher.state_dict()[k]) for k, v in t_before.items())
        # the EMA self-teacher follows the student; a trained teacher stays frozen
        assert moved == (kind != "student")
    if kind == "student":
        assert tr.G.cfg.width == 4 and tr.teacher.cfg.width == 8
        ref = load_generator(kw["teacher"])
        assert all(torch.equal(a, b) for a, b in zip(ref.state_dict().values(), tr.teacher.state_dict().values()))
    # what a run leaves behind: a checkpoint a fresh process can read, and the epoch log
    assert (tmp_path / "run" / "ckpt.pt").is_file()
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert len(log) == 1 and log[0]["epoch"] == 1
    g = load_generator(tmp_path / "run" / "ckpt.pt")
    assert all(torch.equal(a, b) for a, b in zip(g.state_dict().values(), tr.G.state_dict().values()))


@pytest.mark.parametrize("model", ["beatgan", "si-beatgan-v2"])
def test_reconstruction_loss_goes_down(model, n_beats, small_cfg, tmp_path):
    """Over 4 epochs of 8 steps on a fixed set, the last steps reconstruct clearly better than the first.

    A constant, high learning rate (as the reference recipe, no cosine decay) so 32 steps are enough:
    the last steps' error is a third of the first's or less with seeds 0-3; the bound asks for 0.6.
    """
    cfg = small_cfg(model=model, width=8, epochs=4, seed=3, lr=4e-3, warmup_frac=0.0)
    tr = Trainer(cfg, n_beats[:256], None, tmp_path, log=_quiet)
    steps = _record_steps(tr)
    tr.fit(progress=False)
    rec = np.array([s["reconstruction"] for s in steps])
    assert len(rec) == 32
    first, last = rec[:4].mean(), rec[-4:].mean()
    assert last < 0.6 * first, rec.round(4).tolist()
    # and per epoch, as logged
    per_epoch = [h["reconstruction"] for h in tr.state.history]
    assert per_epoch[-1] < per_epoch[0]


def test_too_few_beats_for_a_batch(n_beats, small_cfg, tmp_path):
    tr = Trainer(small_cfg(batch=64), n_beats[:40], None, tmp_path, log=_quiet)
    with pytest.raises(ValueError, match="smaller than one batch"):
        tr.fit(progress=False)


# ---- 2. distillation carries gradient; loss functions by hand ----------------------------------

def test_kd_gradient_reaches_student_not_teacher(n_beats, small_cfg, tmp_path):
    cfg = small_cfg(model="si-beatgan")
    tr = Trainer(cfg, n_beats[:64], None, tmp_path, log=_quiet)
    tr.G.train()
    x = tr.x[:32]
    views = (augment(x, tr.aug_gen, cfg.aug_strength), augment(x, tr.aug_gen, cfg.aug_strength))
    # as train_step computes it
    xs, _, ms = tr.G(views[0], return_maps=True)
    with torch.no_grad():
        xt, _, mt = tr.teacher(x, return_maps=True)
    terms = {
        "out": cfg.kd_out * F.mse_loss(xs, xt),
        "at": cfg.kd_at * attention_transfer(ms, mt),
        "tick": cfg.kd_tick * tick_error_kd((xs - x) ** 2, (xt - x) ** 2, cfg.kd_t),
    }
    for name, term in terms.items():
        assert term.requires_grad, name
        assert float(term) > 0, name
        grads = torch.autograd.grad(term, list(tr.G.encoder.parameters()), retain_graph=True, allow_unused=True)
        total = sum(float(g.abs().sum()) for g in grads if g is not None)
        assert total > 0, f"kd term {name} has no gradient w.r.t. the student"
    tr.G.zero_grad(set_to_none=True)
    sum(terms.values()).backward()
    assert all(p.grad is not None for p in tr.G.parameters())
    assert sum(float(p.grad.abs().sum()) for p in tr.G.parameters()) > 0
    assert all(not p.requires_grad and p.grad is None for p in tr.teacher.parameters())


def test_kd_changes_the_generator_step(n_beats, small_cfg, tmp_path):
    """Through train_step itself: the same step with the KD weights at 0 leaves different G gradients."""
    grads = {}
    for label, kw in (("kd", {}), ("no-kd", dict(kd_out=0.0, kd_at=0.0, kd_tick=0.0))):
        tr = Trainer(small_cfg(model="si-beatgan", **kw), n_beats[:64], None, tmp_path / label, log=_quiet)
        tr.G.train()
        tr.D.train()
        out = tr.train_step(tr.x[:32])
        assert (out["distillation"] > 0) == (label == "kd")
        grads[label] = torch.cat([p.grad.flatten() for p in tr.G.parameters()])
        assert all(p.grad is None for p in tr.teacher.parameters())
    assert not torch.allclose(grads["kd"], grads["no-kd"])


def _nt_xent_by_hand(z1: np.ndarray, z2: np.ndarray, tau: float) -> float:
    z = np.concatenate([z1, z2]).astype(np.float64)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    n = len(z1)
    losses = []
    for i in range(2 * n):
        pos = (i + n) % (2 * n)
        num = math.exp(z[i] @ z[pos] / tau)
        den = sum(math.exp(z[i] @ z[k] / tau) for k in range(2 * n) if k != i)
        losses.append(-math.log(num / den))
    return sum(losses) / len(losses)


def test_nt_xent_hand_cases():
    e = torch.eye(2)
    # matched views: each row's positive has similarity 1/tau = 2, its two negatives 0
    assert float(nt_xent(e, e, 0.5)) == pytest.approx(math.log(1 + 2 * math.exp(-2)), rel=1e-6)
    # swapped views: the positive is orthogonal, one negative is identical
    assert float(nt_xent(e, e.flip(0), 0.5)) == pytest.approx(math.log(math.exp(2) + 2), rel=1e-6)
    # lengths do not matter (cosine similarity)
    assert float(nt_xent(3 * e, torch.tensor([[2.0, 0], [0, 0.5]]), 0.5)) == pytest.approx(
        math.log(1 + 2 * math.exp(-2)), rel=1e-6)
    # three pairs in 3-d, against the definition written out
    z1 = np.array([[1.0, 0.2, 0.0], [0.1, 1.0, 0.3], [0.0, -0.4, 1.0]])
    z2 = np.array([[0.9, 0.0, 0.1], [0.5, 0.8, 0.0], [0.2, 0.1, -1.0]])
    got = float(nt_xent(torch.tensor(z1), torch.tensor(z2), 0.3))
    assert got == pytest.approx(_nt_xent_by_hand(z1, z2, 0.3), rel=1e-9)


def test_attention_transfer_and_tick_kd():
    g = torch.Generator().manual_seed(0)
    maps = [torch.randn(4, 3, 16, generator=g), torch.randn(4, 6, 8, generator=g)]
    assert float(attention_transfer(maps, [m.clone() for m in maps])) == 0.0
    # attention maps are channel means of squares, normalised: a different channel count still compares
    assert float(attention_transfer([maps[0]], [torch.cat([maps[0], maps[0]], dim=1)])) == pytest.approx(0, abs=1e-12)
    s = [m.clone().requires_grad_(True) for m in maps]
    t = [(m + torch.randn(m.shape, generator=g)).requires_grad_(True) for m in maps]
    loss = attention_transfer(s, t)
    assert float(loss) > 0
    loss.backward()
    assert all(float(x.grad.abs().sum()) > 0 for x in s)
    assert all(x.grad is None for x in t)  # the teacher side is detached
    err = torch.rand(4, 1, 320, generator=g)
    assert float(tick_error_kd(err, err.clone(), 4.0)) == pytest.approx(0, abs=1e-6)
    assert float(tick_error_kd(err, torch.rand(4, 1, 320, generator=g), 4.0)) > 0


# ---- 3. resume: continue exactly where the run stopped ------------------------------------------

RESUME_CASES = [
    ("beatgan", "disc", 3, 0.0),  # mid first epoch
    ("beatgan", "disc", 7, 0.75),  # time-warp augmentation: its random draws restored
    ("si-beatgan", "disc", 7, 0.0),  # mid second epoch: EMA teacher restored
    ("si-beatgan-v2", "disc", 3, 0.0),  # augmentation RNG and projection head restored
    ("si-beatgan-v2", "enc", 5, 0.0),  # exactly at the epoch boundary
    ("si-beatgan-v2", "enc", 7, 0.5),
]


@pytest.mark.parametrize("model,con_place,k,warp", RESUME_CASES)
def test_resume_matches_uninterrupted(model, con_place, k, warp, n_beats, small_cfg, tmp_path):
    cfg = small_cfg(model=model, con_place=con_place, epochs=2, seed=5, warp_frac=warp)
    x, xv = n_beats[:160], n_beats[-16:]  # 5 steps per epoch, 10 in all
    ref = Trainer(cfg, x, xv, tmp_path / "a", log=_quiet)
    ref_steps = _record_steps(ref)
    ref.fit(progress=False)
    assert len(ref_steps) == 10

    first = Trainer(cfg, x, xv, tmp_path / "b", log=_quiet)
    first_steps = _record_steps(first)
    first.fit(max_steps=k, progress=False)
    assert len(first_steps) == k
    assert first_steps == ref_steps[:k]
    del first

    second = Trainer(cfg, x, xv, tmp_path / "b", log=_quiet)
    torch.manual_seed(1234)  # whatever ran in between must not matter
    second.resume(tmp_path / "b" / "ckpt.pt")
    assert (second.state.epoch, second.state.step_in_epoch) == divmod(k, 5)
    assert len(second.state.history) == k // 5  # a run stopped at an epoch's end has logged that epoch
    second_steps = _record_steps(second)
    second.fit(progress=False)
    assert second_steps == ref_steps[k:]  # the very next step's losses, and every one after
    _assert_same_states(ref, second)
    for a, b in ((ref.opt_g, second.opt_g), (ref.opt_d, second.opt_d)):
        for (_, sa), (_, sb) in zip(a.state.items(), b.state.items()):
            assert torch.equal(sa["exp_avg"], sb["exp_avg"]) and torch.equal(sa["exp_avg_sq"], sb["exp_avg_sq"])
    assert second.state.epoch == ref.state.epoch == 2
    # the epoch log agrees too (timings aside)
    drop = ("wall_s", "samples_per_s")
    for ha, hb in zip(ref.state.history, second.state.history, strict=True):
        assert {k2: v for k2, v in ha.items() if k2 not in drop} == pytest.approx(
            {k2: v for k2, v in hb.items() if k2 not in drop}, rel=1e-9)


# ---- 4. seeds ------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", ["beatgan", "si-beatgan-v2"])
def test_seed_repeatable(model, n_beats, small_cfg, tmp_path):
    def run(seed: int, name: str) -> Trainer:
        tr = Trainer(small_cfg(model=model, seed=seed), n_beats[:96], None, tmp_path / name, log=_quiet)
        tr.fit(progress=False)
        return tr

    a, b, c = run(11, "a"), run(11, "b"), run(12, "c")
    _assert_same_states(a, b)
    assert not _same_states(a, c)
    assert a.state.history[0]["reconstruction"] == b.state.history[0]["reconstruction"] != \
        c.state.history[0]["reconstruction"]


def test_seed_changes_the_beat_order(n_beats, small_cfg, tmp_path):
    a = Trainer(small_cfg(seed=1), n_beats[:96], None, tmp_path / "a", log=_quiet)
    b = Trainer(small_cfg(seed=2), n_beats[:96], None, tmp_path / "b", log=_quiet)
    assert torch.equal(a.epoch_order(0), a.epoch_order(0))
    assert not torch.equal(a.epoch_order(0), a.epoch_order(1))
    assert not torch.equal(a.epoch_order(0), b.epoch_order(0))
    assert sorted(a.epoch_order(0).tolist()) == list(range(96))


def test_on_step_sees_every_step_in_order(n_beats, small_cfg, tmp_path):
    """fit's step hook: called once per step, after it, with that step's losses (what studies use)."""
    cfg = small_cfg(model="beatgan", epochs=2)
    tr = Trainer(cfg, n_beats[:128], None, tmp_path, log=_quiet)
    seen: list[tuple[int, dict]] = []
    tr.fit(progress=False, on_step=lambda losses: seen.append((tr.state.step_in_epoch, losses)))
    assert len(seen) == 2 * tr.steps_per_epoch() == 8
    assert [s for s, _ in seen] == [0, 1, 2, 3] * 2  # the step's own bookkeeping comes after the hook
    assert all({"reconstruction", "adversarial", "discriminator"} <= set(losses) for _, losses in seen)
    assert [h["reconstruction"] for h in tr.state.history] == pytest.approx(
        [float(np.mean([x["reconstruction"] for _, x in seen[:4]])),
         float(np.mean([x["reconstruction"] for _, x in seen[4:]]))])


def test_resume_refuses_a_checkpoint_of_another_recipe(n_beats, small_cfg, machine, tmp_path):
    """A checkpoint continues only under its own recipe (another machine option is fine): mixing
    two recipes in one run, or shipping an old run under a new card, must not happen silently."""
    from trainer.config import TrainError

    Trainer(small_cfg(), n_beats[:64], None, tmp_path / "a", log=_quiet).fit(progress=False)
    ck = tmp_path / "a" / "ckpt.pt"
    with pytest.raises(TrainError, match=r"differs in epochs, lr"):
        Trainer(small_cfg(lr=5e-4, epochs=2), n_beats[:64], None, tmp_path / "b", log=_quiet).resume(ck)
    tr = Trainer(small_cfg(), n_beats[:64], None, tmp_path / "c", log=_quiet, machine=machine(threads=2))
    tr.resume(ck)
    assert tr.state.epoch == 1


def test_resume_or_restart_sets_another_recipe_aside(n_beats, small_cfg, tmp_path):
    run = tmp_path / "run"
    Trainer(small_cfg(), n_beats[:64], None, run, log=_quiet).fit(progress=False)
    old = (run / "ckpt.pt").read_bytes()
    same = Trainer(small_cfg(), n_beats[:64], None, run, log=_quiet)
    assert same.resume_or_restart(log=_quiet) and same.state.epoch == 1
    other = Trainer(small_cfg(width=8), n_beats[:64], None, run, log=_quiet)
    assert not other.resume_or_restart(log=_quiet) and other.state.epoch == 0
    aside = list(tmp_path.glob("run.old-*"))
    assert len(aside) == 1 and (aside[0] / "ckpt.pt").read_bytes() == old  # kept, not deleted
    assert run.is_dir() and not (run / "ckpt.pt").exists()
    other.fit(progress=False)
    assert other.state.epoch == 1
