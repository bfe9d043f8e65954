"""QRS (R-peak) detection for one or more ECG leads, in numpy/scipy only.

Pan-Tompkins in spirit, vectorised and non-causal (a whole record is at hand): each lead is
band-passed, turned into a slope envelope, normalised by its own local beat level and the leads
are combined so that one noisy lead does not drown the other. Candidate peaks above an adaptive
threshold are accepted with a refractory period and a T-wave test; long gaps are searched back
at a lower threshold. The fiducial point is then moved to the R peak, where MIT-BIH annotates.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps
from scipy.ndimage import maximum_filter1d, uniform_filter1d

#: Bump whenever detections can change: it keys dataset caches.
DETECTOR_VERSION = "qrs-2"

_BAND_HZ = (5.0, 15.0)  # QRS energy band (Pan-Tompkins); P/T waves and baseline lie below it
_INTEGRATION_S = 0.10  # envelope window, about one QRS width
_REFRACTORY_S = 0.20  # no two beats closer than this
_T_WAVE_S = 0.36  # a peak this soon after a beat may be its T wave
_BLOCK_S = 2.0  # local level: the maximum in blocks this long ...
_LEVEL_BLOCKS = 5  # ... and the median of this many blocks around
_THRESHOLD = 0.42  # fraction of the local level a beat must reach
_QUALITY_S = 5.0  # window of the lead-quality measure
_QUALITY_POWER = 1.0  # lead weight: 1 / (local noise floor) ** this
_COMBINE_POWER = 2.0  # leads are combined by a weighted power mean: a beat clear in one lead counts
_SEARCHBACK_RR = 1.66  # a gap this many mean RRs long is searched again ...
_SEARCHBACK_THRESHOLD = 0.5  # ... at this fraction of the threshold
_T_WAVE_RR = 0.5  # ... or within this fraction of the running RR
_STEEP_MIN = 0.3  # any beat is at least this steep next to recent beats
_T_WAVE_RATIO = 0.6  # a T wave is below this fraction of its beat
_SHARP_S = 0.08  # window of the sharpness measure
_RR_GROWTH = 1.5  # most an RR may exceed the running RR when updating it
#: A lead whose band-passed signal never reaches this (mV) has no QRS in it: a real QRS is >= 0.1 mV.
_MIN_LEAD_MV = 0.02
_EMPTY = np.zeros(0, dtype=np.int64)


def detect_qrs(signal: np.ndarray, fs: float) -> np.ndarray:
    """R-peak sample indices (sorted int64) of ``signal``, (samples, channels) in mV at ``fs`` Hz.

    NaN samples count as no signal: no beat is reported inside a NaN stretch.
    """
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    fs = float(fs)
    n = x.shape[0]
    if n < int(fs) or fs <= 2 * _BAND_HZ[0]:
        return _EMPTY
    leads = [_lead(x[:, c], fs) for c in range(x.shape[1])]
    leads = [lead for lead in leads if lead is not None]
    if not leads:
        return _EMPTY
    envelope = _combine([lead[1] for lead in leads], fs)
    beats = _pick_beats(envelope, np.stack([lead[2] for lead in leads]), fs)
    if beats.size == 0:
        return _EMPTY
    return _to_r_peak(beats, [lead[0] for lead in leads], fs)


def _lead(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Band-passed lead, its normalised slope envelope and its sharpness; None without signal."""
    valid = np.isfinite(x)
    if valid.sum() < fs:
        return None
    x = _fill_gaps(x, valid)
    band = _bandpass(x, fs)
    if not np.max(np.abs(band)) >= _MIN_LEAD_MV:
        return None  # a flat or disconnected lead: what the filters leave of it is rounding, not QRS
    slope = np.gradient(band) * fs
    env = np.sqrt(np.maximum(uniform_filter1d(slope * slope, max(1, int(round(_INTEGRATION_S * fs)))), 0.0))
    if not valid.all():
        # Margin: the filters smear a gap's edges over about one integration window.
        bad = maximum_filter1d((~valid).astype(np.uint8), int(0.3 * fs) | 1).astype(bool)
        env[bad] = 0.0
        band[bad] = 0.0
    else:
        bad = None
    sharp = _sharpness(x, fs)
    if bad is not None:
        sharp[bad] = 0.0
    level = _local_level(env, fs)
    if not np.any(level > 0):
        return None
    return band, env / np.maximum(level, 1e-3 * level.max()), sharp


def _sharpness(x: np.ndarray, fs: float) -> np.ndarray:
    """Steepest slope nearby, band-limited to 30 Hz: QRS complexes are steep, T waves are not."""
    sos = sps.butter(2, min(30.0, 0.45 * fs), btype="lowpass", fs=fs, output="sos")
    slope = np.abs(np.diff(sps.sosfiltfilt(sos, x), prepend=x[0]))
    return maximum_filter1d(slope, int(round(_SHARP_S * fs)) | 1)


