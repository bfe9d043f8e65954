"""The ONNX Runtime backend (the packaged viewer's) scores like torch and is checked like it.

Why: the installer ships the generator exported to ONNX instead of torch (size and start-up,
docs/packaging.md); a clinician must see the same scores and flags whichever backend ran.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from ecgviewer.core.errors import ModelError  # noqa: E402
from ecgviewer.core.model.loader import load_model  # noqa: E402
from ecgviewer.core.record import load_record  # noqa: E402
from ecgviewer.core.resources import bundled_model_path, sample_record_path  # noqa: E402
from ecgviewer.core.scorer import Scorer, flag_summary  # noqa: E402

SAMPLE = sample_record_path()


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
    from ecgviewer.core.model.card import sha256_bytes

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
