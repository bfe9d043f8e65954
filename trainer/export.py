"""Writing a model: weights, their ONNX export and the card, each written once, checked first.

The core only reads model cards (``ecgviewer/core/model/card.py``); everything that makes one is
here. :func:`save_model` serialises the weights in memory, exports the same in-memory generator to
ONNX, checks the export against torch on random beats, fills in the card's file hashes and
architecture, checks that the card reads back, and only then writes ``NAME.pt``, ``NAME.onnx`` and,
last, ``NAME.json``.
"""

from __future__ import annotations

import copy
import io
import json
import os
import warnings
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ecgviewer.core.atomic import write_bytes_atomic
from ecgviewer.core.beats import BeatParams
from ecgviewer.core.errors import ModelError
from ecgviewer.core.model.card import (
    NETWORK,
    SCHEMA,
    FileRef,
    ModelCard,
    OnnxRef,
    Preprocessing,
    Recipe,
    Score,
    Threshold,
    card_from_dict,
    card_path,
    recipe_id,
    sha256_bytes,
)
from ecgviewer.core.model.inference import ONNX_INPUT, ONNX_OUTPUT, OnnxReconstructor, TorchReconstructor, have
from ecgviewer.core.model.loader import load_model
from ecgviewer.core.model.netconfig import NetConfig

OPSET = 17
MAX_ONNX_DIFF = 1e-4  # largest |ONNX - torch| on random beats that is float rounding, not a wrong graph


def card_json(card: ModelCard) -> str:
    """The card as the JSON text the core reads back."""
    def plain(v: Any) -> Any:
        if isinstance(v, np.ndarray):
            return v.tolist()
        if isinstance(v, np.generic):
            return v.item()
        raise TypeError(f"cannot write {type(v).__name__} into a model card")

    d = asdict(card)
    if not d["measured"]:  # written only when there are rows: cards from before the field stay byte for byte
        del d["measured"]
    return json.dumps(d, indent=2, default=plain) + "\n"


def untrained_card(name: str = "dev", threshold: float = 0.05, n_leads: int = 1, version: str = "0") -> ModelCard:
    """A card for a generator without training (tests, development, benchmarks); save_model fills in
    its files and architecture."""
    params = BeatParams(n_leads=n_leads)
    return ModelCard(schema=SCHEMA, name=name, version=version, network=NETWORK,
                     architecture=NetConfig(n_leads=n_leads),
                     preprocessing=Preprocessing(n_leads=n_leads, fs=params.fs, before=params.before,
                                                 after=params.after, band_hz=params.band_hz),
                     score=Score(kind="mse", description="mean squared reconstruction error"),
                     threshold=Threshold(value=threshold), recipe=Recipe("untrained", recipe_id({}), {}))


def save_model(generator: nn.Module, card: ModelCard, path: str | os.PathLike[str], onnx: bool = True,
               opset: int = OPSET) -> Path:
    """Write ``path``.pt, ``path``.onnx (when ``onnx``) and ``path``.json; returns the card's path.

    The card gets the generator's architecture and each file's SHA-256. When the ONNX export fails
    (no ``onnx`` package, say), the weights and a card without ONNX are written and the ModelError is
    raised after: hours of training are never lost to the export (``python -m trainer onnx`` adds it).
    """
    jpath = card_path(path)
    wpath, opath = jpath.with_suffix(".pt"), jpath.with_suffix(".onnx")
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}, buf)
    weights = buf.getvalue()
    card = replace(card, schema=SCHEMA, network=NETWORK, architecture=generator.cfg, onnx=None,
                   weights=FileRef(wpath.name, sha256_bytes(weights), len(weights)))
    failure: ModelError | None = None
    graph = None
    if onnx:
        try:
            graph, diff = checked_onnx(generator, opset)
            card = replace(card, onnx=OnnxRef(opath.name, sha256_bytes(graph), len(graph), opset, diff))
        except ModelError as e:
            failure = ModelError(f"{jpath}: {e}")
    text = card_json(card)
    card_from_dict(json.loads(text), jpath)  # what is written must read back
    jpath.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(wpath, weights)
    if graph is not None:
        write_bytes_atomic(opath, graph)
    write_bytes_atomic(jpath, text.encode())  # last: a card never lists a file not yet written
    if failure is not None:
        raise failure
    return jpath


