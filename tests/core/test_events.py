"""Rhythm events: each rule on beats built to have (or just miss) its episode, then on MIT-BIH."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgviewer.core.events import KINDS, EventCriteria, count_by_kind, find_events, runs_of

FS = 360.0
SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples"


def beats_from_rr(rr: list[float] | np.ndarray, classes: str | None = None):
    """R-peak samples for RR intervals (s) starting at 1 s, and a class per beat (default all N)."""
    t = np.concatenate([[1.0], 1.0 + np.cumsum(rr)])
    cls = np.array(list(classes if classes is not None else "N" * len(t)))
    assert len(cls) == len(t)
    return np.round(t * FS).astype(np.int64), cls


def kinds(events) -> list[str]:
    return [e.kind for e in events]


def test_pause_longer_than_the_criterion_only():
    rr = [0.8] * 20 + [2.5] + [0.8] * 20
    s, c = beats_from_rr(rr)
    ev = find_events(s, FS, c)
    assert kinds(ev) == ["pause"]
    assert ev[0].start == pytest.approx(1 + 0.8 * 20, abs=0.01) and ev[0].duration == pytest.approx(2.5, abs=0.01)
    assert ev[0].beats == 2 and ev[0].extra["rr_s"] == pytest.approx(2.5, abs=0.01)
    assert find_events(s, FS, c, EventCriteria(pause_s=3.0)) == []


def test_an_rr_unknown_across_a_gap_is_no_pause():
    rr = [0.8] * 10 + [4.0] + [0.8] * 10
    s, c = beats_from_rr(rr)
    rr_pre = np.concatenate([[np.nan], np.diff(s) / FS])
    rr_pre[11] = np.nan  # the caller knows a beat between was left out
    assert "pause" not in kinds(find_events(s, FS, c, rr_pre=rr_pre))


@pytest.mark.parametrize("run, rr, expected", [
    (2, 0.5, "couplet"), (3, 0.5, "triplet"), (4, 0.5, "vt"), (10, 0.4, "vt"), (6, 1.0, "ivr")])
def test_ventricular_runs_by_length_and_rate(run, rr, expected):
    s, c = beats_from_rr([0.8] * 10 + [rr] * run + [0.8] * 10, "N" * 10 + "N" + "V" * run + "N" * 9 + "N")
    ev = [e for e in find_events(s, FS, c) if e.kind in ("couplet", "triplet", "vt", "ivr")]
    assert kinds(ev) == [expected] and ev[0].beats == run


def test_a_triplet_is_vt_with_mit_bih_convention():
    s, c = beats_from_rr([0.8] * 10 + [0.5] * 3 + [0.8] * 10, "N" * 11 + "VVV" + "N" * 10)
    assert "triplet" in kinds(find_events(s, FS, c))
    ev = find_events(s, FS, c, EventCriteria(vt_min_beats=3))
    assert "vt" in kinds(ev) and "triplet" not in kinds(ev)


def test_vt_rate_criterion_is_configurable():
    s, c = beats_from_rr([0.8] * 5 + [0.5] * 5 + [0.8] * 5, "N" * 6 + "V" * 5 + "N" * 5)
    assert "vt" in kinds(find_events(s, FS, c))
    assert "ivr" in kinds(find_events(s, FS, c, EventCriteria(vt_rate_bpm=150)))


def test_bigeminy_needs_three_cycles():
    n = "NNNN"
    s, c = beats_from_rr([0.8] * 13, n + "NVNVNV" + "NNNN")
    ev = [e for e in find_events(s, FS, c) if e.kind == "bigeminy"]
    assert len(ev) == 1 and ev[0].beats == 6 and ev[0].extra["cycles"] == 3
    s, c = beats_from_rr([0.8] * 11, n + "NVNV" + "NNNN")
    assert "bigeminy" not in kinds(find_events(s, FS, c))


def test_trigeminy():
    s, c = beats_from_rr([0.8] * 16, "NN" + "NNV" * 4 + "NNN")
    ev = [e for e in find_events(s, FS, c) if e.kind == "trigeminy"]
    assert len(ev) == 1 and ev[0].extra["cycles"] == 4
    assert "bigeminy" not in kinds(find_events(s, FS, c))


def test_svt_run_needs_rate_and_length():
    base = "N" * 10
    s, c = beats_from_rr([0.8] * 9 + [0.4] * 5 + [0.8] * 10, base + "SSSSS" + base)
    ev = [e for e in find_events(s, FS, c) if e.kind == "svt"]
    assert len(ev) == 1 and ev[0].beats == 5 and ev[0].rate_bpm == pytest.approx(150, abs=1)
    s, c = beats_from_rr([0.8] * 9 + [0.4] * 2 + [0.8] * 10, base + "SS" + base)
    assert "svt" not in kinds(find_events(s, FS, c))
    s, c = beats_from_rr([0.8] * 24, base + "SSSSS" + base)  # S at 75 bpm: no SVT
    assert "svt" not in kinds(find_events(s, FS, c))


def test_brady_and_tachy_need_the_minimum_duration():
    rr = [0.8] * 20 + [1.5] * 15 + [0.8] * 20 + [0.4] * 40 + [0.8] * 20  # 40 bpm 22 s, 150 bpm 16 s
    s, c = beats_from_rr(rr)
    ev = find_events(s, FS, c)
    assert kinds(ev) == ["brady", "tachy"]
    assert ev[0].extra["extreme_bpm"] == pytest.approx(40, abs=0.5)
    assert ev[1].extra["extreme_bpm"] == pytest.approx(150, abs=0.5)
    assert find_events(s, FS, c, EventCriteria(rate_min_s=30)) == []


def test_irregular_rhythm_is_af_like_and_sinus_arrhythmia_is_not():
    rng = np.random.default_rng(1)
    regular = 0.8 + 0.1 * np.sin(np.arange(300) / 8.0)  # smooth respiratory variation
    chaotic = rng.uniform(0.45, 1.1, 200)
    s, c = beats_from_rr(np.concatenate([regular, chaotic, regular]))
    af = [e for e in find_events(s, FS, c) if e.kind == "af"]
    assert len(af) == 1
    t_chaos = (1 + regular.sum(), 1 + regular.sum() + chaotic.sum())
    assert af[0].start == pytest.approx(t_chaos[0], abs=30) and af[0].end == pytest.approx(t_chaos[1], abs=30)
    s, c = beats_from_rr(np.concatenate([regular, regular]))
    assert "af" not in kinds(find_events(s, FS, c))


@pytest.mark.parametrize("n_chaos, kept", [(20, False), (26, False), (40, True), (160, True)])
def test_af_like_episodes_end_where_the_irregular_rhythm_ends(n_chaos, kept):
    """The 64-interval window must not stretch an episode into the steady rhythm around it, so a
    burst shorter than the 30-s minimum is not reported and a longer one keeps its own times."""
    rng = np.random.default_rng(0)
    chaos = rng.uniform(0.45, 1.15, n_chaos)
    s, c = beats_from_rr(np.concatenate([np.full(300, 0.8), chaos, np.full(300, 0.8)]))
    af = [e for e in find_events(s, FS, c) if e.kind == "af"]
    t0 = 1 + 300 * 0.8
    if not kept:  # 16 s and 22 s of AF: under the minimum
        assert af == []
        return
    assert len(af) == 1
    assert af[0].start == pytest.approx(t0, abs=4) and af[0].end == pytest.approx(t0 + chaos.sum(), abs=4)


def test_one_regular_beat_does_not_split_an_af_episode():
    rng = np.random.default_rng(3)
    chaos = rng.uniform(0.45, 1.15, 200)
    chaos[100:104] = 0.8  # a short steady stretch inside the fibrillation
    s, c = beats_from_rr(np.concatenate([np.full(200, 0.8), chaos, np.full(200, 0.8)]))
    assert kinds(find_events(s, FS, c)).count("af") == 1


def test_brady_episodes_whose_windows_overlap_are_one():
    """A return above 50 bpm for fewer beats than the rate window leaves one episode, not two."""
    rr = [0.8] * 30 + [1.3] * 12 + [0.9] * 4 + [1.3] * 12 + [0.8] * 30
    s, c = beats_from_rr(rr)
    brady = [e for e in find_events(s, FS, c) if e.kind == "brady"]
    assert len(brady) == 1 and brady[0].extra["extreme_bpm"] == pytest.approx(60 / 1.3, abs=0.5)


def test_ectopic_beats_in_sinus_rhythm_are_not_af():
    # every 4th beat premature with a compensatory pause: irregular RR, regular rhythm underneath
    rr = np.tile([0.8, 0.8, 0.5, 1.1], 100)
    cls = "N" + "".join("NNSN" for _ in range(100))
    s, c = beats_from_rr(rr, cls)
    assert "af" not in kinds(find_events(s, FS, c))
    s, c = beats_from_rr(rr)  # the same RR with every beat called N looks irregular
    assert "af" in kinds(find_events(s, FS, c))


def test_events_sorted_counted_and_serialisable():
    s, c = beats_from_rr([0.8] * 10 + [2.5] + [0.8] + [0.5, 0.5] + [0.8] * 10, "N" * 12 + "VV" + "N" * 11)
    ev = find_events(s, FS, c)
    assert [e.start for e in ev] == sorted(e.start for e in ev)
    counts = count_by_kind(ev)
    assert list(counts) == list(KINDS) and counts["pause"] == 1 and counts["couplet"] == 1
    d = ev[0].as_dict()
    assert {"kind", "start", "end", "beats", "key", "duration"} <= set(d)
    assert d["key"] == f"{ev[0].kind}@{ev[0].start_sample}"


def test_bad_arguments():
    s, c = beats_from_rr([0.8] * 5)
    with pytest.raises(ValueError, match="classes"):
        find_events(s, FS, c[:-1])
    with pytest.raises(ValueError, match="P-wave"):
        find_events(s, FS, c, EventCriteria(af_p_wave=True))
    assert find_events(np.zeros(0, np.int64), FS, np.zeros(0, "<U1")) == []


def test_runs_of():
    assert runs_of(np.array([0, 1, 1, 0, 1], bool)) == [(1, 2), (4, 4)]
    assert runs_of(np.zeros(0, bool)) == []


def test_record_119_bigeminy_and_trigeminy_match_the_reference_rhythm():
    """The bundled MIT-BIH 119 has 37 (B and 17 (T episodes in its .atr aux notes."""
    from ecgviewer.core.beats import extract_beats
    from ecgviewer.core.record import load_record

    rec = load_record(SAMPLE / "119")
    b = extract_beats(rec)
    ev = find_events(b.sample, b.fs, b.cls, rr_pre=b.rr_pre)
    ann = rec.annotations
    marks = [(s / rec.fs, a.strip("\x00")) for s, a in zip(ann.sample, ann.aux_note) if a.startswith("(")]
    spans = [(t0, t1, name) for (t0, name), (t1, _) in zip(marks, marks[1:] + [(rec.duration, "")])]
    for kind, aux in (("bigeminy", "(B"), ("trigeminy", "(T")):
        ref = [(a, b_) for a, b_, n in spans if n == aux]
        got = [e for e in ev if e.kind == kind]
        hit = sum(any(e.start <= r1 and r0 <= e.end for e in got) for r0, r1 in ref)
        on = sum(any(e.start <= r1 and r0 <= e.end for r0, r1 in ref) for e in got)
        assert hit / len(ref) >= 0.9, (kind, hit, len(ref))
        assert on / len(got) >= 0.8, (kind, on, len(got))
    assert "vt" not in kinds(ev) and "af" not in kinds(ev)


def test_record_232_long_pause(mitdb):
    """232's longest pause is about 6 s, at about 0:17:31 (issue 16)."""
    from ecgviewer.core.beats import extract_beats
    from ecgviewer.core.record import load_record

    rec = load_record(mitdb / "232")
    b = extract_beats(rec)
    pauses = [e for e in find_events(b.sample, b.fs, b.cls, rr_pre=b.rr_pre) if e.kind == "pause"]
    assert len(pauses) > 100
    longest = max(pauses, key=lambda e: e.duration)
    assert 5.5 < longest.duration < 6.5 and abs(longest.start - (17 * 60 + 31)) < 5
