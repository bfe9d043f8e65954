"""Losses of the BeatGAN family as named, weighted terms: reconstruction, adversarial feature
matching, distillation and contrastive (NT-Xent) for G; real-vs-fake and contrastive for D.

Every distillation term here is computed from tensors of the current step, so its gradient reaches
the student (the published SI-BeatGAN code computed its KL once from numpy arrays: a constant).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# the terms every training step logs, by name (0 where a recipe has no such term)
TERMS = ("reconstruction", "adversarial", "distillation", "contrastive")


class LossTerms:
    """One objective as named, weighted terms: ``total()`` is what is minimised, ``logged()`` the
    unweighted value of each term.

    Terms are summed in the order they were added (a left fold), so a recipe's objective, and with
    it the trained weights for a seed, does not depend on how the terms are spelled.
    """

    def __init__(self) -> None:
        self.terms: dict[str, tuple[float, torch.Tensor]] = {}

    def add(self, name: str, value: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
        self.terms[name] = (weight, value)
        return value

    def total(self) -> torch.Tensor:
        weighted = [w * v for w, v in self.terms.values()]
        out = weighted[0]
        for t in weighted[1:]:
            out = out + t
        return out

    def logged(self, names: tuple[str, ...] = ()) -> dict[str, float]:
        """Each term's unweighted value; ``names`` not in this objective are logged as 0."""
        out = {n: 0.0 for n in names}
        out.update({n: float(v.detach()) for n, (_, v) in self.terms.items()})
        return out


def distillation(student: torch.Tensor, student_maps: list[torch.Tensor], teacher: torch.Tensor,
                 teacher_maps: list[torch.Tensor], x: torch.Tensor, out_w: float, at_w: float, tick_w: float,
                 temperature: float) -> torch.Tensor:
    """SI-BeatGAN's distillation, one term: alpha x output MSE + beta x attention transfer + gamma x
    per-tick error KL (student on an augmented view, teacher on the clean beat ``x``)."""
    parts = LossTerms()
    parts.add("output", F.mse_loss(student.float(), teacher.float()), out_w)
    if at_w:
        parts.add("attention", attention_transfer([m.float() for m in student_maps],
                                                  [m.float() for m in teacher_maps]), at_w)
    if tick_w:
        parts.add("tick", tick_error_kd((student.float() - x) ** 2, (teacher.float() - x) ** 2, temperature), tick_w)
    return parts.total()


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
