"""A non-blocking error notice: a banner with the one-line message, Details (traceback, Copy) and Dismiss."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from types import TracebackType

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from kfexplorer.services.jobs import JobFailure, describe_exception


class ErrorDetailsDialog(QDialog):
    """Non-modal window with the full traceback text and a Copy button."""

    def __init__(self, message: str, details: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Error details")
        self.setModal(False)
        self.resize(720, 420)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(8)
        title = QLabel(message)
        title.setWordWrap(True)
        title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(title)
        self.details_edit = QPlainTextEdit(details)
        self.details_edit.setReadOnly(True)
        self.details_edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        layout.addWidget(self.details_edit, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = buttons.addButton("Copy", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        self._text = f"{message}\n\n{details}"

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self._text)


class ErrorNotice(QFrame):
    """A banner that appears at the top of the window for any background failure. It never blocks input."""

    shown = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ErrorNotice")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#ErrorNotice { background: #fdecea; border: 1px solid #f5c2c0; border-radius: 6px; }"
            "#ErrorNotice QLabel, #ErrorNotice QToolButton { color: #7f1d1d; background: transparent; }"
            "#ErrorNotice QPushButton { color: #7f1d1d; background: #ffffff; border: 1px solid #e8a7a4;"
            " border-radius: 4px; padding: 3px 12px; }"
            "#ErrorNotice QPushButton:hover { background: #fff5f5; }"
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 8, 6)
        layout.setSpacing(8)
        self.icon_label = QLabel("⚠")
        layout.addWidget(self.icon_label)
        self.message_label = QLabel()
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.message_label, 1)
        self.count_label = QLabel()
        layout.addWidget(self.count_label)
        self.details_button = QPushButton("Details")
        self.details_button.clicked.connect(self.open_details)
        layout.addWidget(self.details_button)
        self.dismiss_button = QToolButton()
        self.dismiss_button.setText("✕")
        self.dismiss_button.setToolTip("Dismiss")
        self.dismiss_button.setAutoRaise(True)
        self.dismiss_button.clicked.connect(self.dismiss)
        layout.addWidget(self.dismiss_button)
        self._message = ""
        self._details = ""
        self._count = 0
        self.details_dialog: ErrorDetailsDialog | None = None
        self.hide()

    @property
    def message(self) -> str:
        return self._message

    @property
    def details(self) -> str:
        return self._details

    def show_error(self, message: str, details: str = "") -> None:
        """Show (or replace) the notice; repeated errors are counted."""
        self._count += 1
        self._message, self._details = message, details or message
        self.message_label.setText(message)
        self.message_label.setToolTip(message)
        self.count_label.setText(f"({self._count} errors)" if self._count > 1 else "")
        self.show()
        self.shown.emit(message)

    def show_failure(self, failure: JobFailure) -> None:
        self.show_error(f"{failure.name} failed — {failure.message}", failure.details)

    def show_exception(self, exc: BaseException, context: str = "") -> None:
        details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        prefix = f"{context} — " if context else ""
        self.show_error(prefix + describe_exception(exc), details)

    def open_details(self) -> ErrorDetailsDialog:
        if self.details_dialog is not None:
            self.details_dialog.close()
        self.details_dialog = ErrorDetailsDialog(self._message, self._details, self.window())
        self.details_dialog.show()
        return self.details_dialog

    def dismiss(self) -> None:
        self._count = 0
        self.hide()


ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], object]


def install_excepthook(notice: ErrorNotice) -> Callable[[], None]:
    """Route uncaught UI-thread exceptions to `notice` (and the previous hook); returns a function restoring it."""
    previous: ExceptHook = sys.excepthook

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        try:
            details = "".join(traceback.format_exception(exc_type, exc, tb))
            notice.show_error(describe_exception(exc), details)
        except RuntimeError:  # the notice widget is already deleted
            pass
        previous(exc_type, exc, tb)

    sys.excepthook = hook

    def restore() -> None:
        if sys.excepthook is hook:
            sys.excepthook = previous

    return restore
