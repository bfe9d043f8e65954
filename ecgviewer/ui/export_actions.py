"""File > Export CSV and File > Export PDF report: where to write, and the calls into core/export and report.

Exports default to the user's Documents folder (or home), never next to the record: the record's
folder may be a shared archive. The user can still pick any path in the save dialog.
``ask_save_path`` is module-level so tests can replace the dialog.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog

from ecgviewer.core.export import export_csv
from ecgviewer.core.flag_metrics import reference_labels


def default_export_dir() -> Path:
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    if docs and Path(docs).is_dir():
        return Path(docs)
    return Path.home()


def ask_save_path(parent, title: str, default: Path, file_filter: str) -> str | None:
    path, _ = QFileDialog.getSaveFileName(parent, title, str(default), file_filter)
    return path or None


def beat_references(record, beats) -> np.ndarray:
    """Each scored beat's reference symbol ('' where none)."""
    sym = getattr(beats, "symbol", None)
    if beats.source == "reference" and sym is not None and len(sym) == len(beats):
        return np.asarray(sym).astype(str)
    ann = record.annotations
    if ann is not None and len(ann):
        return reference_labels(beats.sample, ann.sample, ann.symbol, record.fs)
    return np.full(len(beats), "", dtype=str)


def write_csv(path: str | Path, record, beats, scores, threshold: float, reviews) -> Path:
    return export_csv(path, beats.sample, record.fs, np.asarray(scores), threshold,
                      beat_references(record, beats), reviews)


def write_pdf(path: str | Path, record, beats, scores, threshold: float, store, model_label: str) -> int:
    from ecgviewer.ui.report import write_report

    return write_report(path, record, beats, np.asarray(scores), threshold, store, model_label)
