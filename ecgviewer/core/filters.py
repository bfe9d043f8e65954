"""Signal conditioning for the model: the band-pass filter and resampling BeatGAN used."""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np

# The band-pass is written in numpy: importing scipy.signal costs ~0.7-1 s (it pulls scipy.stats),
# and a record with reference annotations needs nothing else from it. Resampling and the QRS
# detector import scipy.signal when they run. tests/core/test_filters.py checks both functions
# against scipy's firwin and filtfilt.

#: The model's sampling rate: MIT-BIH's, at which BeatGAN cut its 320-tick beats.
MODEL_FS = 360.0
BAND_HZ = (3.0, 45.0)


@lru_cache(maxsize=8)
def bandpass_taps(fs: float, band: tuple[float, float] = BAND_HZ) -> np.ndarray:
    """FIR band-pass taps as biosppy's ECG filter (order 0.3 x fs), which BeatGAN used.

    The window method of ``scipy.signal.firwin(int(0.3 fs), band, pass_zero=False, fs=fs)``: the
    ideal band-pass impulse response times a Hamming window, scaled to unit gain at the band's centre.
    """
    n = int(0.3 * fs)
    lo, hi = (2.0 * f / fs for f in band)  # as fractions of Nyquist
    m = np.arange(n) - 0.5 * (n - 1)
    h = (hi * np.sinc(hi * m) - lo * np.sinc(lo * m)) * np.hamming(n)
    h /= np.sum(h * np.cos(np.pi * m * 0.5 * (lo + hi)))
    return h


def _fir_steady(taps: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``lfilter(taps, 1, x)`` along axis 0, started as if ``x[0]`` had always been the input
    (filtfilt's initial conditions, ``lfilter_zi`` x ``x[0]``)."""
    pad = np.repeat(x[:1], len(taps) - 1, axis=0)
    xp = np.concatenate([pad, x])
    return np.stack([np.convolve(xp[:, j], taps, mode="valid") for j in range(x.shape[1])], axis=1)


def bandpass(x: np.ndarray, fs: float) -> np.ndarray:
    """Zero-phase FIR band-pass along axis 0, as float32. NaN must be removed beforehand.

    ``scipy.signal.filtfilt(taps, 1, x, axis=0)`` with its defaults: odd extension by 3 x the taps
    at both ends, forward and backward passes from steady state, extension cut off.
    """
    taps = bandpass_taps(float(fs))
    pad = 3 * len(taps)
    if x.shape[0] <= pad:
        # filtfilt needs a signal longer than its padding; a shorter one is too short for a beat.
        return np.zeros_like(x, dtype=np.float32)
    one_d = x.ndim == 1
    v = np.asarray(x, dtype=np.float64)
    v = v[:, None] if one_d else v.reshape(v.shape[0], -1)
    ext = np.concatenate([2 * v[:1] - v[pad:0:-1], v, 2 * v[-1:] - v[-2 : -pad - 2 : -1]])
    y = _fir_steady(taps, ext)
    y = _fir_steady(taps, y[::-1])[::-1]
    y = y[pad:-pad]
    return (y[:, 0] if one_d else y.reshape(x.shape)).astype(np.float32)


def resample_to(x: np.ndarray, fs: float, target: float = MODEL_FS) -> np.ndarray:
    """Polyphase resampling along axis 0 from ``fs`` to ``target`` (no-op when equal)."""
    if abs(fs - target) < 1e-9:
        return x
    from scipy import signal as sps

    ratio = Fraction(target / fs).limit_denominator(1000)
    return sps.resample_poly(x, ratio.numerator, ratio.denominator, axis=0).astype(np.float32)
