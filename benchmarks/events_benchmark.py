"""Rhythm events and templates checked against MIT-BIH's reference rhythm annotations.

Why: a Holter event list is only worth reviewing if it finds the episodes a cardiologist marked.
MIT-BIH's ``.atr`` carries rhythm changes as aux notes ((AFIB, (B, (T, (VT, (SVTA, (IVR, (SBR, ...);
each one holds until the next. Per event kind this prints episode sensitivity (reference episodes
overlapped by at least one event of the kind) and positive predictivity (events that overlap a
reference episode), pooled over the 48 records, EC57-style; for AF also the duration-weighted
figures (overlapping seconds over reference, resp. detected, seconds).

Two runs: ``reference`` (reference beats and labels: tests the rules) and ``detector`` (the
product's own QRS detector and provisional classes: what a user with an unannotated record gets).
Pauses, couplets and triplets have no rhythm annotation; in the detector run they are compared
with the events found from the reference beats. Templates: the share of beats whose class equals
their template's dominant class ("purity"), and timing on a 24-hour record made by tiling one
MIT-BIH record's beats 48 times (plus scikit-learn's MiniBatchKMeans on the same features, for
comparison).

Run from the repository root (about 3 minutes on 2 cores)::

    python -m benchmarks.events_benchmark [--data-dir ../shared/data/mitdb] [--records 100 208]
    python -m benchmarks.events_benchmark --timing-only   # the 24-hour timing alone
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from ecgviewer.core.beats import BeatSet, extract_beats
from ecgviewer.core.events import KINDS
from ecgviewer.core.holter import analyse
from ecgviewer.core.record import load_record
from ecgviewer.core.templates import TemplateParams, build_templates, shape_features

REPO = Path(__file__).resolve().parents[1]


RECORDS = ("100 101 102 103 104 105 106 107 108 109 111 112 113 114 115 116 117 118 119 121 122 123 124 "
           "200 201 202 203 205 207 208 209 210 212 213 214 215 217 219 220 221 222 223 228 230 231 232 233 234").split()

#: Which reference rhythm each event kind is checked against; rows with several kinds pool them.
RHYTHM_ROWS = [
    ("af", ("af",), "(AFIB"),
    ("af on flutter", ("af",), "(AFL"),
    ("bigeminy", ("bigeminy",), "(B"),
    ("trigeminy", ("trigeminy",), "(T"),
    ("vt", ("vt",), "(VT"),
    ("vt+triplet+ivr", ("vt", "triplet", "ivr"), "(VT"),
    ("ivr", ("ivr",), "(IVR"),
    ("svt", ("svt",), "(SVTA"),
    ("brady", ("brady",), "(SBR"),
]
#: Paced records: AAMI EC57 lets evaluations leave them out; the detector run is shown with and without.
PACED = ("102", "104", "107", "217")
#: Kinds compared, in the detector run, with the events of the reference beats.
BEAT_KINDS = ("pause", "couplet", "triplet", "vt", "bigeminy", "trigeminy", "svt", "af", "brady", "tachy")


def default_data_dir() -> Path:
    """``shared/data/mitdb`` beside the checkout (or beside its parent, for a worktree in a subfolder)."""
    for up in (REPO.parent, REPO.parent.parent):
        if (up / "shared" / "data" / "mitdb" / "100.hea").is_file():
            return up / "shared" / "data" / "mitdb"
    return REPO.parent / "shared" / "data" / "mitdb"


def rhythm_episodes(record) -> dict[str, list[tuple[float, float]]]:
    """Reference rhythm episodes (start s, end s) by aux note, e.g. {"(AFIB": [(10.2, 300.5)]}."""
    ann = record.annotations
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    marks = [(int(s), a.strip("\x00 ")) for s, a in zip(ann.sample, ann.aux_note) if a and a.startswith("(")]
    for (s, name), nxt in zip(marks, marks[1:] + [(record.n_samples, None)]):
        out[name].append((s / record.fs, nxt[0] / record.fs))
    return out


def overlaps(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def touches(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


class Tally:
    """Pooled episode counts for one row: matched reference, reference, matched detected, detected."""

    def __init__(self) -> None:
        self.ref_hit = self.ref = self.det_hit = self.det = 0
        self.overlap = self.ref_s = self.det_s = 0.0

    def add(self, ref: list[tuple[float, float]], det: list[tuple[float, float]]) -> None:
        self.ref += len(ref)
        self.det += len(det)
        self.ref_hit += sum(any(touches(r, d) for d in det) for r in ref)
        self.det_hit += sum(any(touches(d, r) for r in ref) for d in det)
        self.ref_s += sum(r[1] - r[0] for r in ref)
        self.det_s += sum(d[1] - d[0] for d in det)
        self.overlap += sum(overlaps(r, d) for r in ref for d in det)

    def row(self, name: str, weighted: bool = False) -> str:
        se = f"{self.ref_hit / self.ref:.3f}" if self.ref else "-"
        pp = f"{self.det_hit / self.det:.3f}" if self.det else "-"
        w = ""
        if weighted:
            wse = f"{self.overlap / self.ref_s:.3f}" if self.ref_s else "-"
            wpp = f"{self.overlap / self.det_s:.3f}" if self.det_s else "-"
            w = f" | {wse} | {wpp}"
        else:
            w = " | | "
        return f"| {name} | {self.ref_hit}/{self.ref} | {se} | {self.det_hit}/{self.det} | {pp}{w} |"


def class_match(det: BeatSet, det_cls: np.ndarray, ref: BeatSet, window_s: float = 0.15) -> dict[str, tuple[int, int, int]]:
    """(tp, fn, fp) per class V and S of the provisional classes against the matched reference beats."""
    j = np.clip(np.searchsorted(ref.sample, det.sample), 1, len(ref.sample) - 1)
    near = np.where(np.abs(ref.sample[j - 1] - det.sample) < np.abs(ref.sample[j] - det.sample), j - 1, j)
    ok = np.abs(ref.sample[near] - det.sample) <= window_s * det.fs
    ref_cls = ref.cls[near[ok]]
    got = det_cls[ok]
    out = {}
    for c in ("V", "S"):
        out[c] = (int(((got == c) & (ref_cls == c)).sum()), int(((got != c) & (ref_cls == c)).sum()),
                  int(((got == c) & (ref_cls != c)).sum()))
    return out


def model_classes(det: BeatSet, scorer) -> dict[str, np.ndarray]:
    """Provisional classes as the product makes them, and with V also for flagged, not premature
    beats of moderately different shape (a model-derived variant, measured only)."""
    from ecgviewer.core.holter import ProvisionalCriteria, provisional_classes
    from ecgviewer.core.templates import member_correlation

    f = shape_features(det.x)
    ts = build_templates(det, classes=np.full(len(det), ""), features=f)
    base = provisional_classes(det, ts, ProvisionalCriteria(), f)
    corr = member_correlation(det, ts, 1, f)
    flag = scorer.score(det).score >= scorer.threshold
    return {"shape only (the product's rule)": base,
            "or flagged and corr < 0.85": np.where(flag & (corr < 0.85) & (base != "S"), "V", base)}


def tile(beats: BeatSet, n_samples: int, copies: int) -> BeatSet:
    """The beats of ``copies`` back-to-back copies of a record (a synthetic 24-hour recording)."""
    off = (np.arange(copies, dtype=np.int64) * n_samples)[:, None]
    def rep(a: np.ndarray) -> np.ndarray:
        return np.tile(a, (copies,) + (1,) * (a.ndim - 1))

    return BeatSet(beats.record + f"x{copies}", beats.fs, beats.leads, rep(beats.x), (beats.sample[None] + off).ravel(),
                   rep(beats.symbol), rep(beats.cls), rep(beats.rr_pre), rep(beats.rr_post), rep(beats.rr_local),
                   beats.source)


def hardware() -> list[str]:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return [f"{platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} cores "
            f"(load average {load:.1f} at the end), Python {platform.python_version()}, numpy {np.__version__}"]


def timing(data: Path, name: str, copies: int = 48) -> list[str]:
    rec = load_record(data / name)
    beats = tile(extract_beats(rec), rec.n_samples, copies)
    dur = rec.duration * copies
    lines = [f"24-hour record: {name} tiled {copies} times, {len(beats)} beats, {dur / 3600:.1f} h", ""]
    lines += ["| step | seconds |", "|---|---|"]
    t = time.perf_counter()
    ts = build_templates(beats)
    lines.append(f"| templates (correlation >= {ts.params.threshold}, {len(ts)} templates) | {time.perf_counter() - t:.2f} |")
    t = time.perf_counter()
    a = analyse(beats, dur)
    lines.append(f"| whole analysis (templates, events, trend; reference classes) | {time.perf_counter() - t:.2f} |")
    t = time.perf_counter()
    a = analyse(BeatSet(beats.record, beats.fs, beats.leads, beats.x, beats.sample, beats.symbol,
                        np.full(len(beats), "", "<U1"), beats.rr_pre, beats.rr_post, beats.rr_local, "detector"), dur)
    lines.append(f"| whole analysis, provisional classes (no labels given) | {time.perf_counter() - t:.2f} |")
    try:
        from sklearn.cluster import MiniBatchKMeans

        f = shape_features(beats.x)
        t = time.perf_counter()
        km = MiniBatchKMeans(n_clusters=32, batch_size=4096, n_init=1, random_state=0).fit(f)
        dt = time.perf_counter() - t
        lab = km.labels_
        pure = sum(np.max(np.unique(beats.cls[lab == k], return_counts=True)[1]) for k in np.unique(lab)) / len(beats)
        lines.append(f"| for comparison: scikit-learn MiniBatchKMeans k=32 (purity {pure:.3f}) | {dt:.2f} |")
    except ImportError:
        pass
    pure = sum(t_.label_counts.get(t_.label, 0) for t_ in ts.templates) / len(beats)
    lines += ["", f"Template purity on the tiled record: {pure:.3f}; events found: {len(a.events)}."]
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=default_data_dir())
    ap.add_argument("--records", nargs="*", default=list(RECORDS))
    ap.add_argument("--timing-record", default="208")
    ap.add_argument("--no-timing", action="store_true")
    ap.add_argument("--timing-only", action="store_true")
    ap.add_argument("--model-classes", action="store_true",
                    help="also: provisional V with the bundled model's flag (scores every detected beat)")
    args = ap.parse_args()
    if args.timing_only:
        print("\n".join(hardware() + [""] + timing(args.data_dir, args.timing_record)))
        return 0

    modes = ("reference beats and classes", "detector beats, provisional classes",
             f"detector beats, provisional classes, paced records ({', '.join(PACED)}) left out")
    runs = {m: {row[0]: Tally() for row in RHYTHM_ROWS} for m in modes}
    agree = {k: Tally() for k in BEAT_KINDS}
    purity = {thr: [0, 0] for thr in (0.8, 0.9, 0.95)}
    cls_tally = {(c, sub): [0, 0, 0] for c in ("V", "S") for sub in ("all", "non-paced")}
    flagged_v = {v: [0, 0, 0] for v in ("shape only (the product's rule)", "or flagged and corr < 0.85")}
    scorer = None
    if args.model_classes:
        from ecgviewer.core.scorer import Scorer

        scorer = Scorer.load()
    t0 = time.perf_counter()
    for name in args.records:
        rec = load_record(args.data_dir / name)
        ref_eps = rhythm_episodes(rec)
        ref_beats = extract_beats(rec)
        det_beats = extract_beats(rec, detect=True)
        by_mode = {modes[0]: analyse(ref_beats, rec.duration), modes[1]: analyse(det_beats, rec.duration)}
        if name not in PACED:
            by_mode[modes[2]] = by_mode[modes[1]]
        for mode, a in by_mode.items():
            for row, kinds, aux in RHYTHM_ROWS:
                det = [(e.start, e.end) for e in a.events if e.kind in kinds]
                runs[mode][row].add(ref_eps.get(aux, []), det)
        for k in BEAT_KINDS:
            agree[k].add([(e.start, e.end) for e in by_mode[modes[0]].events if e.kind == k],
                         [(e.start, e.end) for e in by_mode[modes[1]].events if e.kind == k])
        for thr in purity:
            ts = build_templates(ref_beats, params=TemplateParams(threshold=thr))
            purity[thr][0] += sum(t.label_counts.get(t.label, 0) for t in ts.templates)
            purity[thr][1] += int((ref_beats.cls != "").sum())
        for c, v in class_match(det_beats, by_mode[modes[1]].classes, ref_beats).items():
            for sub in ("all",) if name in PACED else ("all", "non-paced"):
                cls_tally[(c, sub)] = [x + y for x, y in zip(cls_tally[(c, sub)], v)]
        if scorer is not None and name not in PACED:
            for v, cls in model_classes(det_beats, scorer).items():
                flagged_v[v] = [x + y for x, y in zip(flagged_v[v], class_match(det_beats, cls, ref_beats)["V"])]
        print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in by_mode[modes[0]].counts().items() if v), flush=True)
    elapsed = time.perf_counter() - t0

    out = [f"Records: {len(args.records)} ({args.data_dir}); {elapsed:.0f} s", *hardware(), ""]
    head = ["| events | ref. episodes found | Se | events on a ref. episode | +P | Se (duration) | +P (duration) |",
            "|---|---|---|---|---|---|---|"]
    for mode in runs:
        out += [f"### {mode}", ""] + head
        out += [runs[mode][row].row(f"{row} vs {aux}", weighted=row.startswith("af")) for row, _, aux in RHYTHM_ROWS]
        out.append("")
    out += ["### detector run against the events of the reference beats", ""] + head
    out += [agree[k].row(k, weighted=k == "af") for k in BEAT_KINDS] + [""]
    out += ["### provisional classes (detector beats matched to reference beats within 150 ms)", "",
            "| class | records | Se | +P |", "|---|---|---|---|"]
    for (c, sub), (tp, fn, fp) in cls_tally.items():
        out.append(f"| {c} | {sub} | {tp / max(tp + fn, 1):.3f} ({tp}/{tp + fn}) | {tp / max(tp + fp, 1):.3f} ({tp}/{tp + fp}) |")
    if scorer is not None:
        out += ["", f"### provisional V with the model's flag ({scorer.name}, threshold {scorer.threshold:.4g}; "
                    "non-paced records)", "", "| V rule | Se | +P |", "|---|---|---|"]
        out += [f"| {v} | {tp / max(tp + fn, 1):.3f} | {tp / max(tp + fp, 1):.3f} |" for v, (tp, fn, fp) in flagged_v.items()]
    out += ["", "### templates: share of labelled beats in a template of their own class", "",
            "| correlation threshold | purity |", "|---|---|"]
    out += [f"| {thr} | {h / max(n, 1):.4f} |" for thr, (h, n) in purity.items()] + [""]
    if not args.no_timing:
        out += timing(args.data_dir, args.timing_record)
    print("\n".join(out))
    assert {k for _, ks, _ in RHYTHM_ROWS for k in ks} <= set(KINDS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
