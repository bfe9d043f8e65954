"""The bundled SI-BeatGAN V2: present, hash-checked, refuses tampering, and it works on real beats."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from ecgviewer.core.errors import ModelError
from ecgviewer.core.modelfile import bundled_model_path, load_model, sha256_bytes
from ecgviewer.core.record import load_record
from ecgviewer.core.scorer import Scorer
from trainer.metrics import roc_auc

SAMPLE = bundled_model_path().parents[1] / "samples" / "119"


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer.load()


def test_bundled_card_and_hash(scorer):
    card = json.loads(bundled_model_path().read_text())
    weights = bundled_model_path().with_name(card["weights"]["file"]).read_bytes()
    assert sha256_bytes(weights) == card["weights"]["sha256"]
    assert card["name"] == "SI-BeatGAN V2"
    for key in ("architecture", "preprocessing", "training_data", "recipe", "threshold", "version", "metrics"):
        assert key in card, key
    assert card["threshold"]["specificity_target"] == 0.99
    assert scorer.raw_threshold == card["threshold"]["value"]  # the raw score's, set on held-out N beats
    # the score the user sees: the card's robust_score rule when it has one (core/robust.py)
    assert scorer.threshold == card.get("robust_score", {}).get("threshold", card["threshold"]["value"])


def test_tampered_copy_is_refused(tmp_path):
    card = bundled_model_path()
    for f in (card, card.with_suffix(".pt")):
        shutil.copy(f, tmp_path / f.name)
    pt = tmp_path / card.with_suffix(".pt").name
    data = bytearray(pt.read_bytes())
    data[len(data) // 2] ^= 0x01
    pt.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="SHA-256"):
        load_model(tmp_path / card.name)


def test_record_119_v_beats_rank_above_n(scorer):
    beats = scorer.beats(load_record(SAMPLE))
    result = scorer.score(beats)
    keep = np.isin(beats.cls, ["N", "V"])
    auc = roc_auc(beats.cls[keep] == "V", result.score[keep])
    assert auc >= 0.95, auc


def test_scores_are_deterministic(scorer):
    beats = scorer.beats(load_record(SAMPLE))
    a = scorer.score(beats)
    again = Scorer.load().score(beats)
    np.testing.assert_array_equal(a.score, again.score)
    np.testing.assert_array_equal(a.error, again.error)
    other_batch = scorer.score(beats, batch=97)  # batching may only change rounding
    np.testing.assert_allclose(a.score, other_batch.score, rtol=1e-4, atol=1e-6)
