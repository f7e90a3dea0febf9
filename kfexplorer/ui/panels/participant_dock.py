"""The Participant dock: everything known about the selected participant (for now, their participants row)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFormLayout, QLabel, QScrollArea, QStackedWidget, QVBoxLayout, QWidget

from kfexplorer.ui.models.cell_format import DAYS_PER_YEAR, column_title, format_cell
from kfexplorer.ui.preview_host import ensure_application, open_preview_workspace, show_preview
from kfexplorer.ui.widgets.empty_state import EmptyState


def participant_headline(record: dict[str, Any]) -> str:
    """'PT_0042 · F · 6 y' from the id, sex and age columns when present."""
    parts = [str(record.get("participant_id") or record.get("fhir_id") or "Participant")]
    sex = record.get("sex")
    if sex:
        parts.append(str(sex)[:1].upper())
    age = record.get("age_at_last_follow_up_days")
    if isinstance(age, int | float) and not isinstance(age, bool):
        parts.append(f"{int(age / DAYS_PER_YEAR)} y")
    return " · ".join(parts)


class ParticipantDetailPanel(QWidget):
    """Shows one participant's fields as a form; an empty state when nobody is selected."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stack = QStackedWidget(self)
        self.empty_state = EmptyState("No participant selected", "Select a row in a table to see the participant here.")
        self.stack.addWidget(self.empty_state)
        details = QWidget()
        details_layout = QVBoxLayout(details)
        details_layout.setContentsMargins(12, 12, 12, 12)
        details_layout.setSpacing(8)
        self.headline = QLabel()
        font = QFont(self.headline.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.headline.setFont(font)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        details_layout.addWidget(self.headline)
        self.form = QFormLayout()
        self.form.setHorizontalSpacing(12)
        self.form.setVerticalSpacing(6)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        details_layout.addLayout(self.form)
        details_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(details)
        self.stack.addWidget(scroll)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self._record: dict[str, Any] | None = None

    @property
    def record(self) -> dict[str, Any] | None:
        return self._record

    def field_text(self, column: str) -> str | None:
        """The text shown for `column` (None when the field is not shown)."""
        for row in range(self.form.rowCount()):
            label = self.form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            field = self.form.itemAt(row, QFormLayout.ItemRole.FieldRole)
            label_widget = label.widget() if label is not None else None
            if label_widget is not None and field is not None and label_widget.property("column") == column:
                widget = field.widget()
                return widget.text() if isinstance(widget, QLabel) else None
        return None

    def show_participant(self, record: dict[str, Any] | None) -> None:
        self._record = record
        while self.form.rowCount():
            self.form.removeRow(0)
        if not record:
            self.stack.setCurrentIndex(0)
            return
        self.headline.setText(participant_headline(record))
        for column, value in record.items():
            label = QLabel(column_title(column))
            label.setProperty("column", column)
            label.setEnabled(False)  # secondary text colour
            field = QLabel(format_cell(column, value))
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            field.setWordWrap(True)
            self.form.addRow(label, field)
        self.stack.setCurrentIndex(1)


def preview(cache_dir: Path, exec_loop: bool = True) -> QWidget:
    """Open the Participant dock alone, showing the first participant of `cache_dir`."""
    ensure_application()
    panel = ParticipantDetailPanel()
    workspace = open_preview_workspace(cache_dir)
    if workspace is not None:
        page = workspace.participants_page(limit=1)
        rows = page.table.to_pylist()
        panel.show_participant(rows[0] if rows else None)
        workspace.close()
    return show_preview(panel, "Participant", exec_loop, size=(320, 600))


if __name__ == "__main__":
    preview(Path(sys.argv[1]))
