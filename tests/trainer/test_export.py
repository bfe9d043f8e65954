"""Writing a model (trainer/export.py): one write of weights, ONNX and card, each checked first."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")

from ecgviewer.core.errors import ModelError  # noqa: E402
from ecgviewer.core.model.card import read_card  # noqa: E402
from ecgviewer.core.model.loader import load_model  # noqa: E402
from ecgviewer.core.model.netconfig import NetConfig  # noqa: E402
from ecgviewer.core.model.networks import Generator  # noqa: E402
from trainer import export  # noqa: E402
from trainer.export import lifted_to_2d, save_model, untrained_card  # noqa: E402


def _generator(n_leads: int = 2, seed: int = 1) -> Generator:
    torch.manual_seed(seed)
    g = Generator(NetConfig(n_leads=n_leads, width=4, latent=8))
    for m in g.modules():  # BatchNorm statistics off their defaults, so a lost buffer would show
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.1, 0.1)
    return g


def test_save_model_writes_weights_onnx_and_card_once(tmp_path, monkeypatch):
    g = _generator()
    g.train()
    writes: list[str] = []
    real = export.write_bytes_atomic
    monkeypatch.setattr(export, "write_bytes_atomic", lambda p, d: (writes.append(p.name), real(p, d)))
    path = save_model(g, untrained_card("t", n_leads=2), tmp_path / "m")
    assert writes == ["m.pt", "m.onnx", "m.json"]  # the card once, and last
    assert g.training  # the caller's module keeps its mode
    card = read_card(path)
    assert card.onnx is not None and card.onnx.max_abs_diff_vs_torch < export.MAX_ONNX_DIFF
    assert card.architecture == g.cfg
    x = np.random.default_rng(2).uniform(-1, 1, (7, 2, 320)).astype(np.float32)
    np.testing.assert_allclose(load_model(path, backend="onnx").net(x), load_model(path, backend="torch").net(x),
                               atol=1e-5)


def test_trainer_onnx_command_adds_a_checked_copy(tmp_path):
    from trainer.cli import main

    path = save_model(_generator(), untrained_card("t", n_leads=2), tmp_path / "m", onnx=False)
    with pytest.raises(ModelError, match="no ONNX export"):
        load_model(path, backend="onnx")
    assert main(["onnx", str(path)]) == 0
    assert read_card(path).onnx is not None
    # saving new weights under the same name without an export drops the stale one from the card
    save_model(_generator(seed=2), untrained_card("t", n_leads=2), tmp_path / "m", onnx=False)
    with pytest.raises(ModelError, match="no ONNX export"):
        load_model(path, backend="onnx")


def test_failed_onnx_export_still_writes_weights_and_card(tmp_path, monkeypatch):
    def broken(*a, **k):
        raise ModelError("ONNX export failed: no")

    monkeypatch.setattr(export, "export_onnx", broken)
    with pytest.raises(ModelError, match="ONNX export failed"):
        save_model(_generator(), untrained_card("t", n_leads=2), tmp_path / "m")
    assert load_model(tmp_path / "m.json", backend="torch").card.onnx is None
    assert not (tmp_path / "m.onnx").exists()


def test_export_that_differs_from_torch_is_not_written(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "MAX_ONNX_DIFF", -1.0)
    with pytest.raises(ModelError, match="differs from torch"):
        save_model(_generator(), untrained_card("t", n_leads=2), tmp_path / "m")
    assert not (tmp_path / "m.onnx").exists() and read_card(tmp_path / "m.json").onnx is None


def test_a_card_that_would_not_read_back_is_not_written(tmp_path):
    from dataclasses import replace

    bad = replace(untrained_card("t"), threshold=replace(untrained_card().threshold, value="high"))
    with pytest.raises(ModelError, match="threshold.value"):
        save_model(_generator(n_leads=1), bad, tmp_path / "m", onnx=False)
    assert not any(tmp_path.iterdir())


def test_export_without_the_onnx_package_says_what_to_install(monkeypatch):
    def no_onnx(*a, **k):
        raise ImportError("Module onnx is not installed!")

    monkeypatch.setattr(torch.onnx, "export", no_onnx)
    monkeypatch.setattr(export, "have", lambda name: name != "onnx")
    with pytest.raises(ModelError, match=r"ONNX export failed: Module onnx is not installed!.*trainer\]"):
        export.export_onnx(Generator(NetConfig(width=4, latent=8)))


def test_lifted_generator_computes_the_same():
    """The export runs the generator as 2-D layers (faster in ONNX Runtime): same numbers."""
    g = _generator(n_leads=1).eval()
    lifted = lifted_to_2d(g)
    x = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, (64, 1, 320)).astype(np.float32))
    with torch.inference_mode():
        np.testing.assert_allclose(lifted(x).numpy(), g(x).numpy(), atol=1e-6)
    assert not g.training and not lifted.training
    assert not any(isinstance(m, (torch.nn.Conv1d, torch.nn.ConvTranspose1d, torch.nn.BatchNorm1d))
                   for m in lifted.modules())

