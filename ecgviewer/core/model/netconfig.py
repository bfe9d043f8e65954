"""The architecture of a BeatGAN generator, without torch: a model card can be checked anywhere."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ecgviewer.core.beats import WINDOW


@dataclass(frozen=True)
class NetConfig:
    """Architecture of one model; stored in every checkpoint and model card."""

    n_leads: int = 1
    width: int = 32  # BeatGAN's ndf = ngf = 32
    latent: int = 50  # BeatGAN's nz
    window: int = WINDOW

    def as_dict(self) -> dict:
        return asdict(self)
