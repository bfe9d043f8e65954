"""Beat augmentations: the training input's (what the scorer will meet) and the views of
self-distillation and contrastive learning.

Kept mild, since with normal-only training a view that looks like an arrhythmia teaches the model
to reconstruct arrhythmias too. Each view is min-max rescaled to [-1, 1] like every model input.
The input augmentations (``shift``, ``invert``) draw random numbers only when they are on, so a
recipe without them trains bit for bit as before they existed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _rescale(x: torch.Tensor) -> torch.Tensor:
    lo = x.amin(dim=-1, keepdim=True)
    hi = x.amax(dim=-1, keepdim=True)
    return (x - lo) / (hi - lo).clamp_min(1e-6) * 2 - 1


def augment(x: torch.Tensor, g: torch.Generator, strength: float = 1.0) -> torch.Tensor:
    """Noise, amplitude scaling, baseline wander, a small shift and time warp, and a short mask."""
    n, c, t = x.shape
    dev = x.device

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=g, device="cpu").to(dev)

    s = strength
    out = x * (1 + (rand(n, c, 1) - 0.5) * 0.4 * s)  # amplitude x0.8-1.2
    tt = torch.linspace(0, 1, t, device=dev)
    wander = torch.sin(2 * torch.pi * (rand(n, 1, 1) * 1.5 * tt + rand(n, 1, 1)))
    out = out + 0.1 * s * rand(n, 1, 1) * wander
    # time warp (x0.92-1.08) with a shift of up to 6 ticks, as a resampling grid
    scale = 1 + (rand(n, 1) - 0.5) * 0.16 * s
    shift = (rand(n, 1) - 0.5) * 12 * s / t * 2
    grid_t = (torch.linspace(-1, 1, t, device=dev)[None, :] * scale + shift)
    grid = torch.stack([grid_t, torch.zeros_like(grid_t)], dim=-1)[:, None]  # (n, 1, t, 2)
    out = F.grid_sample(out[:, :, None, :], grid, mode="bilinear", padding_mode="border", align_corners=True)[:, :, 0]
    out = out + torch.randn(n, c, t, generator=g, device="cpu").to(dev) * 0.03 * s
    # mask a 16-tick stretch in half the beats (replaced by its linear baseline)
    start = (rand(n) * (t - 16)).long()
    use = rand(n) < 0.5
    idx = torch.arange(t, device=dev)[None, :]
    m = (use[:, None] & (idx >= start[:, None]) & (idx < start[:, None] + 16))[:, None, :]
    out = torch.where(m, out.mean(dim=-1, keepdim=True), out)
    return _rescale(out)


def local_time_warp(x: torch.Tensor, g: torch.Generator, r_tick: int = 140, moves: int = 7) -> torch.Tensor:
    """BeatGAN's augmentation ("BeatGAN + aug", Zhou et al. 2019): a local time warp of each beat.

    On each side of the R peak, ``moves`` random ticks are dropped and ``moves`` others are doubled
    (a midpoint inserted after them), so the waves stretch and shrink locally while the length and
    the R peak's tick stay put. Rescaled to [-1, 1] like every model input.
    """
    n, c, t = x.shape
    # emitted output points per input tick: 0 (dropped), 2 (doubled), else 1
    counts = torch.ones(n, t, dtype=torch.long)
    for lo, hi in ((0, r_tick), (r_tick + 1, t - 1)):  # the R tick itself is kept; the last has no midpoint after it
        pick = torch.argsort(torch.rand(n, hi - lo, generator=g), dim=1)[:, : 2 * moves] + lo
        counts.scatter_(1, pick[:, :moves], 0)
        counts.scatter_(1, pick[:, moves:], 2)
    # output point j comes from input tick i, the one whose emitted points cover j; the second point
    # of a doubled tick sits half a tick after it
    ends = counts.cumsum(dim=1)
    j = torch.arange(t).expand(n, t).contiguous()
    i = torch.searchsorted(ends, j, right=True)
    src = (i + 0.5 * (j - (ends.gather(1, i) - counts.gather(1, i)))).to(x.device)
    i0 = src.floor().long().clamp(max=t - 1)
    i1 = (i0 + 1).clamp(max=t - 1)
    w = (src - i0.float())[:, None, :]
    out = torch.gather(x, 2, i0[:, None, :].expand(n, c, t)) * (1 - w) + \
        torch.gather(x, 2, i1[:, None, :].expand(n, c, t)) * w
    return _rescale(out)


def shift(x: torch.Tensor, g: torch.Generator, max_ticks: int) -> torch.Tensor:
    """Each beat moved by a whole number of ticks, uniform in [-max_ticks, max_ticks]: what the
    fiducial leaves of another annotator's or the detector's mark."""
    return shift_by(x, torch.randint(-max_ticks, max_ticks + 1, (len(x),), generator=g))


def shift_by(x: torch.Tensor, ticks: torch.Tensor) -> torch.Tensor:
    """Beat i moved later by ``ticks[i]`` whole ticks (earlier where negative), the ends repeated,
    rescaled to [-1, 1]. The deterministic part of :func:`shift`; the evaluation's shifted test uses it."""
    n, c, t = x.shape
    d = ticks.reshape(n, 1).to(x.device)
    src = (torch.arange(t, device=x.device)[None, :] - d).clamp(0, t - 1)
    return _rescale(torch.gather(x, 2, src[:, None, :].expand(n, c, t)))


def invert(x: torch.Tensor, g: torch.Generator, p: float) -> torch.Tensor:
    """A share ``p`` of the beats upside down (an electrode reversed, or a lead whose QRS points
    down that the polarity rule did not turn); -x of a [-1, 1] beat is a [-1, 1] beat."""
    flip = (torch.rand(len(x), generator=g) < p).to(x.device)
    return torch.where(flip[:, None, None], -x, x)
