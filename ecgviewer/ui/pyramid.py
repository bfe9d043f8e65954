"""Min/max pyramid: draw 62 M samples at every zoom level with about two points per pixel.

Qt-free (numpy only) so it is unit-tested headless. Level 0 is the signal itself; level k holds,
for blocks of ``factor**k`` samples, their minimum and maximum. A view asks for the coarsest level
whose block still fits inside one pixel, merges its 1-4 blocks per pixel into one (min, max) pair
per pixel column, and gets the pairs as one line (every other pair reversed, see ``envelope_line``):
drawn, they trace the envelope a full-resolution plot would show, spikes included, with the fewest
points and the shortest strokes (the whole-day frame cost is mostly rasterising this line).
"""

from __future__ import annotations

import numpy as np


class MinMaxPyramid:
    """Min/max levels of one 1-D signal. NaN gaps stay NaN (a block of only NaN is NaN)."""

    def __init__(self, signal: np.ndarray, fs: float, factor: int = 4, min_blocks: int = 256) -> None:
        self.signal = np.asarray(signal, dtype=np.float32)
        self.fs = float(fs)
        self.factor = int(factor)
        self.block: list[int] = [1]
        self.lo: list[np.ndarray] = [self.signal]
        self.hi: list[np.ndarray] = [self.signal]
        lo = hi = self.signal
        size = 1
        while len(lo) // self.factor >= min_blocks:
            n = (len(lo) // self.factor) * self.factor
            tail_lo, tail_hi = lo[n:], hi[n:]
            new_lo = _reduce(np.fmin, lo[:n], self.factor)
            new_hi = _reduce(np.fmax, hi[:n], self.factor)
            if len(tail_lo):  # a partial last block keeps the record's end visible
                new_lo = np.append(new_lo, np.fmin.reduce(tail_lo))
                new_hi = np.append(new_hi, np.fmax.reduce(tail_hi))
            lo, hi = new_lo.astype(np.float32), new_hi.astype(np.float32)
            size *= self.factor
            self.block.append(size)
            self.lo.append(lo)
            self.hi.append(hi)

    @property
    def n_samples(self) -> int:
        return int(self.signal.shape[0])

    @property
    def nbytes(self) -> int:
        """Memory of the levels above the signal itself."""
        return int(sum(a.nbytes for a in self.lo[1:]) + sum(a.nbytes for a in self.hi[1:]))

    def level_for(self, n_in_view: float, n_pixels: int) -> int:
        """The coarsest level whose block holds at most one pixel's worth of samples."""
        per_px = max(n_in_view / max(int(n_pixels), 1), 1.0)
        level = 0
        for k, b in enumerate(self.block):
            if b <= per_px:
                level = k
        return level

    def view(self, t0: float, t1: float, n_pixels: int) -> tuple[np.ndarray, np.ndarray]:
        """x (s) and y arrays for the time range [t0, t1] drawn ``n_pixels`` wide.

        One block is added on either side so the line runs to the edges of the view. Level 0 gives
        the raw samples; coarser levels one (min, max) pair per pixel column (x at its centre).
        """
        s0 = max(int(np.floor(t0 * self.fs)), 0)
        s1 = min(int(np.ceil(t1 * self.fs)) + 1, self.n_samples)
        if s1 <= s0:
            return np.zeros(0), np.zeros(0, np.float32)
        level = self.level_for(s1 - s0, n_pixels)
        b = self.block[level]
        i0 = max(s0 // b - 1, 0)
        i1 = min(s1 // b + 2, len(self.lo[level]))
        if level == 0:
            x = np.arange(i0, i1, dtype=np.float64) / self.fs
            return x, self.signal[i0:i1]
        lo = self.lo[level][i0:i1]
        hi = self.hi[level][i0:i1]
        centre = (np.arange(i0, i1, dtype=np.float64) * b + (b - 1) / 2.0) / self.fs
        if t1 > t0 and len(lo) > 1:  # 1-4 blocks per pixel: one (min, max) per pixel column
            dt = (t1 - t0) / max(int(n_pixels), 1)
            col = np.floor((centre - t0) / dt).astype(np.int64)  # -1 / n_pixels: the edge blocks
            starts = np.concatenate(([0], np.nonzero(np.diff(col))[0] + 1))
            lo = np.fmin.reduceat(lo, starts)
            hi = np.fmax.reduceat(hi, starts)
            centre = t0 + (col[starts] + 0.5) * dt
        return np.repeat(centre, 2), envelope_line(lo, hi)


def envelope_line(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(min, max) pairs as one line: lo, hi, hi, lo, lo, hi, ... (every other pair reversed).

    Each pair is a vertical stroke; the joins between neighbours run hi->hi or lo->lo, short, instead
    of hi->next lo across the whole envelope, so the painter rasterises about half the pixels.
    """
    y = np.empty(2 * len(lo), dtype=np.float32)
    y[0::4] = lo[0::2]
    y[1::4] = hi[0::2]
    y[2::4] = hi[1::2]
    y[3::4] = lo[1::2]
    return y


def flag_columns(t: np.ndarray, t0: float, t1: float, n_px: int, half_width: int = 1) -> np.ndarray:
    """(n_px,) uint8, 1 in the pixel columns within ``half_width`` of a time in ``t``: ticks as pixels."""
    row = np.zeros(n_px, np.uint8)
    if len(t) and t1 > t0:
        col = np.floor((np.asarray(t, np.float64) - t0) / (t1 - t0) * n_px).astype(np.int64)
        for d in range(-half_width, half_width + 1):
            c = col + d
            row[c[(c >= 0) & (c < n_px)]] = 1
    return row


def _reduce(op: np.ufunc, a: np.ndarray, factor: int) -> np.ndarray:
    """``op`` over consecutive blocks of ``factor``: strided slices, several times faster than reduce(axis=1)."""
    out = op(a[0::factor], a[1::factor])
    for k in range(2, factor):
        op(out, a[k::factor], out=out)
    return out


def lead_extent(pyr: MinMaxPyramid, block_s: float = 1.0, keep: float = 99.9,
                least_mv: float = 0.6) -> tuple[float, float]:
    """(lowest, highest) mV a lead's trace reaches, ignoring the rarest excursions (artefacts).

    Per block of about ``block_s`` seconds the pyramid already holds the minimum and maximum; the
    band runs from the 0.1st percentile of the minima to the 99.9th of the maxima, so every beat
    shape present in more than 0.1 % of the record's seconds (PVCs of 119, 208) fits at gain 1,
    while an electrode pop does not widen the band. At least ``least_mv`` either side of 0 mV.
    """
    want = block_s * pyr.fs
    k = max((i for i, b in enumerate(pyr.block) if b <= want), default=0)
    lo, hi = pyr.lo[k], pyr.hi[k]
    ok = np.isfinite(lo) & np.isfinite(hi)
    if not ok.any():
        return -least_mv, least_mv
    low = float(np.percentile(lo[ok], 100.0 - keep))
    high = float(np.percentile(hi[ok], keep))
    return min(low, -least_mv), max(high, least_mv)
