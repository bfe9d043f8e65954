"""What a training run is: the recipe (``TrainConfig``), the machine it runs on (``MachineConfig``)
and the named presets of the recipes the project ships or compares.

The recipe is everything that changes the trained weights for a given seed; the machine options
(device, precision, threads) only change how fast they are reached, so a checkpoint moves between
machines and the recipe id (``recipe_id``) names a recipe wherever it ran. Every field's help text
lives next to the field: the CLI, its ``--help`` and docs/method.md read it from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ecgviewer.core.model.netconfig import NetConfig

MODELS = ("beatgan", "si-beatgan", "si-beatgan-v2")
CON_PLACES = ("disc", "enc")


class TrainError(ValueError):
    """A training request this machine or these settings cannot carry out; the CLI prints it."""


def knob(default: Any, help: str, choices: tuple | None = None, switch: bool = False) -> Any:
    """A recipe field with its help text (and its fixed choices, if any) for the CLI. A ``switch``
    is a knob added after recipes were named: at its default (off) it is left out of the recipe id,
    so every recipe named before it keeps its id (cards and result rows are matched by it)."""
    return field(default=default, metadata={"help": help, "choices": choices, "switch": switch})


@dataclass(frozen=True)
class TrainConfig:
    """A training recipe. Defaults are the first CPU recipe of docs/results.md; the presets below
    are the recipes that are shipped and compared."""

    model: str = knob("beatgan", "the model family: beatgan (Zhou et al. 2019), si-beatgan (plus self-"
                      "distillation from an EMA teacher) or si-beatgan-v2 (plus a contrastive head); "
                      "docs/method.md", MODELS)
    n_leads: int = knob(1, "leads per beat: 1 is MLII alone, which beat two leads (FIELD.md); 2 adds the chest lead",
                        (1, 2))
    width: int = knob(32, "channels of the first conv layer, doubling per stage: BeatGAN's 32; the small student uses 8")
    latent: int = knob(50, "size of the latent code: BeatGAN's 50")
    epochs: int = knob(8, "passes over the training beats (or --samples-per-epoch draws): 8 fits 30 minutes a "
                          "fold on 2 cores at width 16 (docs/method.md)")
    batch: int = knob(256, "beats per step: 4x the reference's 64, fewer and larger steps for a CPU, with the "
                           "learning rate scaled")
    lr: float = knob(1e-3, "peak Adam learning rate: the reference's 1e-4 at batch 64; at batch 128, 1e-3 reached "
                          "half the held-out normal error of 4e-4 in a short run (docs/method.md)")
    warmup_frac: float = knob(0.03, "share of the steps in linear warm-up before the cosine decay to 0 (0: a "
                                    "constant rate, as the reference); the cosine tail calms the adversarial swings")
    beta1: float = knob(0.5, "Adam's beta1 for G and D: 0.5, as DCGAN and BeatGAN")
    w_adv: float = knob(1.0, "weight of the adversarial (feature-matching) term against the reconstruction "
                             "term: BeatGAN's 1")
    samples_per_epoch: int = knob(0, "draws per epoch (0: every training beat once), to bound an epoch's time "
                                     "on a slow machine")
    record_balance: float = knob(0.0, "draw a beat with weight (its record's N count) ** -this: 0 uniform, 1 each "
                                      "record alike; off because 0.5 moved no figure (results/NOTES.md, session 5)")
    d_reinit_below: float = knob(1e-5, "re-initialise D when its loss falls below this, as the reference code does: "
                                       "a D that wins outright stops teaching G")
    warp_frac: float = knob(0.0, "share of training beats replaced by a local time warp (BeatGAN + aug: 0.75); "
                                 "off because it moved no figure here (results/NOTES.md, session 5)")
    align: str = knob("none", "window rule of the training beats: none, at the marks (every recipe up to 2.1.0); "
                              "peak, on the core's fiducial (core/fiducial.py), as the product scores", ("none", "peak"),
                      switch=True)
    aug_shift: int = knob(0, "training input moved by up to this many ticks (360 Hz) either way: tolerance for "
                             "what the fiducial leaves (docs/method.md); 0: off", switch=True)
    aug_invert: float = knob(0.0, "share of training inputs turned upside down: tolerance for a polarity the rule "
                                  "gets wrong; 0: off", switch=True)
    other_lead: float = knob(0.0, "share of training inputs taken from MIT-BIH's second lead (V1, V2, V4, V5), cut as "
                                  "a one-lead recorder of it is: tolerance for records without MLII; 0: off", switch=True)
    kd_out: float = knob(1.0, "distillation alpha: the student's reconstruction of an augmented view against the "
                              "teacher's of the clean beat (SI-BeatGAN's weight)")
    kd_at: float = knob(10.0, "distillation beta: attention transfer on the encoder's feature maps (SI-BeatGAN's weight)")
    kd_tick: float = knob(0.1, "distillation gamma: KL between where student and teacher put their error "
                               "(SI-BeatGAN's weight)")
    kd_t: float = knob(4.0, "softmax temperature T of the per-tick error KL: SI-BeatGAN's 4")
    ema: float = knob(0.995, "decay per step of the EMA self-teacher (mean-teacher style, no second stage): "
                             "an average over about the last 200 steps")
    aug_strength: float = knob(1.0, "scale of the views' augmentations (amplitude, wander, warp, noise, mask; "
                                    "docs/method.md): 1, mild on purpose")
    teacher: str = knob("", "a trained generator checkpoint to distil from, frozen (the small student); "
                            "'{fold}' is replaced by the fold number; empty: an EMA self-teacher")
    con_weight: float = knob(0.1, "weight of si-beatgan-v2's contrastive (NT-Xent) term: the seed's 0.1; 0.03 to "
                                  "1 moved fold 0's held-out normal error little (docs/method.md)")
    con_tau: float = knob(0.5, "NT-Xent temperature: SimCLR's 0.5; 0.1 was better on fold 0 only, not over "
                               "five folds (docs/method.md)")
    con_place: str = knob("disc", "where the contrastive head sits: disc, on D's last features (the authors' "
                                  "proposal), or enc, on G's latent code", CON_PLACES)
    proj_dim: int = knob(64, "output size of the contrastive projection head: SimCLR-style, small")
    seed: int = knob(0, "seeds weights, beat order and augmentations: one seed gives the same run again")
    preset: str = knob("", "the named preset this recipe started from (a label: not part of recipe_id; "
                           "empty when none)")

    def __post_init__(self) -> None:
        for f in fields(self):
            choices = f.metadata.get("choices")
            value = getattr(self, f.name)
            if choices and value not in choices:
                raise TrainError(f"--{_flag(f.name)} must be one of {', '.join(map(str, choices))}; got {value!r}")
        if self.preset and self.preset not in PRESETS:
            raise TrainError(f"--preset must be one of {', '.join(PRESETS)}; got {self.preset!r}")
        for name in ("record_balance", "warp_frac", "aug_invert", "other_lead"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                what = ("an exponent from 0 (uniform) to 1 (each record alike)" if name == "record_balance"
                        else "a share of the training beats, 0 to 1")
                raise TrainError(f"--{_flag(name)} is {what}; got {getattr(self, name)}")
        for name in ("width", "latent", "epochs", "batch", "proj_dim"):
            if getattr(self, name) < 1:
                raise TrainError(f"--{_flag(name)} must be at least 1; got {getattr(self, name)}")
        if isinstance(self.aug_shift, bool) or not isinstance(self.aug_shift, int) or not 0 <= self.aug_shift <= 40:
            raise TrainError(f"--aug-shift is a number of ticks from 0 to 40 (110 ms); got {self.aug_shift}")
        if self.other_lead and self.n_leads != 1:
            raise TrainError("--other-lead trains a one-lead model on the second lead too; it needs --n-leads 1")
        if self.other_lead and self.align != "peak":
            raise TrainError("--other-lead needs --align peak: the second lead is cut as the product cuts a one-lead "
                             "record, on its own fiducial and polarity")
        if self.lr <= 0:
            raise TrainError(f"--lr must be positive; got {self.lr}")

    @property
    def uses_kd(self) -> bool:
        return self.model in ("si-beatgan", "si-beatgan-v2") or bool(self.teacher)

    @property
    def has_ema_teacher(self) -> bool:
        """A one-stage self-teacher (EMA of the generator), as opposed to a frozen trained teacher."""
        return self.uses_kd and not self.teacher

    @property
    def uses_con(self) -> bool:
        return self.model == "si-beatgan-v2" and self.con_weight > 0

    def net(self) -> NetConfig:
        from ecgviewer.core.model.netconfig import NetConfig

        return NetConfig(n_leads=self.n_leads, width=self.width, latent=self.latent)

    @classmethod
    def from_dict(cls, saved: Mapping[str, Any]) -> TrainConfig:
        """The recipe of a checkpoint, card or result file (fields it does not know are dropped:
        older files also hold the machine options; fields it predates take their defaults)."""
        return cls(**{k: v for k, v in saved.items() if k in RECIPE_FIELDS})


RECIPE_FIELDS = tuple(f.name for f in fields(TrainConfig))
LABELS = ("preset",)  # names, not recipe: they neither change the weights nor the recipe id

# the paper's schedule (Zhou et al. 2019): batch 64, lr 1e-4 constant, 100 epochs
REFERENCE = dict(batch=64, lr=1e-4, epochs=100, warmup_frac=0.0)


def _flag(name: str) -> str:
    return name.replace("_", "-")


def recipe_fields(cfg: TrainConfig | Mapping[str, Any]) -> dict[str, Any]:
    """The recipe as its id hashes it and a card stores it: every field (those a saved recipe
    predates at their defaults), float knobs as floats, labels, machine options and switches that
    are off left out."""
    cfg = cfg if isinstance(cfg, TrainConfig) else TrainConfig.from_dict(cfg)
    # a float knob given as an int (lr=1) is the same recipe as its float (lr=1.0)
    return {f.name: float(getattr(cfg, f.name)) if isinstance(f.default, float) else getattr(cfg, f.name)
            for f in fields(cfg) if f.name not in LABELS
            and not (f.metadata.get("switch") and getattr(cfg, f.name) == f.default)}


def recipe_id(cfg: TrainConfig | Mapping[str, Any]) -> str:
    """The recipe id of a config or a saved recipe: the core's ``recipe_id`` (one hash for the
    project, so the viewer checks a card's id without the trainer) of ``recipe_fields(cfg)``. Two
    runs with the same id trained the same recipe."""
    from ecgviewer.core.model.card import recipe_id as hash_recipe

    return hash_recipe(recipe_fields(cfg))


def recipe_differences(saved: Mapping[str, Any], cfg: TrainConfig) -> list[str]:
    """Recipe fields in which a checkpoint's saved config differs from ``cfg`` (fields a checkpoint
    predates count as their default, so older checkpoints of the same recipe still resume; machine
    options and labels never count)."""
    now, default = asdict(cfg), asdict(TrainConfig(model=cfg.model))
    return sorted(k for k in now if k not in LABELS and saved.get(k, default[k]) != now[k])


# ---- presets -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Preset:
    why: str
    recipe: TrainConfig
    needs_teacher: bool = False


R3 = dict(epochs=3, batch=64, lr=1e-4)  # the shipped schedule ("r3"): the reference's batch and rate, 3 epochs

# each preset's recipe is kept unlabelled; preset() adds its name
PRESETS: dict[str, Preset] = {
    "beatgan": Preset("the ablation's baseline: BeatGAN alone at the shipped schedule (3 epochs, batch 64, lr 1e-4)",
                      TrainConfig(model="beatgan", **R3)),
    "beatgan-paper": Preset("BeatGAN as published (100 epochs, batch 64, lr 1e-4 constant): the reference the "
                            "shipped schedule shortens", TrainConfig(model="beatgan", **REFERENCE)),
    "si-beatgan": Preset("the baseline plus self-knowledge distillation from an EMA teacher: what distillation adds",
                         TrainConfig(model="si-beatgan", **R3)),
    "si-beatgan-v2": Preset("the bundled model's recipe: SI-BeatGAN plus NT-Xent on D's features "
                            "(resources/models/si-beatgan-v2)", TrainConfig(model="si-beatgan-v2", **R3)),
    "si-beatgan-v2-lead": Preset("V2 with 30 % of its inputs from MIT-BIH's second lead, the retrained candidate: not "
                                 "shipped, its V sensitivity on DS2 fell (docs/method.md)",
                                 TrainConfig(model="si-beatgan-v2", align="peak", other_lead=0.3, **R3)),
    "small-student": Preset("a width-8 V2 distilled from a trained V2 teacher (--teacher): what a sixteenth of the "
                            "multiply-adds keeps", TrainConfig(model="si-beatgan-v2", width=8, **R3),
                            needs_teacher=True),
}


def preset(name: str, **overrides: Any) -> TrainConfig:
    """The recipe of a named preset, labelled with its name, with ``overrides``."""
    if name not in PRESETS:
        raise TrainError(f"--preset must be one of {', '.join(PRESETS)}; got {name!r}")
    return replace(PRESETS[name].recipe, preset=name, **overrides)


def exact_preset(cfg: TrainConfig) -> str | None:
    """The preset whose recipe ``cfg`` is exactly (by recipe id; any teacher, for a preset that needs
    one), or None when it departs from all."""
    for name, p in PRESETS.items():
        if recipe_id(replace(cfg, teacher="") if p.needs_teacher else cfg) == recipe_id(p.recipe):
            return name
    return None


# ---- the machine -----------------------------------------------------------------------------------

CPUINFO = Path("/proc/cpuinfo")
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: Path | None = None) -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none: not Linux)."""
    try:
        text = (cpuinfo or CPUINFO).read_text(errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.split(":", 1)[0].strip() in ("flags", "Features"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_has_native_bf16(cpuinfo: Path | None = None) -> bool:
    """Whether the CPU has bf16 instructions (AVX512-BF16 or AMX). The CPU's own flags, not oneDNN's
    answer: ``torch.ops.mkldnn._is_mkldnn_bf16_supported()`` says True on any AVX-512 CPU, where
    bf16 is emulated at 0.4x the fp32 speed."""
    return any(f in cpu_flags(cpuinfo) for f in NATIVE_BF16_FLAGS)


def machine_knob(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class MachineConfig:
    """Where and how fast a recipe runs; none of it is part of the recipe (DDP's rank and world
    size come from torchrun's environment: trainer/distributed.py)."""

    device: str = machine_knob("auto", "auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:N or mps")
    amp: bool = machine_knob(True, "bf16 autocast on CUDA (the GPU rows trained so); weights and optimiser state "
                                "stay fp32")
    cpu_bf16: bool = machine_knob(False, "bf16 autocast on a CPU with native bf16 (AVX512-BF16 or AMX): 1.25-1.7x the "
                                         "samples/s of fp32 on this EPYC; refused on CPUs that would emulate it")
    threads: int = machine_knob(0, "torch threads on the CPU (0: torch's default, one per core)")

    def __post_init__(self) -> None:
        if self.threads < 0:
            raise TrainError(f"--threads must be 0 (torch's default) or more; got {self.threads}")


def check_machine(machine: MachineConfig, device_type: str) -> None:
    """Refuse, before any work, machine options this machine cannot honour."""
    if machine.cpu_bf16 and device_type == "cpu" and not cpu_has_native_bf16():
        raise TrainError("--cpu-bf16 needs a CPU with native bf16 (flags avx512_bf16 or amx_bf16 in /proc/cpuinfo); "
                         "this one would emulate it, slower than fp32. Leave --cpu-bf16 off.")
