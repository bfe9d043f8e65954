"""Running the generator: PyTorch or ONNX Runtime behind one numpy-in, numpy-out call.

Why two: the trainer and a pip install use PyTorch, but the packaged viewer ships the generator
exported to ONNX and runs it with ONNX Runtime, which is ~75 MB where the CPU build of torch is
~380 MB and imports in 0.1 s instead of ~2 s (docs/packaging.md has the measurements). Everything
around the network (batching, errors, scores, rhythm) is written once in ``scoring``; only the
forward pass differs, and a test checks both give the same scores.

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


def lifted_to_2d(generator: Any) -> Any:
    """The same generator computed with 2-D layers on beats of height 1 (input and output stay 1-D).

    Why: ONNX Runtime's CPU provider runs 2-D convolutions in its blocked (NCHWc) kernels but
    1-D ones in plain im2col + GEMM; lifted, the bundled model scores ~1.6x faster there
    (``benchmarks/scoring_batch.py``). The arithmetic is the same, up to float rounding.
    """
    import copy

    import torch
    from torch import nn

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


def export_onnx(generator: Any, opset: int = 17, lift: bool = True) -> bytes:
    """The generator as an ONNX graph (batch dimension dynamic), for :class:`OnnxReconstructor`.

    The graph is that of :func:`lifted_to_2d` (faster in ONNX Runtime; ``lift=False``: the plain
    1-D layers, which the benchmarks compare it with). Uses torch's
    TorchScript-based exporter, which needs the ``onnx`` package (trainer extra).
    """
    import copy
    import io
    import warnings

    import torch

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
