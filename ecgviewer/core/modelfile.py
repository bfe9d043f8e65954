"""Model files: weights plus a JSON model card, hash-checked, loaded without running code.

A model is two files side by side: ``NAME.pt`` holds only tensors (a state dict, read with
``torch.load(weights_only=True)``, which refuses pickled code) and ``NAME.json`` is its card:
architecture, preprocessing, training data and recipe, metrics, default threshold, version, and
the SHA-256 of the weights, checked before they are read.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ecgviewer.core.beats import BeatParams
from ecgviewer.core.errors import ModelError
from ecgviewer.core.models import Generator, NetConfig
from ecgviewer.core.scoring import RhythmModel

CARD_FORMAT = "ecgviewer-model-card/1"


@dataclass
class LoadedModel:
    generator: Generator
    card: dict
    rhythm: RhythmModel | None
    path: Path

    @property
    def params(self) -> BeatParams:
        p = self.card["preprocessing"]
        return BeatParams(n_leads=int(p["n_leads"]), fs=float(p["fs"]), before=int(p["before"]),
                          after=int(p["after"]), band_hz=tuple(p["band_hz"]))

    @property
    def threshold(self) -> float:
        return float(self.card["threshold"]["value"])

    @property
    def label(self) -> str:
        return f"{self.card.get('name', self.path.stem)} {self.card.get('version', '')}".strip()


def card_path(path: str | os.PathLike[str]) -> Path:
    """The card of a model given by its .json, its .pt, or its path without extension."""
    p = Path(path)
    return p.with_suffix(".json") if p.suffix in (".pt", "") else p


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_model(generator: Generator, card: dict, path: str | os.PathLike[str]) -> Path:
    """Write ``path``.pt and ``path``.json; the card gets the weights' SHA-256 and architecture."""
    jpath = card_path(path)
    wpath = jpath.with_suffix(".pt")
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}, buf)
    data = buf.getvalue()
    card = dict(card)
    card["format"] = CARD_FORMAT
    card["architecture"] = {"generator": "BeatGAN", **generator.cfg.as_dict()}
    card["weights"] = {"file": wpath.name, "sha256": sha256_bytes(data), "bytes": len(data)}
    jpath.parent.mkdir(parents=True, exist_ok=True)
    for target, payload in ((wpath, data), (jpath, (json.dumps(card, indent=2) + "\n").encode())):
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(payload)
        os.replace(tmp, target)
    return jpath


def load_model(path: str | os.PathLike[str]) -> LoadedModel:
    """Load a model and check it; any problem is a :class:`ModelError` with a clear message."""
    jpath = card_path(path)
    if not jpath.is_file():
        raise ModelError(f"{jpath}: model card not found")
    try:
        card = json.loads(jpath.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"{jpath}: not a model card ({e})") from None
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise ModelError(f"{jpath}: not an ecgviewer model card")
    try:
        wpath = jpath.with_name(card["weights"]["file"])
        expected = card["weights"]["sha256"]
        cfg = NetConfig(**{k: v for k, v in card["architecture"].items() if k != "generator"})
        # what scoring reads later: check it now, so a bad card is refused here and not mid-score
        params = LoadedModel(None, card, None, jpath).params  # type: ignore[arg-type]
        float(card["threshold"]["value"])
        rhythm_d = (card.get("score") or {}).get("rhythm")
        rhythm = RhythmModel.from_dict(rhythm_d) if rhythm_d else None
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ModelError(f"{jpath}: model card is incomplete ({type(e).__name__}: {e})") from None
    if params.n_leads != cfg.n_leads or params.before + params.after != cfg.window:
        raise ModelError(f"{jpath}: the card's preprocessing ({params.n_leads} leads, {params.before + params.after} "
                         f"ticks) does not fit its architecture ({cfg.n_leads} leads, {cfg.window} ticks)")
    if not wpath.is_file():
        raise ModelError(f"{wpath}: weights file not found")
    data = wpath.read_bytes()
    if sha256_bytes(data) != expected:
        raise ModelError(f"{wpath}: weights do not match the SHA-256 in their card (tampered or corrupted); refused")
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        gen = Generator(cfg)
        gen.load_state_dict(state, strict=True)
    except Exception as e:  # an unpickling error, a foreign state dict, wrong shapes
        raise ModelError(f"{wpath}: not weights of this model ({str(e).splitlines()[0][:200]})") from None
    gen.eval()
    return LoadedModel(gen, card, rhythm, jpath)


def bundled_model_path() -> Path:
    """The card of the model shipped in resources/models."""
    from importlib import resources

    return Path(str(resources.files("ecgviewer.resources") / "models" / "si-beatgan-v2.json"))
