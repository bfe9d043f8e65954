"""Training-data recipes: BeatGAN's time-warp augmentation and per-record balancing of the N beats."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainer.augment import local_time_warp
from trainer.config import TrainError
from trainer.train import Trainer


def _quiet(*_a, **_k) -> None:
    pass


def test_warp_keeps_length_and_the_r_tick():
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(200, 2, 320)
    x[:, :, 140] = 1.0  # a spike at the R tick ...
    x[:, :, 0] = -1.0
    y = local_time_warp(x, g)
    assert y.shape == x.shape
    assert torch.equal(y.argmax(dim=-1), torch.full((200, 2), 140))  # ... stays there


def test_warp_moves_ticks_without_reordering_time():
    g = torch.Generator().manual_seed(1)
    ramp = torch.linspace(-1, 1, 320).repeat(50, 1, 1)
    y = local_time_warp(ramp, g)
    assert (y.diff(dim=-1) >= -1e-6).all()  # time only stretches and shrinks, never runs back
    assert ((y - ramp).abs().amax(dim=-1) > 1e-3).all()  # every beat is changed
    # 7 ticks dropped and 7 doubled on each side: a doubled tick starts with a half step, a dropped
    # one leaves a step of 1.5 or more (neighbours can merge two; the rescale to [-1, 1] bends the
    # slope a little when tick 0 is dropped)
    for beat in range(50):
        step = y[beat, 0].diff() / ramp[beat, 0].diff()
        assert 14 <= int((step < 0.75).sum()) <= 28
        assert 7 <= int((step > 1.4).sum()) <= 14


def test_warp_is_repeatable_for_a_seed():
    x = torch.randn(8, 1, 320)
    a = local_time_warp(x, torch.Generator().manual_seed(3))
    b = local_time_warp(x, torch.Generator().manual_seed(3))
    c = local_time_warp(x, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_warp_frac_changes_training_and_zero_draws_nothing(n_beats, small_cfg, tmp_path):
    x = torch.from_numpy(n_beats[:32])

    def first_step(warp: float, name: str) -> tuple[dict, torch.Tensor]:
        tr = Trainer(small_cfg(warp_frac=warp, seed=2), n_beats[:64], None, tmp_path / name, log=_quiet)
        return tr.train_step(x), tr.aug_gen.get_state()

    plain, rng_plain = first_step(0.0, "a")
    again, _ = first_step(0.0, "b")
    warped, rng_warped = first_step(1.0, "c")
    assert plain == again
    assert warped["reconstruction"] != plain["reconstruction"]
    assert torch.equal(rng_plain, torch.Generator().manual_seed(2 + 17).get_state())  # off: no draws
    assert not torch.equal(rng_warped, rng_plain)


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_warp_frac_out_of_range_is_refused(bad, n_beats, small_cfg, tmp_path):
    with pytest.raises(TrainError, match="--warp-frac"):
        Trainer(small_cfg(warp_frac=bad), n_beats[:64], None, tmp_path, log=_quiet)


# ---- record balancing (the redundant normal beats of the big records) -----------------------------

def test_record_balance_evens_out_records(n_beats, small_cfg, tmp_path):
    groups = np.array(["100"] * 256 + ["119"] * 128)  # the fixture's beats: 2:1
    draws = {}
    for balance in (0.0, 1.0):
        tr = Trainer(small_cfg(record_balance=balance), n_beats, None, tmp_path / str(balance), log=_quiet, groups=groups)
        order = torch.cat([tr.epoch_order(e) for e in range(20)]).numpy()
        assert torch.equal(tr.epoch_order(3), tr.epoch_order(3))  # a function of (seed, epoch): resumable
        draws[balance] = float((groups[order] == "119").mean())
    assert draws[0.0] == pytest.approx(1 / 3)  # uniform: every beat once an epoch
    assert draws[1.0] == pytest.approx(0.5, abs=0.03)  # each record alike


def test_record_balance_needs_the_records(n_beats, small_cfg, tmp_path):
    with pytest.raises(TrainError, match="record of every training beat"):
        Trainer(small_cfg(record_balance=0.5), n_beats, None, tmp_path, log=_quiet)
    with pytest.raises(TrainError, match="--record-balance"):
        Trainer(small_cfg(record_balance=2.0), n_beats, None, tmp_path, log=_quiet, groups=np.zeros(len(n_beats)))
