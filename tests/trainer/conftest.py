"""Trainer test setup: a few hundred real MIT-BIH N beats and small, single-threaded recipes.

Nothing here builds the full dataset: beats are cut from two records with the core's
``extract_beats``. Every run goes to a pytest temporary folder.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from testdata import MITDB, MITDB_MISSING, have_mitdb


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """Two CPU cores shared with other work: tests train on one thread (also keeps runs repeatable)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def mitdb() -> Path:
    if not have_mitdb("100", "119"):
        pytest.skip(MITDB_MISSING)
    return MITDB


@pytest.fixture(scope="session")
def n_beats(mitdb) -> np.ndarray:
    """384 N beats (1 lead): 256 from record 100, 128 from record 119, in record order."""
    from ecgviewer.core.beats import BeatParams, extract_beats
    from ecgviewer.core.record import load_record

    parts = []
    for name, k in (("100", 256), ("119", 128)):
        b = extract_beats(load_record(mitdb / name), BeatParams(n_leads=1))
        parts.append(b.x[b.cls == "N"][:k])
    x = np.concatenate(parts).astype(np.float32)
    assert x.shape == (384, 1, 320)
    return x


@pytest.fixture
def small_cfg():
    """Makes test recipes: width 4, latent 16, batch 32, one epoch (on the CPU, one thread: ``machine``)."""
    from trainer.config import TrainConfig

    def make(**kw):
        base = TrainConfig(width=4, latent=16, batch=32, epochs=1, proj_dim=16)
        return replace(base, **kw)

    return make


@pytest.fixture
def machine():
    """Machine options for the tests: the CPU, one thread (``machine(cpu_bf16=True)`` for bf16)."""
    from trainer.config import MachineConfig

    def make(**kw):
        return MachineConfig(**{"device": "cpu", "threads": 1, **kw})

    return make
