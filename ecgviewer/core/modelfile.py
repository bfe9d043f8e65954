"""Model files: weights plus a JSON model card, hash-checked, loaded without running code.

A model is files side by side: ``NAME.pt`` holds only tensors (a state dict, read with
``torch.load(weights_only=True)``, which refuses pickled code) and ``NAME.json`` is its card:
architecture, preprocessing, training data and recipe, metrics, default threshold, version, and
the SHA-256 of the weights, checked before they are read. ``NAME.onnx``, when the card lists it,
is the same generator exported for ONNX Runtime (the packaged viewer's backend, no torch needed),
hash-checked the same way.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

from typing import Any

from ecgviewer.core.atomic import write_bytes_atomic
from ecgviewer.core.beats import BeatParams
from ecgviewer.core.errors import ModelError
from ecgviewer.core.netconfig import NetConfig
from ecgviewer.core.inference import OnnxReconstructor, Reconstructor, TorchReconstructor, default_backend
from ecgviewer.core.scoring import RhythmModel

CARD_FORMAT = "ecgviewer-model-card/1"


@dataclass
class LoadedModel:
    net: Reconstructor  # runs the generator (torch or ONNX Runtime)
    card: dict
    rhythm: RhythmModel | None
    path: Path

    @property
    def generator(self) -> Any:
        """The torch Generator (torch backend only)."""
        if self.net is None or self.net.backend != "torch":
            raise ModelError(f"{self.path}: loaded for ONNX Runtime; the torch Generator is not available")
        return self.net.generator

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


def save_model(generator: Any, card: dict, path: str | os.PathLike[str], onnx: bool = False) -> Path:
    """Write ``path``.pt and ``path``.json; the card gets the weights' SHA-256 and architecture.

    ``onnx=True`` also writes ``path``.onnx (needs the ``onnx`` package) and lists it in the card.
    """
    import torch

    jpath = card_path(path)
    wpath = jpath.with_suffix(".pt")
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}, buf)
    data = buf.getvalue()
    card = dict(card)
    card.pop("onnx", None)  # an export of other weights must never stay listed
    card["format"] = CARD_FORMAT
    card["architecture"] = {"generator": "BeatGAN", **generator.cfg.as_dict()}
    card["weights"] = {"file": wpath.name, "sha256": sha256_bytes(data), "bytes": len(data)}
    jpath.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(wpath, data)
    write_bytes_atomic(jpath, (json.dumps(card, indent=2) + "\n").encode())
    if onnx:
        add_onnx(jpath)
    return jpath


def add_onnx(path: str | os.PathLike[str], opset: int = 17) -> Path:
    """Export a saved model's generator to ``NAME.onnx`` and list it (with its SHA-256) in the card.

    The weights are loaded (hash-checked) with torch, exported, and the export is checked against
    torch on random beats before the card is rewritten.
    """
    import numpy as np

    from ecgviewer.core.inference import export_onnx

    model = load_model(path, backend="torch")
    data = export_onnx(model.generator, opset=opset)
    cfg = model.generator.cfg
    x = np.random.default_rng(0).uniform(-1, 1, (64, cfg.n_leads, cfg.window)).astype(np.float32)
    diff = float(np.abs(OnnxReconstructor(data, threads=1)(x) - model.net(x)).max())
    if diff > 1e-4:
        raise ModelError(f"{model.path}: ONNX export differs from torch by {diff:.2e}; not written")
    opath = model.path.with_suffix(".onnx")
    card = dict(model.card)
    card["onnx"] = {"file": opath.name, "sha256": sha256_bytes(data), "bytes": len(data), "opset": opset,
                    "max_abs_diff_vs_torch": diff}
    write_bytes_atomic(opath, data)
    write_bytes_atomic(model.path, (json.dumps(card, indent=2) + "\n").encode())
    return opath


def load_model(path: str | os.PathLike[str], backend: str | None = None) -> LoadedModel:
    """Load a model and check it; any problem is a :class:`ModelError` with a clear message.

    ``backend``: "torch" (the .pt weights) or "onnx" (the card's ONNX export, run by ONNX
    Runtime); None: ``$ECGVIEWER_BACKEND``, else torch when it is installed, else onnx.
    """
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
        onnx_entry = card.get("onnx")
        if onnx_entry is not None:
            opath, onnx_sha = jpath.with_name(onnx_entry["file"]), onnx_entry["sha256"]
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ModelError(f"{jpath}: model card is incomplete ({type(e).__name__}: {e})") from None
    if params.n_leads != cfg.n_leads or params.before + params.after != cfg.window:
        raise ModelError(f"{jpath}: the card's preprocessing ({params.n_leads} leads, {params.before + params.after} "
                         f"ticks) does not fit its architecture ({cfg.n_leads} leads, {cfg.window} ticks)")
    backend = backend or default_backend()
    if backend == "onnx":
        if onnx_entry is None:
            raise ModelError(f"{jpath}: this model has no ONNX export (add one: python -m trainer onnx {jpath})")
        net: Reconstructor = _load_onnx(opath, onnx_sha, cfg)
    elif backend == "torch":
        net = _load_torch(wpath, expected, cfg)
    else:
        raise ModelError(f"unknown backend {backend!r}")
    return LoadedModel(net, card, rhythm, jpath)


def _read_checked(path: Path, sha256: str, what: str) -> bytes:
    if not path.is_file():
        raise ModelError(f"{path}: {what} file not found")
    data = path.read_bytes()
    if sha256_bytes(data) != sha256:
        raise ModelError(f"{path}: {what} do not match the SHA-256 in their card (tampered or corrupted); refused")
    return data


def _load_torch(wpath: Path, sha256: str, cfg: NetConfig) -> Reconstructor:
    import torch

    from ecgviewer.core.models import Generator

    data = _read_checked(wpath, sha256, "weights")
    try:
        gen = Generator(cfg)
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        gen.load_state_dict(state, strict=True)
    except Exception as e:  # an unpickling error, a foreign state dict, wrong shapes
        raise ModelError(f"{wpath}: not weights of this model ({str(e).splitlines()[0][:200]})") from None
    return TorchReconstructor(gen.eval())


def _load_onnx(opath: Path, sha256: str, cfg: NetConfig) -> Reconstructor:
    import numpy as np

    data = _read_checked(opath, sha256, "ONNX weights")
    try:
        net = OnnxReconstructor(data)
        out = net(np.zeros((1, cfg.n_leads, cfg.window), np.float32))
    except ModelError as e:
        raise ModelError(f"{opath}: {e}") from None
    except Exception as e:  # not an ONNX graph, or one of another shape
        raise ModelError(f"{opath}: not an ONNX export of this model ({str(e).splitlines()[0][:200]})") from None
    if out.shape != (1, cfg.n_leads, cfg.window):
        raise ModelError(f"{opath}: the ONNX graph returns {out.shape[1:]}, expected ({cfg.n_leads}, {cfg.window})")
    return net


def bundled_model_path() -> Path:
    """The card of the model shipped in resources/models."""
    from importlib import resources

    return Path(str(resources.files("ecgviewer.resources") / "models" / "si-beatgan-v2.json"))
