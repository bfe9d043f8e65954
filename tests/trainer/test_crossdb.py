"""``trainer crossdb``: whole records through the product's Scorer, detected beats classed by EC57
matching, flag shares at each variant's own threshold; and the dataset cache key names the window rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgviewer.core.beats import BeatParams
from trainer.crossdb import product_variant, record_names, run, scorers
from trainer.dataset import cache_key

ROOT = Path(__file__).resolve().parents[2]
CARD = str(ROOT / "resources" / "models" / "si-beatgan-v2.json")


def test_cache_key_names_the_window_rule(mitdb):
    assert cache_key(mitdb, BeatParams(n_leads=2)) != cache_key(mitdb, BeatParams(n_leads=2, align="none"))


def test_record_names(mitdb, tmp_path):
    assert record_names(mitdb, None)[:3] == ["100", "103", "105"]  # MIT-BIH: DS2
    assert record_names(mitdb, "ds1")[0] == "101"
    assert record_names(tmp_path, None) == []


@pytest.mark.parametrize("beats", ["reference", "detector"])
def test_one_record_both_beat_sources(mitdb, beats):
    pytest.importorskip("torch")
    out = run(CARD, mitdb, beats, records="119", variants=("baseline", "robust"))
    assert out["records"] == ["119"] and out["reference_beats"] == 1987
    assert out["beats_with_class"] >= 0.99 * 1987  # the detector finds and EC57 matches nearly every beat
    for m in out["variants"].values():
        assert 0.5 < m["auc"] <= 1.0 and set(m["auc_by_class"]) == {"V"}  # 119: N and V beats only
        assert m["n_records"] == 1 and m["n_flagged_worst"]["record"] == "119"
        share = m["n_flagged_by_record"]["119"]
        assert m["n_flagged_pooled"] == pytest.approx(share)
        assert m["records_over_10pct"] == int(share > 0.1)
        assert 0.0 <= m["sensitivity_by_class"]["V"] <= 1.0
    assert out["variants"]["robust"]["threshold"] != out["variants"]["baseline"]["threshold"]
    assert np.isfinite(out["wall_s"])


def test_the_product_variant_scores_as_the_product_does(mitdb):
    """The rows a card quotes (product_variant) are the scores ecgviewer score gives with that card."""
    pytest.importorskip("torch")
    from dataclasses import replace

    from ecgviewer.core.record import load_record
    from ecgviewer.core.scorer import Scorer

    product = Scorer.load(CARD)
    card = product.model.card
    assert product_variant(card) == "robust"
    assert product_variant(replace(card, robust_score=None)) == "align"  # the bundled card cuts on the fiducial
    assert product_variant(replace(card, robust_score=None, preprocessing=replace(
        card.preprocessing, align="none"))) == "baseline"
    lab = scorers(CARD)[product_variant(card)]
    beats = product.beats(load_record(mitdb / "119"))
    np.testing.assert_array_equal(lab.score(beats).score, product.score(beats).score)
    assert lab.threshold == product.threshold


def test_second_lead_scores_the_other_channel_and_says_so(mitdb):
    pytest.importorskip("torch")
    out = run(CARD, mitdb, "reference", records="119", variants=("robust",), second_lead=True)
    assert out["second_lead"] is True and out["reference_beats"] == 1987
    # the lead is plain "ECG" now: the scorer falls back to it and the row says which lead it read
    assert "119" in out["lead_notes"] and "ECG" in out["lead_notes"]["119"]
    mlii = run(CARD, mitdb, "reference", records="119", variants=("robust",))
    assert "119" not in mlii["lead_notes"]
    from trainer.crossdb import score_record, scorers

    by = scorers(CARD, ("robust",))
    other = score_record(mitdb / "119", by, detect=False, second_lead=True)["variants"]["robust"]["score"]
    own = score_record(mitdb / "119", by, detect=False)["variants"]["robust"]["score"]
    assert len(other) == len(own) and not np.allclose(other, own)  # another signal was scored


def test_cli_writes_the_summary_and_the_per_beat_scores_beside_it(mitdb, tmp_path):
    pytest.importorskip("torch")
    import json

    from trainer import cli

    out = tmp_path / "x.json"
    rc = cli.main(["crossdb", "--model", CARD, "--data", str(mitdb), "--records", "119", "--variants", "robust",
                   "--out", str(out)])
    summary = json.loads(out.read_text())
    assert rc == 0 and "per_beat" not in summary
    with np.load(out.with_suffix(".beats.npz")) as z:
        score, cls, rec = z["robust/score"], z["robust/cls"], z["robust/record"]
        thr = float(z["robust/threshold"])
    m = summary["variants"]["robust"]
    assert len(score) == len(cls) == len(rec) == summary["beats_with_class"] and set(rec) == {"119"}
    assert thr == pytest.approx(m["threshold"])
    assert float((score[cls == "N"] >= thr).mean()) == pytest.approx(m["n_flagged_pooled"])


def test_second_lead_of_a_one_lead_record_is_one_line(mitdb, tmp_path):
    pytest.importorskip("torch")
    import shutil

    from ecgviewer.core.record import load_record
    from trainer.config import TrainError

    one = load_record(mitdb / "119").only_channel(0)
    import wfdb

    wfdb.wrsamp("one", fs=one.fs, units=one.units, sig_name=one.channel_names, p_signal=one.signal.astype(float),
                fmt=["16"], write_dir=str(tmp_path))
    shutil.copyfile(mitdb / "119.atr", tmp_path / "one.atr")
    with pytest.raises(TrainError, match="--second-lead: one: one channel only"):
        run(CARD, tmp_path, "reference", records="one", variants=("robust",), second_lead=True)
