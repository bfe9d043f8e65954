"""Loading a model: round trip, SHA-256 check, weights-only loading (no code runs), bad files."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from ecgviewer.core.errors import ModelError
from ecgviewer.core.model.card import SCHEMA, Score, card_path
from ecgviewer.core.model.loader import load_model
from ecgviewer.core.model.netconfig import NetConfig
from ecgviewer.core.model.networks import Generator
from ecgviewer.core.resources import sample_record_path
from ecgviewer.core.scoring import RhythmModel, score_arrays
from trainer.discriminator import init_weights
from trainer.export import save_model, untrained_card

SAMPLE = sample_record_path()
CARD = untrained_card("test", threshold=0.01)


def _generator(width: int = 4, seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    g = Generator(NetConfig(width=width, latent=8))
    g.apply(init_weights)
    # BatchNorm statistics that are not the defaults, so a lost buffer would show
    for m in g.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return g.eval()


def _beats(n: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, 1, 320)).astype(np.float32)


def _rehash(jpath: Path) -> None:
    """Make the card's hash match whatever its weights file now holds (as an attacker could)."""
    card = json.loads(jpath.read_text())
    data = (jpath.parent / card["weights"]["file"]).read_bytes()
    card["weights"]["sha256"] = hashlib.sha256(data).hexdigest()
    card["weights"]["bytes"] = len(data)
    jpath.write_text(json.dumps(card))


@pytest.fixture
def saved(tmp_path) -> tuple[Generator, Path]:
    g = _generator()
    return g, save_model(g, CARD, tmp_path / "m", onnx=False)


