"""Packaging: static checks of the spec, scripts and installer files (always), and the smoke test of
a built app folder (only when one exists: build it with ``packaging/build.sh``, see docs/packaging.md).

    pytest tests/test_packaging.py                      # static checks; smoke test skipped if no build
    ECGVIEWER_DIST=/path/to/dist/ecgviewer pytest tests/test_packaging.py   # another folder
"""

from __future__ import annotations

import ast
import configparser
import os
import re
import shutil
import struct
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "packaging"
DIST = Path(os.environ.get("ECGVIEWER_DIST", PKG / "dist" / "ecgviewer"))
EXE = DIST / ("ecgviewer-cli.exe" if sys.platform == "win32" else "ecgviewer")


def test_spec_is_valid_python_and_excludes_the_trainer_torch_and_gpu_stacks():
    text = (PKG / "ecgviewer.spec").read_text()
    ast.parse(text)
    for name in ('"trainer"', '"torch"', '"triton"', '"caffe2"', '"tensorboard"', '"onnx"', '"matplotlib"',
                 '"PySide6/Qt/translations/*"', "QtWebEngineCore", "QtQuick", "nvidia/*"):
        assert name in text, name
    assert "ECGVIEWER_ALLOW_NO_MODEL" in text  # refuses to build without the model by default
    assert "python -m trainer onnx" in text  # ... or without the model's ONNX export
    # the card and its ONNX export, not the torch weights; sample record files, not review sidecars
    assert "models/*.json" in text and "models/*.onnx" in text and "models/*.pt" not in text
    assert "samples/*.dat" in text and '"samples/*"' not in text and "icons/*" in text


def test_shell_scripts_parse():
    for script in ("build.sh", "smoke_test.sh", "compare_backends.sh", "cut_sample.sh", "linux/make_tarball.sh", "linux/make_deb.sh", "linux/install.sh",
                   "macos/make_dmg.sh"):
        path = PKG / script
        assert os.access(path, os.X_OK), f"{script} is not executable"
        subprocess.run(["bash", "-n", str(path)], check=True)


def test_desktop_file_and_mime_type():
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str
    cp.read(PKG / "linux" / "ecgviewer.desktop")
    e = cp["Desktop Entry"]
    assert e["Type"] == "Application" and e["Exec"].startswith("ecgviewer ") and e["Icon"] == "ecgviewer"
    assert "application/x-wfdb-header" in e["MimeType"]
    if shutil.which("desktop-file-validate"):
        subprocess.run(["desktop-file-validate", str(PKG / "linux" / "ecgviewer.desktop")], check=True)
    assert '<glob pattern="*.hea"/>' in (PKG / "linux" / "ecgviewer-mime.xml").read_text()


def test_inno_setup_script_is_per_machine_silent_capable_and_associates_hea():
    iss = (PKG / "windows" / "ecgviewer.iss").read_text()
    assert "PrivilegesRequired=admin" in iss and "{autopf}" in iss
    assert "{autoprograms}\\ECG Viewer" in iss  # Start menu entry
    assert "/VERYSILENT" in iss and "skipifsilent" in iss
    assert "Software\\Classes\\.hea" in iss and "ChangesAssociations=yes" in iss
    from ecgviewer import __version__

    vi = (PKG / "windows" / "version_info.txt").read_text()
    assert f"'{__version__}'" in vi and "filevers=(" + ", ".join(__version__.split(".")) in vi


