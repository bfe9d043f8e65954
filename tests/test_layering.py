"""The layering rules: the core is Qt-free, and nothing in the app imports the trainer.

``lint-imports`` checks the import-linter contracts in pyproject.toml; the ast walk below checks
the same rules without import-linter, so they hold even where it is not installed.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT = ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "shiboken6")


def _lint_imports() -> str | None:
    exe = Path(sys.executable).with_name("lint-imports")
    return str(exe) if exe.is_file() else shutil.which("lint-imports")


def test_import_linter_contracts_kept():
    exe = _lint_imports()
    if exe is None:
        pytest.skip("import-linter is not installed (pip install -e .[test])")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([exe, "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout
    assert proc.stdout.count("KEPT") >= 3


def _imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """Absolute module names imported anywhere in ``path`` (relative imports resolved)."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
            out += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
    return out


def _hits(path: Path, forbidden: tuple[str, ...], root: Path = ROOT) -> list[str]:
    return [f"{path.relative_to(root)}:{line} imports {mod}" for line, mod in _imports(path, root)
            if any(mod == f or mod.startswith(f + ".") for f in forbidden)]


def test_core_imports_no_qt_ui_or_trainer():
    files = sorted((ROOT / "ecgviewer" / "core").glob("*.py"))
    assert len(files) >= 5
    bad = [h for f in files for h in _hits(f, QT + ("ecgviewer.ui", "trainer"))]
    assert not bad, "\n".join(bad)


def test_app_never_imports_trainer():
    files = sorted((ROOT / "ecgviewer").rglob("*.py"))
    bad = [h for f in files for h in _hits(f, ("trainer",))]
    assert not bad, "\n".join(bad)


def test_the_walk_would_catch_a_violation(tmp_path):
    # The checker itself: a planted import in each spelling is found (in a copy, not in the tree).
    planted = tmp_path / "ecgviewer" / "core" / "_planted.py"
    planted.parent.mkdir(parents=True)
    planted.write_text("import PySide6.QtCore\nfrom ..ui import app\nfrom trainer.dataset import x\n"
                       "def f():\n    import pyqtgraph as pg\n")
    hits = _hits(planted, QT + ("ecgviewer.ui", "trainer"), root=tmp_path)
    assert len(hits) >= 4, hits
    assert any("ecgviewer.ui" in h for h in hits)


def test_app_and_trainer_never_import_the_lab():
    files = sorted((ROOT / "ecgviewer").rglob("*.py")) + sorted((ROOT / "trainer").rglob("*.py"))
    bad = [h for f in files for h in _hits(f, ("experiments", "benchmarks", "scripts"))]
    assert not bad, "\n".join(bad)
