"""One fiducial point for every beat window, whoever placed the beat mark.

Why: every database (and the QRS detector) puts its beat mark at its own point of the QRS complex
(8-70 ms apart, docs/method.md), and a network that learned one R position reconstructs a shifted
beat badly. The rule here moves each mark to the same point of the band-passed model lead, so the
window the network sees does not depend on the annotator:

1. **Polarity** of each lead: the sign of the extremum of the record's median beat (the median,
   sample by sample, of up to 2,000 windows around the marks). A lead whose dominant QRS points
   down is turned over, so an inverted electrode scores as the upright one.
2. **Record offset**: the median, over all beats, of the lag from the mark to the largest upright
   value within +-100 ms: a database's systematic fiducial difference.
3. **Per beat**: the largest upright value within +-40 ms of the mark moved by that offset.

Steps 2 and 3 read the first model lead only; the original marks are kept beside the aligned
centres (``BeatSet.sample`` and ``BeatSet.centre``), and only the window uses the centre.
"""

from __future__ import annotations

import numpy as np

#: Changes whenever the rule or its constants change (part of the trainer's dataset cache key).
FIDUCIAL_VERSION = 1
#: Search half-widths in seconds: the record offset, then each beat around it.
WIDE_S = 0.100
LOCAL_S = 0.040
TEMPLATE_BEATS = 2000


def _windows(x: np.ndarray, pos: np.ndarray, half: int) -> np.ndarray:
    """``x[pos + k]`` for k in [-half, half], indices clipped into the signal: (n, 2 half + 1)."""
    idx = np.clip(pos[:, None] + np.arange(-half, half + 1), 0, len(x) - 1)
    return x[idx]


def lead_polarity(x: np.ndarray, pos: np.ndarray, fs: float) -> float:
    """+1 or -1: the sign of the extremum of the median beat of ``x`` (1-D) around marks ``pos``."""
    if len(pos) == 0:
        return 1.0
    half = round(WIDE_S * fs)
    take = pos[np.linspace(0, len(pos) - 1, min(len(pos), TEMPLATE_BEATS)).astype(int)]
    template = np.median(_windows(x, take, half), axis=0)
    return -1.0 if template[np.argmax(np.abs(template))] < 0 else 1.0


def align_peaks(x: np.ndarray, pos: np.ndarray, fs: float) -> np.ndarray:
    """Aligned centres (indices into ``x``) of beats marked at ``pos``; ``x`` is the upright lead.

    Deterministic, and equivariant: shifting every mark by the same amount (within about 60 ms)
    leaves the result unchanged, since both the record offset and the beat's peak follow the signal.
    """
    pos = np.asarray(pos, dtype=np.int64)
    if len(pos) == 0:
        return pos
    wide, local = round(WIDE_S * fs), round(LOCAL_S * fs)
    lag = np.argmax(_windows(x, pos, wide), axis=1) - wide
    offset = int(np.floor(np.median(lag) + 0.5))  # half up: a shift by whole samples stays exact
    moved = pos + offset
    return np.clip(moved + np.argmax(_windows(x, moved, local), axis=1) - local, 0, len(x) - 1)
