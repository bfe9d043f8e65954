"""Min/max pyramid: draw 62 M samples at every zoom level with about two points per pixel.

Qt-free (numpy only) so it is unit-tested headless. Level 0 is the signal itself; level k holds,
for blocks of ``factor**k`` samples, their minimum and maximum. A view asks for the coarsest level
whose block still fits inside one pixel, and gets (min, max) pairs interleaved: drawn as a line,
they trace the envelope a full-resolution plot would show, spikes included.
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

        One block is added on either side so the line runs to the edges of the view.
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
        x = np.repeat(centre, 2)
        y = np.empty(2 * len(lo), dtype=np.float32)
        y[0::2] = lo
        y[1::2] = hi
        return x, y


def _reduce(op: np.ufunc, a: np.ndarray, factor: int) -> np.ndarray:
    """``op`` over consecutive blocks of ``factor``: strided slices, several times faster than reduce(axis=1)."""
    out = op(a[0::factor], a[1::factor])
    for k in range(2, factor):
        op(out, a[k::factor], out=out)
    return out
