"""Rhythm events from beats and RR intervals: what a Holter report lists before any single beat.

Input is the beats' R-peak times, their RR intervals and one class letter per beat (N/S/V/F/Q, ''
unknown): the reference labels, the reviewer's relabelled classes, or the provisional classes of
:mod:`ecgviewer.core.holter` for a record without annotations. Every rule is a plain count or rate
on those, with its criterion in :class:`EventCriteria`, so a reviewer can read why an event is
there. The defaults follow common Holter practice (docs/events.md: pause > 2 s, brady < 50 and
tachy > 120 bpm for 10 s, VT >= 4 V at >= 100 bpm, bigeminy/trigeminy after 3 cycles, SVT >= 3 S at
>= 100 bpm, AF by RR irregularity of non-ectopic beats over 64 intervals for >= 30 s). AF is detected from RR alone: no
P-wave criterion is applied (the ``af_p_wave`` hook is reserved and off), so frequent premature
beats in sinus rhythm can look like AF; docs/events.md gives the measured cost.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

#: Event kinds, in the order reports list them. ``ivr``: >= vt_min_beats V beats slower than
#: ``vt_rate_bpm`` (an idioventricular run), kept apart from VT as a Holter suite keeps it.
KINDS = ("pause", "brady", "tachy", "couplet", "triplet", "vt", "ivr", "bigeminy", "trigeminy", "svt", "af")

KIND_TITLES = {"pause": "Pause", "brady": "Bradycardia", "tachy": "Tachycardia", "couplet": "V couplet",
               "triplet": "V triplet", "vt": "Ventricular tachycardia", "ivr": "Idioventricular run",
               "bigeminy": "Ventricular bigeminy", "trigeminy": "Ventricular trigeminy",
               "svt": "Supraventricular run (SVT)", "af": "Irregular rhythm (AF-like)"}
#: Short names for tables.
KIND_SHORT = {"pause": "Pause", "brady": "Brady", "tachy": "Tachy", "couplet": "Couplet", "triplet": "Triplet",
              "vt": "VT", "ivr": "IVR", "bigeminy": "Bigeminy", "trigeminy": "Trigeminy", "svt": "SVT",
              "af": "AF-like"}


@dataclass(frozen=True)
class EventCriteria:
    """The rules' settings. Rates in beats per minute, durations in seconds."""

    pause_s: float = 2.0  # an RR interval longer than this is a pause
    brady_bpm: float = 50.0  # heart rate below this ...
    tachy_bpm: float = 120.0  # ... or above this ...
    rate_min_s: float = 10.0  # ... for at least this long is a brady/tachy episode
    rate_beats: int = 8  # heart rate for brady/tachy: over this many RR intervals (pauses left out)
    vt_min_beats: int = 4  # consecutive V beats that make a run (2: couplet, 3: triplet)
    vt_rate_bpm: float = 100.0  # a run at least this fast is VT, slower is an idioventricular run
    svt_min_beats: int = 3  # consecutive S beats ...
    svt_rate_bpm: float = 100.0  # ... at least this fast are an SVT run
    pattern_cycles: int = 3  # NV (bigeminy) or NNV (trigeminy) repeated at least this often
    af_window: int = 64  # RR intervals per irregularity window
    af_nrmssd: float = 0.1  # RMSSD / mean RR above this marks the window irregular (Dash et al. 2009)
    af_min_s: float = 30.0  # shortest AF-like episode
    af_p_wave: bool = False  # reserved: a P-wave-free criterion; not implemented, must stay False

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Event:
    """One episode. ``first``/``last``: indices of its first and last beat in the beat arrays;
    ``start``/``end``: their times in seconds from the start of the record."""

    kind: str
    first: int
    last: int
    start: float
    end: float
    start_sample: int
    rate_bpm: float | None = None
    extra: dict = field(default_factory=dict)
    n_beats: int | None = None  # set when beats between first and last were left out (artefacts)

    @property
    def beats(self) -> int:
        return self.last - self.first + 1 if self.n_beats is None else self.n_beats

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def key(self) -> str:
        """Identity used by the event review: kind and first beat's sample (stable across runs)."""
        return f"{self.kind}@{self.start_sample}"

    def as_dict(self) -> dict:
        d = {"kind": self.kind, "start": round(self.start, 3), "end": round(self.end, 3),
             "duration": round(self.duration, 3), "beats": self.beats, "start_sample": self.start_sample,
             "rate_bpm": None if self.rate_bpm is None else round(self.rate_bpm, 1), "key": self.key}
        d.update(self.extra)
        return d


