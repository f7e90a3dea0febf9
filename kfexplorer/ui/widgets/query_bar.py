"""The query bar region. PLACEHOLDER until the cohort model lands: it says so, and offers no fake controls."""

from __future__ import annotations

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget


class QueryBarPlaceholder(QFrame):
    """A row reading 'Q1 · All participants' with a dashed pill explaining that filters will appear here."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("QueryBar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(8)
        query_label = QLabel("<b>Q1</b>")
        query_label.setToolTip("The current cohort query")
        layout.addWidget(query_label)
        self.cohort_pill = QLabel("All participants")
        self.cohort_pill.setObjectName("CohortPill")
        layout.addWidget(self.cohort_pill)
        self.placeholder_pill = QLabel(
            "Filters will appear here as pills (study, phenotype, variant…) once the cohort model is available"
        )
        self.placeholder_pill.setObjectName("PlaceholderPill")
        self.placeholder_pill.setEnabled(False)
        layout.addWidget(self.placeholder_pill)
        layout.addStretch(1)
        self.apply_palette()

    def apply_palette(self) -> None:
        palette = self.palette()
        accent = palette.color(QPalette.ColorRole.Highlight)
        mid = palette.color(QPalette.ColorRole.Mid)
        self.setStyleSheet(
            f"#CohortPill {{ border: 1px solid {accent.name()}; border-radius: 10px; padding: 2px 10px; }}"
            f"#PlaceholderPill {{ border: 1px dashed {mid.name()}; border-radius: 10px; padding: 2px 10px; }}"
            f"#QueryBar {{ border-bottom: 1px solid {mid.name()}; }}"
        )
