"""File > Export CSV / PDF report from the review session: asks where, writes, reports failures."""

from __future__ import annotations

from pathlib import Path

from ecgviewer.ui import export_actions as ea


def _ask(parent, title: str, name: str, flt: str, path) -> str | Path | None:
    return path if path is not None else ea.ask_save_path(parent, title, ea.default_export_dir() / name, flt)


def export_csv(parent, session, beats, path: str | Path | None = None) -> Path | None:
    """Every scored beat with score, flag, review and note; None when cancelled or failed."""
    rec = session.record
    path = _ask(parent, "Export beats as CSV", f"{rec.name}_beats.csv", "CSV files (*.csv);;All files (*)", path)
    if not path:
        return None
    try:
        return ea.write_csv(path, rec, beats, session.score[: session.n_scored], session.threshold,
                            session.store.reviews())
    except OSError as e:
        from ecgviewer.ui import dialogs

        dialogs.show_error(parent, "Cannot export CSV", f"{path}: {e}")
        return None


def export_pdf(parent, session, beats, model: str, path: str | Path | None = None) -> tuple[Path, int] | None:
    """The PDF report; returns (path, pages), None when cancelled or failed."""
    rec = session.record
    path = _ask(parent, "Export PDF report", f"{rec.name}_report.pdf", "PDF files (*.pdf);;All files (*)", path)
    if not path:
        return None
    try:
        n = ea.write_pdf(path, rec, beats, session.score[: session.n_scored], session.threshold, session.store, model)
    except OSError as e:
        from ecgviewer.ui import dialogs

        dialogs.show_error(parent, "Cannot export PDF", f"{path}: {e}")
        return None
    return Path(path), n
