"""Training the BeatGAN family on normal beats only: the networks, their optimisers and one step.

One step serves every model: ``beatgan`` (Zhou et al. 2019), ``si-beatgan`` (plus self-knowledge
distillation from an EMA teacher), ``si-beatgan-v2`` (plus SimCLR's NT-Xent on a projection head)
and a narrow student distilled from a trained teacher; docs/method.md gives the equations. The
recipe is trainer/config.py, the losses trainer/losses.py, the loop trainer/loop.py, checkpoints
trainer/checkpoint.py and DDP trainer/distributed.py. The whole training set lives on the device
as one tensor: beats are small, and indexing a tensor is far faster than a DataLoader on 2 cores.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ecgviewer.core.model.networks import Generator
from trainer import checkpoint, distributed, loop
from trainer.augment import augment, invert, local_time_warp, shift
from trainer.checkpoint import load_generator
from trainer.config import MachineConfig, TrainConfig, TrainError, check_machine
from trainer.discriminator import Discriminator, init_weights
from trainer.loop import TrainState
from trainer.losses import TERMS, LossTerms, distillation, nt_xent


def pick_device(name: str = "auto") -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class Projector(nn.Module):
    """SimCLR projection head: global average pool, MLP."""

    def __init__(self, cin: int, dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(cin, cin), nn.ReLU(True), nn.Linear(cin, dim))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.net(f.mean(dim=-1) if f.dim() == 3 else f)


class Trainer:
    """The networks, optimisers and data of one training run; ``fit`` runs it (trainer/loop.py)."""

    def __init__(self, cfg: TrainConfig, x_train: np.ndarray, x_val: np.ndarray | None, out_dir: Path,
                 log=print, groups: np.ndarray | None = None, machine: MachineConfig | None = None,
                 x_other: np.ndarray | None = None) -> None:
        """``groups``: the record of each training beat, needed by ``cfg.record_balance``;
        ``x_other``: each training beat's second lead, cut alone, needed by ``cfg.other_lead``."""
        self.cfg, self.machine = cfg, machine or MachineConfig()
        self.out = Path(out_dir)
        self.log = log
        self.device = pick_device(self.machine.device)
        check_machine(self.machine, self.device.type)
        if cfg.record_balance and (groups is None or len(groups) != len(x_train)):
            raise TrainError("--record-balance needs the record of every training beat")
        if cfg.other_lead and (x_other is None or x_other.shape != x_train.shape):
            raise TrainError("--other-lead needs each training beat's second lead, shaped as the beats")
        self.beat_weights = None
        if cfg.record_balance:
            _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
            self.beat_weights = torch.from_numpy(counts[inverse].astype(np.float64) ** -cfg.record_balance)
        self.rank, self.world = distributed.rank_and_world()
        distributed.init(self.world)
        if self.machine.threads and self.device.type == "cpu":
            torch.set_num_threads(self.machine.threads)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed)
        self._build_networks()
        self.x = torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32)).to(self.device)
        self.x_other = (torch.from_numpy(np.ascontiguousarray(x_other, dtype=np.float32)).to(self.device)
                        if cfg.other_lead else None)
        self.x_val = None if x_val is None else torch.from_numpy(np.ascontiguousarray(x_val, dtype=np.float32)).to(self.device)
        self.aug_gen = torch.Generator().manual_seed(cfg.seed + 17)
        self.state = TrainState()
        self.d_reinits = 0
        self.g_ddp = distributed.wrap(self.G, self.device, self.world)
        self.d_ddp = distributed.wrap(self.D, self.device, self.world)
        self.amp = self.machine.amp and self.device.type == "cuda"
        self.cpu_bf16 = self.machine.cpu_bf16 and self.device.type == "cpu"

    def _build_networks(self) -> None:
        """G and D (DCGAN init), the teacher (a frozen checkpoint or G's EMA), the contrastive head
        (trained with D or with G, where it sits) and one Adam for each side."""
        cfg = self.cfg
        net = cfg.net()
        self.G = Generator(net).to(self.device)
        self.D = Discriminator(net).to(self.device)
        self.G.apply(init_weights)
        self.D.apply(init_weights)
        self.teacher: Generator | None = None
        if cfg.teacher:
            self.teacher = load_generator(cfg.teacher).to(self.device).eval()
        elif cfg.uses_kd:
            self.teacher = copy.deepcopy(self.G).eval()
        if self.teacher is not None:
            for p in self.teacher.parameters():
                p.requires_grad_(False)
        self.P: Projector | None = None
        g_params = list(self.G.parameters())
        d_params = list(self.D.parameters())
        if cfg.uses_con:
            cin = 16 * cfg.width if cfg.con_place == "disc" else cfg.latent
            self.P = Projector(cin, cfg.proj_dim).to(self.device)
            (d_params if cfg.con_place == "disc" else g_params).extend(self.P.parameters())
        self.opt_g = torch.optim.Adam(g_params, lr=cfg.lr, betas=(cfg.beta1, 0.999))
        self.opt_d = torch.optim.Adam(d_params, lr=cfg.lr, betas=(cfg.beta1, 0.999))

    # ---- data -----------------------------------------------------------------------------
    def epoch_order(self, epoch: int) -> torch.Tensor:
        """The beats of one epoch, a function of (seed, epoch) only: resume replays it exactly."""
        g = torch.Generator().manual_seed(self.cfg.seed * 100_003 + epoch)
        if self.beat_weights is not None:  # as many draws as beats, with replacement, by record weight
            perm = torch.multinomial(self.beat_weights, len(self.x), replacement=True, generator=g)
        else:
            perm = torch.randperm(len(self.x), generator=g)
        if self.cfg.samples_per_epoch:
            perm = perm[: self.cfg.samples_per_epoch]
        # every rank gets the same number of beats, so all take the same number of steps (a rank
        # with one step more would wait forever in its gradient all-reduce)
        perm = perm[: len(perm) - len(perm) % self.world]
        return perm[self.rank :: self.world]

    def steps_per_epoch(self) -> int:
        return len(self.epoch_order(0)) // self.cfg.batch

    def batch(self, idx: torch.Tensor) -> torch.Tensor:
        """The training input of beats ``idx``: a share from the second lead, then shifted and
        inverted as the recipe says (trainer/augment.py); each draws only when it is on."""
        cfg = self.cfg
        x = self.x[idx]
        if cfg.other_lead:
            use = (torch.rand(len(idx), generator=self.aug_gen) < cfg.other_lead).to(x.device)
            x = torch.where(use[:, None, None], self.x_other[idx], x)
        if cfg.aug_shift:
            x = shift(x, self.aug_gen, cfg.aug_shift)
        if cfg.aug_invert:
            x = invert(x, self.aug_gen, cfg.aug_invert)
        return x

    # ---- one step ---------------------------------------------------------------------------
    def autocast(self):
        """bf16 for the training steps where the hardware runs it natively; fp32 otherwise."""
        if self.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.cpu_bf16)

    def train_step(self, x: torch.Tensor) -> dict[str, float]:
        """One D step, then one G step; returns each named term and both objectives' totals."""
        cfg = self.cfg
        if cfg.warp_frac > 0:
            warp = (torch.rand(len(x), generator=self.aug_gen) < cfg.warp_frac).to(x.device)
            x = torch.where(warp[:, None, None], local_time_warp(x, self.aug_gen), x)
        views = None
        if cfg.uses_kd or cfg.uses_con:
            views = (augment(x, self.aug_gen, cfg.aug_strength), augment(x, self.aug_gen, cfg.aug_strength))
        with self.autocast():
            d_terms = self._discriminator_terms(x, views)
            loss_d = d_terms.total()
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        with self.autocast():
            g_terms = self._generator_terms(x, views)
            loss_g = g_terms.total()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        if cfg.has_ema_teacher:
            ema_update(self.teacher, self.G, cfg.ema)
        # one decision for all ranks: re-initialising D on one rank only would fork the models
        ld = distributed.mean_over_ranks(float(loss_d.detach()), self.device, self.world)
        if ld < cfg.d_reinit_below:
            self.D.apply(init_weights)
            self.d_reinits += 1
        logged = {"discriminator": ld, "generator": float(loss_g.detach())}
        logged.update(g_terms.logged(TERMS))
        if "contrastive" in d_terms.terms:
            logged["contrastive"] = d_terms.logged()["contrastive"]
        return logged

    def _discriminator_terms(self, x: torch.Tensor, views) -> LossTerms:
        """Real vs reconstructed (+ the contrastive head on D's features, where it sits there)."""
        cfg, G, D = self.cfg, self.g_ddp, self.d_ddp
        terms = LossTerms()
        with torch.no_grad():
            x_hat = G(x)
        d_real, _ = D(x)
        d_fake, _ = D(x_hat)
        terms.add("real_fake", F.binary_cross_entropy_with_logits(d_real.float(), torch.ones_like(d_real, dtype=torch.float32))
                  + F.binary_cross_entropy_with_logits(d_fake.float(), torch.zeros_like(d_fake, dtype=torch.float32)))
        if cfg.uses_con and cfg.con_place == "disc":
            _, f1 = D(views[0])
            _, f2 = D(views[1])
            terms.add("contrastive", nt_xent(self.P(f1.float()), self.P(f2.float()), cfg.con_tau), cfg.con_weight)
        return terms

    def _generator_terms(self, x: torch.Tensor, views) -> LossTerms:
        """Reconstruction + feature matching (+ distillation, + the contrastive head on G's code)."""
        cfg = self.cfg
        terms = LossTerms()
        x_hat = self.g_ddp(x)
        # the plain D, not its DDP wrapper: this backward is for G (D's output layer gets no
        # gradient here, which DDP would refuse, and D's gradients are not synchronised for nothing)
        _, f_real = self.D(x)
        _, f_fake = self.D(x_hat)
        terms.add("reconstruction", F.mse_loss(x_hat.float(), x))
        terms.add("adversarial", F.mse_loss(f_fake.float(), f_real.detach().float()), cfg.w_adv)
        if self.teacher is not None:
            with frozen_bn_stats(self.G):
                xs, _, ms = self.G(views[0], return_maps=True)
            with torch.no_grad():
                xt, _, mt = self.teacher(x, return_maps=True)
            terms.add("distillation", distillation(xs, ms, xt, mt, x, cfg.kd_out, cfg.kd_at, cfg.kd_tick, cfg.kd_t))
        if cfg.uses_con and cfg.con_place == "enc":
            with frozen_bn_stats(self.G):
                z1, z2 = self.G.encoder(views[0]), self.G.encoder(views[1])
            terms.add("contrastive", nt_xent(self.P(z1.flatten(1).float()), self.P(z2.flatten(1).float()), cfg.con_tau),
                      cfg.con_weight)
        return terms

    def sync_buffers(self) -> None:
        distributed.average_buffers([self.G, self.D] + ([self.teacher] if self.cfg.has_ema_teacher else []), self.world)

    # ---- the loop and checkpoints (trainer/loop.py, trainer/checkpoint.py) ----------------------
    def fit(self, max_steps: int | None = None, progress: bool = True, on_step: loop.StepHook | None = None) -> TrainState:
        return loop.fit(self, max_steps, progress, on_step)

    def val_mse(self) -> float | None:
        return loop.evaluate(self)

    def save(self, name: str = checkpoint.NAME) -> Path:
        return checkpoint.save(self, name)

    def resume(self, path: Path) -> None:
        checkpoint.resume(self, path)

    def resume_or_restart(self, log=print) -> bool:
        return checkpoint.resume_or_restart(self, log)


@torch.no_grad()
def ema_update(average: nn.Module, model: nn.Module, decay: float) -> None:
    """One step of an exponential moving average of ``model``'s weights; buffers (BatchNorm
    statistics) are copied, not averaged."""
    for pa, pm in zip(average.parameters(), model.parameters()):
        pa.mul_(decay).add_(pm.detach(), alpha=1 - decay)
    for ba, bm in zip(average.buffers(), model.buffers()):
        ba.copy_(bm)


@contextlib.contextmanager
def frozen_bn_stats(model: nn.Module) -> Iterator[None]:
    """Forward augmented views in train mode without moving BatchNorm's running statistics.

    The scorer runs in eval mode on clean beats; running statistics polluted by augmented views
    made a V2 generator's held-out error 7x worse in eval mode than with batch statistics.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, mom in zip(bns, saved):
            m.momentum = mom
