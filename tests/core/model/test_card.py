"""The model card: typed, versioned, verified on reading; old, foreign and corrupt cards refused in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ecgviewer.core.errors import ModelError
from ecgviewer.core.model.card import (
    SCHEMA,
    FileRef,
    Gate,
    MetricRow,
    ModelCard,
    OnnxRef,
    card_from_dict,
    read_card,
    recipe_id,
)
from ecgviewer.core.model.netconfig import NetConfig
from ecgviewer.core.resources import bundled_model_path
from ecgviewer.core.robust import RhythmGate

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def bundled() -> dict:
    return json.loads(bundled_model_path().read_text())


def test_bundled_card_reads_into_typed_fields():
    card = read_card(bundled_model_path())
    assert isinstance(card, ModelCard) and card.schema == SCHEMA
    assert card.label == "SI-BeatGAN V2 2.3.0"
    assert card.architecture == NetConfig(n_leads=1, width=32, latent=50, window=320)
    assert isinstance(card.weights, FileRef) and isinstance(card.onnx, OnnxRef)
    assert card.preprocessing.params.band_hz == (3.0, 45.0) and card.preprocessing.params.before == 140
    assert card.recipe.name == "si-beatgan-v2-r3" and card.recipe.id == recipe_id(card.recipe.config)
    assert all(isinstance(r, MetricRow) and r.recipe_id == card.recipe.id for r in card.metrics)
    # the migration to this schema kept the files: the hashes are those the weights were shipped with
    assert card.weights.sha256.startswith("5ab84f0e13e36dec") and card.onnx.sha256.startswith("88420a8a82713f7d")


def test_a_card_of_the_old_format_is_refused_with_one_clear_line(tmp_path):
    # the shape of the format-1 cards (bundled model 2.1.0 before schema 2): untyped, metrics by name
    old = {"name": "SI-BeatGAN V2", "version": "2.1.0", "format": "ecgviewer-model-card/1",
           "architecture": {"generator": "BeatGAN", "n_leads": 1, "width": 32, "latent": 50, "window": 320},
           "weights": {"file": "si-beatgan-v2.pt", "sha256": "5ab84f0e", "bytes": 7667832},
           "threshold": {"value": 36.64}, "training": {"results": "si-beatgan-v2-r3+rr"}}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    with pytest.raises(ModelError) as e:
        read_card(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: an old model card (ecgviewer-model-card/1)") and "\n" not in msg
    assert "export the model again" in msg


@pytest.mark.parametrize("data,match", [
    ([1, 2], "not an ecgviewer model card"),
    ({"name": "x"}, "not an ecgviewer model card"),
    ({"schema": "someone-else/1"}, "not an ecgviewer model card"),
    ({"schema": "ecgviewer-model-card/8"},
     "reads ecgviewer-model-card/2, ecgviewer-model-card/3, ecgviewer-model-card/4, ecgviewer-model-card/5, "
     "ecgviewer-model-card/6 and ecgviewer-model-card/7 only"),
])
def test_foreign_and_newer_cards_are_refused(data, match):
    with pytest.raises(ModelError, match=match):
        card_from_dict(data, "c.json")


GATE = {"quantile": 0.5, "above": 0.1, "cap": 1.0, "half": 32, "nn_below": 1.0}


def _measured(card: dict, **kw) -> dict:
    """A database row as ``trainer card`` writes it, of this card's weights and threshold."""
    row = {"data": "qtdb-x", "beats": "reference", "source": "crossdb-x.json", "weights_sha256": card["weights"]["sha256"],
           "threshold": card["robust_score"]["threshold"], "records": 54, "auc": 0.97, "ap": 0.5, "n_flagged": 0.001,
           "worst_record": "sel1", "worst_share": 0.02, "records_over_10pct": 0}
    return {**row, **kw}


def test_a_database_row_of_these_weights_reads(bundled):
    bundled["measured"] = [_measured(bundled, auc_by_class={"V": 0.98}, sensitivity_by_class={"V": 0.7, "F": None})]
    row = card_from_dict(bundled, "c.json").measured[0]
    assert row.records == 54 and row.auc_by_class == {"V": 0.98} and row.sensitivity_by_class["F"] is None