def test_round_trip_scores_identically(saved, tmp_path):
    g, jpath = saved
    assert jpath == tmp_path / "m.json" and (tmp_path / "m.pt").is_file()
    m = load_model(jpath)
    x = torch.from_numpy(_beats())
    with torch.no_grad():
        assert torch.equal(g(x), m.generator(x))
    for (ka, a), (kb, b) in zip(g.state_dict().items(), m.generator.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(a, b)
    assert not m.generator.training
    # the card: schema, architecture, hash of the weights file, and what was given
    card = m.card
    assert card.schema == SCHEMA and card.network == "BeatGAN" and card.onnx is None
    assert card.weights.sha256 == hashlib.sha256((tmp_path / "m.pt").read_bytes()).hexdigest()
    assert card.weights.bytes == (tmp_path / "m.pt").stat().st_size
    assert card.architecture == NetConfig(n_leads=1, width=4, latent=8, window=320)
    assert m.threshold == 0.01 and m.label == "test 0" and m.rhythm is None
    assert m.params.before == 140 and m.params.band_hz == (3.0, 45.0)
    # the same model by its .pt or without extension
    for p in (tmp_path / "m.pt", tmp_path / "m"):
        assert card_path(p) == jpath
        assert load_model(p).card.weights == m.card.weights


def test_scores_are_deterministic(saved):
    from ecgviewer.core.record import load_record
    from ecgviewer.core.scorer import Scorer

    _, jpath = saved
    scorer = Scorer.load(jpath)
    beats = scorer.beats(load_record(SAMPLE))
    a = scorer.score(beats)
    torch.manual_seed(99)
    b = Scorer.load(jpath).score(beats)  # another load, another random state: the same bits
    assert np.array_equal(a.score, b.score) and np.array_equal(a.error, b.error)
    # another batch size may pick other CPU kernels (oneDNN), which changes rounding only
    c = scorer.score(beats, batch=100)
    np.testing.assert_allclose(a.score, c.score, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(a.error, c.error, rtol=1e-4, atol=1e-7)
    assert np.array_equal(a.score, a.mse) and a.score.dtype == np.float32 and len(a) == len(beats)
    x = _beats()
    assert np.array_equal(score_arrays(scorer.model.generator, x).score, score_arrays(scorer.model.generator, x).score)


def test_tampered_weights_refused(saved, tmp_path):
    _, jpath = saved
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(jpath, copy / "m.json")
    data = bytearray((tmp_path / "m.pt").read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / "m.pt").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="SHA-256"):
        load_model(copy / "m.json")
    load_model(jpath)  # the original is fine


class _Payload:
    """Unpickling this object opens (creates) ``marker``: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_foreign_pickle_refused_without_running_code(saved, tmp_path):
    _, jpath = saved
    # the control: plain unpickling of such an object does run the code
    control = tmp_path / "control-marker"
    pickle.loads(pickle.dumps({"x": _Payload(control)}))
    assert control.exists()

    marker = tmp_path / "marker"
    torch.save({"encoder.stages.0.0.weight": _Payload(marker)}, tmp_path / "m.pt")
    _rehash(jpath)  # the hash matches, so only weights-only loading stands in the way
    with pytest.raises(ModelError, match="not weights of this model"):
        load_model(jpath)
    assert not marker.exists(), "loading the model ran code from the weights file"


def test_foreign_state_dict_refused(saved, tmp_path):
    _, jpath = saved
    torch.save({"foo": torch.zeros(3)}, tmp_path / "m.pt")
    _rehash(jpath)
    with pytest.raises(ModelError, match="not weights of this model"):
        load_model(jpath)
    # weights of another architecture than the card says
    torch.save(_generator(width=8).state_dict(), tmp_path / "m.pt")
    _rehash(jpath)
    with pytest.raises(ModelError, match="not weights of this model"):
        load_model(jpath)


def _edit_card(jpath: Path, edit) -> None:
    card = json.loads(jpath.read_text())
    edit(card)
    jpath.write_text(json.dumps(card))


@pytest.mark.parametrize("edit,match", [
    (lambda c: c.update(schema="ecgviewer-model-card/999"), "reads ecgviewer-model-card/2, ecgviewer-model-card/3, "
     "ecgviewer-model-card/4, ecgviewer-model-card/5, ecgviewer-model-card/6 and ecgviewer-model-card/7 only"),
    (lambda c: c.pop("schema"), "not an ecgviewer model card"),
    (lambda c: c.pop("weights"), "lists no weights file"),
    (lambda c: c["weights"].pop("sha256"), r"invalid: weights: field 'sha256' missing"),
    (lambda c: c["architecture"].update(depth=3), r"invalid: architecture: unknown field 'depth'"),
    (lambda c: c.pop("threshold"), "field 'threshold' missing"),
    (lambda c: c["threshold"].update(value="high"), r"threshold.value: expected a number, got 'high'"),
    (lambda c: c.pop("preprocessing"), "field 'preprocessing' missing"),
    (lambda c: c["preprocessing"].pop("fs"), "field 'fs' missing"),
    (lambda c: c.update(score={"kind": "mse+rhythm", "rhythm": {"mean": [0, 0]}}), "not a rhythm model"),
    (lambda c: c["preprocessing"].update(n_leads=2), "does not fit its architecture"),
    (lambda c: c["weights"].update(file="../m.pt"), "must lie beside its card"),
])
def test_bad_card_refused(saved, edit, match):
    _, jpath = saved
    _edit_card(jpath, edit)
    with pytest.raises(ModelError, match=match):
        load_model(jpath)


def test_card_not_json_or_missing(saved, tmp_path):
    _, jpath = saved
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "nothing.json")
    jpath.write_text("[1, 2]")
    with pytest.raises(ModelError, match="not an ecgviewer model card"):
        load_model(jpath)
    jpath.write_bytes(b"\xff\xfe not json")
    with pytest.raises(ModelError, match="not a model card"):
        load_model(jpath)


def test_missing_weights_refused(saved, tmp_path):
    _, jpath = saved
    (tmp_path / "m.pt").unlink()
    with pytest.raises(ModelError, match="weights file not found"):
        load_model(jpath)


def test_rhythm_in_card_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    rhythm = RhythmModel.fit(rng.normal(0, 0.05, (200, 2)), rng.gamma(2, 0.01, 200))
    card = replace(CARD, score=Score(kind="mse+rhythm", rhythm=rhythm))
    m = load_model(save_model(_generator(), card, tmp_path / "r", onnx=False))
    assert m.rhythm is not None
    assert np.array_equal(m.rhythm.cov_inv, rhythm.cov_inv) and m.rhythm.mse_scale == rhythm.mse_scale
