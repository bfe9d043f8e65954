"""Errors the user can act on: each names the file and the problem."""

from __future__ import annotations

from pathlib import Path


class RecordError(Exception):
    """A record cannot be read or used. The message is one line, fit to show a user."""

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else Path(path)
        self.problem = problem
        where = f"{self.path}: " if self.path is not None else ""
        super().__init__(f"{where}{problem}")


class ModelError(Exception):
    """A model file is missing, tampered with, or not one of ours."""
