"""Running the generator: PyTorch or ONNX Runtime behind one numpy-in, numpy-out call.

Why two: the trainer and a pip install use PyTorch, but the packaged viewer ships the generator
exported to ONNX and runs it with ONNX Runtime, which is ~75 MB where the CPU build of torch is
~380 MB and imports in 0.1 s instead of ~2 s (docs/packaging.md has the measurements). Everything
around the network (batching, errors, scores, rhythm) is written once in ``scoring``; only the
forward pass differs, and a test checks both give the same scores. The ONNX export itself is
the trainer's (``trainer/export.py``).

Neither backend runs code from a model file: torch weights are read with ``weights_only=True``;
an ONNX graph is data that ONNX Runtime interprets with its built-in operators (no custom-op
libraries are registered).
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any, Protocol

import numpy as np

from ecgviewer.core.errors import ModelError

BACKENDS = ("torch", "onnx")
ONNX_INPUT, ONNX_OUTPUT = "beats", "reconstruction"


class Reconstructor(Protocol):
    """Maps beats (n, leads, ticks) float32 to their reconstructions, same shape."""

    backend: str

    def __call__(self, x: np.ndarray) -> np.ndarray: ...


def have(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def default_backend() -> str:
    """``$ECGVIEWER_BACKEND`` when set, else torch when installed, else ONNX Runtime."""
    name = os.environ.get("ECGVIEWER_BACKEND", "").strip().lower()
    if name:
        if name not in BACKENDS:
            raise ModelError(f"ECGVIEWER_BACKEND={name!r}: must be one of {', '.join(BACKENDS)}")
        return name
    if have("torch"):
        return "torch"
    if have("onnxruntime"):
        return "onnx"
    raise ModelError("neither PyTorch nor ONNX Runtime is installed: the model cannot run")


class TorchReconstructor:
    """A torch ``Generator`` in eval mode, under ``inference_mode``, on ``device``."""

    backend = "torch"

    def __init__(self, generator: Any, device: Any = "cpu") -> None:
        import torch

        self._torch = torch
        self.generator = generator.eval()
        self.device = torch.device(device)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            xb = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.device)
            return self.generator(xb).float().cpu().numpy()


class OnnxReconstructor:
    """The exported generator in an ONNX Runtime session on the CPU."""

    backend = "onnx"

    def __init__(self, model_bytes: bytes, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:  # pragma: no cover - depends on the install
            raise ModelError("ONNX Runtime is not installed (pip install onnxruntime)") from None
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or min(os.cpu_count() or 1, 8)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3  # errors only: no console chatter in the viewer
        self.session = ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])
        inputs = [i.name for i in self.session.get_inputs()]
        if inputs != [ONNX_INPUT]:
            raise ModelError(f"ONNX graph has inputs {inputs}, expected [{ONNX_INPUT!r}]")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = self.session.run(None, {ONNX_INPUT: np.ascontiguousarray(x, dtype=np.float32)})[0]
        return np.asarray(out, dtype=np.float32)


def as_reconstructor(model: Any, device: Any = "cpu") -> Reconstructor:
    """A Reconstructor as is; a torch module wrapped (the trainer passes its Generator)."""
    if getattr(model, "backend", None) in BACKENDS:
        return model
    if hasattr(model, "state_dict"):
        return TorchReconstructor(model, device)
    raise TypeError(f"cannot run {type(model).__name__} as a generator")