@pytest.mark.parametrize("edit,match", [
    (lambda c: c["recipe"]["config"].update(lr=1.0), "recipe id .* is not that of the recipe it names"),
    (lambda c: c["metrics"][0].update(recipe_id="f" * 16), "measured recipe ffffffffffffffff"),
    (lambda c: c["metrics"][0].update(weights="ema"), "measured another score"),
    (lambda c: c["metrics"][0].update(rhythm=False), "measured another score"),
    (lambda c: c.update(network="Transformer"), "network 'Transformer'"),
    (lambda c: c["score"].update(kind="mse"), "does not fit its rhythm model"),
    (lambda c: c["architecture"].update(width="32"), r"architecture.width: expected int, got '32'"),
    (lambda c: c["preprocessing"].update(band_hz=[3.0]), r"preprocessing.band_hz: expected a list of 2"),
    (lambda c: c.update(extra=1), "unknown field 'extra'"),
    (lambda c: c["onnx"].update(file="/etc/x.onnx"), "must lie beside its card"),
    (lambda c: c["training_data"].update(records="100"), "training_data.records: expected a list"),
    (lambda c: c["preprocessing"].update(align="onset"), "preprocessing align 'onset'"),
    (lambda c: c["robust_score"].update(combine="mean"), "robust_score combine 'mean'"),
    (lambda c: c["robust_score"].update(scale="ward"), "robust_score scale 'ward'"),
    (lambda c: c["robust_score"].update(threshold="3.4"), r"robust_score.threshold: expected a number"),
    (lambda c: c["robust_score"].update(population_log_mse=[-7.0, 0.0]), "a spread must be positive"),
    (lambda c: c["robust_score"]["tails"]["rhythm"].pop(), "81 knots per channel"),
    (lambda c: c["robust_score"]["rhythm"].update(mean=[0.0]), r"robust_score.rhythm.mean: expected a list of 2"),
    (lambda c: c["robust_score"].update(format=1), "robust_score: unknown field 'format'"),
    (lambda c: c["robust_score"].update(target=1.5), "robust_score target 1.5: a share between 0 and 1"),
    (lambda c: c["robust_score"].update(n_normal=0), "robust_score n_normal 0: must be positive"),
    (lambda c: c["robust_score"].update(rhythm_gate={**GATE, "quantile": 1.5}), "robust_score rhythm gate quantile 1.5"),
    (lambda c: c["robust_score"].update(rhythm_gate={**GATE, "cap": -1.0}), "rhythm gate cap -1: a number of at least 0"),
    (lambda c: c["robust_score"].update(rhythm_gate={**GATE, "nn_below": -1.0}), "rhythm gate nn_below -1"),
    (lambda c: c.update(schema="ecgviewer-model-card/4") or c["robust_score"].update(rhythm_gate=GATE),
     "rhythm_gate: a field of ecgviewer-model-card/5, not of ecgviewer-model-card/4"),
    (lambda c: c["robust_score"].update(rhythm_gate=GATE, tails=None), "nn_below reads the morphology tail score"),
    (lambda c: c["robust_score"]["likeness"].update(join="mean"), "robust_score likeness join 'mean'"),
    (lambda c: c["robust_score"]["likeness"]["knots"].pop(), "likeness knots: 81 expected, not 80"),
    (lambda c: c["robust_score"]["likeness"].update(population=[-5.0, 0.0]), "likeness: a spread must be positive"),
    (lambda c: c["robust_score"]["likeness"].update(population=[float("nan"), 1.0]), "likeness holds a number that is not finite"),
    (lambda c: c["robust_score"]["likeness"].update(population=[-5.0]), r"robust_score.likeness.population: expected a list of 2"),
    (lambda c: c.update(schema="ecgviewer-model-card/5"), "likeness: a field of ecgviewer-model-card/6, not of ecgviewer-model-card/5"),
    (lambda c: c.update(schema="ecgviewer-model-card/6"),
     "likeness spread: a field of ecgviewer-model-card/7, not of ecgviewer-model-card/6"),
    (lambda c: c["robust_score"]["likeness"].update(spread="record"), "robust_score likeness spread 'record'"),
    (lambda c: c["robust_score"].update(rhythm_gate={**GATE, "above": "0.1"}),
     r"robust_score.rhythm_gate.above: expected a number"),
    (lambda c: c.update(schema="ecgviewer-model-card/2", network="x"), "network 'x'"),  # /2 is checked alike
    (lambda c: c.update(measured=[_measured(c, weights_sha256="0" * 64)]), "scored other weights"),
    (lambda c: c.update(measured=[_measured(c, threshold=1.0)]), "taken at threshold 1"),
    (lambda c: c.update(measured=[{**_measured(c), "auc": "0.9"}]), r"measured\[0\].auc: expected a number"),
])
def test_inconsistent_or_mistyped_cards_are_refused(bundled, edit, match):
    edit(bundled)
    with pytest.raises(ModelError, match=match) as e:
        card_from_dict(bundled, "c.json")
    assert str(e.value).startswith("c.json: ") and "\n" not in str(e.value)


