"""Where a beat the reviewer adds goes: the R peak near the clicked point, not the click itself."""

from __future__ import annotations

import numpy as np

#: How far from the click the R peak is looked for (a QRS is ~100 ms wide; a click is rarely off by more).
SNAP_WINDOW_S = 0.08


def snap_to_peak(signal: np.ndarray | None, sample: int, fs: float, window_s: float = SNAP_WINDOW_S) -> int:
    """The sample of the largest deflection from the local median within ``window_s`` of ``sample``.

    Works for upright and inverted QRS complexes alike; without a signal (or all NaN) returns
    ``sample`` unchanged.
    """
    sample = int(sample)
    if signal is None or not len(signal):
        return sample
    r = max(int(round(window_s * fs)), 1)
    i0, i1 = max(sample - r, 0), min(sample + r + 1, len(signal))
    seg = np.asarray(signal[i0:i1], dtype=np.float64)
    if not len(seg) or not np.isfinite(seg).any():
        return sample
    dev = np.abs(seg - np.nanmedian(seg))
    return int(i0 + np.nanargmax(dev))
