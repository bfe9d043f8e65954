"""The tolerance augmentations of the training input (issue 15): shift, inversion, the second lead.

Each must do what it says on real beats, draw nothing when off (a recipe without them trains as
before they existed), and refuse what it cannot do in one line.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainer.augment import invert, shift, shift_by
from trainer.config import TrainError
from trainer.train import Trainer


def _quiet(*_a, **_k) -> None:
    pass


def test_shift_moves_each_beat_by_whole_ticks_within_the_bound(n_beats):
    x = torch.from_numpy(n_beats[:64])
    y = shift(x, torch.Generator().manual_seed(0), 8)
    assert y.shape == x.shape and y.abs().max() <= 1 + 1e-6
    moved = (y.argmax(dim=-1) - x.argmax(dim=-1)).flatten()  # the R peak follows the shift
    assert moved.abs().max() <= 8 and len(set(moved.tolist())) > 5
    # a zero-tick bound is the identity (up to the rescale, which is then a no-op)
    torch.testing.assert_close(shift(x, torch.Generator().manual_seed(0), 0), x)


def test_shift_by_moves_each_beat_as_told_with_the_ends_repeated(n_beats):
    x = torch.from_numpy(n_beats[:4])
    ticks = torch.tensor([8, -8, 0, 3])
    y = shift_by(x, ticks).numpy()
    for i, d in enumerate(ticks.tolist()):
        src = np.clip(np.arange(x.shape[-1]) - d, 0, x.shape[-1] - 1)
        w = x[i].numpy()[:, src]
        expect = (w - w.min(axis=-1, keepdims=True)) / np.ptp(w, axis=-1, keepdims=True) * 2 - 1
        np.testing.assert_allclose(y[i], expect, atol=1e-5)
    # the random shift is shift_by with drawn ticks: same generator state, same beats
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    drawn = torch.randint(-8, 9, (len(x),), generator=g2)
    torch.testing.assert_close(shift(x, g1, 8), shift_by(x, drawn))


def test_invert_turns_the_drawn_share_upside_down(n_beats):
    x = torch.from_numpy(n_beats[:200])
    assert torch.equal(invert(x, torch.Generator().manual_seed(0), 1.0), -x)
    assert torch.equal(invert(x, torch.Generator().manual_seed(0), 0.0), x)
    y = invert(x, torch.Generator().manual_seed(1), 0.3)
    flipped = (y == -x).all(dim=-1).flatten()
    assert ((y == x).all(dim=-1).flatten() | flipped).all()
    assert 0.15 < float(flipped.float().mean()) < 0.45


def test_other_lead_feeds_the_second_lead_and_off_draws_nothing(n_beats, small_cfg, tmp_path):
    x, other = n_beats[:64], -n_beats[64:128]  # any second lead, told apart from the first
    idx = torch.arange(32)
    off = Trainer(small_cfg(), x, None, tmp_path / "off", log=_quiet)
    before = off.aug_gen.get_state()
    assert torch.equal(off.batch(idx), torch.from_numpy(x[:32]))
    assert torch.equal(off.aug_gen.get_state(), before)  # nothing drawn: old recipes unchanged
    always = Trainer(small_cfg(other_lead=1.0, align="peak"), x, None, tmp_path / "on", log=_quiet, x_other=other)
    assert torch.equal(always.batch(idx), torch.from_numpy(other[:32]))
    some = Trainer(small_cfg(other_lead=0.5, seed=3, align="peak"), x, None, tmp_path / "some", log=_quiet, x_other=other)
    b = some.batch(idx).numpy()
    from_other = (b == other[:32]).all(axis=(1, 2))
    assert ((b == x[:32]).all(axis=(1, 2)) | from_other).all() and 0 < from_other.sum() < 32


def test_other_lead_without_second_lead_windows_is_refused(n_beats, small_cfg, tmp_path):
    with pytest.raises(TrainError, match="second lead"):
        Trainer(small_cfg(other_lead=0.3, align="peak"), n_beats[:64], None, tmp_path / "x", log=_quiet)


@pytest.mark.parametrize("kw, msg", [
    (dict(aug_shift=41), "aug-shift"), (dict(aug_shift=-1), "aug-shift"), (dict(aug_invert=1.5), "aug-invert"),
    (dict(other_lead=-0.1), "other-lead"), (dict(other_lead=0.3, n_leads=2, align="peak"), "n-leads 1"),
    (dict(other_lead=0.3), "needs --align peak"),
])
def test_bad_values_are_one_line(small_cfg, kw, msg):
    with pytest.raises(TrainError, match=msg):
        small_cfg(**kw)


def test_shift_and_invert_change_the_step(n_beats, small_cfg, tmp_path):
    x = n_beats[:64]
    idx = torch.arange(32)
    plain = Trainer(small_cfg(seed=2), x, None, tmp_path / "a", log=_quiet).batch(idx)
    both = Trainer(small_cfg(seed=2, aug_shift=8, aug_invert=0.5), x, None, tmp_path / "b", log=_quiet).batch(idx)
    assert not torch.equal(plain, both)
    assert float((both.argmin(dim=-1) != plain.argmin(dim=-1)).float().mean()) > 0.3
    np.testing.assert_array_equal(plain.numpy(), x[:32])
