"""Signal conditioning for the model: the band-pass filter and resampling BeatGAN used."""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np

# scipy.signal is imported inside the functions: it costs ~1 s at start-up (it pulls scipy.stats),
# and the viewer paints its window before any beat is cut.

#: The model's sampling rate: MIT-BIH's, at which BeatGAN cut its 320-tick beats.
MODEL_FS = 360.0
BAND_HZ = (3.0, 45.0)


@lru_cache(maxsize=8)
def bandpass_taps(fs: float, band: tuple[float, float] = BAND_HZ) -> np.ndarray:
    """FIR band-pass taps as biosppy's ECG filter (order 0.3 x fs), which BeatGAN used."""
    from scipy import signal as sps

    order = int(0.3 * fs)
    return sps.firwin(numtaps=order, cutoff=list(band), pass_zero=False, fs=fs).astype(np.float64)


def bandpass(x: np.ndarray, fs: float) -> np.ndarray:
    """Zero-phase FIR band-pass along axis 0, as float32. NaN must be removed beforehand."""
    taps = bandpass_taps(float(fs))
    if x.shape[0] <= 3 * len(taps):
        # filtfilt needs a signal longer than its padding; a shorter one is too short for a beat.
        return np.zeros_like(x, dtype=np.float32)
    from scipy import signal as sps

    return sps.filtfilt(taps, [1.0], x, axis=0).astype(np.float32)


def resample_to(x: np.ndarray, fs: float, target: float = MODEL_FS) -> np.ndarray:
    """Polyphase resampling along axis 0 from ``fs`` to ``target`` (no-op when equal)."""
    if abs(fs - target) < 1e-9:
        return x
    from scipy import signal as sps

    ratio = Fraction(target / fs).limit_denominator(1000)
    return sps.resample_poly(x, ratio.numerator, ratio.denominator, axis=0).astype(np.float32)
