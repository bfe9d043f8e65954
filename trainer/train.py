"""Training the BeatGAN family on normal beats only.

One loop serves every model: ``beatgan`` (Zhou et al. 2019), ``si-beatgan`` (plus self-knowledge
distillation from an EMA teacher), ``si-beatgan-v2`` (plus SimCLR's NT-Xent on a projection head)
and a narrow student distilled from a trained teacher. docs/method.md gives the equations.
The whole training set lives on the device as one tensor: beats are small, and indexing a tensor
is far faster than a DataLoader on 2 CPU cores.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ecgviewer.core.atomic import atomic_write
from ecgviewer.core.model.netconfig import NetConfig
from ecgviewer.core.model.networks import Generator
from trainer.augment import augment, local_time_warp
from trainer.discriminator import Discriminator, init_weights
from trainer.losses import attention_transfer, nt_xent, tick_error_kd

MODELS = ("beatgan", "si-beatgan", "si-beatgan-v2")


@dataclass
class TrainConfig:
    """A training recipe. Defaults are the CPU recipe of docs/results.md; --reference gives the paper's."""

    model: str = "beatgan"
    n_leads: int = 1  # MLII alone, as the reference run (FIELD.md); 2 adds the chest lead
    width: int = 32  # BeatGAN's 32; the small student uses 8
    latent: int = 50
    epochs: int = 8
    batch: int = 256  # 4x the reference 64: far more samples/s on CPU, same accuracy with lr scaled
    lr: float = 1e-3  # reference 1e-4 at batch 64; 1e-3 at batch 256 reached half the held-out normal MSE of 4e-4 ...
    warmup_frac: float = 0.03  # ... then linear warm-up and cosine decay, so the last epoch is calm
    beta1: float = 0.5
    w_adv: float = 1.0
    samples_per_epoch: int = 0  # 0 = every training beat each epoch
    record_balance: float = 0.0  # draw a beat with weight (its record's N count) ** -this: 0 uniform, 1 each record alike
    d_reinit_below: float = 1e-5  # the reference re-initialises D when its loss collapses
    warp_frac: float = 0.0  # share of training beats replaced by a local time warp (BeatGAN + aug: 3 copies, 0.75)
    # self-knowledge distillation (si-beatgan, v2, student)
    kd_out: float = 1.0  # alpha: student's reconstruction of an augmented view vs teacher's of the clean beat
    kd_at: float = 10.0  # beta: attention transfer on the encoder's feature maps
    kd_tick: float = 0.1  # gamma: KL between per-tick error distributions, temperature kd_t
    kd_t: float = 4.0
    ema: float = 0.995  # EMA teacher decay per step (one-stage self-teacher)
    aug_strength: float = 1.0
    teacher: str = ""  # path of a trained generator checkpoint: a frozen teacher (small student)
    # contrastive (v2)
    con_weight: float = 0.1
    con_tau: float = 0.5
    con_place: str = "disc"  # "disc": on D's last features (the authors' proposal); "enc": on G's code
    proj_dim: int = 64
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # bf16 autocast on CUDA
    cpu_bf16: bool = False  # bf16 autocast on a CPU with native bf16 (AVX512-BF16, AMX): 1.25-1.6x samples/s here
    threads: int = 0  # torch threads on CPU (0: torch's default)

    @property
    def uses_kd(self) -> bool:
        return self.model in ("si-beatgan", "si-beatgan-v2") or bool(self.teacher)

    @property
    def has_ema_teacher(self) -> bool:
        """A one-stage self-teacher (EMA of the generator), as opposed to a frozen trained teacher."""
        return self.uses_kd and not self.teacher

    @property
    def uses_con(self) -> bool:
        return self.model == "si-beatgan-v2" and self.con_weight > 0

    def net(self) -> NetConfig:
        return NetConfig(n_leads=self.n_leads, width=self.width, latent=self.latent)


REFERENCE = dict(batch=64, lr=1e-4, epochs=100, warmup_frac=0.0)


class TrainError(ValueError):
    """A training request this machine or these settings cannot carry out; the CLI prints it."""


class RecipeMismatch(TrainError):
    """A checkpoint made by a run of another recipe: continuing it would mix the two."""


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bf16 natively here (AVX512-BF16 or AMX), not by slow emulation."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


RESUMABLE_CHANGES = ("threads", "device")  # a run may continue on another machine or thread count


