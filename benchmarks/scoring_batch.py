"""Scoring speed of the bundled model by backend and batch size, runs alternated in one process.

Why: the Scorer's batch size is a speed choice (the viewer, the CLI and the self-test use it); this
measures it on the beats of the bundled sample 119 (repeated 5x) with each backend that is installed.

Usage: python -m benchmarks.scoring_batch [--rounds 3] [--batches 128 256 512 1024] [--onnx-1d]

``--onnx-1d`` adds the same generator exported as plain 1-D layers (how the ONNX export was made
before the 2-D lifting of ``export_onnx``), run by ONNX Runtime beside the bundled export; it needs
torch and the onnx package.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from ecgviewer.core.beats import extract_beats
from ecgviewer.core.model.inference import OnnxReconstructor, have
from ecgviewer.core.model.loader import load_model
from ecgviewer.core.record import load_record
from ecgviewer.core.resources import bundled_model_path, sample_record_path
from ecgviewer.core.scoring import reconstruct


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batches", type=int, nargs="+", default=[128, 256, 512, 1024])
    ap.add_argument("--onnx-1d", action="store_true", help="also time the generator exported as 1-D layers")
    args = ap.parse_args()
    models = {b: load_model(bundled_model_path(), backend=b) for b in ("torch", "onnx")
              if have("torch" if b == "torch" else "onnxruntime")}
    nets = {name: m.net for name, m in models.items()}
    if args.onnx_1d:
        if "torch" not in models or not have("onnx"):
            ap.error("--onnx-1d exports the generator again: it needs torch and the onnx package")
        from trainer.export import export_onnx

        nets["onnx-1d"] = OnnxReconstructor(export_onnx(models["torch"].net.generator, lift=False))
    if "torch" in models:
        import torch

        torch.set_num_threads(min(os.cpu_count() or 1, 8))
    first = next(iter(models.values()))
    beats = extract_beats(load_record(sample_record_path()), first.params)
    x = np.concatenate([beats.x] * 5)
    print(f"{len(x)} beats, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; beats/s per round:")
    rates: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.rounds):
        for bs in args.batches:
            for name, net in nets.items():
                t = time.perf_counter()
                reconstruct(net, x, batch=bs)
                rates.setdefault((name, bs), []).append(len(x) / (time.perf_counter() - t))
    for (name, bs), r in rates.items():
        print(f"  {name:7s} batch {bs:5d}: median {np.median(r):7.0f}  ({', '.join(f'{v:.0f}' for v in r)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
