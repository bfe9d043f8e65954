"""Bundled files: one module finds them all, and nothing but the CLI's entry points imports the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

from ecgviewer.core import resources

ROOT = Path(__file__).resolve().parents[2]


def test_bundled_files_are_found():
    assert resources.sample_record_path().with_suffix(".hea").is_file()
    assert resources.bundled_model_path().is_file()
    assert resources.licenses_path().is_file()
    assert resources.icon_path().is_file() and resources.icon_path(64).is_file()
    assert "ODC-By" in resources.sample_source_text()


def test_is_bundled_tells_the_sample_from_a_copy(tmp_path):
    assert resources.is_bundled(resources.sample_record_path())
    assert not resources.is_bundled(tmp_path / resources.SAMPLE_RECORD)


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_one_module_looks_up_bundled_files():
    """``importlib.resources`` appears only in core/resources.py, so there is one place to change."""
    users = [p.relative_to(ROOT).as_posix() for p in (ROOT / "ecgviewer").rglob("*.py")
             if any(m.startswith("importlib.resources") or m == "importlib.resources" for m in _imports(p))
             or "resources.files(" in p.read_text(encoding="utf-8")]
    assert users == ["ecgviewer/core/resources.py"]


def test_no_import_cycle_through_the_cli():
    """cli -> selftest -> ui.app -> cli was a cycle; only the entry points may import the CLI."""
    importers = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "ecgviewer").rglob("*.py")
                       if any(m == "ecgviewer.cli" or m.startswith("ecgviewer.cli.") for m in _imports(p)))
    assert importers == ["ecgviewer/__main__.py"]
