"""One rank of the two-process DistributedDataParallel test (started by torchrun, see test_ddp.py).

Trains a small model on real N beats of MIT-BIH record 100 on the CPU (gloo backend) and writes
what the test compares across ranks: a checksum of every parameter and buffer of G and D.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ecgviewer.core.beats import BeatParams, extract_beats  # noqa: E402
from ecgviewer.core.record import load_record  # noqa: E402
from trainer.config import MachineConfig, TrainConfig  # noqa: E402
from trainer.train import Trainer  # noqa: E402


def checksums(module: torch.nn.Module) -> dict[str, float]:
    return {k: float(v.double().sum()) for k, v in module.state_dict().items() if v.is_floating_point()}


def main() -> int:
    out, model, mitdb = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    torch.set_num_threads(1)
    beats = extract_beats(load_record(mitdb / "100"), BeatParams(n_leads=1))
    x = beats.x[beats.cls == "N"][:330]  # 330 = 165 a rank: 5 steps of 32 each, 5 beats left over
    cfg = TrainConfig(model=model, width=4, latent=16, batch=32, epochs=2, proj_dim=16,
                      d_reinit_below=0.5 if model == "beatgan" else 1e-5)  # beatgan: force re-inits
    tr = Trainer(cfg, x, x[-40:], out, log=lambda *a: None, machine=MachineConfig(device="cpu", threads=1))
    tr.fit(progress=False)
    rank = int(os.environ["RANK"])
    (out / f"rank{rank}.json").write_text(json.dumps({
        "world": tr.world, "steps": tr.steps_per_epoch(), "d_reinits": tr.d_reinits,
        "G": checksums(tr.G), "D": checksums(tr.D)}))
    from trainer.distributed import end_distributed

    end_distributed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
