"""The viewer, ``ecgviewer score`` and ``--self-test`` run with torch absent: ONNX Runtime runs the
bundled model. Each check runs in a fresh interpreter in which importing torch fails, as in an
install without the trainer extra, and then checks that nothing imported it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

from ecgviewer.core.resources import bundled_model_path, sample_record_path  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]

BLOCK_TORCH = textwrap.dedent("""
    import sys

    class NoTorch:  # as in an install without torch: it is not there at all
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ModuleNotFoundError(f"No module named {name!r}")

    sys.meta_path.insert(0, NoTorch())
""")

CHECK_NO_TORCH = textwrap.dedent("""
    leaked = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
    assert not leaked, leaked
""")


def _run_without_torch(body: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("ECGVIEWER_MODEL", "ECGVIEWER_BACKEND")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    code = BLOCK_TORCH + textwrap.dedent(body) + CHECK_NO_TORCH
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


needs_bundled = pytest.mark.skipif(not bundled_model_path().with_suffix(".onnx").is_file(),
                                   reason="the bundled model's ONNX export is not in resources/models")


@needs_bundled
def test_score_command_runs_without_torch():
    out = _run_without_torch(f"""
        import contextlib, io, json
        from ecgviewer.cli import main
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            rc = main(["score", {str(sample_record_path())!r}, "--json"])
        assert rc == 0, rc
        sys.stderr.write(buf.getvalue())
    """)
    assert out.returncode == 0, out.stderr[-2000:]
    payload = json.loads(out.stderr.strip().splitlines()[-1])
    assert payload["model"]["backend"] == "onnx" and payload["model"]["name"] == "SI-BeatGAN V2"
    s = payload["summary"]
    assert s["beats"] > 1900 and 0 < s["flagged"] < s["beats"] and s["sensitivity"] > 0.9


@needs_bundled
def test_self_test_passes_without_torch():
    out = _run_without_torch("""
        from ecgviewer.selftest import run_self_test
        lines = []
        assert run_self_test(out=lines.append) == 0, lines
        assert any("(si-beatgan-v2.json, onnx)" in ln and "verified" in ln for ln in lines), lines
    """)
    assert out.returncode == 0, out.stderr[-2000:]


@needs_bundled
def test_viewer_opens_and_scores_without_torch():
    pytest.importorskip("PySide6")
    out = _run_without_torch("""
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from ecgviewer.core.record import load_record
        from ecgviewer.core.resources import sample_record_path
        from ecgviewer.ui.app import load_scorer
        from ecgviewer.ui.main_window import MainWindow
        scorer, error = load_scorer()
        assert error is None and scorer.backend == "onnx", error
        window = MainWindow(scorer, None)
        window.set_record(load_record(sample_record_path()), score=False)
        result = scorer.score(scorer.beats(window.record))
        assert len(result) > 1900
    """)
    assert out.returncode == 0, out.stderr[-2000:]
