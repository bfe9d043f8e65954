"""Losses of the BeatGAN family: adversarial feature matching, distillation, NT-Xent.

Every distillation term here is computed from tensors of the current step, so its gradient reaches
the student (the published SI-BeatGAN code computed its KL once from numpy arrays: a constant).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def attention_map(f: torch.Tensor) -> torch.Tensor:
    """Attention transfer (Zagoruyko & Komodakis): channel-mean of squared activations, L2-normalised."""
    return F.normalize(f.pow(2).mean(dim=1).flatten(1), dim=1)


def attention_transfer(student_maps: list[torch.Tensor], teacher_maps: list[torch.Tensor]) -> torch.Tensor:
    """Mean over layers of the squared distance between attention maps (teacher detached)."""
    terms = [(attention_map(s) - attention_map(t.detach())).pow(2).sum(dim=1).mean()
             for s, t in zip(student_maps, teacher_maps)]
    return torch.stack(terms).mean()


def tick_error_kd(student_err: torch.Tensor, teacher_err: torch.Tensor, temperature: float) -> torch.Tensor:
    """T^2 KL(teacher || student) between where in the beat each puts its error (softmax over ticks).

    Errors are log-scaled first: raw squared errors of ~1e-3 would make every softmax uniform.
    """
    s = torch.log(student_err.flatten(1) + 1e-6) / temperature
    t = torch.log(teacher_err.detach().flatten(1) + 1e-6) / temperature
    return F.kl_div(F.log_softmax(s, dim=1), F.log_softmax(t, dim=1), log_target=True,
                    reduction="batchmean") * temperature ** 2


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> torch.Tensor:
    """SimCLR's normalised temperature-scaled cross entropy over 2N views."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    sim = z @ z.t() / tau
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)
