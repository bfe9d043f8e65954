"""Several processes through torchrun and DistributedDataParallel, on the CPU (gloo).

Why: a user who outgrows one GPU runs ``torchrun --nproc-per-node N -m trainer train``; the code
path (sharding, gradient all-reduce, one D re-initialisation decision, checkpoints by rank 0) is
the same on CPUs with gloo, so it is tested here with two processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow
WORKER = Path(__file__).with_name("ddp_worker.py")


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without torch.distributed")
@pytest.mark.parametrize("model", ["beatgan", "si-beatgan-v2"])
def test_two_ranks_stay_identical_and_rank0_checkpoints(model, mitdb, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           str(WORKER), str(out), model, str(mitdb)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r0, r1 = (json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["world"] == r1["world"] == 2
    assert r0["steps"] == r1["steps"] == 5  # 330 beats: 165 a rank, 5 batches of 32
    # gradients were averaged and buffers broadcast: both ranks hold the same networks
    assert r0["G"] == r1["G"] and r0["D"] == r1["D"]
    assert r0["d_reinits"] == r1["d_reinits"]
    if model == "beatgan":
        assert r0["d_reinits"] > 0  # the re-init path ran, on both ranks alike
    # one checkpoint and one log, written by rank 0, holding the trained networks
    ck = torch.load(out / "ckpt.pt", map_location="cpu", weights_only=True)
    assert ck["epoch"] == 2
    assert {k: float(v.double().sum()) for k, v in ck["G"].items() if v.is_floating_point()} == r0["G"]
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in log] == [1, 2] and all(e["samples_per_s"] > 0 for e in log)
