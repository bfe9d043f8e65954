"""The robust score: a record on its own scale, prematurity against a robust local RR reference.

Hand-made numbers for the rules; real MIT-BIH bigeminy (119: about a third of the beats are PVCs in
bigeminy; 208: frequent PVCs and couplets) for the guard against frequent ectopy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgviewer.core.record import load_record
from ecgviewer.core.robust import (
    LIKENESS_JOINS,
    TAIL_LOG10,
    Likeness,
    PrematurityModel,
    RhythmGate,
    RobustScore,
    irregularity,
    likeness_value,
    morphology_z,
    prematurity_features,
    record_scale,
    reference_rr,
)

ROOT = Path(__file__).resolve().parents[2]
CARD = ROOT / "resources" / "models" / "si-beatgan-v2.json"


def _cycles(rr: np.ndarray, q: float) -> np.ndarray:
    """reference_rr of beats whose RR intervals are ``rr`` (NaN: unknown, as across a gap)."""
    t = np.concatenate([[0.0], np.cumsum(np.nan_to_num(rr, nan=2.0))])
    pre, post = np.concatenate([[np.nan], rr]), np.concatenate([rr, [np.nan]])
    return reference_rr(t, pre, post, q)


def test_reference_rr_gives_the_sinus_cycle_in_bigeminy():
    # N V N V ...: coupling 0.6 s, compensatory pause 1.4 s, sinus cycle 1.0 s: every cycle is 1.0
    for q in (0.5, 0.9):
        np.testing.assert_allclose(_cycles(np.tile([0.6, 1.4], 200), q), 1.0, atol=1e-6)
    # a run does not pull it along:
    rr = np.concatenate([np.full(100, 1.0), np.full(8, 0.5), np.full(100, 1.0)])
    assert np.all(np.abs(_cycles(rr, 0.5) - 1.0) < 0.02)


def test_an_upper_quantile_keeps_the_sinus_cycle_when_premature_runs_are_most_beats():
    # 4 sinus cycles of 1.0 s, then a run of 6 atrial premature beats at 0.6 s, over and over (MIT-BIH 232's kind)
    rr = np.tile(np.concatenate([np.full(4, 1.0), np.full(6, 0.6)]), 40)
    median, upper = _cycles(rr, 0.5)[20:-20], _cycles(rr, 0.9)[20:-20]
    assert np.all(median <= 0.8 + 1e-6)  # the median calls the run the pace (or halfway to it)
    np.testing.assert_allclose(upper, 1.0, atol=1e-6)


def test_reference_rr_reads_no_cycle_across_a_gap():
    # an interval across a signal gap is unknown: the 2-s stand-in never becomes a cycle
    rr = np.full(120, 0.8)
    rr[60] = np.nan
    np.testing.assert_allclose(_cycles(rr, 1.0), 0.8, atol=1e-6)
    assert np.isnan(reference_rr(np.arange(3.0), np.full(3, np.nan), np.full(3, np.nan))).all()


def test_reference_rr_is_each_windows_quantile_on_a_real_record(mitdb):
    # 232 (runs of atrial premature beats, pauses up to 6 s): the windowed rule against np.quantile per beat
    from ecgviewer.core.beats import extract_beats

    b = extract_beats(load_record(mitdb / "232"))
    t = b.centre / b.fs
    cycle = 0.5 * (b.rr_pre.astype(np.float64) + b.rr_post)
    ok = np.isfinite(cycle)
    for q in (0.5, 0.9):
        want = [np.quantile(cycle[ok & (np.abs(t - ti) <= 30.0)], q) for ti in t]
        np.testing.assert_allclose(reference_rr(t, b.rr_pre, b.rr_post, q), want, rtol=1e-6)


def test_prematurity_is_one_sided():
    model = PrematurityModel(np.zeros(2), np.eye(2) * 100.0, 0.0, 1.0)
    f = prematurity_features(np.array([0.6, 1.4, 1.0]), np.array([1.4, 1.0, 1.0]), np.array([1.0, 1.0, 1.0]))
    d = model.distance(f)
    assert d[0] > 5  # premature, then a pause
    assert d[1] == 0.0  # late (after the pause) and followed by a shorter interval: not anomalous
    assert d[2] == 0.0


def test_record_scale_reads_the_lower_part():
    rng = np.random.default_rng(0)
    normal = np.exp(rng.normal(-7.0, 0.3, 2000))
    c, s = record_scale(normal, (0.0, 1.0))
    assert c == pytest.approx(-7.0, abs=0.03) and s == pytest.approx(0.3, rel=0.1)
    # half the beats far worse (bigeminy): the centre stays within the normal beats
    mixed = np.concatenate([normal, np.exp(rng.normal(-4.0, 0.3, 2000))])
    c2, s2 = record_scale(mixed, (0.0, 1.0))
    assert abs(c2 - c) < 0.3 and s2 < 0.5
    z = morphology_z(mixed, c2, s2)
    assert (z[:2000] > 4).mean() < 0.01 and (z[2000:] > 4).mean() > 0.99
    assert record_scale(normal[:10], (1.5, 2.5)) == (1.5, 2.5)  # too few beats: the population's


def _step(rr: np.ndarray) -> np.ndarray:
    """The second prematurity feature of beats whose RR before is ``rr``: log(next RR / this RR)."""
    return prematurity_features(rr[:-1], rr[1:], np.full(len(rr) - 1, float(np.median(rr))))[:, 1]


def test_irregularity_is_low_for_patterns_and_high_for_fibrillation():
    rng = np.random.default_rng(1)
    jitter = 1 + 0.01 * rng.standard_normal(400)
    steady = _step(0.8 * jitter)
    bigeminy = _step(np.tile([0.55, 1.05], 200) * jitter)  # short, long, short, ...: regular at lag 2
    trigeminy = _step(np.tile([0.8, 0.5, 1.1], 134)[:400] * jitter)
    isolated = 0.8 * jitter
    isolated[::7], isolated[1::7] = 0.5, 1.1  # a PVC every 7th beat in sinus rhythm
    af = _step(rng.uniform(0.45, 1.1, 400))
    q = 0.2
    for regular in (steady, bigeminy, trigeminy, _step(isolated)):
        assert np.median(irregularity(regular, q)) < 0.03
    assert irregularity(af, q).min() > 0.04
    assert irregularity(np.zeros(0), q).shape == (0,)
    # a gate holds the rhythm channel down only where the rhythm is irregular
    assert not RhythmGate(q, 0.04).regular(np.stack([np.zeros(399), af], axis=1)).any()
    assert RhythmGate(q, 0.04).regular(np.stack([np.zeros(399), steady], axis=1)).all()


def test_a_gate_caps_the_rhythm_channel_in_an_irregular_rhythm():
    rng = np.random.default_rng(2)
    rr = rng.uniform(0.45, 1.1, 301)
    feats = prematurity_features(rr[:-1], rr[1:], np.full(300, float(np.median(rr))))
    mse = np.exp(rng.normal(-7.0, 0.3, 300))
    rule = RobustScore(PrematurityModel(np.zeros(2), np.eye(2) * 100.0, 0.0, 1.0), (-7.0, 0.3), 3.0)
    plain, zm, zr = rule.score(mse, feats)
    for cap in (0.0, 1.0):
        capped = RobustScore(rule.rhythm, rule.population, 3.0, gate=RhythmGate(0.2, 0.0, cap=cap))  # all gated
        s, zm2, zr2 = capped.score(mse, feats)
        np.testing.assert_array_equal(zm2, zm)  # the z-scores are untouched; only the joined score
        np.testing.assert_allclose(s, zm + np.minimum(zr, cap), rtol=1e-6)
        assert s.max() < plain.max()
    again = RobustScore.from_dict(RobustScore(rule.rhythm, rule.population, 3.0,
                                              gate=RhythmGate(0.2, 0.07, cap=1.0)).as_dict())
    assert again.gate == RhythmGate(0.2, 0.07, cap=1.0)
    assert RobustScore.from_dict(rule.as_dict()).gate is None


def test_round_trip():
    rule = RobustScore(PrematurityModel(np.array([0.1, -0.1]), np.eye(2), 0.3, 0.2), (-7.0, 0.8), 12.0)
    again = RobustScore.from_dict(rule.as_dict())
    assert again.threshold == 12.0 and again.population == (-7.0, 0.8) and again.combine == "sum"
    np.testing.assert_array_equal(again.rhythm.cov_inv, np.eye(2))
    with pytest.raises(ValueError):
        RobustScore.from_dict({**rule.as_dict(), "combine": "mean"})


@pytest.mark.parametrize("name", ["119", "208"])
def test_frequent_ectopy_does_not_flood_the_normal_beats(mitdb, name):
    pytest.importorskip("torch")
    from ecgviewer.core.scorer import Scorer

    scorer = Scorer.load(CARD, backend="torch")
    beats = scorer.beats(load_record(mitdb / name))
    res = scorer.score(beats)
    flagged = res.score >= scorer.threshold
    n, v = beats.cls == "N", beats.cls == "V"
    assert v.mean() > 0.2  # frequent ectopy indeed
    assert flagged[n].mean() < 0.03
    assert flagged[v].mean() > 0.9
    assert res.raw is not None and not np.array_equal(res.raw, res.score)  # the raw score is kept for audits


def test_nn_intervals_keep_frequent_pvcs_from_looking_like_fibrillation():
    """PVCs in no fixed pattern make every lag irregular; between the normal beats alone (HRV's NN
    intervals) the sinus rhythm is steady again, while fibrillation stays irregular."""
    rng = np.random.default_rng(3)
    pvc = rng.random(600) < 0.3
    pvc[1:] &= ~pvc[:-1]  # no couplets: each PVC is followed by a normal beat
    rr = 0.8 * (1 + 0.01 * rng.standard_normal(600))
    rr[pvc] = 0.5  # the interval ending in a PVC is short ...
    rr[1:][pvc[:-1]] = 1.1  # ... and the one after it is the compensatory pause
    step = _step(rr)
    beat_pvc = pvc[1:]  # beat i ends interval i and starts interval i + 1 (_step's convention)
    assert np.median(irregularity(step, 0.5)) > 0.1
    assert np.median(irregularity(step, 0.5, keep=~beat_pvc)) < 0.03
    af = _step(rng.uniform(0.45, 1.1, 600))
    assert irregularity(af, 0.5, keep=np.ones(599, bool)).min() > 0.04
    np.testing.assert_allclose(irregularity(af, 0.5, keep=np.ones(599, bool)), irregularity(af, 0.5), atol=1e-6)
    assert (irregularity(step, 0.5, keep=np.zeros(599, bool)) == 0).all()  # nothing counts: regular
    gate = RhythmGate(0.5, 0.10, cap=1.0, nn_below=1.0)
    feats = np.stack([np.zeros(599), step], axis=1)
    assert gate.regular(feats, np.where(beat_pvc, 3.0, 0.0)).mean() > 0.9
    with pytest.raises(ValueError, match="morphology"):
        gate.regular(feats)
    assert RhythmGate.from_dict(gate.as_dict()) == gate


@pytest.mark.parametrize("q", [0.2, 0.5])
def test_window_quantiles_are_numpys(q):
    """The sorted-block window quantile gives np.nanquantile's values, NaN for a window of NaN only."""
    import warnings

    from ecgviewer.core.robust import window_nanquantile

    rng = np.random.default_rng(4)
    x = rng.normal(size=20000)  # more windows than one block of _QUANTILE_BLOCK
    x[rng.random(20000) < 0.3] = np.nan
    x[1000:1100] = np.nan  # longer than a window: some windows hold nothing
    win = np.lib.stride_tricks.sliding_window_view(x, 65)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = np.nanquantile(win, q, axis=1)
    got = window_nanquantile(x, 65, q)
    assert np.isnan(got).sum() == np.isnan(want).sum() > 0
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_the_records_own_spread_is_capped_at_the_populations():
    """spread_floor (an ablation): a clean record is read on its own narrower scale, a noisy one
    never on a wider scale than the population's."""
    rng = np.random.default_rng(5)
    pop = (-7.0, 1.0)
    clean, noisy = np.exp(rng.normal(-7.0, 0.3, 400)), np.exp(rng.normal(-7.0, 3.0, 400))
    plain = RobustScore(None, pop, 3.0, tails=None)
    own = RobustScore(None, pop, 3.0, tails=None, spread_floor=0.25)
    zc, zc_own = plain.score(clean, None)[1], own.score(clean, None)[1]
    assert np.std(zc_own) > 2.5 * np.std(zc)  # 0.3 of the population's spread: read on its own
    np.testing.assert_allclose(own.score(noisy, None)[1], plain.score(noisy, None)[1])  # capped
    tiny = np.exp(rng.normal(-7.0, 0.01, 400))
    np.testing.assert_allclose(np.std(own.score(tiny, None)[1]), 4 * np.std(plain.score(tiny, None)[1]), rtol=1e-4)