def recipe_differences(saved: dict, cfg: TrainConfig) -> list[str]:
    """Recipe fields in which a checkpoint's saved config differs from ``cfg`` (fields a checkpoint
    predates count as their default, so older checkpoints of the same recipe still resume)."""
    now, default = asdict(cfg), asdict(TrainConfig(model=cfg.model))
    return sorted(k for k in now if k not in RESUMABLE_CHANGES and saved.get(k, default[k]) != now[k])


def end_distributed() -> None:
    """Leave the process group together: a rank that tears gloo down while another still talks to
    it aborts ("terminate called without an active exception"), so all ranks meet first."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def check_config(cfg: TrainConfig) -> None:
    """Refuse, before any work, a recipe this machine cannot run as asked."""
    if cfg.cpu_bf16 and pick_device(cfg.device).type == "cpu" and not cpu_has_native_bf16():
        raise TrainError("--cpu-bf16 needs a CPU with native bf16 (AVX512-BF16 or AMX); this one would "
                         "emulate it, slower than fp32. Leave --cpu-bf16 off.")
    if not 0.0 <= cfg.record_balance <= 1.0:
        raise TrainError(f"--record-balance is an exponent from 0 (uniform) to 1 (each record alike); got {cfg.record_balance}")
    if not 0.0 <= cfg.warp_frac <= 1.0:
        raise TrainError(f"--warp-frac is a share of the training beats, 0 to 1; got {cfg.warp_frac}")


def pick_device(name: str = "auto") -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def lr_at(cfg: TrainConfig, step: int, total: int) -> float:
    warm = max(1, int(cfg.warmup_frac * total))
    if cfg.warmup_frac > 0 and step < warm:
        return cfg.lr * (step + 1) / warm
    if cfg.warmup_frac == 0:
        return cfg.lr  # the reference recipe: constant learning rate
    p = (step - warm) / max(1, total - warm)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, p)))


class Projector(nn.Module):
    """SimCLR projection head: global average pool, MLP."""

    def __init__(self, cin: int, dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(cin, cin), nn.ReLU(True), nn.Linear(cin, dim))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.net(f.mean(dim=-1) if f.dim() == 3 else f)


@dataclass
class TrainState:
    epoch: int = 0  # epochs completed
    step_in_epoch: int = 0
    history: list = field(default_factory=list)
    partial: dict = field(default_factory=dict)  # loss sums and step count of the unfinished epoch


def _ddp() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world


class Trainer:
    """Holds the networks, optimisers and data of one training run; ``fit`` runs it."""

    def __init__(self, cfg: TrainConfig, x_train: np.ndarray, x_val: np.ndarray | None, out_dir: Path,
                 log=print, groups: np.ndarray | None = None) -> None:
        """``groups``: the record of each training beat, needed by ``cfg.record_balance``."""
        self.cfg = cfg
        self.out = Path(out_dir)
        self.log = log
        check_config(cfg)
        if cfg.record_balance and (groups is None or len(groups) != len(x_train)):
            raise TrainError("--record-balance needs the record of every training beat")
        self.beat_weights = None
        if cfg.record_balance:
            _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
            self.beat_weights = torch.from_numpy(counts[inverse].astype(np.float64) ** -cfg.record_balance)
        self.rank, self.world = _ddp()
        if self.world > 1 and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        self.device = pick_device(cfg.device)
        if cfg.threads and self.device.type == "cpu":
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed)
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
        self.x = torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32)).to(self.device)
        self.x_val = None if x_val is None else torch.from_numpy(np.ascontiguousarray(x_val, dtype=np.float32)).to(self.device)
        self.aug_gen = torch.Generator().manual_seed(cfg.seed + 17)
        self.state = TrainState()
        self.d_reinits = 0
        self.g_ddp, self.d_ddp = self.G, self.D
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.g_ddp = DDP(self.G, device_ids=ids)
            self.d_ddp = DDP(self.D, device_ids=ids)
        self.amp = cfg.amp and self.device.type == "cuda"
        self.cpu_bf16 = cfg.cpu_bf16 and self.device.type == "cpu"

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

    # ---- one step ---------------------------------------------------------------------------
    def _autocast(self):
        """bf16 for the training steps where the hardware runs it natively; fp32 otherwise."""
        if self.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.cpu_bf16)

    def train_step(self, x: torch.Tensor) -> dict[str, float]:
        cfg = self.cfg
        G, D = self.g_ddp, self.d_ddp
        if cfg.warp_frac > 0:
            warp = (torch.rand(len(x), generator=self.aug_gen) < cfg.warp_frac).to(x.device)
            x = torch.where(warp[:, None, None], local_time_warp(x, self.aug_gen), x)
        views = None
        if cfg.uses_kd or cfg.uses_con:
            views = (augment(x, self.aug_gen, cfg.aug_strength), augment(x, self.aug_gen, cfg.aug_strength))
        # discriminator: real vs reconstructed (+ contrastive head on its features)
        with self._autocast():
            with torch.no_grad():
                x_hat = G(x)
            d_real, _ = D(x)
            d_fake, _ = D(x_hat)
            loss_d = F.binary_cross_entropy_with_logits(d_real.float(), torch.ones_like(d_real, dtype=torch.float32)) + \
                F.binary_cross_entropy_with_logits(d_fake.float(), torch.zeros_like(d_fake, dtype=torch.float32))
            con = torch.zeros((), device=x.device)
            if cfg.uses_con and cfg.con_place == "disc":
                _, f1 = D(views[0])
                _, f2 = D(views[1])
                con = nt_xent(self.P(f1.float()), self.P(f2.float()), cfg.con_tau)
                loss_d = loss_d + cfg.con_weight * con
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # generator: reconstruction + feature matching (+ distillation, + contrastive on the code)
        with self._autocast():
            x_hat, z, maps = self.G(x, return_maps=True) if self.world == 1 else (G(x), None, None)
            # the plain D, not its DDP wrapper: this backward is for G (D's output layer gets no
            # gradient here, which DDP would refuse, and D's gradients are not synchronised for nothing)
            _, f_real = self.D(x)
            _, f_fake = self.D(x_hat)
            rec = F.mse_loss(x_hat.float(), x)
            adv = F.mse_loss(f_fake.float(), f_real.detach().float())
            loss_g = rec + cfg.w_adv * adv
            kd = torch.zeros((), device=x.device)
            if self.teacher is not None:
                with frozen_bn_stats(self.G):
                    xs, _, ms = self.G(views[0], return_maps=True)
                with torch.no_grad():
                    xt, _, mt = self.teacher(x, return_maps=True)
                kd = cfg.kd_out * F.mse_loss(xs.float(), xt.float())
                if cfg.kd_at:
                    kd = kd + cfg.kd_at * attention_transfer([m.float() for m in ms], [m.float() for m in mt])
                if cfg.kd_tick:
                    kd = kd + cfg.kd_tick * tick_error_kd((xs.float() - x) ** 2, (xt.float() - x) ** 2, cfg.kd_t)
                loss_g = loss_g + kd
            if cfg.uses_con and cfg.con_place == "enc":
                with frozen_bn_stats(self.G):
                    z1, z2 = self.G.encoder(views[0]), self.G.encoder(views[1])
                con = nt_xent(self.P(z1.flatten(1).float()), self.P(z2.flatten(1).float()), cfg.con_tau)
                loss_g = loss_g + cfg.con_weight * con
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        if cfg.has_ema_teacher:
            self._ema_update()
        ld = float(loss_d.detach())
        if self.world > 1:  # one decision for all ranks: re-initialising D on one rank only would fork the models
            ld = self._mean_over_ranks(ld)
        if ld < cfg.d_reinit_below:
            self.D.apply(init_weights)
            self.d_reinits += 1
        return {"loss_d": ld, "loss_g": float(loss_g.detach()), "rec": float(rec.detach()),
                "adv": float(adv.detach()), "kd": float(kd.detach()), "con": float(con.detach())}

    def _mean_over_ranks(self, value: float) -> float:
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        torch.distributed.all_reduce(t)
        return float(t.item()) / self.world

    @torch.no_grad()
    def _sync_buffers(self) -> None:
        """Average BatchNorm's running statistics over the ranks before a checkpoint.

        DDP broadcasts rank 0's buffers at each forward, but every rank then updates them with its
        own batch; averaging at the end of an epoch gives all ranks, and the checkpoint, statistics
        of all shards.
        """
        if self.world == 1:
            return
        nets = [self.G, self.D] + ([self.teacher] if self.cfg.has_ema_teacher else [])
        for net in nets:
            for b in net.buffers():
                if b.is_floating_point():
                    torch.distributed.all_reduce(b)
                    b.div_(self.world)

    def _any_rank(self, flag: bool) -> bool:
        """True on every rank when it is True on one (Ctrl-C reaching one worker stops them all)."""
        if self.world == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return bool(t.item() > 0)

    def _ema_update(self) -> None:
        ema_update(self.teacher, self.G, self.cfg.ema)

    @torch.no_grad()
    def val_mse(self) -> float | None:
        """Mean reconstruction error of held-out normal beats: the label-free check of each epoch."""
        if self.x_val is None or len(self.x_val) == 0:
            return None
        self.G.eval()
        tot = 0.0
        for i in range(0, len(self.x_val), 2048):
            xb = self.x_val[i : i + 2048]
            # CUDA validates under its training autocast (as the GPU rows were selected); the CPU in
            # fp32 whatever --cpu-bf16 says, as scoring does
            with self._autocast() if self.amp else contextlib.nullcontext():
                tot += float(((self.G(xb).float() - xb) ** 2).mean(dim=(1, 2)).sum())
        self.G.train()
        return tot / len(self.x_val)

    # ---- checkpoints --------------------------------------------------------------------------
    def checkpoint(self) -> dict:
        ck = {"cfg": asdict(self.cfg), "G": self.G.state_dict(), "D": self.D.state_dict(),
              "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
              "epoch": self.state.epoch, "step_in_epoch": self.state.step_in_epoch,
              "history": json.dumps(self.state.history), "partial": json.dumps(self.state.partial),
              "aug_rng": self.aug_gen.get_state(),
              "torch_rng": torch.get_rng_state(), "d_reinits": self.d_reinits}
        if self.cfg.has_ema_teacher:
            ck["T"] = self.teacher.state_dict()
        if self.P is not None:
            ck["P"] = self.P.state_dict()
        return ck

    def save(self, name: str = "ckpt.pt") -> Path:
        if self.rank != 0:
            return self.out / name
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / name
        with atomic_write(path) as f:
            torch.save(self.checkpoint(), f)
        return path

    def resume(self, path: Path) -> None:
        """Continue the run saved at ``path``; refused if it was made with another recipe."""
        ck = torch.load(path, map_location=self.device, weights_only=True)
        differ = recipe_differences(ck.get("cfg", {}), self.cfg)
        if differ:
            raise RecipeMismatch(f"{path} was saved by a run of another recipe (it differs in {', '.join(differ)}): "
                             "continuing it would mix two recipes. Use another run folder, or delete that one.")
        self.G.load_state_dict(ck["G"])
        self.D.load_state_dict(ck["D"])
        self.opt_g.load_state_dict(ck["opt_g"])
        self.opt_d.load_state_dict(ck["opt_d"])
        if "T" in ck and self.teacher is not None:
            self.teacher.load_state_dict(ck["T"])
        if "P" in ck and self.P is not None:
            self.P.load_state_dict(ck["P"])
        self.state = TrainState(int(ck["epoch"]), int(ck["step_in_epoch"]), json.loads(ck["history"]),
                                json.loads(ck.get("partial", "{}")))
        # RNG states must be CPU byte tensors (map_location may have moved them to the GPU)
        self.aug_gen.set_state(ck["aug_rng"].cpu())
        torch.set_rng_state(ck["torch_rng"].cpu())
        self.d_reinits = int(ck["d_reinits"])

    def resume_or_restart(self, log=print) -> bool:
        """Resume this run folder's checkpoint if it is of this recipe; otherwise move the folder
        aside (``NAME.old-TIME``, nothing is deleted) and start over. True if it resumed."""
        ck = self.out / "ckpt.pt"
        if not ck.is_file():
            return False
        try:
            self.resume(ck)  # refuses before it changes any state
            return True
        except RecipeMismatch:
            aside = self.out.with_name(f"{self.out.name}.old-{int(time.time())}")
            os.replace(self.out, aside)
            self.out.mkdir(parents=True)
            log(f"{ck} is of another recipe: moved to {aside}, starting over")
            return False

    # ---- the loop -------------------------------------------------------------------------------
    def fit(self, max_steps: int | None = None, progress: bool = True,
            on_step: Callable[[dict[str, float]], None] | None = None) -> TrainState:
        """Train to ``cfg.epochs`` (or ``max_steps`` more steps); checkpoint every epoch; Ctrl-C saves.

        ``on_step`` is called with each step's losses after the step (studies keep their own weight
        averages or traces with it, without wrapping ``train_step``).
        """
        cfg = self.cfg
        spe = self.steps_per_epoch()
        if spe == 0:
            raise ValueError(f"training set of {len(self.x)} beats is smaller than one batch of {cfg.batch}")
        total = spe * cfg.epochs
        done_steps = 0
        interrupted = {"flag": False}
        previous = signal.getsignal(signal.SIGINT)

        def on_sigint(signum, frame):  # finish the step, save, exit
            interrupted["flag"] = True

        if threading_main():  # every rank: torchrun passes Ctrl-C to all workers
            signal.signal(signal.SIGINT, on_sigint)
        self.G.train()
        self.D.train()
        try:
            while self.state.epoch < cfg.epochs:
                order = self.epoch_order(self.state.epoch)
                t0 = time.perf_counter()
                # a resumed epoch's log covers its steps from before the interruption too
                part = self.state.partial if self.state.step_in_epoch else {}
                sums: dict[str, float] = dict(part.get("sums", {}))
                n_seen = int(part.get("n", 0))
                wall_before = float(part.get("wall_s", 0.0))
                n_timed = 0
                for s in range(self.state.step_in_epoch, spe):
                    step = self.state.epoch * spe + s
                    lr = lr_at(cfg, step, total)
                    for opt in (self.opt_g, self.opt_d):
                        for grp in opt.param_groups:
                            grp["lr"] = lr
                    idx = order[s * cfg.batch : (s + 1) * cfg.batch].to(self.device)
                    losses = self.train_step(self.x[idx])
                    if on_step is not None:
                        on_step(losses)
                    for k, v in losses.items():
                        sums[k] = sums.get(k, 0.0) + v
                    n_seen += 1
                    n_timed += 1
                    self.state.step_in_epoch = s + 1
                    self.state.partial = {"sums": sums, "n": n_seen,
                                          "wall_s": wall_before + time.perf_counter() - t0}
                    done_steps += 1
                    if progress and self.rank == 0:
                        rate = n_timed * cfg.batch / max(1e-9, time.perf_counter() - t0)
                        bar = "#" * int(20 * (s + 1) / spe)
                        sys.stderr.write(f"\repoch {self.state.epoch + 1}/{cfg.epochs} [{bar:<20}] {s + 1}/{spe} "
                                         f"rec {losses['rec']:.4f} adv {losses['adv']:.4f} D {losses['loss_d']:.3f} "
                                         f"kd {losses['kd']:.4f} con {losses['con']:.3f} {rate:.0f} samples/s  ")
                    interrupted["flag"] = self._any_rank(interrupted["flag"])
                    stop = interrupted["flag"] or (max_steps is not None and done_steps >= max_steps)
                    if stop and s + 1 < spe:  # at an epoch's last step, log and save the epoch first
                        self._sync_buffers()
                        self.save()
                        if progress and self.rank == 0:
                            sys.stderr.write("\n")
                        if interrupted["flag"]:
                            self.log(f"interrupted: checkpoint saved to {self.out / 'ckpt.pt'}; rerun with --resume")
                        return self.state
                wall = time.perf_counter() - t0
                entry = {"epoch": self.state.epoch + 1, "wall_s": round(wall_before + wall, 2),
                         "samples_per_s": round(n_timed * cfg.batch * self.world / max(wall, 1e-9), 1),
                         "lr_end": lr_at(cfg, (self.state.epoch + 1) * spe - 1, total),
                         **{k: v / max(n_seen, 1) for k, v in sums.items()}, "val_mse": self.val_mse(),
                         "d_reinits": self.d_reinits}
                self.state.history.append(entry)
                self.state.epoch += 1
                self.state.step_in_epoch = 0
                self.state.partial = {}
                self._sync_buffers()
                self.save()
                if self.rank == 0:
                    if progress:
                        sys.stderr.write("\n")
                    with open(self.out / "log.jsonl", "a") as f:
                        f.write(json.dumps(entry) + "\n")
                if interrupted["flag"] or (max_steps is not None and done_steps >= max_steps):
                    if interrupted["flag"]:
                        self.log(f"interrupted: checkpoint saved to {self.out / 'ckpt.pt'}; rerun with --resume")
                    return self.state
        finally:
            if threading_main():
                signal.signal(signal.SIGINT, previous)
        return self.state


@torch.no_grad()
def ema_update(average: nn.Module, model: nn.Module, decay: float) -> None:
    """One step of an exponential moving average of ``model``'s weights; buffers (BatchNorm
    statistics) are copied, not averaged."""
    for pa, pm in zip(average.parameters(), model.parameters()):
        pa.mul_(decay).add_(pm.detach(), alpha=1 - decay)
    for ba, bm in zip(average.buffers(), model.buffers()):
        ba.copy_(bm)


@contextlib.contextmanager
def frozen_bn_stats(model: nn.Module):
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


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def load_generator(path: str | os.PathLike[str]) -> Generator:
    """A trained generator from a training checkpoint (weights only: no code can run)."""
    ck = torch.load(path, map_location="cpu", weights_only=True)
    cfg = TrainConfig(**{k: v for k, v in ck["cfg"].items() if k in TrainConfig.__dataclass_fields__})
    g = Generator(cfg.net())
    g.load_state_dict(ck["G"])
    return g.eval()
