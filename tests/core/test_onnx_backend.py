"""The ONNX Runtime backend (the packaged viewer's) scores like torch and is checked like it.

Why: the installer ships the generator exported to ONNX instead of torch (size and start-up,
docs/packaging.md); a clinician must see the same scores and flags whichever backend ran.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from ecgviewer.core.errors import ModelError  # noqa: E402
from ecgviewer.core.modelfile import bundled_model_path, load_model  # noqa: E402
from ecgviewer.core.record import load_record  # noqa: E402
from ecgviewer.core.scorer import Scorer, flag_summary  # noqa: E402

SAMPLE = bundled_model_path().parents[1] / "samples" / "119"


@pytest.fixture(scope="module")
def both():
    torch_scorer, onnx_scorer = Scorer.load(backend="torch"), Scorer.load(backend="onnx")
    beats = torch_scorer.beats(load_record(SAMPLE))
    return beats, torch_scorer, onnx_scorer, torch_scorer.score(beats), onnx_scorer.score(beats)


def test_same_scores_and_flags_on_119(both):
    beats, ts, os_, rt, ro = both
    assert (ts.backend, os_.backend) == ("torch", "onnx")
    assert ts.threshold == os_.threshold
    np.testing.assert_allclose(ro.recon, rt.recon, atol=1e-5)
    np.testing.assert_allclose(ro.score, rt.score, rtol=1e-4, atol=1e-5)
    # the same beats flagged, except a beat whose score sits within rounding of the threshold
    near = np.abs(rt.score - ts.threshold) < 1e-3
    assert np.array_equal((ro.score >= ts.threshold)[~near], (rt.score >= ts.threshold)[~near])
    assert flag_summary(beats, ro, ts.threshold)["flagged"] == pytest.approx(
        flag_summary(beats, rt, ts.threshold)["flagged"], abs=int(near.sum()))


def test_onnx_scores_are_deterministic(both):
    beats, _, os_, _, ro = both
    np.testing.assert_array_equal(Scorer.load(backend="onnx").score(beats).score, ro.score)


def _copy_bundled(tmp_path):
    card = bundled_model_path()
    for ext in (".json", ".pt", ".onnx"):
        shutil.copy(card.with_suffix(ext), tmp_path / card.with_suffix(ext).name)
    return tmp_path / card.name


def test_tampered_onnx_is_refused(tmp_path):
    card = _copy_bundled(tmp_path)
    onnx = card.with_suffix(".onnx")
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0x01
    onnx.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="SHA-256"):
        load_model(card, backend="onnx")
    load_model(card, backend="torch")  # the .pt is untouched and still loads


def test_foreign_onnx_with_matching_hash_is_refused(tmp_path):
    from ecgviewer.core.modelfile import sha256_bytes

    card = _copy_bundled(tmp_path)
    junk = b"this is not an onnx graph"
    card.with_suffix(".onnx").write_bytes(junk)
    c = json.loads(card.read_text())
    c["onnx"]["sha256"] = sha256_bytes(junk)
    card.write_text(json.dumps(c))
    with pytest.raises(ModelError, match="not an ONNX export"):
        load_model(card, backend="onnx")


def test_card_without_onnx_says_how_to_add_it(tmp_path):
    card = _copy_bundled(tmp_path)
    c = json.loads(card.read_text())
    del c["onnx"]
    card.write_text(json.dumps(c))
    with pytest.raises(ModelError, match="python -m trainer onnx"):
        load_model(card, backend="onnx")


def test_backend_from_environment(monkeypatch):
    monkeypatch.setenv("ECGVIEWER_BACKEND", "onnx")
    assert Scorer.load().backend == "onnx"
    monkeypatch.setenv("ECGVIEWER_BACKEND", "tensorflow")
    with pytest.raises(ModelError, match="ECGVIEWER_BACKEND"):
        Scorer.load()


def test_trainer_onnx_export_writes_a_checked_copy(tmp_path):
    import torch

    from ecgviewer.core.modelfile import save_model
    from ecgviewer.core.models import Generator, NetConfig
    from trainer.cli import main

    torch.manual_seed(1)
    card = {"name": "t", "version": "0", "threshold": {"value": 0.1},
            "preprocessing": {"n_leads": 2, "fs": 360.0, "before": 140, "after": 180, "band_hz": [3.0, 45.0]}}
    path = save_model(Generator(NetConfig(n_leads=2, width=4, latent=8)), card, tmp_path / "m")
    with pytest.raises(ModelError, match="no ONNX export"):
        load_model(path, backend="onnx")
    assert main(["onnx", str(path)]) == 0
    x = np.random.default_rng(2).uniform(-1, 1, (7, 2, 320)).astype(np.float32)
    np.testing.assert_allclose(load_model(path, backend="onnx").net(x), load_model(path, backend="torch").net(x),
                               atol=1e-5)
    # saving new weights under the same name drops the stale export from the card
    save_model(Generator(NetConfig(n_leads=2, width=4, latent=8)), card, tmp_path / "m")
    with pytest.raises(ModelError, match="no ONNX export"):
        load_model(path, backend="onnx")


def test_viewer_core_runs_without_torch(tmp_path):
    """What the installer ships: record -> beats -> scores with torch absent altogether."""
    code = textwrap.dedent(f"""
        import sys

        class NoTorch:  # as in the installer: torch is not there at all
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ModuleNotFoundError(f"No module named {{name!r}}")

        sys.meta_path.insert(0, NoTorch())
        from ecgviewer.core.record import load_record
        from ecgviewer.core.scorer import Scorer, flag_summary
        s = Scorer.load()
        b = s.beats(load_record({str(SAMPLE)!r}))
        r = s.score(b)
        assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules)
        print(s.backend, len(b), flag_summary(b, r, s.threshold)["flagged"])
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    backend, n, flagged = out.stdout.split()
    assert backend == "onnx" and int(n) > 1900 and int(flagged) > 0


def test_export_without_the_onnx_package_says_what_to_install(monkeypatch, tmp_path):
    import torch

    from ecgviewer.core import inference
    from ecgviewer.core.models import Generator, NetConfig

    def no_onnx(*a, **k):
        raise ImportError("Module onnx is not installed!")

    monkeypatch.setattr(torch.onnx, "export", no_onnx)
    monkeypatch.setattr(inference, "have", lambda name: name != "onnx")
    with pytest.raises(ModelError, match=r"ONNX export failed: Module onnx is not installed!.*trainer\]"):
        inference.export_onnx(Generator(NetConfig(width=4, latent=8)))


def test_lifted_generator_computes_the_same(both):
    """The export runs the generator as 2-D layers (faster in ONNX Runtime): same numbers."""
    import torch

    from ecgviewer.core.inference import lifted_to_2d

    beats, ts, _, _, _ = both
    g = ts.model.net.generator
    mode = g.training
    lifted = lifted_to_2d(g)
    x = torch.from_numpy(beats.x[:64])
    with torch.inference_mode():
        np.testing.assert_allclose(lifted(x).numpy(), g(x).numpy(), atol=1e-6)
    assert g.training == mode and not lifted.training
    assert not any(isinstance(m, (torch.nn.Conv1d, torch.nn.ConvTranspose1d, torch.nn.BatchNorm1d))
                   for m in lifted.modules())
