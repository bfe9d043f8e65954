"""DistributedDataParallel under torchrun: rank and world from the environment, one decision for
all ranks, BatchNorm statistics averaged before a checkpoint, and a clean exit together.

With one process (no torchrun) every helper here is a no-op, so the single-device path is the
same code.
"""

from __future__ import annotations

import os

import torch
from torch import nn


def rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of processes (torchrun sets RANK and WORLD_SIZE)."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def init(world: int) -> None:
    """Join the process group (NCCL on GPUs, gloo on CPUs) when there is more than one rank."""
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")


def wrap(module: nn.Module, device: torch.device, world: int) -> nn.Module:
    """``module`` in DDP (gradients all-reduced in backward) when there are several ranks."""
    if world == 1:
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP

    return DDP(module, device_ids=[device.index] if device.type == "cuda" else None)


def mean_over_ranks(value: float, device: torch.device, world: int) -> float:
    if world == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    torch.distributed.all_reduce(t)
    return float(t.item()) / world


def any_rank(flag: bool, device: torch.device, world: int) -> bool:
    """True on every rank when it is True on one (Ctrl-C reaching one worker stops them all)."""
    if world == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    return bool(t.item() > 0)


@torch.no_grad()
def average_buffers(nets: list[nn.Module], world: int) -> None:
    """Average BatchNorm's running statistics over the ranks before a checkpoint.

    DDP broadcasts rank 0's buffers at each forward, but every rank then updates them with its
    own batch; averaging at the end of an epoch gives all ranks, and the checkpoint, statistics
    of all shards.
    """
    if world == 1:
        return
    for net in nets:
        for b in net.buffers():
            if b.is_floating_point():
                torch.distributed.all_reduce(b)
                b.div_(world)


def end_distributed() -> None:
    """Leave the process group together: a rank that tears gloo down while another still talks to
    it aborts ("terminate called without an active exception"), so all ranks meet first."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
