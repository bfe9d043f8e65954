"""``ecgviewer --self-test``: the install check IT runs (and the packaged build's smoke test).

The bundled model is being trained separately; tests that need it skip until it exists, the others
use a small untrained model of the same interface through ``$ECGVIEWER_MODEL`` (as the viewer does).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bundled_model() -> Path:
    from ecgviewer.core.resources import bundled_model_path

    return bundled_model_path()


needs_bundled_model = pytest.mark.skipif(not _bundled_model().is_file(),
                                         reason="bundled model resources/models/si-beatgan-v2.json not built yet")


@pytest.fixture(scope="module")
def dev_model(tmp_path_factory) -> Path:
    """An untrained model card with the bundled model's interface."""
    import torch

    from ecgviewer.core.model.netconfig import NetConfig
    from ecgviewer.core.model.networks import Generator
    from trainer.export import save_model, untrained_card

    torch.manual_seed(0)
    return save_model(Generator(NetConfig()), untrained_card(), tmp_path_factory.mktemp("model") / "dev", onnx=False)


def _run(*args: str, model: Path | None = None, timeout: float = 180, **env_extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ECGVIEWER_MODEL"}
    env.update(QT_QPA_PLATFORM="offscreen", **env_extra)
    if model is not None:
        env["ECGVIEWER_MODEL"] = str(model)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@needs_bundled_model
def test_self_test_with_bundled_model_passes():
    proc = _run("-m", "ecgviewer", "--self-test")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "SELF-TEST PASSED" in out
    card = json.loads(_bundled_model().read_text())
    assert card["weights"]["sha256"][:16] in out  # the hash it verified
    assert "record 119" in out and "flagged" in out and "network: none used" in out
    for name in ("torch", "numpy", "PySide6", "wfdb"):
        assert name in out.splitlines()[1]  # versions line


def test_self_test_with_model_from_env_passes(dev_model):
    proc = _run("-m", "ecgviewer", "--self-test", model=dev_model)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("ecgviewer self-test")
    assert lines[1].startswith("versions: ecgviewer ")
    assert any(ln.startswith("model: dev 0 (dev.json, torch), weights SHA-256 ") and "verified" in ln for ln in lines)
    assert any(ln.startswith("sample: record 119, 360 Hz, ") for ln in lines)
    scored = next(ln for ln in lines if ln.startswith("scored: "))
    assert "beats/s" in scored and "sensitivity" in scored
    assert lines[-1] == "SELF-TEST PASSED"
    assert proc.stderr.strip() == "" or "Warning" in proc.stderr


def test_missing_bundled_model_fails_clearly(monkeypatch, tmp_path):
    from ecgviewer import selftest
    from ecgviewer.core import resources

    monkeypatch.delenv("ECGVIEWER_MODEL", raising=False)
    monkeypatch.setattr(resources, "bundled_model_path", lambda: tmp_path / "models" / "si-beatgan-v2.json")
    lines: list[str] = []
    assert selftest.run_self_test(out=lines.append) == 1
    assert lines[-1].startswith("SELF-TEST FAILED: bundled model missing: ")
    assert "si-beatgan-v2.json not found" in lines[-1]


def test_tampered_weights_fail_the_hash_check(dev_model, tmp_path):
    import shutil

    card = tmp_path / "dev.json"
    shutil.copy(dev_model, card)
    data = bytearray(dev_model.with_suffix(".pt").read_bytes())
    data[-20] ^= 0xFF
    (tmp_path / "dev.pt").write_bytes(bytes(data))
    proc = _run("-m", "ecgviewer", "--self-test", model=card)
    assert proc.returncode == 1
    assert "SELF-TEST FAILED: model: " in proc.stdout and "SHA-256" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_self_test_makes_no_network_call(dev_model, monkeypatch):
    """Any socket, connection or name lookup during the self-test would raise here and be recorded."""
    from ecgviewer import selftest

    calls: list[str] = []

    def refuse(name):
        def f(*a, **k):
            calls.append(name)
            raise OSError(f"network disabled by the test ({name})")
        return f

    for name in ("create_connection", "getaddrinfo", "gethostbyname"):
        monkeypatch.setattr(socket, name, refuse(name))
    real = socket.socket

    class NoInet(real):
        def __init__(self, family=-1, *a, **k):
            if family in (-1, socket.AF_INET, socket.AF_INET6) and k.get("fileno") is None and len(a) < 3:
                calls.append("socket")
                raise OSError("network disabled by the test")
            super().__init__(family, *a, **k)

    monkeypatch.setattr(socket, "socket", NoInet)
    monkeypatch.setenv("ECGVIEWER_MODEL", str(dev_model))
    lines: list[str] = []
    assert selftest.run_self_test(out=lines.append) == 0, lines
    assert calls == []
    assert "network: none used" in lines[-2]


def test_network_guard_counts_and_refuses():
    from ecgviewer.selftest import NoNetwork

    with NoNetwork() as guard:
        with pytest.raises(OSError):
            socket.create_connection(("example.org", 80), timeout=0.1)
        with pytest.raises(OSError):
            socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        a, b = socket.socketpair()  # local IPC stays allowed
        a.close(), b.close()
    assert len(guard.attempts) == 2
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # restored afterwards
    s.close()


@pytest.mark.slow
def test_self_test_with_screenshot(dev_model, tmp_path):
    png = tmp_path / "shot.png"
    proc = _run("-m", "ecgviewer.selftest", "--screenshot", str(png), model=dev_model,
                ECGVIEWER_CONFIG_DIR=str(tmp_path / "cfg"), ECGVIEWER_LOG_DIR=str(tmp_path / "log"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "screenshot: " in proc.stdout and proc.stdout.rstrip().endswith("SELF-TEST PASSED")
