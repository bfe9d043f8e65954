"""The records named on a command line: one loader for every ``ecgviewer`` command.

A named ``--annotator`` must exist (no silent fallback to another annotator); ``ecgviewer score``
also takes several records or folders of them (a study), expanded here.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ecgviewer.core.formats import records_in
from ecgviewer.core.record import Record, load_record


def load_cli_record(args: argparse.Namespace, path: str | os.PathLike[str] | None = None) -> Record:
    """The record named on the command line (or ``path``, one of several); a named ``--annotator``
    must exist (no silent fallback)."""
    path = args.record if path is None else path
    if args.detect:
        return load_record(path, annotator=None)
    if args.annotator is None:
        return load_record(path)  # the file's own beats or <record>.atr when there, else the detector
    return load_record(path, annotator=args.annotator, annotator_required=True)


def record_paths(items: list[str]) -> list[str | Path]:
    """The records named: a folder stands for every record in it (sorted by name); anything else is
    passed on as typed, so the loader judges it (a trailing slash, a missing file)."""
    out: list[str | Path] = []
    for item in items:
        out.extend(records_in(item) if Path(item).is_dir() else [item])
    return out
