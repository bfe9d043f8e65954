"""trainer robust-fit: the card's robust score fitted on normal beats only, written as typed card fields."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.core.model.card import read_card
from ecgviewer.core.resources import bundled_model_path
from ecgviewer.core.robust import RhythmGate, beat_features
from trainer.cli import main
from trainer.config import TrainError
from trainer.robust_fit import RHYTHM_GATE, RR_QUANTILE, WINDOW_MS, fit, save_rows


def _rows(seed: int = 0) -> list[tuple]:
    rng = np.random.default_rng(seed)
    rows = []
    for shift in (0.0, 1.0, -0.5):  # records on their own scales
        n = 400
        cls = np.array(["N"] * (n - 20) + ["V"] * 20)
        mse = np.exp(rng.normal(-7 + shift, 0.3, n) + (cls == "V") * 2.0)
        feats = rng.normal(0, 0.05, (n, 2)) + (cls == "V")[:, None] * np.array([-0.4, 0.6])
        like = rng.normal(-3 + shift, 0.3, n) + (cls == "V") * 2.5  # log(1 - r): V beats less like the dominant one
        rows.append((cls, mse, feats, like.astype(np.float32)))
    return rows


def test_fit_uses_normal_beats_and_sets_the_threshold_on_their_share():
    rows = _rows()
    rule, n_normal = fit(rows, target=0.02)
    assert n_normal == 3 * 380
    scores = [rule.score(r[1], r[2])[0] for r in rows]
    n_share = np.mean(np.concatenate([s[r[0] == "N"] for s, r in zip(scores, rows)]) >= rule.threshold)
    assert abs(n_share - 0.02) < 0.005
    # anomalies change nothing: the same N beats with other V beats give the same rule
    other = [(c, np.where(c == "V", m * 3, m), f, v + (c == "V")) for c, m, f, v in rows]
    assert fit(other, target=0.02)[0].threshold == rule.threshold
    joined, _ = fit(rows, target=0.02, likeness="max")
    assert fit(other, target=0.02, likeness="max")[0].threshold == joined.threshold


def test_the_likeness_channel_is_fitted_on_normal_beats_and_lifts_the_odd_ones():
    rows = _rows()
    plain, _ = fit(rows, target=0.02)
    for join in ("max", "sum"):
        rule, _ = fit(rows, target=0.02, likeness=join)
        assert rule.likeness is not None and rule.likeness.join == join
        scores = [rule.score(r[1], r[2], r[3])[0] for r in rows]
        n_share = np.mean(np.concatenate([s[r[0] == "N"] for s, r in zip(scores, rows)]) >= rule.threshold)
        assert abs(n_share - 0.02) < 0.005  # the threshold still flags the target share of N beats
        # the likeness channel's tail of N beats is the one the knots give: 1 in 100 over tail 2
        tl = np.concatenate([rule.likeness.tail(r[3])[r[0] == "N"] for r in rows])
        assert abs(np.mean(tl >= 2.0) - 0.01) < 0.005
    with pytest.raises(TrainError, match="no likeness values"):
        fit([r[:3] for r in rows], likeness="max")


def test_robust_fit_rewrites_only_the_robust_score(tmp_path, capsys):
    card = tmp_path / "m.json"
    card.write_bytes(bundled_model_path().read_bytes())
    cache = tmp_path / "rows.npz"
    save_rows(cache, _rows(), WINDOW_MS)
    before = read_card(card)
    assert main(["robust-fit", "--card", str(card), "--data", str(tmp_path), "--cache", str(cache)]) == 0
    after = read_card(card)
    assert after.weights == before.weights and after.onnx == before.onnx and after.metrics == before.metrics
    assert after.robust_score != before.robust_score and after.preprocessing.align == "peak"
    rule, _ = fit(_rows())
    assert "robust-fit --card" in after.robust_score.command
    # the share and the count are fields (schema /3), not only words; the rhythm reference too (/4)
    assert after.schema == "ecgviewer-model-card/7"
    # the likeness channel (/6), joined by the maximum unless told otherwise, and said in words
    assert after.robust_score.likeness.join == "max" and after.robust_score.rule().likeness is not None
    assert "the record's dominant beat" in after.robust_score.description and "--likeness" not in \
        after.robust_score.command
    assert after.robust_score.threshold == fit(_rows(), gate=RHYTHM_GATE, window_ms=WINDOW_MS, likeness="max",
                                               likeness_spread="own-wider")[0].threshold
    # on the record's own spread where wider (/7) unless told otherwise, and said in words
    assert after.robust_score.likeness.spread == "own-wider" == after.robust_score.rule().likeness.spread
    assert "or the record's own where wider" in after.robust_score.description
    assert main(["robust-fit", "--card", str(card), "--data", str(tmp_path), "--cache", str(cache),
                 "--likeness-spread", "population"]) == 0
    got = read_card(card).robust_score
    assert got.likeness.spread == "population" and "--likeness-spread population" in got.command
    assert got.threshold == fit(_rows(), gate=RHYTHM_GATE, window_ms=WINDOW_MS, likeness="max")[0].threshold
    assert after.robust_score.rr_quantile == RR_QUANTILE == after.robust_score.rule().rr_quantile
    assert "90% quantile of the two-interval cycles" in after.robust_score.description
    assert after.robust_score.target == 0.01 and after.robust_score.n_normal == 3 * 380
    # the rule reads the error around the QRS, and says so; the scorer applies the same window
    assert after.robust_score.window_ms == WINDOW_MS and after.robust_score.rule().window_ms == WINDOW_MS
    assert "-100 .. +150 ms" in after.robust_score.description
    # the rhythm channel is held down in an irregular rhythm (/5), and the rule the scorer builds is so
    assert after.robust_score.rule().gate == RHYTHM_GATE and rule.gate is None
    assert "irregular at every lag" in after.robust_score.description and "morphology scores under 1" in \
        after.robust_score.description
    for extra, want in ((["--no-rhythm-gate"], None), (["--rhythm-gate", "0.2", "0.07", "1", "inf"], RhythmGate(0.2, 0.07, 1.0))):
        assert main(["robust-fit", "--card", str(card), "--data", str(tmp_path), "--cache", str(cache), *extra]) == 0
        got = read_card(card).robust_score
        assert got.rule().gate == want and " ".join(extra) in got.command
        assert got.threshold == fit(_rows(), gate=want, likeness="max", likeness_spread="own-wider")[0].threshold
    assert main(["robust-fit", "--card", str(card), "--data", str(tmp_path), "--cache", str(cache), "--likeness", "off"]) == 0
    got = read_card(card).robust_score
    assert got.likeness is None and got.rule().likeness is None and "--likeness off" in got.command
    assert got.threshold == fit(_rows(), gate=RHYTHM_GATE)[0].threshold
    # rows kept before session 13 hold no likeness values: refused with the reason, not fitted without
    old = tmp_path / "old.npz"
    save_rows(old, [r[:3] for r in _rows()], WINDOW_MS)
    capsys.readouterr()
    assert main(["robust-fit", "--card", str(card), "--data", str(tmp_path), "--cache", str(old)]) == 2
    assert "no likeness values" in capsys.readouterr().err
    # a gate that would make an unreadable card is refused before any beat is scored (no cache here)
    for bad in (["1.5", "0.1", "1", "1"], ["0.5", "nan", "1", "1"], ["0.5", "0.1", "inf", "1"], ["0.5", "0.1", "1", "-1"]):
        capsys.readouterr()
        assert main(["robust-fit", "--card", str(card), "--data", str(tmp_path), "--rhythm-gate", *bad]) == 2
        assert f"--rhythm-gate {' '.join(bad)}: rhythm gate" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # one or the other
        main(["robust-fit", "--card", str(card), "--data", str(tmp_path), "--no-rhythm-gate", "--rhythm-gate", "0.5", "0.1", "1", "1"])
    # a cache of another window, or of another rhythm reference, is refused rather than fitted silently
    rc = main(["robust-fit", "--card", str(card), "--data", str(tmp_path), "--cache", str(cache), "--whole-window"])
    assert rc != 0
    rc = main(["robust-fit", "--card", str(card), "--data", str(tmp_path), "--cache", str(cache), "--rr-quantile", "0.5"])
    assert rc != 0


def test_the_morphology_channel_reads_the_window_it_was_fitted_on(mitdb):
    """Scorer.finish gives the rule the error over the card's window, not the whole-window MSE."""
    pytest.importorskip("torch")
    from dataclasses import replace

    from ecgviewer.core.record import load_record
    from ecgviewer.core.robust import likeness_value, window_error
    from ecgviewer.core.scorer import Scorer

    scorer = Scorer.load()
    assert scorer.rule.window_ms is not None
    beats = scorer.beats(load_record(mitdb / "119"))
    res = scorer.score(beats)
    p = scorer.params
    inside = window_error(res.error, p.before, p.fs, scorer.rule.window_ms)
    feats = beat_features(beats, scorer.rule.rr_quantile)
    like = likeness_value(beats.x)
    np.testing.assert_array_equal(res.score, scorer.rule.score(inside, feats, like)[0])
    np.testing.assert_array_equal(res.likeness_z, scorer.rule.likeness.z(like))
    whole = Scorer(scorer.model, rule=replace(scorer.rule, window_ms=None)).score(beats)
    assert not np.array_equal(whole.score, res.score)
    np.testing.assert_array_equal(whole.mse, res.mse)  # the MSE shown stays that of the whole window
    # only the ticks inside the window count: errors outside it change nothing
    err = res.error.copy()
    lo = p.before + round(scorer.rule.window_ms[0] * p.fs / 1000)
    err[..., :lo] = 1.0
    np.testing.assert_array_equal(window_error(err, p.before, p.fs, scorer.rule.window_ms), inside)


def test_a_bad_card_is_one_line(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    assert main(["robust-fit", "--card", str(bad), "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("trainer: error: ") and "not an ecgviewer model card" in err and "Traceback" not in err
