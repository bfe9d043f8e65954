"""Beat augmentations for self-distillation and contrastive views.

Kept mild, since with normal-only training a view that looks like an arrhythmia teaches the model
to reconstruct arrhythmias too. Each view is min-max rescaled to [-1, 1] like every model input.
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
