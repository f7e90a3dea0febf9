"""The frame every facet of the Facets dock shares: a title, a search field, a body, a dimmed "stale" look.

A facet keeps its previous counts visible, dimmed, while new ones are being counted (`set_stale`).
"""

from __future__ import annotations

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from kfexplorer.ui.icon_library import themed_icon

# What a stale (dimmed) facet shows in its disabled colours: text, numbers and the histogram's bars.
DIMMED_ROLES = (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText,
                QPalette.ColorRole.Highlight, QPalette.ColorRole.Mid)


class FacetFrame(QWidget):
    """Title row (with an optional note on the right), search field, then the facet's own body."""

    def __init__(self, field: str, title: str, *, searchable: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = field
        self.title = title
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 4, 0, 4)
        outer.setSpacing(4)
        self.title_row = title_row = QHBoxLayout()
        title_row.setContentsMargins(0, 0, 0, 0)
        self.title_label = QLabel(title)
        font = self.title_label.font()
        font.setBold(True)
        self.title_label.setFont(font)
        # A long title (and its note) must not widen the dock: it gives way instead (full text in the tooltip).
        self.title_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.title_label.setMinimumWidth(40)
        self.title_label.setToolTip(title)
        title_row.addWidget(self.title_label, 1)
        self.note = QLabel("")
        self.note.setEnabled(False)
        self.note.setVisible(False)
        title_row.addWidget(self.note)
        self.search_button = QToolButton()
        self.search_button.setIcon(themed_icon("search"))
        self.search_button.setToolTip(f"Search {title.lower()}")
        self.search_button.setCheckable(True)
        self.search_button.setAutoRaise(True)
        self.search_button.setVisible(searchable)
        self.search_button.toggled.connect(self._toggle_search)
        title_row.addWidget(self.search_button)
        outer.addLayout(title_row)
        self.search = QLineEdit()
        self.search.setPlaceholderText(f"Search {title.lower()}…")
        self.search.setClearButtonEnabled(True)
        self.search.setVisible(False)
        self.search.textChanged.connect(self._search_typed)
        outer.addWidget(self.search)
        self.body = QWidget()
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(0, 0, 0, 0)
        self.body_layout.setSpacing(4)
        outer.addWidget(self.body)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setEnabled(False)
        self.message.setVisible(False)
        outer.addWidget(self.message)
        self.is_stale = False

    def set_note(self, text: str) -> None:
        """The small grey text right of the title (a count, "no values"); empty hides it."""
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def _toggle_search(self, shown: bool) -> None:
        self.search.setVisible(shown)
        if shown:
            self.search.setFocus()
        else:
            self.search.clear()

    def _search_typed(self, text: str) -> None:
        # Text set by code (or a test) shows the field too, so what filters the list is always visible.
        if text and self.search.isHidden():
            self.search_button.setChecked(True)

    def set_stale(self, stale: bool) -> None:
        """Dim the body (its text and bars take the disabled colours) while newer counts are on their way; it
        stays usable meanwhile."""
        if stale == self.is_stale:
            return
        self.is_stale = stale
        if stale:
            palette = QPalette(self.palette())
            for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
                for role in DIMMED_ROLES:
                    palette.setColor(group, role, palette.color(QPalette.ColorGroup.Disabled, role))
            self.body.setPalette(palette)
        else:
            self.body.setPalette(QPalette())  # inherit again (and follow later theme changes)

    def show_message(self, text: str) -> None:
        """A line under the body ("Nothing to count in this cache", …); empty hides it."""
        self.message.setText(text)
        self.message.setVisible(bool(text))