def _beats_like(shape: np.ndarray, n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` beat windows (n, 1, 320) of one ``shape`` with white noise."""
    return (shape[None, None, :] + noise * rng.standard_normal((n, 1, 320))).astype(np.float32)


def _qrs(width: float, at: int = 140) -> np.ndarray:
    t = np.arange(320)
    return np.exp(-0.5 * ((t - at) / width) ** 2)


def test_likeness_value_finds_the_beats_unlike_the_dominant_one_in_a_bigeminy():
    rng = np.random.default_rng(5)
    normal, wide = _qrs(4.0), -0.8 * _qrs(14.0, 150)  # a narrow QRS and a wide, inverted one (a PVC)
    x = np.concatenate([_beats_like(normal, 120, 0.03, rng), _beats_like(wide, 80, 0.03, rng)])  # 40 % ectopic
    v = likeness_value(x)
    assert v.dtype == np.float32 and v.shape == (200,)
    assert v[120:].min() > v[:120].max()  # the dominant shape is the frequent one, whatever the order
    assert likeness_value(x[::-1])[::-1] == pytest.approx(v, abs=1e-5)
    np.testing.assert_allclose(likeness_value(x * 0.5), v, atol=1e-5)  # a correlation: the gain does not matter
    assert likeness_value(np.zeros((0, 1, 320), np.float32)).shape == (0,)


def _likeness_rule(join: str) -> RobustScore:
    knots = list(np.linspace(0.0, 8.0, len(TAIL_LOG10)))  # z k/10 ... : tail 2 at z 1.6
    tails = {"morphology": knots, "rhythm": knots}
    return RobustScore(None, (-7.0, 0.5), 3.0, tails=tails, likeness=Likeness((-3.0, 0.5), knots, join))


def test_the_likeness_channel_joins_the_morphology_one():
    rng = np.random.default_rng(6)
    mse = np.exp(rng.normal(-7.0, 0.2, 200))
    like = rng.normal(-3.0, 0.2, 200).astype(np.float32)
    like[7] = 1.0  # one beat unlike the rest, its reconstruction error ordinary
    plain = RobustScore(None, (-7.0, 0.5), 3.0, tails=_likeness_rule("max").tails)
    alone, zm, _ = plain.score(mse, None)
    for join in LIKENESS_JOINS:
        rule = _likeness_rule(join)
        s, zm2, _ = rule.score(mse, None, like)
        np.testing.assert_array_equal(zm2, zm)  # the morphology channel is untouched
        tl = rule.likeness.tail(like)
        np.testing.assert_allclose(s, np.maximum(alone, tl) if join == "max" else alone + tl, rtol=1e-6)
        assert s[7] > rule.threshold > alone[7]  # the network alone does not flag it; the likeness does
        with pytest.raises(ValueError, match="likeness"):
            rule.score(mse, None)
        again = RobustScore.from_dict(rule.as_dict())
        assert again.likeness == rule.likeness
        np.testing.assert_array_equal(again.score(mse, None, like)[0], s)
    assert RobustScore.from_dict(plain.as_dict()).likeness is None
    with pytest.raises(ValueError, match="join"):
        Likeness((-3.0, 0.5), _likeness_rule("max").likeness.knots, "mean").check()
    with pytest.raises(ValueError, match="knots"):
        Likeness((-3.0, 0.5), [0.0, 1.0]).check()
    with pytest.raises(ValueError, match="spread"):
        Likeness((-3.0, 0.0), _likeness_rule("max").likeness.knots).check()


def test_the_likeness_spread_is_the_records_own_only_where_wider():
    """"own-wider" (card 2.3.0): a record whose normal beats vary more than DS1's (a noisy lead) is
    read on its own spread, so its ordinary variation is not unlikeness; a clean record keeps DS1's."""
    knots = _likeness_rule("max").likeness.knots
    pop, own = Likeness((-3.0, 0.5), knots), Likeness((-3.0, 0.5), knots, spread="own-wider")
    rng = np.random.default_rng(8)
    clean, noisy = rng.normal(-3.0, 0.2, 400), rng.normal(-3.0, 1.5, 400)
    np.testing.assert_array_equal(own.z(clean), pop.z(clean))  # narrower than DS1's: DS1's spread
    flagged = {name: float((rule.tail(noisy) >= 2.0).mean()) for name, rule in (("pop", pop), ("own", own))}
    assert flagged["pop"] > 0.05 and flagged["own"] < 0.01  # on DS1's spread, several normal beats in 100 alarm
    odd = np.append(clean, 3.0)  # and on a clean record an unlike beat stands out as before
    assert own.tail(odd)[-1] == pop.tail(odd)[-1] > 2.0
    again = Likeness.from_dict(own.as_dict())
    assert again == own and "spread" not in pop.as_dict()  # a 2.2.0 channel writes what it wrote
    with pytest.raises(ValueError, match="likeness spread 'record'"):
        Likeness((-3.0, 0.5), knots, spread="record").check()


def test_the_likeness_centre_is_the_records_own():
    """A record whose normal beats are all less alike (a noisier recorder) is centred on itself."""
    rule = _likeness_rule("max")
    rng = np.random.default_rng(7)
    quiet = rng.normal(-3.0, 0.2, 300)
    np.testing.assert_allclose(rule.likeness.z(quiet + 1.5), rule.likeness.z(quiet), atol=1e-5)
