"""What the heat map shows: where a beat differs, as a cardiologist would point at it.

The score is the mean squared reconstruction error and stays so; this module only transforms the
per-tick error for display. The raw squared error of a PVC concentrates on a 30-60 ms sliver of
the R downstroke (the steepest slope, where a small timing offset of the reconstruction costs most),
not on the wide QRS and the discordant T wave. The displayed map is therefore each beat's
difference from the record's own dominant beat (the median of its lower-scoring half: the
patient's usual morphology), squared and smoothed over a QRS width. Viewer, beat detail and
report all call :func:`display_map`; benchmarks/heatmap_focus.py measures both maps.
"""

from __future__ import annotations

import numpy as np

#: Moving-average width of the displayed map (about one narrow QRS).
SMOOTH_MS = 80.0


def dominant_template(x: np.ndarray, score: np.ndarray, max_beats: int = 5000) -> np.ndarray:
    """The record's usual beat (leads, ticks): per-tick median of the beats scoring at or below the median.

    At most ``max_beats`` beats (evenly spaced) enter the median, so a 24-hour record costs the
    same as a 30-minute one.
    """
    x = np.asarray(x, dtype=np.float32)
    if not len(x):
        return np.zeros(x.shape[1:], np.float32)
    score = np.asarray(score, dtype=np.float64)
    low = np.flatnonzero(score <= np.median(score))
    low = low[:: max(len(low) // max_beats, 1)]
    return np.median(x[low], axis=0).astype(np.float32)


def smooth(values: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average along the last axis (``width`` ticks; edges averaged over what exists)."""
    values = np.asarray(values, dtype=np.float32)
    if width <= 1:
        return values
    n, h = values.shape[-1], width // 2
    padded = np.pad(values, [(0, 0)] * (values.ndim - 1) + [(h + 1, width - h)])
    c = np.cumsum(padded, axis=-1, dtype=np.float32)  # slices, not fancy indexing: ~10x faster
    num = c[..., width:width + n] - c[..., :n]
    i = np.arange(n)
    den = np.minimum(i + width - h, n) - np.maximum(i - h, 0)
    return (num / den).astype(np.float32)


def display_map(x: np.ndarray, template: np.ndarray, fs: float = 360.0,
                smooth_ms: float = SMOOTH_MS) -> np.ndarray:
    """The heat map of beats ``x`` (n, leads, ticks): squared difference from ``template``, smoothed.

    ``fs`` is the beat windows' rate (the model's, 360 Hz), which sets the smoothing width.
    """
    diff = (np.asarray(x, dtype=np.float32) - np.asarray(template, dtype=np.float32)[None]) ** 2
    return smooth(diff, int(round(smooth_ms / 1000.0 * fs)))


def map_peaks(x: np.ndarray, template: np.ndarray, fs: float = 360.0, chunk: int = 4096) -> np.ndarray:
    """Each beat's highest display-map value per lead (n, leads), computed in chunks (a day: ~1 s)."""
    x = np.asarray(x)
    out = np.zeros(x.shape[:2], np.float32)
    for i in range(0, len(x), chunk):
        out[i:i + chunk] = display_map(x[i:i + chunk], template, fs).max(axis=-1)
    return out


def display_scale(x: np.ndarray, template: np.ndarray, fs: float = 360.0, n_sample: int = 2000) -> float:
    """The value shown at full colour: the 99.5th percentile over (up to) ``n_sample`` beats' maps."""
    x = np.asarray(x)
    if not len(x):
        return 1.0
    sample = x[:: max(len(x) // n_sample, 1)]
    return float(np.percentile(display_map(sample, template, fs), 99.5)) or 1.0
