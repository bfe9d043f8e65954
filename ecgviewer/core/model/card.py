"""The model card: what a model file says about itself, typed, versioned, read and checked here.

A model is files side by side: ``NAME.json`` (this card), ``NAME.pt`` (tensors only) and
``NAME.onnx`` (the same generator for ONNX Runtime). The card gives the architecture, the
preprocessing the network was trained on, how scores are made, the default threshold, the recipe
that trained it and the evaluation rows that measured that recipe, and the SHA-256 of each file.

This module only reads and verifies a card; nothing here writes one (the trainer does:
``trainer/export.py``). Any problem is one :class:`ModelError` line naming the card: an old card, a
foreign JSON file, a missing or mistyped field, a recipe id that does not fit its recipe, metric
rows of another recipe. A card is data; reading it never runs code.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from ecgviewer.core import robust
from ecgviewer.core.beats import ALIGN_RULES, BeatParams
from ecgviewer.core.errors import ModelError
from ecgviewer.core.model.netconfig import NetConfig
from ecgviewer.core.scoring import RhythmModel

SCHEMA = "ecgviewer-model-card/7"
#: Schemas this version reads. /3 added ``robust_score.target``, ``n_normal`` and ``window_ms`` (and
#: ``measured``, which late /2 cards also hold); a /2 card is a /3 card without them. /4 added
#: ``robust_score.rr_quantile``; a /3 card is a /4 card whose rhythm reference is the median (0.5).
#: /5 added ``robust_score.rhythm_gate``; a /4 card is a /5 card whose rhythm channel is never held down.
#: /6 added ``robust_score.likeness``; a /5 card is a /6 card that does not read the likeness channel.
#: /7 added ``robust_score.likeness.spread``; a /6 card's likeness channel reads the population's spread.
READS = ("ecgviewer-model-card/2", "ecgviewer-model-card/3", "ecgviewer-model-card/4", "ecgviewer-model-card/5",
         "ecgviewer-model-card/6", SCHEMA)
NETWORK = "BeatGAN"  # the only generator this viewer builds
# Settings of the machine a recipe ran on: a card records them beside its recipe, but they change
# speed, not the trained weights, so they are no part of the recipe's identity.
MACHINE_SETTINGS = frozenset({"device", "amp", "cpu_bf16", "threads"})


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def recipe_id(config: Mapping[str, Any]) -> str:
    """The project's one recipe id: 16 hex digits of the SHA-256 of the recipe's fields as sorted,
    compact JSON, machine settings left out. Cards, checkpoints and evaluation rows name a recipe by
    it. It hashes ``config`` as given: the trainer's ``recipe_id`` (trainer/config.py) first fills in
    defaults, writes float knobs as floats and drops labels, and a card stores its config so."""
    recipe = {k: v for k, v in config.items() if k not in MACHINE_SETTINGS}
    return sha256_bytes(json.dumps(recipe, sort_keys=True, separators=(",", ":")).encode())[:16]


@dataclass(frozen=True)
class FileRef:
    """A file beside the card and the SHA-256 its bytes must have before they are read."""

    file: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class OnnxRef(FileRef):
    """The generator exported for ONNX Runtime, and how far its output was from torch's at export."""

    opset: int = 17
    max_abs_diff_vs_torch: float = 0.0


@dataclass(frozen=True)
class Preprocessing:
    """How beat windows were cut for the network; the scorer cuts them the same way."""

    n_leads: int
    fs: float
    before: int
    after: int
    band_hz: tuple[float, float]
    scaling: str = "per-beat per-lead min-max to [-1, 1]"
    filter: str = ""
    leads: str = ""
    r_peaks: str = ""
    align: str = BeatParams.align  # the window rule (core/fiducial.py): "peak" or "none"

    @property
    def params(self) -> BeatParams:
        return BeatParams(n_leads=self.n_leads, fs=self.fs, before=self.before, after=self.after,
                          band_hz=self.band_hz, align=self.align)


