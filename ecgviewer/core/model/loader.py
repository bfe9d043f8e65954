"""Loading a model: its card read and verified, its weights hash-checked, then a network to run.

``NAME.pt`` holds only tensors and is read with ``torch.load(weights_only=True)``, which refuses
pickled code; ``NAME.onnx`` is a graph that ONNX Runtime interprets with its built-in operators.
Each file's SHA-256 is checked against the card before its bytes are parsed. torch is imported
only for the torch backend: the viewer runs without it (ONNX Runtime).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecgviewer.core.beats import BeatParams
from ecgviewer.core.errors import ModelError
from ecgviewer.core.model.card import FileRef, ModelCard, card_path, read_card, sha256_bytes
from ecgviewer.core.model.inference import OnnxReconstructor, Reconstructor, TorchReconstructor, default_backend
from ecgviewer.core.model.netconfig import NetConfig
from ecgviewer.core.scoring import RhythmModel


@dataclass
class LoadedModel:
    """A verified card and the network it describes, ready to score."""

    net: Reconstructor  # runs the generator (torch or ONNX Runtime)
    card: ModelCard
    path: Path  # the card

    @property
    def generator(self) -> Any:
        """The torch Generator (torch backend only)."""
        if self.net.backend != "torch":
            raise ModelError(f"{self.path}: loaded for ONNX Runtime; the torch Generator is not available")
        return self.net.generator

    @property
    def rhythm(self) -> RhythmModel | None:
        return self.card.score.rhythm

    @property
    def params(self) -> BeatParams:
        return self.card.preprocessing.params

    @property
    def threshold(self) -> float:
        return self.card.threshold.value

    @property
    def label(self) -> str:
        return self.card.label


def load_model(path: str | os.PathLike[str], backend: str | None = None) -> LoadedModel:
    """Load a model and check it; any problem is a :class:`ModelError` with a clear message.

    ``backend``: "torch" (the .pt weights) or "onnx" (the card's ONNX export, run by ONNX
    Runtime); None: ``$ECGVIEWER_BACKEND``, else torch when it is installed, else onnx.
    """
    jpath = card_path(path)
    card = read_card(jpath)
    backend = backend or default_backend()
    if backend == "onnx":
        if card.onnx is None:
            raise ModelError(f"{jpath}: this model has no ONNX export (add one: python -m trainer onnx {jpath})")
        net: Reconstructor = _load_onnx(jpath, card.onnx, card.architecture)
    elif backend == "torch":
        if card.weights is None:
            raise ModelError(f"{jpath}: this model has no torch weights; run it with ONNX Runtime")
        net = _load_torch(jpath, card.weights, card.architecture)
    else:
        raise ModelError(f"unknown backend {backend!r}")
    return LoadedModel(net, card, jpath)


def read_checked(jpath: Path, ref: FileRef, what: str) -> bytes:
    """The bytes of the file ``ref`` names beside the card, refused unless they have its SHA-256."""
    path = jpath.with_name(ref.file)
    if not path.is_file():
        raise ModelError(f"{path}: {what} file not found")
    data = path.read_bytes()
    if sha256_bytes(data) != ref.sha256:
        raise ModelError(f"{path}: {what} do not match the SHA-256 in their card (tampered or corrupted); refused")
    return data


def _load_torch(jpath: Path, ref: FileRef, cfg: NetConfig) -> Reconstructor:
    import torch

    from ecgviewer.core.model.networks import Generator

    data = read_checked(jpath, ref, "weights")
    try:
        gen = Generator(cfg)
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        gen.load_state_dict(state, strict=True)
    except Exception as e:  # an unpickling error, a foreign state dict, wrong shapes
        problem = str(e).splitlines()[0][:200]
        raise ModelError(f"{jpath.with_name(ref.file)}: not weights of this model ({problem})") from None
    return TorchReconstructor(gen.eval())


def _load_onnx(jpath: Path, ref: FileRef, cfg: NetConfig) -> Reconstructor:
    import numpy as np

    opath = jpath.with_name(ref.file)
    data = read_checked(jpath, ref, "ONNX weights")
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
