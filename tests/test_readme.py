"""The README's quick start: two commands, the test one is what CI runs verbatim, and both work on
a clean venv from a clean copy of the checkout.

The clean-venv test parses the two commands out of README.md, so a README edit that breaks them
fails here. It maps them to a machine without a screen, and says so:

- the viewer command ``... && ecgviewer`` runs as ``... && ecgviewer --self-test --screenshot PNG``
  with ``QT_QPA_PLATFORM=offscreen`` (scores the bundled sample, then opens the window offscreen
  and saves a grab of it, instead of waiting for a user to close it), and afterwards torch must
  not be importable in that venv: the viewer installs without it;
- the test command runs in the same venv with its ``python -m pytest -q`` narrowed to a few tests
  that need the test extra (import-linter, the trainer and torch), not the whole suite again from
  inside the suite; ``ECGVIEWER_README_FULL=1`` runs it verbatim.

pip works from its caches and the machine's wheel folder here; expect a few minutes (slow marker).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testdata import DATA, MITDB, QTDB

ROOT = Path(__file__).resolve().parents[1]
INNER = "ECGVIEWER_README_INNER"  # set inside the clean venv's run, so this test does not recurse
SMOKE_TESTS = ["tests/test_layering.py", "tests/trainer/test_results_report.py", "tests/test_readme.py"]


def quick_start_commands() -> list[str]:
    """The fenced commands of README.md's Quick start (its subsections excluded)."""
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0].split("###", 1)[0]
    return re.findall(r"```\n(.*?)\n```", quick, flags=re.S)


def test_ci_runs_the_readme_test_command():
    test_cmd = next(b for b in quick_start_commands() if "pytest" in b)
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_cmd in ci
    assert "ruff check ." in ci and ci.index("ruff check .") < ci.index(test_cmd)  # lint fails the run first


def test_quick_start_is_two_commands():
    cmds = quick_start_commands()
    assert len(cmds) == 2 and all("\n" not in c for c in cmds)
    viewer, tests = cmds
    assert viewer.endswith("&& ecgviewer") and 'pip install -e "[' not in viewer and "pytest" in tests
    # Windows beside each POSIX command
    readme = (ROOT / "README.md").read_text()
    assert readme.count(r"py -m venv .venv && .venv\Scripts\activate && ") >= 2


def clean_copy(dest: Path) -> Path:
    """The checkout's tracked and unignored files only: no .venv, build, caches or runs."""
    try:
        files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                               capture_output=True, check=True, timeout=60).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(
            ".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", "runs", ".pytest_cache"))
        return dest
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():  # a tracked file deleted in the working tree is left out, as a clone would
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def _bash(cmd: str, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    proc = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd}\nexit {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.mark.slow
@pytest.mark.skipif(bool(os.environ.get(INNER)), reason="inside the clean-venv run itself")
@pytest.mark.skipif(sys.platform == "win32", reason="the POSIX commands; the Windows ones are not run here")
def test_readme_commands_on_a_clean_venv(tmp_path):
    viewer_cmd, test_cmd = quick_start_commands()
    repo = clean_copy(tmp_path / "ecgviewer")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update({INNER: "1", "QT_QPA_PLATFORM": "offscreen", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "ECGVIEWER_TEST_DATA": str(DATA), "ECGVIEWER_MITDB": str(MITDB), "ECGVIEWER_QTDB": str(QTDB)})
    # a clean PATH head: python3 must be the machine's, not this test run's venv
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not (Path(p) / "activate").is_file())

    shot = tmp_path / "viewer.png"
    out = _bash(viewer_cmd.removesuffix("ecgviewer") + f"ecgviewer --self-test --screenshot {shot}",
                repo, env, timeout=1500).stdout
    assert "SELF-TEST FAILED" not in out and shot.is_file() and shot.stat().st_size > 10_000, out[-2000:]
    py = repo / ".venv" / "bin" / "python"
    no_torch = subprocess.run([str(py), "-c", "import importlib.util as u; print(u.find_spec('torch') is None)"],
                              capture_output=True, text=True, env=env, timeout=60)
    assert no_torch.stdout.strip() == "True", "the viewer's install pulled torch"

    if not os.environ.get("ECGVIEWER_README_FULL"):
        assert test_cmd.endswith("python -m pytest -q")
        test_cmd += " -p no:cacheprovider " + " ".join(SMOKE_TESTS)
    out = _bash(test_cmd, repo, env, timeout=3000).stdout
    assert re.search(r"\d+ passed", out) and " failed" not in out, out[-3000:]
    has_torch = subprocess.run([str(py), "-c", "import torch, onnx, hypothesis, pytestqt, importlinter"],
                               capture_output=True, text=True, env=env, timeout=120)
    assert has_torch.returncode == 0, has_torch.stderr[-2000:]
