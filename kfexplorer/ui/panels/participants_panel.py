"""The Participants tab: a paged, sortable table of the cohort's participants with copy-as-TSV."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelection, Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QVBoxLayout, QWidget

from kfexplorer.services.workspace import Workspace
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.models.participants_model import ParticipantsTableModel
from kfexplorer.ui.preview_host import ensure_application, open_preview_workspace, show_preview


class ParticipantsPanel(QWidget):
    """Table view over ParticipantsTableModel; emits `participant_selected(record)` for the current row."""

    participant_selected = Signal(object)  # dict of column -> raw value, or None

    def __init__(self, jobs: QtJobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = ParticipantsTableModel(jobs, self)
        self.view = QTableView(self)
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        self.view.setShowGrid(False)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(24)
        header = self.view.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        self.view.setSortingEnabled(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.copy_shortcut = QShortcut(QKeySequence.StandardKey.Copy, self.view)
        self.copy_shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.copy_shortcut.activated.connect(self.copy_selection)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        self.model.modelReset.connect(self._model_reset)

    def set_workspace(self, workspace: Workspace | None) -> None:
        self.model.set_workspace(workspace)
        self.participant_selected.emit(None)  # another cache: the participant shown may not be in it

    def reload(self) -> None:
        self.model.reload()

    def selected_rows(self) -> list[int]:
        return sorted({index.row() for index in self.view.selectionModel().selectedIndexes()})

    def selection_as_tsv(self) -> str:
        """Selected cells as TSV with a header row (whole rows when rows are selected)."""
        indexes = self.view.selectionModel().selectedIndexes()
        if not indexes:
            return ""
        rows = sorted({index.row() for index in indexes})
        columns = sorted({index.column() for index in indexes})
        columns = [c for c in columns if not self.view.isColumnHidden(c)]
        return self.model.rows_as_tsv(rows, columns)

    def copy_selection(self) -> str:
        text = self.selection_as_tsv()
        if text:
            QGuiApplication.clipboard().setText(text)
        return text

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        current = self.view.selectionModel().currentIndex()
        rows = self.selected_rows()
        row = current.row() if current.isValid() and current.row() in rows else (rows[-1] if rows else -1)
        record: dict[str, Any] | None = self.model.row_record(row) if row >= 0 else None
        self.participant_selected.emit(record)

    def _model_reset(self) -> None:
        if self.model.columnCount() and not getattr(self, "_columns_sized", False):
            self._columns_sized = True
            self.view.resizeColumnsToContents()
            header = self.view.horizontalHeader()
            for column in range(self.model.columnCount()):
                header.resizeSection(column, min(max(header.sectionSize(column) + 16, 72), 260))
        # a cohort edit or a sort reloads the rows: the participant the dock shows stays (chosen here or anywhere)


def preview(cache_dir: Path, exec_loop: bool = True) -> QWidget:
    """Open the Participants table alone over `cache_dir`."""
    ensure_application()
    jobs = QtJobRunner()
    panel = ParticipantsPanel(jobs)
    jobs.setParent(panel)
    panel.set_workspace(open_preview_workspace(cache_dir))
    return show_preview(panel, "Participants", exec_loop)


if __name__ == "__main__":
    preview(Path(sys.argv[1]))