def add_onnx(path: str | os.PathLike[str], opset: int = OPSET) -> Path:
    """Export a saved model's generator to ``NAME.onnx`` and list it (with its SHA-256) in the card."""
    model = load_model(path, backend="torch")  # the weights' hash is checked
    graph, diff = checked_onnx(model.generator, opset)
    opath = model.path.with_suffix(".onnx")
    card = replace(model.card, onnx=OnnxRef(opath.name, sha256_bytes(graph), len(graph), opset, diff))
    write_bytes_atomic(opath, graph)
    write_bytes_atomic(model.path, card_json(card).encode())
    return opath


def checked_onnx(generator: nn.Module, opset: int = OPSET) -> tuple[bytes, float]:
    """The generator's ONNX graph and its largest difference from torch on 64 random beats; a
    ModelError when they differ by more than float rounding."""
    graph = export_onnx(generator, opset=opset)
    cfg = generator.cfg
    x = np.random.default_rng(0).uniform(-1, 1, (64, cfg.n_leads, cfg.window)).astype(np.float32)
    reference = TorchReconstructor(copy.deepcopy(generator))  # a copy: the caller's module keeps its mode
    diff = float(np.abs(OnnxReconstructor(graph, threads=1)(x) - reference(x)).max())
    if diff > MAX_ONNX_DIFF:
        raise ModelError(f"ONNX export differs from torch by {diff:.2e}; not written")
    return graph, diff


def lifted_to_2d(generator: nn.Module) -> nn.Module:
    """The same generator computed with 2-D layers on beats of height 1 (input and output stay 1-D).

    Why: ONNX Runtime's CPU provider runs 2-D convolutions in its blocked (NCHWc) kernels but
    1-D ones in plain im2col + GEMM; lifted, the bundled model scores ~1.6x faster there
    (``benchmarks/scoring_batch.py``). The arithmetic is the same, up to float rounding.
    """
    def lift(module: nn.Module) -> None:
        for name, c in module.named_children():
            if isinstance(c, (nn.Conv1d, nn.ConvTranspose1d)):
                kind = nn.Conv2d if isinstance(c, nn.Conv1d) else nn.ConvTranspose2d
                new = kind(c.in_channels, c.out_channels, (1, c.kernel_size[0]), (1, c.stride[0]),
                           (0, c.padding[0]), bias=c.bias is not None)
                new.weight.data = c.weight.data[:, :, None, :].clone()
                if c.bias is not None:
                    new.bias.data = c.bias.data.clone()
            elif isinstance(c, nn.BatchNorm1d):
                new = nn.BatchNorm2d(c.num_features, eps=c.eps, momentum=c.momentum)
                new.load_state_dict(c.state_dict())
            else:
                lift(c)
                continue
            setattr(module, name, new)

    class Lifted(nn.Module):
        def __init__(self, g: nn.Module) -> None:
            super().__init__()
            self.g = copy.deepcopy(g)
            lift(self.g)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.g(x[:, :, None, :])[:, :, 0, :]

    return Lifted(generator).eval()


def export_onnx(generator: nn.Module, opset: int = OPSET, lift: bool = True) -> bytes:
    """The generator as an ONNX graph (batch dimension dynamic), for ``OnnxReconstructor``.

    The graph is that of :func:`lifted_to_2d` (faster in ONNX Runtime; ``lift=False``: the plain
    1-D layers, which the benchmarks compare it with). Uses torch's TorchScript-based exporter,
    which needs the ``onnx`` package (trainer extra).
    """
    cfg = generator.cfg
    dummy = torch.zeros(2, cfg.n_leads, cfg.window)
    buf = io.BytesIO()
    try:
        # a copy in eval mode: the generator itself is left as it was
        net = lifted_to_2d(generator) if lift else copy.deepcopy(generator).eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes
            torch.onnx.export(net, (dummy,), buf, input_names=[ONNX_INPUT], output_names=[ONNX_OUTPUT],
                              dynamic_axes={ONNX_INPUT: {0: "n"}, ONNX_OUTPUT: {0: "n"}},
                              opset_version=opset, dynamo=False)
    except Exception as e:  # the exporter raises its own error types, e.g. when onnx is missing
        hint = " (install the trainer extra: pip install -e '.[trainer]')" if not have("onnx") else ""
        raise ModelError(f"ONNX export failed: {str(e).splitlines()[0][:200]}{hint}") from None
    return buf.getvalue()
