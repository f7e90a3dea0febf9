"""The query bar: the cohort's top-level criteria as pills in plain words (each with ×), and Undo / Redo."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from kfexplorer.query.compiler import describe
from kfexplorer.query.model import Cohort, Node, QueryError
from kfexplorer.services.cohort_state import CohortState


def pill_text(node: Node) -> str:
    """A criterion in plain words (the compiler's description); the raw field name when it cannot be described."""
    try:
        return describe(node)
    except QueryError as error:
        return f"⚠ {error}"


class CriterionPill(QFrame):
    """One top-level criterion: its words and a × that removes it."""

    def __init__(self, text: str, removable: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("CohortPill")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 2, 4 if removable else 10, 2)
        layout.setSpacing(4)
        self.label = QLabel(text)
        layout.addWidget(self.label)
        self.remove_button: QToolButton | None = None
        if removable:
            self.remove_button = QToolButton()
            self.remove_button.setObjectName("PillRemove")
            self.remove_button.setText("×")
            self.remove_button.setToolTip("Remove this criterion")
            self.remove_button.setAutoRaise(True)
            layout.addWidget(self.remove_button)


class QueryBar(QFrame):
    """'Q1' then the pills joined by AND (or one 'All participants' pill), then Undo / Redo."""

    def __init__(self, state: CohortState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("QueryBar")
        self.state = state
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(8)
        query_label = QLabel("<b>Q1</b>")
        query_label.setToolTip("The current cohort query")
        layout.addWidget(query_label)
        self.pill_row = QHBoxLayout()
        self.pill_row.setSpacing(8)
        layout.addLayout(self.pill_row)
        layout.addStretch(1)
        self.undo_button = QToolButton()
        self.undo_button.setText("↶ Undo")
        self.undo_button.setToolTip("Undo the last cohort edit (Ctrl+Z)")
        self.undo_button.clicked.connect(self.state.undo)
        self.redo_button = QToolButton()
        self.redo_button.setText("↷ Redo")
        self.redo_button.setToolTip("Redo (Ctrl+Shift+Z)")
        self.redo_button.clicked.connect(self.state.redo)
        layout.addWidget(self.undo_button)
        layout.addWidget(self.redo_button)
        self.undo_shortcut = QShortcut(QKeySequence("Ctrl+Z"), self)
        self.undo_shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        self.undo_shortcut.activated.connect(self.state.undo)
        self.redo_shortcut = QShortcut(QKeySequence("Ctrl+Shift+Z"), self)
        self.redo_shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        self.redo_shortcut.activated.connect(self.state.redo)
        self.pills: list[CriterionPill] = []
        self.apply_palette()
        self.state.add_listener(self._cohort_changed)
        self._cohort_changed(self.state.cohort)

    def pill_texts(self) -> list[str]:
        return [pill.label.text() for pill in self.pills]

    def _cohort_changed(self, _cohort: Cohort) -> None:
        while self.pill_row.count():
            item = self.pill_row.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()  # at once: deletion waits for the event loop
                widget.deleteLater()
        self.pills = []
        children = self.state.top_level()
        if not children:
            pill = CriterionPill("All participants", removable=False)
            self.pills.append(pill)
            self.pill_row.addWidget(pill)
        for index, node in enumerate(children):
            if index:
                self.pill_row.addWidget(QLabel("AND"))
            pill = CriterionPill(pill_text(node), removable=True)
            assert pill.remove_button is not None
            pill.remove_button.clicked.connect(lambda _checked=False, i=index: self.state.remove(i))
            self.pills.append(pill)
            self.pill_row.addWidget(pill)
        self.undo_button.setEnabled(self.state.can_undo)
        self.redo_button.setEnabled(self.state.can_redo)

    def apply_palette(self) -> None:
        palette = self.palette()
        accent = palette.color(QPalette.ColorRole.Highlight)
        mid = palette.color(QPalette.ColorRole.Mid)
        self.setStyleSheet(
            f"#CohortPill {{ border: 1px solid {accent.name()}; border-radius: 10px; }}"
            "#PillRemove { border: none; padding: 0 4px; }"
            f"#QueryBar {{ border-bottom: 1px solid {mid.name()}; }}"
        )
