"""evaluate.robustness_metrics: the second lead's and the shifted windows' AUC, on the test beats."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgviewer.core.beats import minmax_scale
from ecgviewer.core.model.networks import Generator
from trainer.evaluate import TEST_SHIFT, fold_metrics, robustness_metrics
from trainer.splits import Split

from test_evaluate import fake_dataset  # noqa: E402


def test_second_lead_and_shift_are_scored_on_the_test_beats(small_cfg):
    from ecgviewer.core.scoring import score_arrays

    ds = fake_dataset()
    rng = np.random.default_rng(0)
    ds.x_other = minmax_scale(rng.normal(size=(len(ds), 1, ds.x.shape[-1])).astype(np.float32))
    test = np.arange(0, len(ds), 2)
    split = Split("inter", 0, np.arange(1, len(ds), 2), np.arange(1, 9, 2), test)
    cfg = small_cfg()
    torch.manual_seed(0)
    G = Generator(cfg.net()).eval()
    out = robustness_metrics(G, ds, cfg, split, torch.device("cpu"))
    other = fold_metrics(ds.cls[test], score_arrays(G, ds.x_other[test]).mse)
    assert out["other_lead_auc"] == pytest.approx(other["auc"])
    x = ds.x[test, :1]
    moved = np.concatenate([x[:, :, :1].repeat(TEST_SHIFT, axis=2), x[:, :, :-TEST_SHIFT]], axis=2)  # late
    early = np.concatenate([x[:, :, TEST_SHIFT:], x[:, :, -1:].repeat(TEST_SHIFT, axis=2)], axis=2)
    moved[1::2] = early[1::2]
    shifted = fold_metrics(ds.cls[test], score_arrays(G, minmax_scale(moved)).mse)
    assert out["shift_auc"] == pytest.approx(shifted["auc"])
    assert robustness_metrics(G, ds, small_cfg(n_leads=2), split, torch.device("cpu")) == {}
    ds.x_other = None
    assert "other_lead_auc" not in robustness_metrics(G, ds, cfg, split, torch.device("cpu"))
