"""The training loop: the learning-rate schedule, one epoch of steps, the held-out check of each
epoch, and ``fit`` (to the last epoch or a step budget; a checkpoint every epoch; Ctrl-C saves).

Everything a step needs lives on the ``Trainer``; this module only decides when steps, logs,
evaluations and checkpoints happen, so a resumed run replays the very same steps.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from trainer import checkpoint, distributed
from trainer.config import TrainConfig

if TYPE_CHECKING:
    from trainer.train import Trainer

StepHook = Callable[[dict[str, float]], None]


@dataclass
class TrainState:
    epoch: int = 0  # epochs completed
    step_in_epoch: int = 0
    history: list = field(default_factory=list)
    partial: dict = field(default_factory=dict)  # loss sums and step count of the unfinished epoch


def lr_at(cfg: TrainConfig, step: int, total: int) -> float:
    """Linear warm-up over ``warmup_frac`` of the steps, then cosine decay to 0 (constant when
    ``warmup_frac`` is 0: the reference recipe)."""
    warm = max(1, int(cfg.warmup_frac * total))
    if cfg.warmup_frac > 0 and step < warm:
        return cfg.lr * (step + 1) / warm
    if cfg.warmup_frac == 0:
        return cfg.lr
    p = (step - warm) / max(1, total - warm)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, p)))


@torch.no_grad()
def evaluate(tr: Trainer) -> float | None:
    """Mean reconstruction error of held-out normal beats: the label-free check of each epoch."""
    if tr.x_val is None or len(tr.x_val) == 0:
        return None
    tr.G.eval()
    tot = 0.0
    for i in range(0, len(tr.x_val), 2048):
        xb = tr.x_val[i : i + 2048]
        # CUDA validates under its training autocast (as the GPU rows were selected); the CPU in
        # fp32 whatever --cpu-bf16 says, as scoring does
        with tr.autocast() if tr.amp else contextlib.nullcontext():
            tot += float(((tr.G(xb).float() - xb) ** 2).mean(dim=(1, 2)).sum())
    tr.G.train()
    return tot / len(tr.x_val)


class Stop:
    """Why and when ``fit`` stops early: Ctrl-C (on any rank) or a budget of steps."""

    def __init__(self, max_steps: int | None) -> None:
        self.max_steps = max_steps
        self.done_steps = 0
        self.interrupted = False

    def step_done(self, tr: Trainer) -> bool:
        self.done_steps += 1
        self.interrupted = distributed.any_rank(self.interrupted, tr.device, tr.world)
        return self.now

    @property
    def now(self) -> bool:
        return self.interrupted or (self.max_steps is not None and self.done_steps >= self.max_steps)


@contextlib.contextmanager
def stop_on_sigint(stop: Stop) -> Iterator[None]:
    """Ctrl-C finishes the step, saves and returns (every rank: torchrun passes it to all workers)."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT)
    if main:
        signal.signal(signal.SIGINT, lambda *_: setattr(stop, "interrupted", True))
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)


def train_one_epoch(tr: Trainer, stop: Stop, progress: bool = True, on_step: StepHook | None = None) -> bool:
    """Run the current epoch's remaining steps; log, evaluate and checkpoint it at its end. False
    when it stopped part-way (the checkpoint then holds the unfinished epoch)."""
    cfg = tr.cfg
    spe = tr.steps_per_epoch()
    total = spe * cfg.epochs
    order = tr.epoch_order(tr.state.epoch)
    t0 = time.perf_counter()
    # a resumed epoch's log covers its steps from before the interruption too
    part = tr.state.partial if tr.state.step_in_epoch else {}
    sums: dict[str, float] = dict(part.get("sums", {}))
    n_seen = int(part.get("n", 0))
    wall_before = float(part.get("wall_s", 0.0))
    n_timed = 0
    for s in range(tr.state.step_in_epoch, spe):
        lr = lr_at(cfg, tr.state.epoch * spe + s, total)
        for opt in (tr.opt_g, tr.opt_d):
            for grp in opt.param_groups:
                grp["lr"] = lr
        idx = order[s * cfg.batch : (s + 1) * cfg.batch].to(tr.device)
        losses = tr.train_step(tr.batch(idx))
        if on_step is not None:
            on_step(losses)
        for k, v in losses.items():
            sums[k] = sums.get(k, 0.0) + v
        n_seen += 1
        n_timed += 1
        tr.state.step_in_epoch = s + 1
        tr.state.partial = {"sums": sums, "n": n_seen, "wall_s": wall_before + time.perf_counter() - t0}
        if progress and tr.rank == 0:
            _progress(tr, s, spe, losses, n_timed * cfg.batch / max(1e-9, time.perf_counter() - t0))
        if stop.step_done(tr) and s + 1 < spe:  # at an epoch's last step, log and save the epoch first
            tr.sync_buffers()
            checkpoint.save(tr)
            if progress and tr.rank == 0:
                sys.stderr.write("\n")
            return False
    wall = time.perf_counter() - t0
    entry = {"epoch": tr.state.epoch + 1, "wall_s": round(wall_before + wall, 2),
             "samples_per_s": round(n_timed * cfg.batch * tr.world / max(wall, 1e-9), 1),
             "lr_end": lr_at(cfg, (tr.state.epoch + 1) * spe - 1, total),
             **{k: v / max(n_seen, 1) for k, v in sums.items()}, "val_mse": evaluate(tr), "d_reinits": tr.d_reinits}
    tr.state.history.append(entry)
    tr.state.epoch += 1
    tr.state.step_in_epoch = 0
    tr.state.partial = {}
    tr.sync_buffers()
    checkpoint.save(tr)
    if tr.rank == 0:
        if progress:
            sys.stderr.write("\n")
        with open(tr.out / "log.jsonl", "a") as f:
            f.write(json.dumps(entry) + "\n")
    return True


def _progress(tr: Trainer, s: int, spe: int, losses: dict[str, float], rate: float) -> None:
    bar = "#" * int(20 * (s + 1) / spe)
    sys.stderr.write(f"\repoch {tr.state.epoch + 1}/{tr.cfg.epochs} [{bar:<20}] {s + 1}/{spe} "
                     f"rec {losses['reconstruction']:.4f} adv {losses['adversarial']:.4f} "
                     f"D {losses['discriminator']:.3f} kd {losses['distillation']:.4f} "
                     f"con {losses['contrastive']:.3f} {rate:.0f} samples/s  ")


def fit(tr: Trainer, max_steps: int | None = None, progress: bool = True, on_step: StepHook | None = None) -> TrainState:
    """Train to ``cfg.epochs`` (or ``max_steps`` more steps); checkpoint every epoch; Ctrl-C saves.

    ``on_step`` is called with each step's losses after the step (studies keep their own weight
    averages or traces with it, without wrapping ``train_step``).
    """
    if tr.steps_per_epoch() == 0:
        raise ValueError(f"training set of {len(tr.x)} beats is smaller than one batch of {tr.cfg.batch}")
    stop = Stop(max_steps)
    with stop_on_sigint(stop):
        tr.G.train()
        tr.D.train()
        while tr.state.epoch < tr.cfg.epochs:
            if not train_one_epoch(tr, stop, progress, on_step) or stop.now:
                break
    if stop.interrupted:
        tr.log(f"interrupted: checkpoint saved to {tr.out / checkpoint.NAME}; rerun with --resume")
    return tr.state