def _fill_gaps(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Bridge NaN stretches linearly so the filters see no step (the envelope is zeroed there)."""
    if valid.all():
        return x
    idx = np.flatnonzero(valid)
    return np.interp(np.arange(x.size), idx, x[idx])


def _bandpass(x: np.ndarray, fs: float) -> np.ndarray:
    """Zero-phase Butterworth band-pass, so peaks are not delayed."""
    hi = min(_BAND_HZ[1], 0.45 * fs)
    sos = sps.butter(2, (_BAND_HZ[0], hi), btype="bandpass", fs=fs, output="sos")
    return sps.sosfiltfilt(sos, x)


def _local_level(env: np.ndarray, fs: float) -> np.ndarray:
    """Typical beat height around each sample: median of nearby block maxima.

    Block maxima nearly always hold a beat; their median ignores a single artefact or pause.
    """
    block = max(1, int(round(_BLOCK_S * fs)))
    nb = -(-env.size // block)
    padded = np.zeros(nb * block)
    padded[: env.size] = env
    peaks = padded.reshape(nb, block).max(axis=1)
    med = _running_median(peaks, _LEVEL_BLOCKS)
    centers = (np.arange(nb) + 0.5) * block
    return np.interp(np.arange(env.size), centers, med)


def _running_median(v: np.ndarray, k: int) -> np.ndarray:
    """Centred running median (odd ``k``), edges padded by reflection."""
    if v.size == 1:
        return v.copy()
    h = k // 2
    p = np.pad(v, h, mode="reflect") if v.size > h else np.pad(v, h, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(p, k), axis=1)


def _combine(envs: list[np.ndarray], fs: float) -> np.ndarray:
    """Leads' normalised envelopes averaged with weights favouring the locally cleaner lead.

    Between beats a clean lead's envelope is near zero, a noisy one's is not: the local mean of
    the normalised envelope is a noise measure, and each lead is weighted by its inverse square.
    """
    if len(envs) == 1:
        return envs[0]
    win = max(1, int(round(_QUALITY_S * fs)))
    weights = [1.0 / np.maximum(uniform_filter1d(e, win), 0.02) ** _QUALITY_POWER for e in envs]
    p = _COMBINE_POWER
    return (sum(w * e**p for w, e in zip(weights, envs)) / sum(weights)) ** (1.0 / p)


def _pick_beats(env: np.ndarray, sharp: np.ndarray, fs: float) -> np.ndarray:
    """Accept envelope peaks above threshold; refractory, T-wave test and search-back.

    ``sharp`` is (leads, samples): a peak soon after a beat is its T wave unless some lead shows
    it nearly as steep as that beat.
    """
    refractory = int(round(_REFRACTORY_S * fs))
    cand, props = sps.find_peaks(env, height=_THRESHOLD * _SEARCHBACK_THRESHOLD, distance=refractory)
    if cand.size == 0:
        return _EMPTY
    h = props["peak_heights"]
    steep = sharp[:, cand]
    strong = np.flatnonzero(h >= _THRESHOLD)
    t_window = _T_WAVE_S * fs
    beats: list[int] = []
    rr = fs  # running RR of regular beats, samples
    last_i = last_j = -1  # index in cand of the last strong / last accepted beat
    typical = np.median(steep[:, strong], axis=1) if strong.size else steep[:, 0]
    for i in strong:
        t = cand[i]
        if beats:
            gap = t - beats[-1]
            if gap > _SEARCHBACK_RR * rr and i - last_i > 1:
                j = _search_back(cand, h, last_i, i, beats[-1], t, rr, refractory, t_window)
                if j >= 0:
                    last_j = j
                    beats.append(int(cand[j]))
                    gap = t - beats[-1]
            if _steepness_ratio(steep[:, i], typical) < _STEEP_MIN:
                continue  # too gentle for a QRS complex in every lead: noise or a wave
            if gap < max(t_window, _T_WAVE_RR * rr) and _steepness_ratio(steep[:, i], steep[:, last_j]) < _T_WAVE_RATIO:
                continue  # T wave: a gentle peak right after a beat
            # Long gaps (pauses, missed beats) adapt the RR estimate only slowly.
            rr = 0.875 * rr + 0.125 * min(gap, _RR_GROWTH * rr)
        beats.append(int(t))
        last_i = last_j = i
        typical = 0.875 * typical + 0.125 * steep[:, i] if len(beats) > 1 else steep[:, i].copy()
    return np.asarray(beats, dtype=np.int64)


def _steepness_ratio(a: np.ndarray, b: np.ndarray) -> float:
    """Geometric mean over leads of how steep peak ``a`` is next to beat ``b``.

    A T wave is gentle in every lead; a noise spike that looks steep in one lead alone is not
    enough to make it a beat.
    """
    return float(np.exp(np.mean(np.log(np.maximum(a, 1e-12) / np.maximum(b, 1e-12)))))


def _search_back(
    cand: np.ndarray, h: np.ndarray, lo: int, hi: int, prev: int, nxt: int, rr: float,
    refractory: int, t_window: float,
) -> int:
    """Index of the best sub-threshold candidate between beats ``prev`` and ``nxt``, or -1.

    It must sit clear of the previous beat's T wave and of the next beat.
    """
    near = min(t_window, 0.5 * rr)
    js = np.arange(lo + 1, hi)
    ok = (cand[js] - prev >= max(refractory, near)) & (nxt - cand[js] >= refractory)
    if not ok.any():
        return -1
    js = js[ok]
    return int(js[np.argmax(h[js])])


def _to_r_peak(beats: np.ndarray, bands: list[np.ndarray], fs: float) -> np.ndarray:
    """Move each detection to the largest band-passed deflection nearby (the R peak)."""
    half = int(round(0.06 * fs))
    n = bands[0].size
    offs = np.arange(-half, half + 1)
    idx = np.clip(beats[:, None] + offs[None, :], 0, n - 1)
    # Lead with the largest QRS overall decides the fiducial point.
    amp = [np.abs(b[idx]).max(axis=1) for b in bands]
    best = int(np.argmax([np.median(a) for a in amp]))
    pos = idx[np.arange(beats.size), np.argmax(np.abs(bands[best][idx]), axis=1)]
    return np.unique(pos).astype(np.int64)