@dataclass(frozen=True)
class Score:
    """How a beat's score is made: reconstruction error, plus rhythm context when ``rhythm`` is set."""

    kind: str  # "mse" or "mse+rhythm"
    description: str = ""
    rhythm: RhythmModel | None = None


@dataclass(frozen=True)
class Prematurity:
    """The robust score's rhythm channel: a Gaussian of normal beats' prematurity features."""

    mean: tuple[float, float]
    cov_inv: tuple[tuple[float, float], tuple[float, float]]
    center: float
    scale: float


@dataclass(frozen=True)
class TailKnots:
    """Each channel's z at tail shares 10^-k of normal beats (``core.robust.TAIL_LOG10``)."""

    morphology: list[float]
    rhythm: list[float]


@dataclass(frozen=True)
class Gate:
    """Where the robust score's rhythm channel is held down (``core.robust.RhythmGate``): a rhythm
    irregular at every lag, as atrial fibrillation, in which prematurity has no meaning."""

    quantile: float
    above: float
    cap: float = 0.0
    half: int = robust.IRREGULAR_HALF
    nn_below: float | None = None  # only intervals between beats whose morphology score is under it


@dataclass(frozen=True)
class Likeness:
    """The robust score's likeness channel (``core.robust.Likeness``): how unlike the record's own
    dominant beat a beat is, on DS1's normal beats' spread and tail, and how it joins morphology."""

    population: tuple[float, float]
    knots: list[float]
    join: str = "max"
    spread: str = "population"  # or "own-wider": the record's own spread where wider (a /7 field)


@dataclass(frozen=True)
class RobustScore:
    """How a record's beats are put on a patient-independent scale (``core.robust``); fitted on
    normal beats only by ``python -m trainer robust-fit``. Its threshold replaces the card's for the
    robust score; the card's :class:`Threshold` stays that of the raw score."""

    threshold: float
    population_log_mse: tuple[float, float]  # (centre, spread) of normal beats' log MSE
    combine: str = "sum"
    scale: str = "record"
    rhythm: Prematurity | None = None
    tails: TailKnots | None = None
    description: str = ""
    fitted_on: str = ""
    command: str = ""
    target: float | None = None  # the share of the fit's normal beats the threshold flags (None: a /2 card)
    n_normal: int | None = None  # how many normal beats it was fitted on
    window_ms: tuple[float, float] | None = None  # error read by the morphology channel, ms from R (None: all)
    rr_quantile: float | None = None  # the rhythm reference's quantile of local cycles (None: the median, a /3 card)
    rhythm_gate: Gate | None = None  # where the rhythm channel counts at most its cap (None: nowhere, a /4 card)
    likeness: Likeness | None = None  # the likeness channel (None: not read, a /5 card)

    def rule(self) -> robust.RobustScore:
        """The scoring rule these numbers describe."""
        d = asdict(self)
        return robust.RobustScore.from_dict(d)


@dataclass(frozen=True)
class Threshold:
    """The default alert threshold, set on held-out normal beats only."""

    value: float
    specificity_target: float | None = None
    set_on: str = ""


@dataclass(frozen=True)
class Recipe:
    """The training recipe by name, its full config (with the machine settings it ran with, which
    are no part of its identity) and its identity (``recipe_id(config)``)."""

    name: str
    id: str
    config: dict[str, Any]


@dataclass(frozen=True)
class TrainingData:
    database: str
    records: list[str]
    beats: str
    note: str = ""


@dataclass(frozen=True)
class Training:
    """The run that made these weights."""

    epochs: int
    wall_s: float
    hardware: str
    weights: str  # "generator" or "ema" (the EMA teacher's weights)
    final_val_mse: float | None = None
    held_out_mse: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricRow:
    """One evaluation of this card's recipe (folds trained without their test beats).

    ``recipe_id``, ``weights`` and ``rhythm`` say which run and which score it measured; the loader
    refuses a row that measured another recipe or another score. ``source`` is the results file it
    was read from, for a reader to find it.
    """

    split: str  # "intra" (5-fold, patients shared) or "inter" (DS1 -> DS2, other patients)
    source: str
    recipe_id: str
    weights: str
    rhythm: bool
    folds: int
    mean_auc: float | None = None
    std_auc: float | None = None
    mean_ap: float | None = None
    std_ap: float | None = None
    auc_by_class: dict[str, dict[str, float]] = field(default_factory=dict)
    sensitivity_at_99_specificity_threshold: float | None = None
    test_specificity_at_that_threshold: float | None = None