def test_icons_are_valid_containers():
    icons = ROOT / "resources" / "icons"
    assert (icons / "ecgviewer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ico = (icons / "ecgviewer.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind) == (0, 1) and count >= 4
    for i in range(count):
        size, offset = struct.unpack("<II", ico[6 + 16 * i + 8: 6 + 16 * i + 16])
        assert ico[offset:offset + 8] == b"\x89PNG\r\n\x1a\n" and offset + size <= len(ico)
    icns = (icons / "ecgviewer.icns").read_bytes()
    assert icns[:4] == b"icns" and struct.unpack(">I", icns[4:8])[0] == len(icns)
    pos, types = 8, []
    while pos < len(icns):
        t, n = icns[pos:pos + 4], struct.unpack(">I", icns[pos + 4:pos + 8])[0]
        assert icns[pos + 8:pos + 16] == b"\x89PNG\r\n\x1a\n"
        types.append(t)
        pos += n
    assert pos == len(icns) and b"ic08" in types


def _names(reqs: list[str]) -> set[str]:
    return {re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0].lower() for r in reqs}


def test_the_viewer_installs_without_torch_and_the_trainer_extra_brings_it():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())
    main, extras = _names(py["project"]["dependencies"]), py["project"]["optional-dependencies"]
    assert "onnxruntime" in main and "torch" not in main  # no CUDA build is ever pulled for the viewer
    assert "torch==2.13.0" in extras["trainer"]  # the pin that takes the CPU wheel on this project's machines
    assert "ecgviewer[trainer]" in extras["test"]
    assert {"pytest", "pytest-qt", "hypothesis", "import-linter", "ruff"} <= _names(extras["test"])
    assert "torch" not in _names(extras["packaging"])


def test_one_python_version_range_everywhere():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())
    low = py["project"]["requires-python"].removeprefix(">=")
    assert re.fullmatch(r"3\.\d+", low), py["project"]["requires-python"]
    for doc in ("README.md", "docs/packaging.md"):
        text = (ROOT / doc).read_text()
        assert f"Python {low} or newer" in text, doc
        assert not [v for v in re.findall(r"Python (3\.\d+)(?![\d.])(?! or newer)", text) if v != low], doc
    assert sys.version_info >= tuple(int(x) for x in low.split("."))  # CI runs what it claims


def test_pyproject_packaging_extra_and_icons_are_package_data():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert any(r.startswith("pyinstaller") for r in py["project"]["optional-dependencies"]["packaging"])
    data = py["tool"]["setuptools"]["package-data"]["ecgviewer.resources"]
    assert "icons/*" in data and "*.md" in data and "models/*.onnx" in data


def test_third_party_notices_cover_the_bundled_components():
    text = (ROOT / "resources" / "LICENSES.md").read_text()
    for needle in ("Qt 6", "LGPL-3.0", "ONNX Runtime", "ThirdPartyNotices", "PyTorch", "BSD-3-Clause", "pyqtgraph", "wfdb", "NumPy", "SciPy", "pandas",
                   "ODC-By", "PyInstaller bootloader"):
        assert needle in text, needle


def test_build_outputs_are_ignored_by_git():
    ignore = (PKG / ".gitignore").read_text().split()
    assert "/build/" in ignore and "/dist/" in ignore and "/dist-torch/" in ignore


@pytest.mark.slow
@pytest.mark.skipif(not EXE.is_file(), reason=f"no built app in {DIST} (run packaging/build.sh first)")
@pytest.mark.skipif(sys.platform != "linux", reason="smoke_test.sh is the Linux smoke test")
def test_built_app_smoke_test():
    """The built folder runs with no Python or venv: self-test (exit 0) and an offscreen screenshot."""
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}
    from ecgviewer.core.resources import bundled_model_path

    bundled_in_dist = DIST / "_internal" / "ecgviewer" / "resources" / "models" / bundled_model_path().name
    if not bundled_in_dist.is_file():
        if not os.environ.get("ECGVIEWER_MODEL"):
            pytest.skip("the build has no bundled model and ECGVIEWER_MODEL is not set")
        env["ECGVIEWER_MODEL"] = os.environ["ECGVIEWER_MODEL"]
    proc = subprocess.run(["bash", str(PKG / "smoke_test.sh"), str(DIST)], env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "smoke_test: PASSED" in proc.stdout
