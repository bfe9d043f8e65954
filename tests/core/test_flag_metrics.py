"""Flag metrics: EC57 matching, agreement with a hand count on record 119, speed on a 24 h record."""

from __future__ import annotations

import time

import numpy as np
import pytest

from ecgviewer.core.flag_metrics import FlagMetrics, match_beats, reference_labels

from testdata import MITDB, needs_mitdb

# Written out here, not imported, so the test does not share the code it checks.
CLASS_OF = {**dict.fromkeys("NLR", "N"), **dict.fromkeys("AaJSje", "S"), **dict.fromkeys("VE", "V"),
            "F": "F", **dict.fromkeys("/fQ", "Q")}
BEATS = set("NLRBAaJSVrFejnE/fQ?")


def test_match_window_edges():
    ref = np.array([1000, 2000, 3000, 4000])
    det = np.array([1054, 1946, 3100, 4000, 4030])  # 54 = 150 ms at 360 Hz; 55 is out
    r2d, d2r = match_beats(ref, det, 54)
    assert list(r2d) == [0, 1, -1, 3]
    assert list(d2r) == [0, 1, -1, 3, -1]  # 4030 is nearer to 4000 than any other, but 4000 is taken
    assert match_beats(ref, np.array([1055]), 54)[0][0] == -1
    assert match_beats(ref, np.array([], dtype=np.int64), 54)[0].tolist() == [-1] * 4


def test_reference_labels_ignores_non_beats():
    lab = reference_labels(np.array([500, 100, 900]), np.array([100, 480, 480, 2000]),
                           np.array(["N", "+", "V", "N"]), fs=360)
    assert list(lab) == ["V", "N", ""]


@needs_mitdb
def test_agrees_with_hand_count_on_119():
    import wfdb

    ann = wfdb.rdann(str(MITDB / "119"), "atr")
    keep = [i for i, s in enumerate(ann.symbol) if s in BEATS]
    ref = np.asarray(ann.sample)[keep]
    sym = [ann.symbol[i] for i in keep]
    rng = np.random.default_rng(119)
    # Detections: every 40th reference beat missed, the others moved by up to 100 ms, plus false
    # detections half way between beats. Which detection belongs to which beat is known by construction.
    present = np.arange(len(ref)) % 40 != 7
    det = ref[present] + rng.integers(-36, 37, int(present.sum()))
    mid = (ref[:-1] + ref[1:]) // 2
    extra = mid[(np.diff(ref) > 2 * 60)][::25]
    det_all = np.concatenate([det, extra])
    order = rng.permutation(len(det_all))  # the metrics must not assume sorted beats
    scores_all = rng.random(len(det_all))
    fm = FlagMetrics(np.asarray(ann.sample), np.asarray(ann.symbol), det_all[order], 360.0)
    for t in (0.0, 0.3, 0.5, 0.9, 1.1):
        det_score = scores_all[: len(det)]
        ref_score = np.full(len(ref), -1.0)
        ref_score[present] = det_score
        counts = {c: [0, 0] for c in "SVFQ"}  # [reference, flagged]
        tn = fp = 0
        for s, sc in zip(sym, ref_score):
            c = CLASS_OF.get(s, "")
            if c == "N":
                fp += sc >= t
                tn += sc < t
            elif c:
                counts[c][0] += 1
                counts[c][1] += sc >= t
        tp = sum(v[1] for v in counts.values())
        n_anom = sum(v[0] for v in counts.values())
        extra_flags = int((scores_all[len(det):] >= t).sum())
        # Beats matched to unclassified references (none in 119, but keep the count honest).
        unclassified = sum(1 for s, sc in zip(sym, ref_score) if not CLASS_OF.get(s) and sc >= t)

        m = fm.at(t, scores_all[order])
        assert m["tp"] == tp and m["fn"] == n_anom - tp and m["fp"] == fp and m["tn"] == tn
        assert m["flagged_unmatched"] == extra_flags
        assert m["flagged"] == int((scores_all >= t).sum())
        assert m["matched"] == int(present.sum()) and m["unmatched_beats"] == len(extra)
        for c, (n, hit) in counts.items():
            assert m["per_class"][c]["reference"] == n and m["per_class"][c]["flagged"] == hit
        assert m["sensitivity"] == pytest.approx(tp / n_anom)
        assert m["specificity"] == pytest.approx(tn / (tn + fp))
        ppv_den = tp + fp + extra_flags
        assert m["ppv"] == (pytest.approx(tp / ppv_den) if ppv_den else None)
        assert unclassified == 0
    assert counts["V"][0] == 444  # 119's known count of V beats


def test_for_flags_matches_threshold():
    ref = np.arange(1, 201) * 300
    sym = np.array(["N", "V", "S", "N", "F"] * 40)
    scores = np.linspace(0, 1, 200)
    fm = FlagMetrics(ref, sym, ref + 5, 360.0, scores)
    a = fm.at(0.4)
    b = fm.for_flags(scores >= 0.4)
    assert {k: v for k, v in a.items() if k != "threshold"} == {k: v for k, v in b.items() if k != "threshold"}
    assert fm.at(0.4) == a  # for_flags left the scores alone
    none = FlagMetrics(ref, sym, ref + 5, 360.0, scores).at(2.0)
    assert none["ppv"] is None and none["sensitivity"] == 0.0 and none["specificity"] == 1.0


def test_threshold_moves_are_fast_on_24h_record():
    rng = np.random.default_rng(0)
    n = 100_000
    ref = np.cumsum(rng.integers(200, 400, n))  # ~24 h of beats at 360 Hz
    sym = rng.choice(np.array(list("NNNNNNNNVSAF/")), n)
    det = ref + rng.integers(-20, 21, n)
    scores = rng.random(n).astype(np.float32)
    t0 = time.perf_counter()
    fm = FlagMetrics(ref, sym, det, 360.0, scores)
    setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    for t in np.linspace(0, 1, 200):
        fm.at(t)
    per_move = (time.perf_counter() - t0) / 200
    assert fm.at(0.0)["matched"] == n
    assert setup < 2.0 and per_move < 0.005, (setup, per_move)