@dataclass(frozen=True)
class MeasuredRow:
    """A whole database scored through the product with these very weights at their default
    threshold (``python -m trainer crossdb``): what a user of another recorder meets.

    Unlike a :class:`MetricRow` (a recipe's folds), it measured the shipped weights themselves:
    ``weights_sha256`` and ``threshold`` tie it to them, and the loader refuses a row of other
    weights or of another threshold. ``data``: "MIT-BIH DS2" or the folder's name (qtdb-x).
    """

    data: str
    beats: str  # "reference" (the database's marks) or "detector" (the product's QRS detector)
    source: str
    weights_sha256: str
    threshold: float
    records: int
    auc: float
    ap: float
    n_flagged: float  # share of N beats over the threshold, pooled
    worst_record: str
    worst_share: float
    records_over_10pct: int
    second_lead: bool = False  # each record's other lead scored alone, as plain "ECG"
    auc_by_class: dict[str, float] = field(default_factory=dict)
    sensitivity_by_class: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelCard:
    """Everything a model file says about itself; the JSON card has these fields, nested alike."""

    schema: str
    name: str
    version: str
    network: str
    architecture: NetConfig
    preprocessing: Preprocessing
    score: Score
    threshold: Threshold
    recipe: Recipe
    weights: FileRef | None = None
    onnx: OnnxRef | None = None
    created: str = ""
    training: Training | None = None
    training_data: TrainingData | None = None
    metrics: list[MetricRow] = field(default_factory=list)
    licence: str = ""
    robust_score: RobustScore | None = None
    measured: list[MeasuredRow] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}".strip()

    @property
    def default_threshold(self) -> float:
        """The threshold the scorer applies by default: the robust score's where the card has one."""
        return self.robust_score.threshold if self.robust_score is not None else self.threshold.value


def card_path(path: str | os.PathLike[str]) -> Path:
    """The card of a model given by its .json, its .pt, or its path without extension."""
    p = Path(path)
    return p.with_suffix(".json") if p.suffix in (".pt", ".onnx", "") else p


def read_card(path: str | os.PathLike[str]) -> ModelCard:
    """Read and verify the card at ``path`` (or beside the weights given); ModelError on any problem."""
    jpath = card_path(path)
    if not jpath.is_file():
        raise ModelError(f"{jpath}: model card not found")
    try:
        data = json.loads(jpath.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"{jpath}: not a model card ({e})") from None
    return card_from_dict(data, jpath)


def card_from_dict(data: Any, where: Path | str = "model card") -> ModelCard:
    """The typed card of a parsed JSON object, verified (see :func:`read_card`)."""
    if not isinstance(data, dict):
        raise ModelError(f"{where}: not an ecgviewer model card")
    schema = data.get("schema")
    if schema is None and isinstance(data.get("format"), str) and data["format"].startswith("ecgviewer-model-card/"):
        raise ModelError(f"{where}: an old model card ({data['format']}); this version reads {SCHEMA}: "
                         "export the model again with this version's trainer")
    if not isinstance(schema, str) or not schema.startswith("ecgviewer-model-card/"):
        raise ModelError(f"{where}: not an ecgviewer model card")
    if schema not in READS:
        raise ModelError(f"{where}: model card {schema}; this version of ecgviewer reads "
                         f"{', '.join(READS[:-1])} and {READS[-1]} only")
    try:
        card = _build(ModelCard, data, "")
    except _Bad as e:
        raise ModelError(f"{where}: model card is invalid: {e}") from None
    _verify(card, where)
    return card


