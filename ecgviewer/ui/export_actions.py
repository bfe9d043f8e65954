"""File > Export CSV and File > Export PDF report: one path for both (where, who, write, tell).

Exports default to the user's Documents folder (or home), never next to the record: the record's
folder may be a shared archive. The user can still pick any path in the save dialog. The reviewer's
name is asked once and kept in the settings (report/reviewer); it goes on the report and the CSV.
``ask_save_path`` and ``ask_reviewer`` are module-level so tests can replace the dialogs.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog, QInputDialog

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


def ask_reviewer(parent) -> str | None:
    """The reviewer's name for the report (None: cancelled)."""
    name, ok = QInputDialog.getText(parent, "Reviewer", "Your name, printed on reports (asked once):")
    return name.strip() if ok else None


def beat_references(record, beats) -> np.ndarray:
    """Each scored beat's reference symbol ('' where none)."""
    sym = getattr(beats, "symbol", None)
    if beats.source == "reference" and sym is not None and len(sym) == len(beats):
        return np.asarray(sym).astype(str)
    ann = record.annotations
    if ann is not None and len(ann):
        return reference_labels(beats.sample, ann.sample, ann.symbol, record.fs)
    return np.full(len(beats), "", dtype=str)


@dataclass(frozen=True)
class ExportKind:
    title: str
    suffix: str  # default file name: <record>_<suffix>
    file_filter: str
    write: Callable[..., str]  # (path, job) -> status-bar message
    signed: bool = False  # carries the reviewer's name (asked once)


@dataclass
class ExportJob:
    """Everything an export writes: the record, its beats and scores, the review and who reviewed."""

    record: object
    beats: object
    scores: np.ndarray
    threshold: float
    reviews: dict
    model_label: str
    reviewer: str
    events: list[dict] | None = None
    templates: list[dict] | None = None
    score_note: str = ""


def _write_csv(path: str, job: ExportJob) -> str:
    out = export_csv(path, job.beats.sample, job.record.fs, job.scores, job.threshold,
                     beat_references(job.record, job.beats), job.reviews, job.templates, job.events)
    return f"Exported {len(job.beats)} beats to {out}"


def _write_pdf(path: str, job: ExportJob) -> str:
    from ecgviewer.ui.report import write_report

    n = write_report(path, job.record, job.beats, job.scores, job.threshold, job.reviews, job.model_label,
                     reviewer=job.reviewer, events=job.events, templates=job.templates,
                     score_note=job.score_note, when=_dt.datetime.now())
    return f"Report written to {path} ({n} pages)"


KINDS = {
    "csv": ExportKind("Export beats as CSV", "beats.csv", "CSV files (*.csv);;All files (*)", _write_csv),
    "pdf": ExportKind("Export PDF report", "report.pdf", "PDF files (*.pdf);;All files (*)", _write_pdf, True),
}


def reviewer_name(window, settings) -> str:
    """The saved reviewer name, asked for once when there is none ('' if the user declines)."""
    if settings is None:
        return ""
    name = settings.get("report/reviewer")
    if not name:
        name = ask_reviewer(window) or ""
        if name:
            settings.set("report/reviewer", name)
            settings.sync()
    return name


def run_export(window, kind: str, path: str | Path | None = None, reviews: dict | None = None) -> Path | None:
    """The one export path for File > Export CSV and Export PDF (``kind`` "csv" or "pdf").

    ``window`` gives record, beats, result, threshold, scorer, settings, statusBar(); ``events``
    and ``templates`` (CLI JSON lists) are used when the window has them.
    """
    from ecgviewer.ui import dialogs, wording

    k = KINDS[kind]
    if window.record is None or window.beats is None or window.result is None:
        window.statusBar().showMessage("Nothing to export: open and score a record first", 5000)
        return None
    if path is None:
        path = ask_save_path(window, k.title, default_export_dir() / f"{window.record.name}_{k.suffix}", k.file_filter)
        if not path:
            return None
    scorer = getattr(window, "scorer", None)
    job = ExportJob(window.record, window.beats, np.asarray(window.result.score), window.threshold, reviews or {},
                    scorer.name if scorer is not None else "unknown model",
                    reviewer_name(window, getattr(window, "settings", None)) if k.signed else "",
                    getattr(window, "events", None), getattr(window, "templates", None),
                    wording.score_kind(scorer.model.card) if scorer is not None else "")
    try:
        message = k.write(str(path), job)
    except OSError as e:
        dialogs.show_error(window, f"Cannot export {kind.upper()}", f"{path}: {e}")
        return None
    window.statusBar().showMessage(message, 10000)
    return Path(path)