def find_events(sample: np.ndarray, fs: float, classes: np.ndarray, criteria: EventCriteria = EventCriteria(),
                rr_pre: np.ndarray | None = None) -> list[Event]:
    """All events of a record's beats, sorted by start time.

    ``sample``: R peaks (sorted, record samples); ``classes``: one letter per beat; ``rr_pre``: the
    RR interval before each beat in seconds (NaN unknown), default from ``sample``. Pass the
    BeatSet's ``rr_pre``: it comes from all R peaks, so a beat left out of the windows (a gap, the
    record's edge) does not make a false pause.
    """
    if criteria.af_p_wave:
        raise ValueError("the P-wave criterion for AF is not implemented")
    sample = np.asarray(sample, dtype=np.int64)
    t = sample / float(fs)
    cls = np.asarray(classes).astype("<U1")
    if len(sample) != len(cls):
        raise ValueError(f"{len(sample)} beats but {len(cls)} classes")
    if rr_pre is None:
        rr_pre = np.concatenate([[np.nan], np.diff(t)]) if len(t) else np.zeros(0)
    rr = np.asarray(rr_pre, dtype=np.float64)
    ev = Events(t, sample, cls, rr, criteria)
    out = ev.pauses() + ev.rate_episodes() + ev.runs("V") + ev.runs("S") + ev.patterns() + ev.irregular()
    out.sort(key=lambda e: (e.start, KINDS.index(e.kind)))
    return out


def count_by_kind(events: list[Event]) -> dict[str, int]:
    """Number of events per kind (every kind listed, zeros included), in report order."""
    return {k: sum(e.kind == k for e in events) for k in KINDS}