def _verify(card: ModelCard, where: Path | str) -> None:
    """What the field types cannot say: the parts of a card must fit each other."""
    def bad(problem: str) -> ModelError:
        return ModelError(f"{where}: {problem}")

    if card.network != NETWORK:
        raise bad(f"network {card.network!r} is not one this version runs ({NETWORK})")
    p, a = card.preprocessing, card.architecture
    if p.n_leads != a.n_leads or p.before + p.after != a.window:
        raise bad(f"the card's preprocessing ({p.n_leads} leads, {p.before + p.after} ticks) does not fit "
                  f"its architecture ({a.n_leads} leads, {a.window} ticks)")
    if card.weights is None and card.onnx is None:
        raise bad("the card lists no weights file")
    for ref in (card.weights, card.onnx):
        if ref is not None and (not ref.file or ref.file != Path(ref.file).name or ref.file in (".", "..")
                                or "\\" in ref.file):
            raise bad(f"file {ref.file!r}: a model's files must lie beside its card")
    kind = card.score.kind
    if kind not in ("mse", "mse+rhythm") or (kind == "mse+rhythm") != (card.score.rhythm is not None):
        raise bad(f"score kind {card.score.kind!r} does not fit its rhythm model")
    if p.align not in ALIGN_RULES:
        raise bad(f"preprocessing align {p.align!r}: must be one of {', '.join(ALIGN_RULES)}")
    if card.robust_score is not None:
        _verify_robust(card.robust_score, bad)
        if card.robust_score.rhythm_gate is not None and READS.index(card.schema) < READS.index("ecgviewer-model-card/5"):
            raise bad(f"robust_score rhythm_gate: a field of ecgviewer-model-card/5, not of {card.schema}")
        like = card.robust_score.likeness
        if like is not None and READS.index(card.schema) < READS.index("ecgviewer-model-card/6"):
            raise bad(f"robust_score likeness: a field of ecgviewer-model-card/6, not of {card.schema}")
        if like is not None and like.spread != "population" and card.schema != SCHEMA:
            raise bad(f"robust_score likeness spread: a field of {SCHEMA}, not of {card.schema}")
        w = card.robust_score.window_ms
        span = (-1000.0 * p.before / p.fs, 1000.0 * p.after / p.fs)
        if w is not None and not (math.isfinite(w[0]) and math.isfinite(w[1]) and span[0] <= w[0] < w[1] <= span[1]):
            raise bad(f"robust_score window_ms {list(w)}: must lie within the beat window "
                      f"({span[0]:.0f} .. {span[1]:.0f} ms) and end after it starts")
    _verify_measured(card, bad)
    if recipe_id(card.recipe.config) != card.recipe.id:
        raise bad(f"recipe id {card.recipe.id} is not that of the recipe it names")
    weights = card.training.weights if card.training else "generator"
    for row in card.metrics:
        if row.recipe_id != card.recipe.id:
            raise bad(f"metrics from {row.source} measured recipe {row.recipe_id}, not this card's ({card.recipe.id})")
        if row.weights != weights or row.rhythm != (card.score.rhythm is not None):
            raise bad(f"metrics from {row.source} measured another score ({row.weights} weights, rhythm "
                      f"{'on' if row.rhythm else 'off'}) than this model's")


def _verify_measured(card: ModelCard, bad: Callable[[str], ModelError]) -> None:
    """Database rows must have measured these weights at the threshold the scorer applies."""
    threshold = card.default_threshold
    for row in card.measured:
        if card.weights is None or row.weights_sha256 != card.weights.sha256:
            raise bad(f"measured rows from {row.source} scored other weights than this card's")
        if not math.isclose(row.threshold, threshold, rel_tol=1e-9):
            raise bad(f"measured rows from {row.source} were taken at threshold {row.threshold:.4g}, "
                      f"not this card's {threshold:.4g}")


