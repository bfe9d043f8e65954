"""Dialogs: keyboard shortcuts, About, and the error box (one place to patch in tests)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ecgviewer import __version__
from ecgviewer.core.model.card import ModelCard
from ecgviewer.core.resources import licenses_path, sample_source_text
from ecgviewer.ui.shortcuts import help_rows
from ecgviewer.ui.wording import card_lines


def show_error(parent: QWidget | None, title: str, text: str, details: str | None = None) -> None:
    """A modal error message; the app stays usable after it closes."""
    box = QMessageBox(QMessageBox.Icon.Critical, title, text, QMessageBox.StandardButton.Ok, parent)
    if details:
        box.setDetailedText(details)
    box.exec()


class ShortcutsDialog(QDialog):
    """Every key, read from the same table that builds the menus."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = help_rows()
        table = QTableWidget(len(rows), 2, self)
        table.setHorizontalHeaderLabels(["Keys", "Action"])
        for r, (keys, text) in enumerate(rows):
            table.setItem(r, 0, QTableWidgetItem(keys))
            table.setItem(r, 1, QTableWidgetItem(text))
        table.resizeColumnsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        table.verticalHeader().hide()
        self.table = table
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(table)
        lay.addWidget(buttons)
        self.resize(560, 600)


def about_text(card: ModelCard | None, model_error: str | None = None, backend: str | None = None) -> str:
    """Markdown for Help > About: version, model card summary, licences and attribution."""
    lines = [f"# ecgviewer {__version__}", "",
             "Review long ECG recordings; a BeatGAN-style autoencoder (SI-BeatGAN V2) flags beats "
             "whose shape it cannot reconstruct, and shows where inside each beat.", ""]
    if card:
        lines += ["## Model", ""] + card_lines(card, backend) + [""]
    elif model_error:
        lines += ["## Model", "", f"No model loaded: {model_error}", ""]
    notices = licenses_path()
    lines += ["## Licences", "",
              "- ecgviewer: MIT licence.",
              "- Qt / PySide6: LGPLv3. pyqtgraph: MIT. ONNX Runtime: MIT (installer) or PyTorch: BSD-3-Clause "
              "(Python install). NumPy, SciPy, pandas: BSD-3-Clause. wfdb-python: MIT. platformdirs: MIT.",
              f"- Every bundled component, its licence and source: [{notices.name}]({notices.as_uri()})"
              if notices.is_file() else "- Third-party notices: resources/LICENSES.md", "",
              "## Sample data", "", _under_heading(sample_source_text())]
    return "\n".join(lines)


def _under_heading(markdown: str) -> str:
    """``markdown`` with its headings two levels down, so a file's own title ("# Sample records")
    reads under the About box's section heading, not larger than it."""
    return "\n".join("##" + line if line.startswith("#") else line for line in markdown.splitlines())


class AboutDialog(QDialog):
    def __init__(self, card: ModelCard | None, model_error: str | None = None, parent: QWidget | None = None,
                 backend: str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About ecgviewer")
        self.browser = QTextBrowser(self)
        self.browser.setOpenExternalLinks(True)
        self.browser.setMarkdown(about_text(card, model_error, backend))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.browser)
        lay.addWidget(buttons)
        self.resize(640, 620)
