"""BeatGAN's discriminator and the DCGAN weight initialisation: needed to train, never to score.

The discriminator is the generator's encoder with one logit; its last hidden feature maps drive the
generator's feature-matching loss (and, in SI-BeatGAN V2, the contrastive head).
"""

from __future__ import annotations

import torch
from torch import nn

from ecgviewer.core.model.netconfig import NetConfig
from ecgviewer.core.model.networks import Encoder


class Discriminator(nn.Module):
    """The encoder with one logit; ``features`` feed feature matching and contrastive heads."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.body = Encoder(cfg, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z, maps = self.body(x, return_maps=True)
        return z.flatten(1), maps[-1]


def init_weights(m: nn.Module) -> None:
    """DCGAN initialisation, as the reference code."""
    name = type(m).__name__
    if "Conv" in name:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif "BatchNorm" in name:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)
