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

from ecgviewer.core.export import export_csv, export_summary_csv, summary_path, summary_rows


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


@dataclass(frozen=True)
class ExportKind:
    title: str
    suffix: str  # default file name: <record>_<suffix>
    file_filter: str
    write: Callable[..., str]  # (path, job) -> status-bar message
    signed: bool = False  # carries the reviewer's name (asked once)


@dataclass
class ExportJob:
    """Everything an export writes, read from the window's ReviewSession.

    ``sample``/``scores``/``reference`` are the session's beats: the scored ones then the ones the
    reviewer added (score NaN); ``reviews`` the store's reviews (states, notes, relabelled, added and
    deleted beats); ``beatset`` the scored BeatSet (its windows give the strips' heat maps).
    """

    record: object
    sample: np.ndarray
    scores: np.ndarray
    reference: np.ndarray
    threshold: float
    reviews: dict
    model_label: str
    reviewer: str
    beatset: object = None
    metrics: object = None  # the session's FlagMetrics: the report's reference numbers are the panel's
    events: list[dict] | None = None
    templates: list[dict] | None = None
    score_note: str = ""

    @classmethod
    def from_session(cls, session, model_label: str, reviewer: str = "", beatset=None,
                     score_note: str = "") -> ExportJob:
        """The job for ``session`` (core/session); its ``events`` and ``template_list`` (the lists the
        viewer shows, CLI JSON shape) become the report's and the CSV's event and template sections."""
        return cls(session.record, session.sample, session.score, session.symbol, session.threshold,
                   session.store.reviews(), model_label, reviewer, beatset, session.metrics,
                   session.events, session.template_list, score_note)


def _write_csv(path: str, job: ExportJob) -> str:
    """The beats CSV and, beside it, the summary CSV (patient, reviewer, counts, events, templates)."""
    out = export_csv(path, job.sample, job.record.fs, job.scores, job.threshold, job.reference, job.reviews,
                     job.templates, job.events)
    rows = summary_rows(job.record, job.sample, job.scores, job.threshold, job.reviews, model=job.model_label,
                        reviewer=job.reviewer, when=_dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
                        metrics=job.metrics, events=job.events, templates=job.templates)
    summary = export_summary_csv(summary_path(out), rows)
    return f"Exported {len(job.sample)} beats to {out} (summary: {summary.name})"


def _write_pdf(path: str, job: ExportJob) -> str:
    from ecgviewer.ui.report import write_report

    n = write_report(path, job.record, job.sample, job.scores, job.threshold, job.reviews, job.model_label,
                     reviewer=job.reviewer, events=job.events, templates=job.templates,
                     score_note=job.score_note, when=_dt.datetime.now(), reference=job.reference,
                     metrics=job.metrics, beatset=job.beatset)
    return f"Report written to {path} ({n} pages)"


KINDS = {
    "csv": ExportKind("Export beats as CSV", "beats.csv", "CSV files (*.csv);;All files (*)", _write_csv, True),
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


def run_export(window, kind: str, path: str | Path | None = None) -> Path | None:
    """The one export path for File > Export CSV and Export PDF (``kind`` "csv" or "pdf").

    Reads ``window.session`` (record, beats, scores, threshold, reviews, events, templates), and
    from the window only who and what scored: ``scorer``, ``settings`` (the reviewer), ``beats``
    (the BeatSet, for heat maps) and ``statusBar()`` for the outcome.
    """
    from ecgviewer.ui import dialogs, wording

    k = KINDS[kind]
    session = getattr(window, "session", None)
    if session is None or session.record is None:
        window.statusBar().showMessage("Nothing to export: open and score a record first", 5000)
        return None
    if path is None:
        path = ask_save_path(window, k.title, default_export_dir() / f"{session.record.name}_{k.suffix}",
                             k.file_filter)
        if not path:
            return None
    scorer = getattr(window, "scorer", None)
    job = ExportJob.from_session(session, scorer.name if scorer is not None else "unknown model",
                                 reviewer_name(window, getattr(window, "settings", None)) if k.signed else "",
                                 getattr(window, "beats", None),
                                 wording.score_kind(scorer.model.card) if scorer is not None else "")
    try:
        message = k.write(str(path), job)
    except OSError as e:
        dialogs.show_error(window, f"Cannot export {kind.upper()}", f"{path}: {e}")
        return None
    window.statusBar().showMessage(message, 10000)
    return Path(path)
