"""BeatGAN's networks (Zhou et al., IJCAI 2019), with configurable widths.

Encoder: Conv1d stride-2 stack 1-2-4-8-16 x width (kernel 4, BatchNorm, LeakyReLU 0.2) down to
10 ticks, then a kernel-10 conv to the latent code. Decoder: the mirror with ConvTranspose1d and
Tanh. These are what the viewer runs; the discriminator and the weight initialisation only
training needs are in ``trainer/discriminator.py``.
"""

from __future__ import annotations

import torch
from torch import nn

from ecgviewer.core.model.netconfig import NetConfig


def _down(cin: int, cout: int, bn: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv1d(cin, cout, 4, 2, 1, bias=False)]
    if bn:
        layers.append(nn.BatchNorm1d(cout))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return layers


class Encoder(nn.Module):
    """320 ticks -> ``out`` channels of length 1; ``features`` are the 16w x 10 maps before the last conv."""

    def __init__(self, cfg: NetConfig, out: int) -> None:
        super().__init__()
        w = cfg.width
        self.stages = nn.ModuleList([
            nn.Sequential(*_down(cfg.n_leads, w, bn=False)),
            nn.Sequential(*_down(w, 2 * w)),
            nn.Sequential(*_down(2 * w, 4 * w)),
            nn.Sequential(*_down(4 * w, 8 * w)),
            nn.Sequential(*_down(8 * w, 16 * w)),
        ])
        self.head = nn.Conv1d(16 * w, out, cfg.window // 32, 1, 0, bias=False)

    def forward(self, x: torch.Tensor, return_maps: bool = False):
        maps = []
        for stage in self.stages:
            x = stage(x)
            maps.append(x)
        z = self.head(x)
        return (z, maps) if return_maps else z


class Decoder(nn.Module):
    """Latent code -> 320 ticks in [-1, 1]."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        w = cfg.width

        def up(cin: int, cout: int) -> list[nn.Module]:
            return [nn.ConvTranspose1d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm1d(cout), nn.ReLU(True)]

        self.net = nn.Sequential(
            nn.ConvTranspose1d(cfg.latent, 16 * w, cfg.window // 32, 1, 0, bias=False),
            nn.BatchNorm1d(16 * w), nn.ReLU(True),
            *up(16 * w, 8 * w), *up(8 * w, 4 * w), *up(4 * w, 2 * w), *up(2 * w, w),
            nn.ConvTranspose1d(w, cfg.n_leads, 4, 2, 1, bias=False), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Generator(nn.Module):
    """The autoencoder whose reconstruction error is the anomaly score."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg, cfg.latent)
        self.decoder = Decoder(cfg)

    def forward(self, x: torch.Tensor, return_maps: bool = False):
        if return_maps:
            z, maps = self.encoder(x, return_maps=True)
            return self.decoder(z), z, maps
        return self.decoder(self.encoder(x))
