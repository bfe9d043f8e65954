"""How well the flags agree with the reference annotations, recomputed as the threshold moves.

Beats are matched to reference beats once, as in ANSI/AAMI EC57 (a detected beat matches a
reference beat within 150 ms, one to one). After that, each threshold costs a few binary searches
in pre-sorted scores, so a 24 h Holter record (~100k beats) updates while the slider is dragged.

Positives are reference beats of BeatGAN's anomaly classes S, V, F, Q (core/classes.py); negatives
are reference N beats. Reference beats with no class (B, r, n, ?) count for neither. A reference
anomaly that no scored beat matches counts as missed (it could not be flagged); a flag on a scored
beat that matches no reference beat counts against positive predictivity. docs/review.md has the
definitions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgviewer.core.classes import ANOMALY_CLASSES, beat_mask, classify

#: EC57's beat-matching window.
MATCH_WINDOW_S = 0.150


def match_beats(ref: np.ndarray, det: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one match of sorted ``det`` to sorted ``ref`` samples within ``window`` samples.

    A pair matches when each is the other's nearest neighbour and they lie within the window
    (vectorised; equals EC57's greedy matching unless beats are closer than the window, which
    a 150 ms window rules out for real beats). Returns, for each reference beat, the index of its
    detected beat or -1, and for each detected beat, the index of its reference beat or -1.
    """
    ref = np.asarray(ref, dtype=np.int64)
    det = np.asarray(det, dtype=np.int64)
    ref_to_det = np.full(len(ref), -1, dtype=np.int64)
    det_to_ref = np.full(len(det), -1, dtype=np.int64)
    if not len(ref) or not len(det):
        return ref_to_det, det_to_ref
    near_ref = _nearest(ref, det)  # for each det, nearest ref
    near_det = _nearest(det, ref)  # for each ref, nearest det
    d = np.arange(len(det))
    mutual = near_det[near_ref] == d
    close = np.abs(ref[near_ref] - det) <= window
    ok = mutual & close
    det_to_ref[ok] = near_ref[ok]
    ref_to_det[near_ref[ok]] = d[ok]
    return ref_to_det, det_to_ref


