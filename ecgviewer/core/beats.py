"""Cutting a record into model beats: the one path shared by the trainer, the CLI and the viewer.

As BeatGAN (Zhou et al., IJCAI 2019): band-pass 3-45 Hz, 360 Hz, 140 samples before and 180 after
each R peak (320 ticks), each beat and lead min-max scaled to [-1, 1]. Beat marks come from the
reference beat annotations when the record has them, otherwise from the QRS detector; the window is
centred on one fiducial point whoever placed the mark (``core.fiducial``), and a lead whose QRS points
down is turned over. The marks themselves (``sample``) are what the user sees and what review files keep.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ecgviewer.core.classes import beat_mask, classify
from ecgviewer.core.fiducial import align_peaks, lead_polarity
from ecgviewer.core.filters import MODEL_FS, bandpass, resample_to
from ecgviewer.core.leads import model_leads
from ecgviewer.core.record import Record, check_scorable

BEFORE = 140
AFTER = 180
WINDOW = BEFORE + AFTER  # 320 ticks at 360 Hz
#: How windows are centred: "peak" = core.fiducial's rule (upright lead, one fiducial point);
#: "none" = at the mark, as every model up to 2.1.0 was trained.
ALIGN_RULES = ("peak", "none")


@dataclass(frozen=True)
class BeatParams:
    """Everything that decides what a beat window holds; part of every cache key and model card."""

    n_leads: int = 1
    fs: float = MODEL_FS
    before: int = BEFORE
    after: int = AFTER
    band_hz: tuple[float, float] = (3.0, 45.0)
    align: str = "peak"

    def __post_init__(self) -> None:
        if self.align not in ALIGN_RULES:
            raise ValueError(f"align {self.align!r}: must be one of {', '.join(ALIGN_RULES)}")

    def as_dict(self) -> dict:
        return {"n_leads": self.n_leads, "fs": self.fs, "before": self.before, "after": self.after,
                "band_hz": list(self.band_hz), "scaling": "per-beat per-lead min-max to [-1, 1]",
                "align": self.align}


@dataclass
class BeatSet:
    """The beats of one record: windows plus what the clinician and the evaluation need to know.

    ``sample`` is the beat mark's index in the original record (its own sampling rate), as annotated or
    detected; ``centre`` is where the window is centred (the aligned fiducial point, same units).
    ``rr_pre`` and ``rr_post`` are in seconds between centres (NaN at the ends); ``cls`` is N/S/V/F/Q or
    '' when unknown. ``lead_note`` is '' when the model reads its trained lead, else what it reads.
    """

    record: str
    fs: float
    leads: list[str]
    x: np.ndarray  # (n, leads, 320) float32 in [-1, 1]
    sample: np.ndarray  # int64
    symbol: np.ndarray  # str, '' when detected
    cls: np.ndarray  # <U1
    rr_pre: np.ndarray  # float32 s
    rr_post: np.ndarray  # float32 s
    rr_local: np.ndarray  # float32 s: mean of the up to 8 RR intervals before the beat (rhythm context)
    source: str  # "reference" or "detector"
    skipped: dict[str, int] = field(default_factory=dict)
    centre: np.ndarray | None = None  # int64 aligned window centres; None: the marks themselves
    polarity: list[float] = field(default_factory=list)  # per model lead: -1 where it was turned over
    lead_note: str = ""

    def __post_init__(self) -> None:
        if self.centre is None:
            self.centre = self.sample

    def __len__(self) -> int:
        return int(self.sample.shape[0])

    @property
    def time(self) -> np.ndarray:
        """R-peak times in seconds from the start of the record."""
        return self.sample / self.fs

    def subset(self, keep: np.ndarray) -> BeatSet:
        return BeatSet(self.record, self.fs, self.leads, self.x[keep], self.sample[keep], self.symbol[keep],
                       self.cls[keep], self.rr_pre[keep], self.rr_post[keep], self.rr_local[keep], self.source,
                       dict(self.skipped), self.centre[keep], list(self.polarity), self.lead_note)


def reference_peaks(record: Record) -> tuple[np.ndarray, np.ndarray] | None:
    """Sample indices and symbols of the reference beat annotations, or None without any."""
    ann = record.annotations
    if ann is None:
        return None
    m = beat_mask(ann.symbol)
    if not m.any():
        return None
    return ann.sample[m], ann.symbol[m]


def _rr(sample: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    d = np.diff(sample).astype(np.float32) / np.float32(fs)
    nan = np.array([np.nan], dtype=np.float32)
    return np.concatenate([nan, d]), np.concatenate([d, nan])


def local_rr(sample: np.ndarray, fs: float, k: int = 8) -> np.ndarray:
    """Mean of the up to ``k`` RR intervals before each beat (NaN for the first beat)."""
    rr = np.diff(sample).astype(np.float64) / fs
    c = np.concatenate([[0.0], np.cumsum(rr)])
    i = np.arange(len(sample))
    lo = np.maximum(i - k, 0)
    n = i - lo
    out = np.full(len(sample), np.nan)
    ok = n > 0
    out[ok] = (c[i[ok]] - c[lo[ok]]) / n[ok]
    return out.astype(np.float32)


def _window_count(mask: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """How many True values of ``mask`` fall in each [start, stop)."""
    c = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
    return c[np.clip(stop, 0, len(mask))] - c[np.clip(start, 0, len(mask))]


def minmax_scale(w: np.ndarray) -> np.ndarray:
    """Scale each beat and lead to [-1, 1] along the last axis (flat windows become 0)."""
    lo = w.min(axis=-1, keepdims=True)
    hi = w.max(axis=-1, keepdims=True)
    span = hi - lo
    safe = np.where(span > 0, span, 1.0)
    return np.where(span > 0, (w - lo) / safe * 2.0 - 1.0, 0.0).astype(np.float32)


def extract_beats(record: Record, params: BeatParams = BeatParams(), detect: bool = False) -> BeatSet:
    """Cut ``record`` into model beats.

    ``detect=True`` ignores reference annotations and uses the QRS detector. Beats whose window
    runs off the record, crosses a gap (NaN) or lies on a flat line are skipped and counted in
    ``skipped``. Raises :class:`RecordError` when the record is too short or its model lead flat
    (:func:`~ecgviewer.core.record.check_scorable`).
    """
    leads, lead_note = model_leads(record.channel_names, params.n_leads)
    check_scorable(record, leads)
    raw = record.signal[:, leads]
    gaps = np.isnan(raw).any(axis=1)
    peaks = None if detect else reference_peaks(record)
    if peaks is None:
        from ecgviewer.core.qrs import detect_qrs  # imported late: the detector is optional here

        sample = detect_qrs(record.signal, record.fs).astype(np.int64)
        symbol = np.full(sample.shape, "", dtype="<U1")
        source = "detector"
    else:
        sample, symbol = peaks
        source = "reference"
    # Window bounds in original samples, to test for gaps and flat lines before resampling.
    lo = sample - int(np.ceil(params.before * record.fs / params.fs))
    hi = sample + int(np.ceil(params.after * record.fs / params.fs))
    inside = (lo >= 0) & (hi <= record.n_samples)
    gap = inside & (_window_count(gaps, lo, hi) > 0)
    clean = np.where(gaps[:, None], 0.0, raw).astype(np.float32)
    changes = np.concatenate([[False], np.any(np.diff(clean, axis=0) != 0, axis=1)])
    flat = inside & ~gap & (_window_count(changes, lo + 1, hi) == 0)

    x = bandpass(resample_to(clean, record.fs, params.fs), params.fs)
    mark = np.round(sample * (params.fs / record.fs)).astype(np.int64)
    pos, centre, polarity = mark, sample, [1.0] * len(leads)
    if params.align == "peak" and len(mark):
        ok = (mark >= 0) & (mark < x.shape[0])
        polarity = [lead_polarity(x[:, j], mark[ok], params.fs) for j in range(x.shape[1])]
        x = x * np.asarray(polarity, dtype=np.float32)
        pos = align_peaks(x[:, 0], np.clip(mark, 0, x.shape[0] - 1), params.fs)
        pos = np.where(ok, pos, mark)
        centre = np.round(pos * (record.fs / params.fs)).astype(np.int64)
        # the window is tested for the record's ends, gaps and flat lines where it now lies
        lo = centre - int(np.ceil(params.before * record.fs / params.fs))
        hi = centre + int(np.ceil(params.after * record.fs / params.fs))
        inside = (lo >= 0) & (hi <= record.n_samples)
        gap = inside & (_window_count(gaps, lo, hi) > 0)
        flat = inside & ~gap & (_window_count(changes, lo + 1, hi) == 0)
    rr_pre, rr_post = _rr(centre, record.fs)
    rr_loc = local_rr(centre, record.fs)
    inside &= (pos - params.before >= 0) & (pos + params.after <= x.shape[0])
    keep = inside & ~gap & ~flat
    skipped = {"edge": int((~inside).sum()), "gap": int(gap.sum()), "flat": int(flat.sum())}
    rr_pre, rr_post = rr_pre[keep], rr_post[keep]
    kept = centre[keep]
    if gaps.any() and len(kept) > 1:
        # across a signal gap (lead off, a dropout) the interval is unknown, not a pause: the beats
        # in the gap were never seen, and the kept beats on either side are not consecutive
        a, b = np.minimum(kept[:-1], kept[1:]), np.maximum(kept[:-1], kept[1:])
        across = _window_count(gaps, np.clip(a, 0, None), np.clip(b, 0, None)) > 0
        rr_pre[1:][across] = np.nan
        rr_post[:-1][across] = np.nan

    idx = pos[keep, None] + np.arange(-params.before, params.after)
    windows = minmax_scale(np.transpose(x[idx], (0, 2, 1))) if idx.size else np.zeros((0, len(leads), params.before + params.after), np.float32)
    return BeatSet(
        record=record.name,
        fs=record.fs,
        leads=[record.channel_names[i] for i in leads],
        x=windows,
        sample=sample[keep],
        symbol=symbol[keep],
        cls=classify(symbol[keep]) if source == "reference" else np.full(int(keep.sum()), "", dtype="<U1"),
        rr_pre=rr_pre,
        rr_post=rr_post,
        rr_local=rr_loc[keep],
        source=source,
        skipped={k: v for k, v in skipped.items() if v},
        centre=centre[keep],
        polarity=polarity,
        lead_note=lead_note,
    )