def runs_of(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of each run of True values."""
    if not len(mask):
        return []
    m = np.concatenate([[False], np.asarray(mask, bool), [False]]).astype(np.int8)
    d = np.diff(m)
    starts = np.nonzero(d == 1)[0]
    ends = np.nonzero(d == -1)[0] - 1
    return list(zip(starts.tolist(), ends.tolist()))


class Events:
    """The rules, one method per family, over one record's arrays."""

    def __init__(self, t: np.ndarray, sample: np.ndarray, cls: np.ndarray, rr: np.ndarray,
                 criteria: EventCriteria) -> None:
        self.t, self.sample, self.cls, self.rr, self.c = t, sample, cls, rr, criteria
        # a beat whose RR before is unknown (a signal gap, beats left out) does not follow the one
        # before it: no run or pattern goes across it
        self.starts = np.concatenate([[True], ~np.isfinite(rr[1:])]) if len(rr) else np.zeros(0, bool)

    def _split(self, first: int, last: int) -> list[tuple[int, int]]:
        """(first, last) cut where a beat does not follow the one before it."""
        cuts = [first] + [int(i) for i in np.nonzero(self.starts[first + 1:last + 1])[0] + first + 1]
        return [(a, b - 1) for a, b in zip(cuts, cuts[1:] + [last + 1])]

    def _event(self, kind: str, first: int, last: int, rate: float | None = None, **extra) -> Event:
        return Event(kind, int(first), int(last), float(self.t[first]), float(self.t[last]),
                     int(self.sample[first]), rate, extra)

    def _rate(self, first: int, last: int) -> float | None:
        """Mean heart rate over beats first..last (from their RR intervals), None for one beat."""
        if last <= first:
            return None
        rr = self.rr[first + 1:last + 1]
        rr = rr[np.isfinite(rr)]
        return float(60.0 / rr.mean()) if len(rr) and rr.mean() > 0 else None

    def pauses(self) -> list[Event]:
        long = np.nonzero(np.isfinite(self.rr) & (self.rr > self.c.pause_s))[0]
        return [self._event("pause", i - 1, i, None, rr_s=round(float(self.rr[i]), 3)) for i in long if i >= 1]

    def heart_rate(self) -> np.ndarray:
        """Heart rate at each beat: 60 / mean of the last ``rate_beats`` RR intervals, pauses left out."""
        rr = np.where(np.isfinite(self.rr) & (self.rr <= self.c.pause_s), self.rr, np.nan)
        return rolling_rate(rr, self.c.rate_beats)

    def rate_episodes(self) -> list[Event]:
        hr = self.heart_rate()
        out = []
        for kind, mask in (("brady", hr < self.c.brady_bpm), ("tachy", hr > self.c.tachy_bpm)):
            # the episode starts where its RR window does; runs whose windows overlap are one episode
            spans = merge_spans([(max(first - self.c.rate_beats, 0), last) for first, last in runs_of(mask)])
            for first, last in spans:
                if self.t[last] - self.t[first] >= self.c.rate_min_s:
                    seg = hr[first:last + 1]
                    extreme = np.nanmin(seg) if kind == "brady" else np.nanmax(seg)
                    out.append(self._event(kind, first, last, self._rate(first, last),
                                           extreme_bpm=round(float(extreme), 1)))
        return out

    def runs(self, letter: str) -> list[Event]:
        """Consecutive beats of one class: V couplets, triplets, VT/IVR runs; S runs fast enough (SVT)."""
        out = []
        for first, last in (p for run in runs_of(self.cls == letter) for p in self._split(*run)):
            n = last - first + 1
            rate = self._rate(first, last)
            if letter == "V":
                if n >= max(self.c.vt_min_beats, 3):  # vt_min_beats=3: MIT-BIH's convention
                    fast = rate is not None and rate >= self.c.vt_rate_bpm
                    out.append(self._event("vt" if fast else "ivr", first, last, rate))
                elif n in (2, 3):
                    out.append(self._event("couplet" if n == 2 else "triplet", first, last, rate))
            elif n >= self.c.svt_min_beats and rate is not None and rate >= self.c.svt_rate_bpm:
                out.append(self._event("svt", first, last, rate))
        return out

    def patterns(self) -> list[Event]:
        """Bigeminy (N V repeated) and trigeminy (N N V repeated), at least ``pattern_cycles`` cycles."""
        text = "".join("N" if c == "N" else ("V" if c == "V" else "x") for c in self.cls)
        out = []
        segments = self._split(0, len(text) - 1) if text else []
        for kind, unit in (("bigeminy", "NV"), ("trigeminy", "NNV")):
            for a, b in segments:
                for m in re.finditer(f"(?:{unit}){{{self.c.pattern_cycles},}}", text[a:b + 1]):
                    first, last = a + m.start(), a + m.end() - 1
                    out.append(self._event(kind, first, last, self._rate(first, last),
                                           cycles=(last - first + 1) // len(unit)))
        return out

    def _usable(self) -> np.ndarray:
        """RR intervals the AF measures read: known, not a pause, between two non-ectopic beats."""
        v = np.isin(self.cls, ("S", "V", "F"))
        usable = np.isfinite(self.rr) & (self.rr <= self.c.pause_s)
        usable[1:] &= ~v[1:] & ~v[:-1]
        return usable

    def irregularity(self) -> np.ndarray:
        """Per beat: RMSSD / mean RR over the ``af_window`` usable RR intervals around it (NaN unknown).

        Usable: an interval between two beats that are not ectopic (S, V, F) and not a pause: ectopic
        beats and pauses make sinus rhythm irregular without AF (docs/events.md).
        """
        n = len(self.rr)
        usable = self._usable()
        if n:
            usable[0] = False
        idx = np.nonzero(usable)[0]
        out = np.full(n, np.nan)
        w = self.c.af_window
        if len(idx) < w + 1:
            return out
        rr = self.rr[idx]
        # successive differences only of intervals that follow each other; the largest 1/16 of each
        # window dropped (as Dash et al. drop outliers), so a single rate step is not irregularity
        d = np.where(np.diff(idx) == 1, np.abs(np.diff(rr)), np.nan)
        win_d = np.lib.stride_tricks.sliding_window_view(d, w - 1)
        win_rr = np.lib.stride_tricks.sliding_window_view(rr, w).mean(axis=1)
        trim = max(w // 16, 1)
        srt = np.sort(win_d, axis=1)  # NaN last
        n_ok = np.sum(np.isfinite(win_d), axis=1)
        keep = np.arange(w - 1)[None, :] < (n_ok - trim)[:, None]
        n_keep = keep.sum(axis=1)
        ms = np.where(keep, np.nan_to_num(srt) ** 2, 0.0).sum(axis=1) / np.maximum(n_keep, 1)
        val = np.where(n_keep >= w // 2, np.sqrt(ms) / win_rr, np.nan)
        # window of intervals idx[lo .. lo + w) centred on each usable interval
        lo = np.clip(np.arange(len(idx)) - w // 2, 0, len(idx) - w)
        out[idx] = val[lo]
        # beats between usable intervals take the value of the usable interval before them
        filled = np.maximum.accumulate(np.where(usable, np.arange(n), -1))
        has = filled >= 0
        out[has] = out[filled[has]]
        return out

    def irregular(self) -> list[Event]:
        """AF-like episodes: runs of irregular windows, a dip under the criterion of at most
        :data:`AF_BRIDGE` beats bridged, each run trimmed to where its own intervals are irregular."""
        irr = self.irregularity()
        short = self.local_irregularity()
        out = []
        for first, last in merge_spans(runs_of(irr > self.c.af_nrmssd), gap=AF_BRIDGE):
            # a 64-interval window is irregular as soon as part of it is: the run reaches up to half
            # a window into the steady rhythm on each side, so it is cut back to the beats whose
            # short window (AF_EDGE intervals) is irregular too
            inner = np.nonzero(short[first:last + 1] > self.c.af_nrmssd)[0]
            if not len(inner):
                continue
            first, last = first + int(inner[0]), first + int(inner[-1])
            first = max(first - 1, 0)  # the first irregular interval ends at ``first``
            if self.t[last] - self.t[first] >= self.c.af_min_s:
                seg = irr[first:last + 1]
                out.append(self._event("af", first, last, self._rate(first, last),
                                       irregularity=round(float(np.nanmean(seg)), 3)))
        return out

    def local_irregularity(self) -> np.ndarray:
        """Per beat: RMS of the successive RR differences over the :data:`AF_EDGE` intervals around
        it, over their mean (the same measure as :meth:`irregularity` on a short window, no trimming,
        ectopic beats and pauses left out alike); NaN unknown. It finds where an episode ends."""
        n = len(self.rr)
        if n == 0:
            return np.zeros(0)
        ok = self._usable()
        d2 = np.full(n, np.nan)
        pair = ok[1:] & ok[:-1]
        d2[1:] = np.where(pair, (self.rr[1:] - self.rr[:-1]) ** 2, np.nan)
        h = AF_EDGE // 2
        pad = lambda a: np.concatenate([np.full(h, np.nan), a, np.full(h, np.nan)])  # noqa: E731
        win = lambda a: np.lib.stride_tricks.sliding_window_view(pad(a), 2 * h + 1)  # noqa: E731
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows: unknown
            rms = np.sqrt(np.nanmean(win(d2), axis=1))
            mean = np.nanmean(win(np.where(ok, self.rr, np.nan)), axis=1)
        return rms / mean


#: Beats under the AF criterion inside an irregular run that still leave it one episode.
AF_BRIDGE = 8
#: Intervals of the short window that finds where an AF-like episode starts and ends.
AF_EDGE = 8


def merge_spans(spans: list[tuple[int, int]], gap: int = 0) -> list[tuple[int, int]]:
    """Sorted (first, last) spans with every pair that overlaps, touches or lies at most ``gap``
    indices apart joined."""
    out: list[tuple[int, int]] = []
    for first, last in sorted(spans):
        if out and first <= out[-1][1] + 1 + gap:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


def rolling_rate(rr: np.ndarray, k: int, min_n: int = 1) -> np.ndarray:
    """60 / mean of the last ``k`` finite values of ``rr`` at each index (NaN ignored; NaN where
    fewer than ``min_n`` of them are finite)."""
    finite = np.isfinite(rr)
    c_v = np.concatenate([[0.0], np.cumsum(np.where(finite, rr, 0.0))])
    c_n = np.concatenate([[0], np.cumsum(finite)])
    i = np.arange(1, len(rr) + 1)
    lo = np.maximum(i - k, 0)
    n = c_n[i] - c_n[lo]
    s = c_v[i] - c_v[lo]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n >= max(min_n, 1), 60.0 * n / s, np.nan)
