"""Training samples/s and scoring beats/s, each beside the reference configuration, in one run.

    python -m benchmarks.throughput [--device cpu|cuda] [--threads 2] [--json out.json]

Training: BeatGAN steps (D + G) on random beats, for the CPU recipe (width 16, batch 256), the
full-width model at batch 256, and the reference configuration (width 32, batch 64, lr 1e-4,
fp32); on CUDA also with bf16 autocast; on a CPU with native bf16, the reference network and
batch with bf16 autocast (``--cpu-bf16``) and SI-BeatGAN V2 at that size in fp32 and bf16.
Scoring: the generator's forward pass in batches of 1024 through the core's ``reconstruct``
(the path the viewer and CLI use), full width and width 16.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from ecgviewer.core.model.netconfig import NetConfig
from ecgviewer.core.model.networks import Generator
from ecgviewer.core.scoring import reconstruct
from trainer.config import MachineConfig, TrainConfig, cpu_has_native_bf16
from trainer.evaluate import hardware
from trainer.train import Trainer


def train_rate(cfg: TrainConfig, machine: MachineConfig, seconds: float) -> float:
    x = np.random.default_rng(0).uniform(-1, 1, (max(4096, cfg.batch * 8), cfg.n_leads, 320)).astype(np.float32)
    tr = Trainer(cfg, x, None, "/tmp/ecgviewer-throughput", machine=machine)
    batches = [tr.x[i * cfg.batch:(i + 1) * cfg.batch] for i in range(8)]
    for b in batches[:2]:  # warm-up
        tr.train_step(b)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        tr.train_step(batches[n % len(batches)])  # each step syncs: it reads its losses back
        n += 1
    return n * cfg.batch / (time.perf_counter() - t0)


def score_rate(width: int, device: str, seconds: float) -> float:
    g = Generator(NetConfig(width=width)).to(device).eval()
    x = np.random.default_rng(1).uniform(-1, 1, (8192, 1, 320)).astype(np.float32)
    reconstruct(g, x[:1024], device=device)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        reconstruct(g, x, device=device)
        n += len(x)
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = args.device
    fp32, bf16 = MachineConfig(device=dev, amp=False), MachineConfig(device=dev, amp=True, cpu_bf16=dev == "cpu")
    v2 = TrainConfig(model="si-beatgan-v2", batch=64, lr=1e-4, width=32)
    rows = {
        "train: reference (w32, batch 64, lr 1e-4, fp32)": (TrainConfig(batch=64, lr=1e-4, width=32), fp32),
        "train: full width (w32, batch 256)": (TrainConfig(batch=256, width=32), fp32),
        "train: CPU recipe (w16, batch 256)": (TrainConfig(batch=256, width=16), fp32),
    }
    if dev == "cpu" and cpu_has_native_bf16():
        rows["train: reference net and batch, bf16 (w32, batch 64)"] = (TrainConfig(batch=64, lr=1e-4, width=32), bf16)
        rows["train: SI-BeatGAN V2 (w32, batch 64, fp32)"] = (v2, fp32)
        rows["train: SI-BeatGAN V2 (w32, batch 64, bf16)"] = (v2, bf16)
    if dev == "cuda":
        rows["train: full width (w32, batch 256, bf16)"] = (TrainConfig(batch=256, width=32), bf16)
        rows["train: full width (w32, batch 1024, bf16)"] = (TrainConfig(batch=1024, width=32), bf16)
    out = {"device": torch.cuda.get_device_name(0) if dev == "cuda" else hardware(),
           "threads": torch.get_num_threads(), "torch": torch.__version__}
    for name, (cfg, machine) in rows.items():
        out[name] = round(train_rate(cfg, machine, args.seconds), 1)
        print(f"{name}: {out[name]:.0f} samples/s", flush=True)
    for w in (32, 16):
        key = f"score: width {w} (batch 1024)"
        out[key] = round(score_rate(w, dev, args.seconds), 1)
        print(f"{key}: {out[key]:.0f} beats/s", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
