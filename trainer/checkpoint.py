"""Checkpoints: one file per run folder (``ckpt.pt``) holding everything a run needs to continue
exactly where it stopped (networks, optimisers, epoch and step, the unfinished epoch's loss sums,
the random states, the recipe and its id, the machine it ran on), written atomically by rank 0.

The learning rate is a function of the step (``loop.lr_at``), so the step is the scheduler's state.
Checkpoints are read with ``weights_only=True``: opening one never runs code.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ecgviewer.core.atomic import atomic_write
from ecgviewer.core.model.networks import Generator
from trainer.config import TrainConfig, TrainError, recipe_differences, recipe_id

if TYPE_CHECKING:
    from trainer.train import Trainer

NAME = "ckpt.pt"


class RecipeMismatch(TrainError):
    """A checkpoint made by a run of another recipe: continuing it would mix the two."""


def state(tr: Trainer) -> dict:
    """Everything ``resume`` needs, as tensors, numbers and strings (loadable with weights_only)."""
    ck = {"cfg": asdict(tr.cfg), "recipe_id": recipe_id(tr.cfg), "machine": asdict(tr.machine),
          "G": tr.G.state_dict(), "D": tr.D.state_dict(),
          "opt_g": tr.opt_g.state_dict(), "opt_d": tr.opt_d.state_dict(),
          "epoch": tr.state.epoch, "step_in_epoch": tr.state.step_in_epoch,
          "history": json.dumps(tr.state.history), "partial": json.dumps(tr.state.partial),
          "aug_rng": tr.aug_gen.get_state(), "torch_rng": torch.get_rng_state(), "d_reinits": tr.d_reinits}
    if tr.cfg.has_ema_teacher:
        ck["T"] = tr.teacher.state_dict()
    if tr.P is not None:
        ck["P"] = tr.P.state_dict()
    return ck


def save(tr: Trainer, name: str = NAME) -> Path:
    """Write the run's checkpoint into its folder (rank 0 only; the others return the path)."""
    path = tr.out / name
    if tr.rank != 0:
        return path
    tr.out.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as f:
        torch.save(state(tr), f)
    return path


def resume(tr: Trainer, path: Path) -> None:
    """Continue the run saved at ``path``; refused, before any state changes, if it was made with
    another recipe (another machine, thread count or precision is fine)."""
    from trainer.train import TrainState

    ck = torch.load(path, map_location=tr.device, weights_only=True)
    differ = recipe_differences(ck.get("cfg", {}), tr.cfg)
    if differ:
        raise RecipeMismatch(f"{path} was saved by a run of another recipe (it differs in {', '.join(differ)}): "
                             "continuing it would mix two recipes. Use another run folder, or delete that one.")
    tr.G.load_state_dict(ck["G"])
    tr.D.load_state_dict(ck["D"])
    tr.opt_g.load_state_dict(ck["opt_g"])
    tr.opt_d.load_state_dict(ck["opt_d"])
    if "T" in ck and tr.teacher is not None:
        tr.teacher.load_state_dict(ck["T"])
    if "P" in ck and tr.P is not None:
        tr.P.load_state_dict(ck["P"])
    tr.state = TrainState(int(ck["epoch"]), int(ck["step_in_epoch"]), json.loads(ck["history"]),
                          json.loads(ck.get("partial", "{}")))
    # RNG states must be CPU byte tensors (map_location may have moved them to the GPU)
    tr.aug_gen.set_state(ck["aug_rng"].cpu())
    torch.set_rng_state(ck["torch_rng"].cpu())
    tr.d_reinits = int(ck["d_reinits"])


def resume_or_restart(tr: Trainer, log=print) -> bool:
    """Resume the run folder's checkpoint if it is of this recipe; otherwise move the folder aside
    (``NAME.old-TIME``, nothing is deleted) and start over. True if it resumed."""
    ck = tr.out / NAME
    if not ck.is_file():
        return False
    try:
        resume(tr, ck)  # refuses before it changes any state
        return True
    except RecipeMismatch:
        aside = tr.out.with_name(f"{tr.out.name}.old-{int(time.time())}")
        os.replace(tr.out, aside)
        tr.out.mkdir(parents=True)
        log(f"{ck} is of another recipe: moved to {aside}, starting over")
        return False


def load_generator(path: str | os.PathLike[str]) -> Generator:
    """A trained generator from a training checkpoint (weights only: no code can run)."""
    ck = torch.load(path, map_location="cpu", weights_only=True)
    g = Generator(TrainConfig.from_dict(ck["cfg"]).net())
    g.load_state_dict(ck["G"])
    return g.eval()