def _nearest(sorted_values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Index of the nearest element of ``sorted_values`` for each query (ties go to the earlier)."""
    pos = np.searchsorted(sorted_values, queries)
    left = np.clip(pos - 1, 0, len(sorted_values) - 1)
    right = np.clip(pos, 0, len(sorted_values) - 1)
    take_right = np.abs(sorted_values[right] - queries) < np.abs(sorted_values[left] - queries)
    return np.where(take_right, right, left)


def reference_labels(beat_sample: np.ndarray, ref_sample: np.ndarray, ref_symbol: np.ndarray, fs: float,
                     window_s: float = MATCH_WINDOW_S) -> np.ndarray:
    """Reference symbol of each beat ('' where no reference beat lies within the window)."""
    ref_sample = np.asarray(ref_sample, dtype=np.int64)
    ref_symbol = np.asarray(ref_symbol).astype(str)
    m = beat_mask(ref_symbol)
    ref_sample, ref_symbol = ref_sample[m], ref_symbol[m]
    order_r = np.argsort(ref_sample, kind="stable")
    beat_sample = np.asarray(beat_sample, dtype=np.int64)
    order_b = np.argsort(beat_sample, kind="stable")
    _, b2r = match_beats(ref_sample[order_r], beat_sample[order_b], int(round(window_s * fs)))
    out = np.full(len(beat_sample), "", dtype=object)
    hit = b2r >= 0
    out[order_b[hit]] = ref_symbol[order_r][b2r[hit]]
    return out.astype(str)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass
class _Sorted:
    """Scores of one group of beats, sorted, so 'how many are >= t' is one binary search."""

    scores: np.ndarray

    @classmethod
    def of(cls, scores: np.ndarray) -> _Sorted:
        return cls(np.sort(np.asarray(scores)))  # own dtype: float32 scores compare as `score >= t` does

    def at_least(self, t: float) -> int:
        t = self.scores.dtype.type(t) if len(self.scores) else t  # compare in the scores' precision
        return int(len(self.scores) - np.searchsorted(self.scores, t, side="left"))

    def __len__(self) -> int:
        return len(self.scores)


class FlagMetrics:
    """Sensitivity, specificity and positive predictivity of the flags (score >= threshold).

    ``reference`` is (samples, symbols) of the reference annotations (non-beat annotations are
    ignored), ``beat_sample`` the scored beats' R-peak samples, ``fs`` the record's rate. The
    matching is done here, once; :meth:`at` only counts.
    """

    def __init__(self, ref_sample: np.ndarray, ref_symbol: np.ndarray, beat_sample: np.ndarray, fs: float,
                 scores: np.ndarray | None = None, window_s: float = MATCH_WINDOW_S) -> None:
        ref_sample = np.asarray(ref_sample, dtype=np.int64)
        ref_symbol = np.asarray(ref_symbol).astype(str)
        m = beat_mask(ref_symbol)
        order_r = np.argsort(ref_sample[m], kind="stable")
        self.ref_sample = ref_sample[m][order_r]
        self.ref_symbol = ref_symbol[m][order_r]
        self.ref_cls = classify(self.ref_symbol)
        self.beat_sample = np.asarray(beat_sample, dtype=np.int64)
        self._order_b = np.argsort(self.beat_sample, kind="stable")
        self.fs = float(fs)
        self.window = int(round(window_s * fs))
        r2d, d2r = match_beats(self.ref_sample, self.beat_sample[self._order_b], self.window)
        self.ref_to_beat = np.where(r2d >= 0, self._order_b[np.maximum(r2d, 0)], -1)  # into beat_sample
        self.beat_to_ref = np.full(len(self.beat_sample), -1, dtype=np.int64)
        self.beat_to_ref[self._order_b] = d2r
        self._scores: np.ndarray | None = None
        self._groups: dict[str, _Sorted] = {}
        if scores is not None:
            self.set_scores(scores)

    def set_scores(self, scores: np.ndarray) -> None:
        """Sort the scores per group (once per scoring run, O(n log n))."""
        self._groups = self._sort_groups(scores)
        self._scores = scores

    def _sort_groups(self, scores: np.ndarray) -> dict[str, _Sorted]:
        scores = np.asarray(scores)
        if not np.issubdtype(scores.dtype, np.floating):
            scores = scores.astype(np.float64)
        if scores.shape != self.beat_sample.shape:
            raise ValueError(f"{len(scores)} scores for {len(self.beat_sample)} beats")
        matched = self.ref_to_beat >= 0
        # A reference beat's score is its matched beat's; unmatched ones can never be flagged.
        ref_score = np.full(len(self.ref_sample), -np.inf, dtype=scores.dtype)
        ref_score[matched] = scores[self.ref_to_beat[matched]]
        groups = {c: _Sorted.of(ref_score[self.ref_cls == c]) for c in ("N",) + ANOMALY_CLASSES}
        groups["all"] = _Sorted.of(scores)
        groups["unmatched"] = _Sorted.of(scores[self.beat_to_ref < 0])
        return groups

    def for_flags(self, flagged: np.ndarray) -> dict:
        """Metrics for an explicit flag mask over the beats (e.g. flags edited by hand)."""
        groups = self._sort_groups(np.asarray(flagged, dtype=bool).astype(np.float64))
        out = self._metrics(groups, 0.5)
        out["threshold"] = None
        return out

    def at(self, threshold: float, scores: np.ndarray | None = None) -> dict:
        """Counts and ratios at ``threshold`` (ratios are None where their denominator is 0)."""
        if scores is not None and scores is not self._scores:
            self.set_scores(scores)
        if not self._groups:
            raise ValueError("no scores: pass scores to at() or set_scores() first")
        return self._metrics(self._groups, float(threshold))

    def _metrics(self, g: dict[str, _Sorted], t: float) -> dict:
        per_class = {}
        tp = fn = 0
        for c in ANOMALY_CLASSES:
            n = len(g[c])
            hit = g[c].at_least(t)
            tp += hit
            fn += n - hit
            per_class[c] = {"reference": n, "flagged": hit, "missed": n - hit, "sensitivity": _ratio(hit, n)}
        n_normal = len(g["N"])
        fp = g["N"].at_least(t)
        tn = n_normal - fp
        flagged = g["all"].at_least(t)
        flagged_unmatched = g["unmatched"].at_least(t)
        # PPV: flags on reference anomalies over flags on beats that are anomalies, normals, or no beat.
        ppv_den = tp + fp + flagged_unmatched
        return {
            "threshold": t,
            "beats": len(self.beat_sample),
            "flagged": flagged,
            "reference_beats": len(self.ref_sample),
            "matched": int((self.ref_to_beat >= 0).sum()),
            "unmatched_beats": len(g["unmatched"]),
            "flagged_unmatched": flagged_unmatched,
            "tp": tp, "fn": fn, "fp": fp, "tn": tn,
            "sensitivity": _ratio(tp, tp + fn),
            "specificity": _ratio(tn, tn + fp),
            "ppv": _ratio(tp, ppv_den),
            "per_class": per_class,
        }

    @classmethod
    def for_record(cls, record, beat_sample: np.ndarray, scores: np.ndarray | None = None) -> FlagMetrics | None:
        """From a loaded Record's reference annotations; None when the record has none."""
        ann = record.annotations
        if ann is None or not len(ann):
            return None
        return cls(ann.sample, ann.symbol, beat_sample, record.fs, scores)


def flag_summary(beats, scores: np.ndarray, threshold: float,
                 reference: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Counts of beats and flags and, with a reference, the flags' sensitivity and specificity.

    The one summary behind ``ecgviewer score`` and the viewer's metrics panel: ``reference`` is
    (samples, symbols) of the reference annotations (the record's); without it, reference beats
    carry their own symbols (beats from the detector have none, so no sensitivity). Matching and
    counting are :class:`FlagMetrics`'s, so a reference beat that could not be scored counts as missed.
    """
    scores = np.asarray(scores)
    out: dict = {"beats": len(beats), "flagged": int((scores >= threshold).sum()), "skipped": dict(beats.skipped)}
    if reference is None and len(beats.symbol) and (np.asarray(beats.symbol) != "").any():
        reference = (beats.sample, beats.symbol)
    if reference is None or not len(reference[0]):
        return out
    m = FlagMetrics(reference[0], reference[1], beats.sample, beats.fs, scores).at(threshold)
    if m["tp"] + m["fn"] + m["tn"] + m["fp"] == 0:
        return out
    out["reference_anomalies"] = m["tp"] + m["fn"]
    out["reference_normals"] = m["tn"] + m["fp"]
    out["sensitivity"] = m["sensitivity"]
    out["specificity"] = m["specificity"]
    return out
