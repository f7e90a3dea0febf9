"""A centred empty state: what is (not) here and what to do next, with optional action links."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from kfexplorer.ui.icon_library import render_icon


class EmptyState(QWidget):
    """Title, explanation and zero or more action buttons, centred in the available space."""

    def __init__(
        self,
        title: str,
        text: str = "",
        actions: list[tuple[str, Callable[[], object]]] | None = None,
        icon_name: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 24, 24, 24)
        layout.setSpacing(8)
        layout.addStretch(1)
        if icon_name is not None:
            icon = QLabel()
            icon.setPixmap(render_icon(icon_name, 40))
            icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
            layout.addWidget(icon)
        self.title_label = QLabel(title)
        font = QFont(self.title_label.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.title_label.setFont(font)
        self.title_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title_label.setWordWrap(True)
        layout.addWidget(self.title_label)
        self.text_label = QLabel(text)
        self.text_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text_label.setWordWrap(True)
        self.text_label.setForegroundRole(self.text_label.foregroundRole())
        self.text_label.setEnabled(False)  # reads as secondary text in every palette
        self.text_label.setVisible(bool(text))
        layout.addWidget(self.text_label)
        self.buttons: list[QPushButton] = []
        if actions:
            row = QHBoxLayout()
            row.setSpacing(8)
            row.addStretch(1)
            for label, callback in actions:
                button = QPushButton(label)
                button.clicked.connect(callback)
                row.addWidget(button)
                self.buttons.append(button)
            row.addStretch(1)
            layout.addSpacing(8)
            layout.addLayout(row)
        layout.addStretch(2)
