"""The files shipped inside the app: sample records, the bundled model, notices, icons.

Every look-up of a bundled file goes through here. In a source checkout they are under
``resources/``; installed (pip or the packaged build) that folder is the package
``ecgviewer.resources``; ``importlib.resources`` finds it either way.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

BUNDLED_MODEL = "si-beatgan-v2.json"
SAMPLE_RECORD = "119"  # MIT-BIH 119 (ODC-By; resources/samples/SOURCE.md)


def resource_path(*parts: str) -> Path:
    """A path inside the bundled resources (it may not exist: callers say what is missing)."""
    return Path(str(resources.files("ecgviewer.resources").joinpath(*parts)))


def samples_dir() -> Path:
    return resource_path("samples")


def sample_record_path() -> Path:
    """The bundled sample record the viewer opens by default and the self-test scores."""
    return samples_dir() / SAMPLE_RECORD


def sample_source_text() -> str:
    """Where the sample records come from and their licence (resources/samples/SOURCE.md)."""
    try:
        return (samples_dir() / "SOURCE.md").read_text(encoding="utf-8")
    except OSError:
        return "MIT-BIH Arrhythmia Database, ODC-By 1.0 (see resources/samples/SOURCE.md)."


def bundled_model_path() -> Path:
    """The card of the model shipped in resources/models."""
    return resource_path("models", BUNDLED_MODEL)


def licenses_path() -> Path:
    """The third-party notices shipped with the app (resources/LICENSES.md)."""
    return resource_path("LICENSES.md")


def icon_path(size: int | None = None) -> Path:
    """The app icon: ``ecgviewer-SIZE.png`` (32, 48, 64, 128, 256) or, without a size, the largest PNG."""
    return resource_path("icons", f"ecgviewer-{size}.png" if size else "ecgviewer.png")


def is_bundled(record_path: Path) -> bool:
    """True for the sample records shipped inside the app: their reviews never go into the install folder."""
    try:
        return Path(record_path).resolve().parent == samples_dir().resolve()
    except (OSError, ModuleNotFoundError):
        return False
