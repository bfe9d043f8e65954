"""The bundled SI-BeatGAN V2: present, hash-checked, refuses tampering, and it works on real beats."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ecgviewer.core.errors import ModelError
from ecgviewer.core.model.card import read_card, sha256_bytes
from ecgviewer.core.model.loader import load_model
from ecgviewer.core.record import load_record
from ecgviewer.core.resources import bundled_model_path, sample_record_path
from ecgviewer.core.scorer import Scorer
from trainer.metrics import roc_auc

SAMPLE = sample_record_path()
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer.load()


def test_bundled_card_and_hash(scorer):
    card = read_card(bundled_model_path())
    for ref in (card.weights, card.onnx):
        assert sha256_bytes(bundled_model_path().with_name(ref.file).read_bytes()) == ref.sha256
    assert card.name == "SI-BeatGAN V2" and card.training_data is not None and card.training is not None
    assert card.threshold.specificity_target == 0.99
    assert scorer.raw_threshold == card.threshold.value  # the raw score's, set on held-out N beats
    # the score the user sees: the card's robust_score rule (core/robust.py), fitted on DS1's N beats
    assert card.robust_score is not None and scorer.threshold == card.robust_score.threshold
    assert card.preprocessing.align == scorer.params.align == "peak"
    assert scorer.model.card.score.rhythm is not None


def test_bundled_card_quotes_the_rows_of_its_own_recipe():
    """The figures on the card are those of results/ rows made with the card's recipe and score."""
    from trainer.config import recipe_id  # a results file's recipe, normalised as the trainer saved it

    card = read_card(bundled_model_path())
    assert [r.split for r in card.metrics] == ["intra", "inter"]
    for row in card.metrics:
        d = json.loads((ROOT / "results" / row.source).read_text())
        assert recipe_id(d["recipe"]) == card.recipe.id == row.recipe_id
        assert d["split"] == row.split and d["mean_auc"] == row.mean_auc and len(d["folds"]) == row.folds
        assert "RR-ratio" in d["score"]  # with rhythm
        assert ("EMA" in d["score"]) == (card.training.weights == "ema")  # the weights the card ships


def test_bundled_card_quotes_database_rows_of_its_own_weights():
    """The card's whole-database rows (trainer crossdb) are results/ files that scored these very
    weights at the threshold the scorer applies: qtdb-x and MIT-BIH DS2, reference and detector beats."""
    card = read_card(bundled_model_path())
    seen = set()
    for row in card.measured:
        d = json.loads((ROOT / "results" / row.source).read_text())
        assert d["weights_sha256"] == card.weights.sha256 == row.weights_sha256
        m = d["variants"]["robust"]
        assert m["threshold"] == row.threshold == card.robust_score.threshold
        assert (m["auc"], m["n_flagged_pooled"], m["records_over_10pct"]) == (row.auc, row.n_flagged,
                                                                              row.records_over_10pct)
        seen.add((row.data, row.beats, row.second_lead))
    assert {("qtdb-x", "reference", False), ("qtdb-x", "detector", False), ("MIT-BIH DS2", "reference", False),
            ("MIT-BIH DS2", "detector", False)} <= seen


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
