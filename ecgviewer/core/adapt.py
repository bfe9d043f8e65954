"""Test-time self-adaptation: the generator fine-tuned briefly on the open record's own beats.

Why: a network trained on MIT-BIH reconstructs another patient's (or recorder's) normal beats worse
than MIT-BIH's, so its error measures "unlike MIT-BIH" as much as "unlike this patient's normal
beat". A short fine-tune on the record itself, without labels, moves the generator to this
patient's normal morphology; what stays badly reconstructed is what differs from it.

The risk is frequent ectopy: a bigeminy is half PVCs, and a generator tuned on every beat learns
them too. Two guards, both label-free:

- the *pool*: only beats that are not premature (RR before at least 0.95 x the running median)
  and, of those, the ``keep`` share most like their dominant beat are ever sampled; a bigeminy's
  PVCs come early and fall out, and so does what looks unlike the patient's usual beat;
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

from ecgviewer.core.templates import dominant_likeness


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
    pool: str = "template"  # rank the regular beats for the pool by "template" (likeness to their
    # dominant beat) or by "error" (the unadapted generator's error: misranks a lead it never saw)
    premature: float = 0.95  # a beat whose RR before is under this share of the running median is
    # premature and never in the pool (a bigeminy's PVCs; chosen on MIT-BIH, docs/method.md)
    pool_sample: int = 4096  # beats whose error picks the pool: bounds the cost on 24-hour records
    gate: float | None = 4.0  # adapt only when the pool's median error is over gate x the training
    # normals' median error (the card's): a record the model already knows is left alone (MIT-BIH
    # MLII: 0.8-2.3x, its lead V1: 27-91x; docs/method.md). None: always adapt
    budget_s: float | None = 30.0  # wall-clock safety cap; None = always run all steps

    def __post_init__(self) -> None:
        if self.steps < 0 or self.batch < 2:
            raise ValueError("steps must be >= 0 and batch >= 2")
        if not 0.0 < self.keep <= 1.0 or not 0.0 <= self.trim < 1.0:
            raise ValueError("keep must be in (0, 1] and trim in [0, 1)")
        if self.lr <= 0:
            raise ValueError("lr must be positive")
        if self.gate is not None and self.gate <= 0:
            raise ValueError("gate must be positive (or None)")
        if self.pool not in ("template", "error"):
            raise ValueError(f"pool must be 'template' or 'error', not {self.pool!r}")
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
    stopped: str = "done"  # "done", "budget" (time cap), "too few beats", "not needed" (gate) or
    # "no reference" (gated, but the card gives no training error to compare with)
    pool_error: float | None = None  # the pool's median error before adapting (when gated)

    @property
    def steps(self) -> int:
        return len(self.trained)

    def summary(self) -> str:
        """One line for a status bar or the CLI."""
        if self.stopped == "not needed":
            return "not self-adapted: this record's usual beats reconstruct like the training data's"
        base = f"self-adapted on {len(self.pool)} beats, {self.steps} steps in {self.seconds:.1f} s"
        return base if self.stopped == "done" else f"{base} ({self.stopped})"


def available() -> bool:
    """Whether adaptation can run here (it needs torch; the packaged viewer has ONNX Runtime only).

    Looks torch up without importing it: the viewer asks at start-up, and importing torch costs
    seconds there; the import happens when an adaptation actually runs."""
    import importlib.util

    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):  # a blocked or half-installed torch
        return False


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


def regular_beats(rr_pre: np.ndarray, premature: float = 0.95, span: int = 61) -> np.ndarray:
    """Beats that are not premature: RR before at least ``premature`` x the running median RR of
    ``span`` beats. In a bigeminy the median lies between the short and the long interval, so the
    PVCs (short before) fall out and the sinus beats (long before) stay. Unknown RR: not regular."""
    from scipy.ndimage import median_filter

    rr = np.nan_to_num(np.asarray(rr_pre, dtype=np.float64), nan=0.0)
    if not len(rr):
        return np.zeros(0, bool)
    return rr >= premature * median_filter(rr, size=min(span, len(rr)), mode="nearest")


def adapt_generator(generator: Any, x: np.ndarray, cfg: AdaptConfig = AdaptConfig(),
                    progress: Callable[[int, int], None] | None = None,
                    cancelled: Callable[[], bool] | None = None,
                    rr_pre: np.ndarray | None = None,
                    reference_mse: float | None = None) -> tuple[Any, AdaptLog]:
    """A copy of the torch ``generator`` fine-tuned on beats ``x`` (n, leads, ticks), and its log.

    ``rr_pre`` (seconds, per beat) keeps premature beats out of the pool (:func:`regular_beats`);
    without it every beat is a candidate. ``reference_mse``: the training normals' median error;
    with ``cfg.gate`` set, a record whose pool reconstructs within ``gate`` x that is not adapted
    (the bundled generator itself comes back, ``log.stopped == "not needed"``); with a gate and no
    reference nothing is adapted either (``"no reference"``).

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
    cand = np.flatnonzero(regular_beats(rr_pre, cfg.premature)) if rr_pre is not None else np.arange(n)
    if len(cand) < cfg.batch:  # an irregular record: rhythm cannot tell, shape alone decides
        cand = np.arange(n)
    if len(cand) > cfg.pool_sample:
        cand = np.sort(rng.choice(cand, cfg.pool_sample, replace=False))
    badness = -dominant_likeness(x[cand]) if cfg.pool == "template" else _errors(torch, gen, xt[cand])
    pool = np.sort(cand[np.argsort(badness, kind="stable")[:max(int(np.floor(cfg.keep * len(cand))), cfg.batch)]])
    log = AdaptLog(pool=pool)
    if cfg.gate is not None and reference_mse is None:  # nothing to judge the record against
        log.stopped = "no reference"
        log.seconds = time.perf_counter() - t0
        return generator, log
    if cfg.gate is not None:
        log.pool_error = float(np.median(_errors(torch, gen, xt[pool])))
        if log.pool_error <= cfg.gate * reference_mse:
            log.stopped = "not needed"
            log.seconds = time.perf_counter() - t0
            return generator, log
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
