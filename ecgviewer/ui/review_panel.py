"""The review panel: the selected beat's state, the review buttons, its class, the note field,
counts, where reviews are saved, and the banner for a review file that does not match.

A passive widget: ReviewController (ui/review_controller.py) fills it and connects its buttons.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QMessageBox, QPushButton, QVBoxLayout, QWidget

from ecgviewer.core.review import LABELS, ReviewState
from ecgviewer.ui.flag_table import STATE_COLORS

#: Class choices in the panel: the reference class (no relabel) first.
CLASS_CHOICES = ("reference",) + LABELS


class ReviewPanel(QWidget):
    """Selected beat's review: state, buttons, class, note field; counts, save place, mismatch banner."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.title = QLabel("No beat selected", self)
        self.state = QLabel("", self)
        self.state.setMinimumWidth(90)
        self.confirm = QPushButton("Confirm (A)", self)
        self.dismiss = QPushButton("Dismiss (D)", self)
        self.clear = QPushButton("Unreviewed (U)", self)
        self.klass = QComboBox(self)
        self.klass.addItems(CLASS_CHOICES)
        self.klass.setToolTip("The beat's class: Shift+N, S, V, F, Q, X (artefact)")
        self.delete = QPushButton("Delete beat (Del)", self)
        self.delete.setToolTip("Not a beat: delete it (undo brings it back). Shift+click on the trace adds a beat.")
        self.note = QLineEdit(self)
        self.note.setPlaceholderText("Note: E to edit, Enter to save, Esc to leave")
        self.note.setClearButtonEnabled(True)
        self.counts = QLabel("", self)
        self.counts.setWordWrap(True)
        self.counts.setMinimumHeight(2 * self.fontMetrics().height() + 4)  # two lines, never clipped
        self.saved = QLabel("", self)
        self.saved.setWordWrap(True)
        self.saved.setStyleSheet("color: #606060; font-size: 8pt")
        small = QFont(self.font())
        small.setPointSizeF(8.0)
        self.saved.setMinimumHeight(2 * QFontMetrics(small).lineSpacing() + 2)  # the wrapped path, never clipped
        self.saved.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner = QLabel("", self)
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background: #fff0c0; border: 1px solid #d09000; padding: 4px; color: #603000")
        self.apply_button = QPushButton("Apply the marks that fit", self)
        self.banner.hide()
        self.apply_button.hide()
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.state)
        buttons = QHBoxLayout()
        for b in (self.confirm, self.dismiss, self.clear):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            buttons.addWidget(b)
        edits = QHBoxLayout()
        edits.addWidget(QLabel("Class", self))
        edits.addWidget(self.klass, 1)
        self.delete.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.klass.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        edits.addWidget(self.delete)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(3)
        lay.addWidget(self.banner)
        lay.addWidget(self.apply_button)
        lay.addLayout(top)
        lay.addLayout(buttons)
        lay.addLayout(edits)
        lay.addWidget(self.note)
        lay.addWidget(self.counts)
        lay.addWidget(self.saved)
        self.set_enabled(False)

    def set_enabled(self, on: bool) -> None:
        for w in (self.confirm, self.dismiss, self.clear, self.note, self.klass, self.delete):
            w.setEnabled(on)

    def show_state(self, state: ReviewState | None, text: str | None = None) -> None:
        if state is None:
            self.state.setText("")
            return
        color = STATE_COLORS.get(state, "#303030")
        self.state.setText(f"<b style='color:{color}'>{text or state.label}</b>")

    def show_class(self, label: str) -> None:
        self.klass.blockSignals(True)
        self.klass.setCurrentIndex(CLASS_CHOICES.index(label) if label in CLASS_CHOICES else 0)
        self.klass.blockSignals(False)


def show_mismatch(parent, text: str, details: str, on_apply) -> QMessageBox:
    """A window-modal, non-blocking warning: the review file is not applied unless the user asks."""
    box = QMessageBox(QMessageBox.Icon.Warning, "Review file does not match", text,
                      QMessageBox.StandardButton.Ignore, parent)
    apply = box.addButton("Apply the marks that fit", QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(QMessageBox.StandardButton.Ignore)
    box.setInformativeText("The file was left as it is; it is moved aside (kept as a backup) before the "
                           "first new mark is saved.")
    if details:
        box.setDetailedText(details)
    box.buttonClicked.connect(lambda b: on_apply() if b is apply else None)
    box.open()
    return box