def test_a_card_of_schema_2_still_reads(bundled):
    """/3 only added the robust score's share and count: a /2 card (a user's export) reads without them."""
    bundled["schema"] = "ecgviewer-model-card/2"
    bundled["robust_score"].pop("rhythm_gate", None)  # a /5 field
    bundled["robust_score"].pop("likeness", None)  # a /6 field
    for k in ("target", "n_normal"):
        del bundled["robust_score"][k]
    card = card_from_dict(bundled, "c.json")
    assert card.schema == "ecgviewer-model-card/2" and card.robust_score.target is None
    assert card.robust_score.rule().threshold == card.robust_score.threshold


def test_a_card_of_schema_4_reads_without_a_rhythm_gate(bundled):
    """/5 only added the rhythm gate: a /4 card (cards up to 2.1.2) never holds the rhythm channel down."""
    bundled["schema"] = "ecgviewer-model-card/4"
    bundled["robust_score"].pop("rhythm_gate", None)
    bundled["robust_score"].pop("likeness", None)
    card = card_from_dict(bundled, "c.json")
    assert card.robust_score.rhythm_gate is None and card.robust_score.rule().gate is None


def test_a_card_of_schema_5_reads_without_the_likeness_channel(bundled):
    """/6 only added the likeness channel: a /5 card (2.1.3 and before) scores without it."""
    bundled["schema"] = "ecgviewer-model-card/5"
    bundled["robust_score"].pop("likeness")
    card = card_from_dict(bundled, "c.json")
    assert card.robust_score.likeness is None and card.robust_score.rule().likeness is None


def test_the_likeness_channel_is_typed_and_reaches_the_rule(bundled):
    r = card_from_dict(bundled, "c.json").robust_score
    assert r.likeness is not None and r.likeness.join == "max" and len(r.likeness.knots) == 81
    rule = r.rule()
    assert rule.likeness.population == tuple(r.likeness.population) and rule.likeness.knots == list(r.likeness.knots)
    assert r.likeness.spread == rule.likeness.spread == "own-wider"  # card 2.3.0


def test_a_card_of_schema_6_reads_its_likeness_on_the_population_spread(bundled):
    """/7 only added the likeness channel's spread: a /6 card (2.2.0) reads DS1's spread, as it did."""
    bundled["schema"] = "ecgviewer-model-card/6"
    bundled["robust_score"]["likeness"].pop("spread")
    card = card_from_dict(bundled, "c.json")
    assert card.robust_score.likeness.spread == "population" == card.robust_score.rule().likeness.spread


@pytest.mark.parametrize("nn", [1.0, None])
def test_the_rhythm_gate_is_typed_and_reaches_the_rule(bundled, nn):
    bundled["robust_score"]["rhythm_gate"] = {**GATE, "nn_below": nn}
    r = card_from_dict(bundled, "c.json").robust_score
    assert r.rhythm_gate == Gate(0.5, 0.1, 1.0, 32, nn)
    assert r.rule().gate == RhythmGate(0.5, 0.1, cap=1.0, half=32, nn_below=nn)


def test_the_robust_score_is_typed_and_makes_the_card_rule(bundled):
    """The card's robust score reads into typed fields and gives the rule the Scorer applies."""
    card = card_from_dict(bundled)
    r = card.robust_score
    assert r is not None and r.rhythm is not None and len(r.tails.morphology) == 81
    rule = r.rule()
    assert rule.threshold == r.threshold and rule.population == r.population_log_mse and rule.combine == r.combine
    del bundled["robust_score"]
    bundled.pop("measured", None)  # its rows were taken at the robust threshold: they go with it
    assert card_from_dict(bundled).robust_score is None  # a card without one: the raw score alone


def test_machine_settings_do_not_change_a_recipe_id():
    base = {"model": "beatgan", "lr": 1e-3, "epochs": 3}
    assert recipe_id({**base, "device": "cuda", "threads": 8, "amp": True, "cpu_bf16": False}) == recipe_id(base)
    assert recipe_id({**base, "epochs": 4}) != recipe_id(base)
    assert recipe_id(dict(reversed(list(base.items())))) == recipe_id(base)  # key order does not matter


def test_reading_a_card_never_needs_torch():
    code = ("import sys\n"
            "from ecgviewer.core.model.card import read_card\n"
            "from ecgviewer.core.resources import bundled_model_path\n"
            "read_card(bundled_model_path())\n"
            "print('torch' in sys.modules)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