def _verify_robust(r: RobustScore, bad: Callable[[str], ModelError]) -> None:
    """The robust score's numbers must make a rule: known joins, finite numbers, one knot per tail share."""
    if r.combine not in robust.COMBINE_RULES:
        raise bad(f"robust_score combine {r.combine!r}: must be one of {', '.join(robust.COMBINE_RULES)}")
    if r.scale not in robust.SCALES:
        raise bad(f"robust_score scale {r.scale!r}: must be one of {', '.join(robust.SCALES)}")
    numbers = [r.threshold, *r.population_log_mse]
    if r.rhythm is not None:
        numbers += [*r.rhythm.mean, *r.rhythm.cov_inv[0], *r.rhythm.cov_inv[1], r.rhythm.center, r.rhythm.scale]
    if not all(math.isfinite(v) for v in numbers):
        raise bad("robust_score holds a number that is not finite")
    if r.population_log_mse[1] <= 0 or (r.rhythm is not None and r.rhythm.scale <= 0):
        raise bad("robust_score: a spread must be positive")
    if r.target is not None and not 0.0 < r.target < 1.0:
        raise bad(f"robust_score target {r.target:g}: a share between 0 and 1")
    if r.rr_quantile is not None:
        try:
            robust.check_rr_quantile(r.rr_quantile)
        except ValueError as e:
            raise bad(f"robust_score {e}") from None
    g = r.rhythm_gate
    if g is not None:
        try:
            robust.RhythmGate(**asdict(g)).check(r.tails is not None)
        except ValueError as e:
            raise bad(f"robust_score {e}") from None
    if r.likeness is not None:
        if r.tails is None:
            raise bad("robust_score likeness is joined as a tail: the rule has no tails")
        try:
            robust.Likeness(tuple(r.likeness.population), list(r.likeness.knots), r.likeness.join,
                            r.likeness.spread).check()
        except ValueError as e:
            raise bad(f"robust_score {e}") from None
    if r.n_normal is not None and r.n_normal <= 0:
        raise bad(f"robust_score n_normal {r.n_normal}: must be positive")
    n = len(robust.TAIL_LOG10)
    if r.tails is not None and not (len(r.tails.morphology) == len(r.tails.rhythm) == n):
        raise bad(f"robust_score tails: {n} knots per channel expected")
    if r.tails is not None and not all(math.isfinite(v) for v in (*r.tails.morphology, *r.tails.rhythm)):
        raise bad("robust_score tails hold a number that is not finite")


class _Bad(Exception):
    """A field of the card has the wrong type or is missing; the message names its path."""


def _build(tp: Any, value: Any, at: str) -> Any:
    """``value`` (parsed JSON) checked against the type ``tp`` and turned into it."""
    where = at or "the card"
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _build(inner, value, at)
    if tp is Any:
        return value
    if tp is RhythmModel:
        try:
            return RhythmModel.from_dict(value)
        except (KeyError, TypeError, ValueError) as e:
            raise _Bad(f"{where}: not a rhythm model ({type(e).__name__}: {e})") from None
    if is_dataclass(tp):
        if not isinstance(value, dict):
            raise _Bad(f"{where}: expected an object")
        hints = typing.get_type_hints(tp)
        known = {f.name for f in fields(tp)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise _Bad(f"{where}: unknown field {unknown[0]!r}")
        kw = {}
        for f in fields(tp):
            if f.name in value:
                kw[f.name] = _build(hints[f.name], value[f.name], f"{at}.{f.name}" if at else f.name)
            elif f.default is MISSING and f.default_factory is MISSING:
                raise _Bad(f"{where}: field {f.name!r} missing")
        return tp(**kw)
    if origin is list:
        if not isinstance(value, list):
            raise _Bad(f"{where}: expected a list")
        return [_build(args[0], v, f"{at}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        if not isinstance(value, list) or len(value) != len(args):
            raise _Bad(f"{where}: expected a list of {len(args)}")
        return tuple(_build(a, v, f"{at}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin is dict:
        if not isinstance(value, dict):
            raise _Bad(f"{where}: expected an object")
        return {str(k): _build(args[1], v, f"{at}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Bad(f"{where}: expected a number, got {value!r:.40}")
        return float(value)
    if tp in (int, bool, str):
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise _Bad(f"{where}: expected {tp.__name__}, got {value!r:.40}")
        return value
    raise TypeError(f"card field type {tp!r} is not handled")  # a programming error, not a bad card
