"""The records named on a command line: one loader for every ``ecgviewer`` command.

A named ``--annotator`` must exist and hold beats (no silent fallback to another annotator);
``ecgviewer score`` also takes several records or folders of them (a study), expanded here and
checked to exist before any is scored. Also the numbers the commands take, refused unless finite.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from ecgviewer.core.errors import RecordError
from ecgviewer.core.formats import record_exists, record_extensions, records_in
from ecgviewer.core.record import Record, load_record


def load_cli_record(args: argparse.Namespace, path: str | os.PathLike[str] | None = None) -> Record:
    """The record named on the command line (or ``path``, one of several); a named ``--annotator``
    must exist and hold beats (no silent fallback)."""
    path = args.record if path is None else path
    if args.detect:
        return load_record(path, annotator=None)
    if args.annotator is None:
        return load_record(path)  # the file's own beats or <record>.atr when there, else the detector (noted)
    return load_record(path, annotator=args.annotator, annotator_required=True)


def record_paths(items: list[str]) -> list[str | Path]:
    """The records named: a folder stands for every record in it (sorted by name); anything else is
    passed on as typed, so the loader judges it (a trailing slash, a damaged file). Of several, each
    must exist before any is scored: a typo in the last path is refused now, not after the study."""
    out: list[str | Path] = []
    for item in items:
        if Path(item).is_dir():
            out.extend(records_in(item))
            continue
        if len(items) > 1 and not record_exists(item):
            raise RecordError(item, "no such record or file (nothing was scored)")
        out.append(item)
    return out


def record_name(path: str | os.PathLike[str]) -> str:
    """A record's name from its path, as the loader names it (``dir/119.hea`` -> ``119``), for a
    record that failed to load."""
    p = Path(path)
    return p.stem if p.suffix.lower() in (*record_extensions(), ".atr", ".qrs") else p.name


def finite_float(text: str) -> float:
    """An option's number: NaN or infinity would be taken and break every comparison (and the JSON)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text!r}")
    return value
