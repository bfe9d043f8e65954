"""Test-time self-adaptation: the generator fine-tuned briefly on the open record's own beats.

Why: a network trained on MIT-BIH reconstructs another patient's (or recorder's) normal beats worse
than MIT-BIH's, so its error measures "unlike MIT-BIH" as much as "unlike this patient's normal
beat". A short fine-tune on the record itself, without labels, moves the generator to this
patient's normal morphology; what stays badly reconstructed is what differs from it.

The risk is frequent ectopy: a bigeminy is half PVCs, and a generator tuned on every beat learns
them too. Two guards, both label-free:

- the *pool*: only the best-reconstructed ``keep`` share of the record's beats (by the unadapted
  generator's error) is ever sampled, so a class that is up to ``1 - keep`` of the record and
  reconstructs worse than the normal beats never enters training;
- the *trim*: within every batch the worst ``trim`` share by the current error gets no gradient
  (a trimmed loss), for what slipped into the pool.

BatchNorm keeps the statistics it was trained with (eval mode): a batch of one patient's beats is
no estimate of the population the weights expect. The bundled model is never modified: a copy is
tuned. Needs torch (the ONNX Runtime viewer cannot train); :func:`available` says whether it can run.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class AdaptConfig:
    """The adaptation recipe; defaults chosen on MIT-BIH (docs/method.md, "Self-adaptation")."""

    steps: int = 100  # Adam steps; ~8 s on 2 cores for the bundled width-32 generator
    batch: int = 64  # beats per step
    lr: float = 1e-4  # the training learning rate: a gentle nudge, not a retraining
    keep: float = 0.5  # share of beats (lowest unadapted error) that may ever be sampled
    trim: float = 0.2  # share of each batch (highest current error) given no gradient
    seed: int = 0  # same seed, same record, same scores
    params: str = "all"  # "all" the generator's weights, or "decoder" only (half the cost a step)
    pool_sample: int = 4096  # beats whose error picks the pool: bounds the cost on 24-hour records
    budget_s: float | None = 30.0  # wall-clock safety cap; None = always run all steps

    def __post_init__(self) -> None:
        if self.steps < 0 or self.batch < 2:
            raise ValueError("steps must be >= 0 and batch >= 2")
        if not 0.0 < self.keep <= 1.0 or not 0.0 <= self.trim < 1.0:
            raise ValueError("keep must be in (0, 1] and trim in [0, 1)")
        if self.lr <= 0:
            raise ValueError("lr must be positive")
        if self.params not in ("all", "decoder"):
            raise ValueError(f"params must be 'all' or 'decoder', not {self.params!r}")


@dataclass
class AdaptLog:
    """What the adaptation did, for the user and for tests.

    ``pool`` holds the indices (into the record's beats) that could be sampled; ``trained[k]`` the
    beats that got gradient at step k and ``trimmed[k]`` those of the same batch that did not.
    """

    pool: np.ndarray
    trained: list[np.ndarray] = field(default_factory=list)
    trimmed: list[np.ndarray] = field(default_factory=list)
    seconds: float = 0.0
    stopped: str = "done"  # "done", "budget" (time cap reached) or "too few beats"

    @property
    def steps(self) -> int:
        return len(self.trained)

    def summary(self) -> str:
        """One line for a status bar or the CLI."""
        base = f"self-adapted on {len(self.pool)} beats, {self.steps} steps in {self.seconds:.1f} s"
        return base if self.stopped == "done" else f"{base} ({self.stopped})"


def available() -> bool:
    """Whether adaptation can run here (it needs torch; the packaged viewer has ONNX Runtime only)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


class AdaptUnavailable(RuntimeError):
    """Adaptation was asked for where torch is not installed."""


def _errors(torch: Any, gen: Any, x: Any, batch: int = 512) -> np.ndarray:
    """Per-beat mean squared error of ``gen`` on tensor ``x`` (no gradient)."""
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = x[i:i + batch]
            out.append(((gen(xb) - xb) ** 2).flatten(1).mean(1))
    return torch.cat(out).numpy() if out else np.zeros(0, np.float32)


def adapt_generator(generator: Any, x: np.ndarray, cfg: AdaptConfig = AdaptConfig(),
                    progress: Callable[[int, int], None] | None = None,
                    cancelled: Callable[[], bool] | None = None) -> tuple[Any, AdaptLog]:
    """A copy of the torch ``generator`` fine-tuned on beats ``x`` (n, leads, ticks), and its log.

    Raises :class:`AdaptUnavailable` without torch and ``scoring.Cancelled`` when ``cancelled()``
    turns true. Deterministic for a seed when the step count, not the time cap, ends it.
    """
    if not available():
        raise AdaptUnavailable("self-adaptation needs PyTorch (pip install 'ecgviewer[trainer]'); scored without it")
    import torch

    from ecgviewer.core.scoring import Cancelled

    t0 = time.perf_counter()
    gen = copy.deepcopy(generator).eval()  # eval: BatchNorm keeps its trained statistics
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    n = len(xt)
    n_pool = int(np.floor(cfg.keep * n))
    if n_pool < cfg.batch or cfg.steps == 0:
        log = AdaptLog(pool=np.zeros(0, np.int64), stopped="too few beats" if cfg.steps else "done")
        log.seconds = time.perf_counter() - t0
        return gen, log
    rng = np.random.default_rng(cfg.seed)
    torch.manual_seed(cfg.seed)
    cand = np.arange(n) if n <= cfg.pool_sample else np.sort(rng.choice(n, cfg.pool_sample, replace=False))
    err0 = _errors(torch, gen, xt[cand])
    pool = np.sort(cand[np.argsort(err0, kind="stable")[:max(int(np.floor(cfg.keep * len(cand))), cfg.batch)]])
    log = AdaptLog(pool=pool)
    tuned = list(gen.decoder.parameters()) if cfg.params == "decoder" else list(gen.parameters())
    for p in tuned:
        p.requires_grad_(True)
    opt = torch.optim.Adam(tuned, lr=cfg.lr, betas=(0.5, 0.999))
    n_keep = cfg.batch - int(np.floor(cfg.trim * cfg.batch))
    for step in range(cfg.steps):
        if cancelled is not None and cancelled():
            raise Cancelled()
        if cfg.budget_s is not None and time.perf_counter() - t0 > cfg.budget_s:
            log.stopped = "budget"
            break
        idx = np.sort(rng.choice(pool, size=cfg.batch, replace=False))
        xb = xt[idx]
        if cfg.params == "decoder":
            with torch.no_grad():
                z = gen.encoder(xb)
            per_beat = ((gen.decoder(z) - xb) ** 2).flatten(1).mean(1)
        else:
            per_beat = ((gen(xb) - xb) ** 2).flatten(1).mean(1)
        order = torch.argsort(per_beat.detach(), stable=True)
        kept, dropped = order[:n_keep], order[n_keep:]
        loss = per_beat[kept].mean()  # the trimmed beats are not in the loss: no gradient reaches them
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        log.trained.append(idx[kept.numpy()])
        log.trimmed.append(idx[dropped.numpy()])
        if progress is not None:
            progress(step + 1, cfg.steps)
    for p in gen.parameters():
        p.requires_grad_(False)
    log.seconds = time.perf_counter() - t0
    return gen.eval(), log
