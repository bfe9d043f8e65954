"""Persistent settings: one INI file under the user config dir, typed reads with defaults.

``ECGVIEWER_CONFIG_DIR`` overrides the folder (tests point it at a temp dir so they never touch
the user's real settings).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import platformdirs
from PySide6.QtCore import QByteArray, QSettings

APP = "ecgviewer"
MAX_RECENT = 8

#: Every setting and its default; a read always returns the default's type.
DEFAULTS: dict[str, Any] = {
    "recent": [],
    "window/geometry": QByteArray(),
    "window/state": QByteArray(),
    "view/heatmap": True,
    "view/heat_opacity": 0.5,
    "view/calibrated": False,
    "view/gain": 1.0,
    "view/window_s": 10.0,
    "report/reviewer": "",
    "scoring/adapt": False,  # self-adapt to each record (needs PyTorch); off until it pays (docs/method.md)
}


def config_dir() -> Path:
    """Where settings live: ``$ECGVIEWER_CONFIG_DIR`` or platformdirs' user config dir."""
    return Path(os.environ.get("ECGVIEWER_CONFIG_DIR") or platformdirs.user_config_dir(APP))


def log_dir() -> Path:
    """Where the crash log lives: ``$ECGVIEWER_LOG_DIR`` or platformdirs' user log dir."""
    return Path(os.environ.get("ECGVIEWER_LOG_DIR") or platformdirs.user_log_dir(APP))


class Settings:
    """Typed access to the QSettings file; unknown keys raise KeyError (typos show at once)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / f"{APP}.ini"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._q = QSettings(str(self.path), QSettings.Format.IniFormat)

    def get(self, key: str) -> Any:
        default = DEFAULTS[key]
        value = self._q.value(key, default)
        if value is None:
            return default
        try:
            if isinstance(default, bool):
                return value if isinstance(value, bool) else str(value).lower() in ("true", "1", "yes")
            if isinstance(default, float):
                return float(value)
            if isinstance(default, list):
                return [str(v) for v in value] if isinstance(value, (list, tuple)) else ([str(value)] if value else [])
            if isinstance(default, QByteArray):
                return value if isinstance(value, QByteArray) else default
        except (TypeError, ValueError):
            return default
        return value

    def set(self, key: str, value: Any) -> None:
        if key not in DEFAULTS:
            raise KeyError(key)
        self._q.setValue(key, value)

    def sync(self) -> None:
        self._q.sync()

    def recent(self) -> list[str]:
        return self.get("recent")

    def add_recent(self, path: str) -> list[str]:
        """Put ``path`` first, drop duplicates, keep at most MAX_RECENT entries."""
        items = [path] + [p for p in self.recent() if p != path]
        items = items[:MAX_RECENT]
        self.set("recent", items)
        self.sync()
        return items
