"""A Qt table model over the cache's participants that pages on demand from DuckDB in a worker thread.

The view asks `canFetchMore`/`fetchMore` as the user scrolls; each fetch is a job that appends one page. Sorting
re-queries DuckDB; until the new first page arrives the previous rows stay visible, dimmed.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from kfexplorer.progress import CancelToken, ProgressCallback
from kfexplorer.query.model import Cohort
from kfexplorer.services.jobs import Job, JobFailure
from kfexplorer.services.workspace import PAGE_SIZE, ParticipantPage, Workspace
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.models.cell_format import column_title, copy_text, format_cell, is_number

ModelIndex = QModelIndex | QPersistentModelIndex
RAW_VALUE_ROLE = Qt.ItemDataRole.UserRole + 1


class ParticipantsTableModel(QAbstractTableModel):
    """Participants of the open workspace, sorted by DuckDB, loaded a page (256 rows) at a time."""

    page_loaded = Signal(int, float)  # rows loaded so far, query milliseconds
    first_page_loaded = Signal()
    page_failed = Signal(str)  # one-line message; the job runner's failure signal carries the details
    loading_changed = Signal(bool)

    def __init__(self, jobs: QtJobRunner, parent: QObject | None = None, page_size: int = PAGE_SIZE) -> None:
        super().__init__(parent)
        self._jobs = jobs
        self._page_size = page_size
        self._workspace: Workspace | None = None
        self._columns: list[str] = []
        self._rows: list[tuple[Any, ...]] = []
        self._numeric_columns: set[int] = set()
        self._sort_column = "participant_id"
        self._descending = False
        self._generation = 0
        self._exhausted = True
        self._stale = False
        self._loading_job: Job | None = None
        self._job_key = f"participants-page-{id(self)}"
        self._cohort: Cohort | None = None

    # -- public API ---------------------------------------------------------------------------------------------
    @property
    def workspace(self) -> Workspace | None:
        return self._workspace

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    @property
    def sort_state(self) -> tuple[str, bool]:
        return self._sort_column, self._descending

    @property
    def is_loading(self) -> bool:
        return self._loading_job is not None

    @property
    def is_stale(self) -> bool:
        return self._stale

    def set_workspace(self, workspace: Workspace | None) -> None:
        """Show `workspace` (None: stop querying, keep the rows dimmed until a workspace comes back)."""
        self._workspace = workspace
        if workspace is None:
            self._cancel_loading()
            self._mark_stale()
            return
        self.reload()

    def set_cohort(self, cohort: Cohort | None) -> None:
        """Show only `cohort`'s participants (None: everyone) and reload."""
        self._cohort = cohort
        self.reload()

    def reload(self) -> None:
        """Re-query from the first page in the current order; the old rows stay (dimmed) until it arrives."""
        if self._workspace is None:
            return
        self._generation += 1
        self._mark_stale()
        self._start_fetch(offset=0)

    def row_record(self, row: int) -> dict[str, Any]:
        """The raw values of one loaded row, by column name."""
        return dict(zip(self._columns, self._rows[row], strict=True))

    def rows_as_tsv(self, rows: list[int], columns: list[int], with_header: bool = True) -> str:
        lines = []
        if with_header:
            lines.append("\t".join(self._columns[c] for c in columns))
        for row in rows:
            lines.append("\t".join(copy_text(self._rows[row][c]) for c in columns))
        return "\n".join(lines) + "\n"

    # -- Qt model -----------------------------------------------------------------------------------------------
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        value = self._rows[index.row()][index.column()]
        column = self._columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return format_cell(column, value)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if index.column() in self._numeric_columns or is_number(value):
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole:
            palette = QApplication.palette()
            if self._stale or value is None:
                return palette.brush(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{column_title(column)}: {format_cell(column, value)}"
        if role == RAW_VALUE_ROLE:
            return value
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self._columns):
            if role == Qt.ItemDataRole.DisplayRole:
                return column_title(self._columns[section])
            if role == Qt.ItemDataRole.ToolTipRole:
                return self._columns[section]
            if role == Qt.ItemDataRole.TextAlignmentRole and section in self._numeric_columns:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        elif orientation == Qt.Orientation.Vertical and role == Qt.ItemDataRole.DisplayRole:
            return f"{section + 1:,}"
        return None

    def canFetchMore(self, parent: ModelIndex = QModelIndex()) -> bool:  # noqa: B008 - Qt's signature
        if parent.isValid() or self._workspace is None or self._stale:
            return False
        return not self._exhausted

    def fetchMore(self, parent: ModelIndex = QModelIndex()) -> None:  # noqa: B008 - Qt's signature
        if not self.canFetchMore(parent) or self._loading_job is not None:
            return
        self._start_fetch(offset=len(self._rows))

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(self._columns):
            return
        name = self._columns[column]
        descending = order == Qt.SortOrder.DescendingOrder
        if (name, descending) == (self._sort_column, self._descending) and not self._stale:
            return
        self._sort_column, self._descending = name, descending
        self.reload()

    # -- paging -------------------------------------------------------------------------------------------------
    def _start_fetch(self, offset: int) -> None:
        workspace = self._workspace
        if workspace is None:
            return
        generation = self._generation
        sort_column, descending, limit = self._sort_column, self._descending, self._page_size
        cohort = self._cohort

        def fetch_page(_progress: ProgressCallback, cancel: CancelToken) -> tuple[list[str], ParticipantPage]:
            cancel.raise_if_cancelled()
            columns = workspace.participant_columns()
            column = sort_column if sort_column in columns else (columns[0] if columns else sort_column)
            page = workspace.participants_page(offset=offset, limit=limit, sort_column=column, descending=descending,
                                              cohort=cohort)
            return columns, page

        was_loading = self._loading_job is not None
        self._loading_job = self._jobs.submit(
            fetch_page,
            name="Participants page",
            key=self._job_key,
            on_finished=lambda result: self._page_arrived(generation, offset, result),
            on_failed=lambda failure: self._page_failed(generation, failure),
            on_cancelled=lambda: self._page_cancelled(generation),
        )
        if not was_loading:
            self.loading_changed.emit(True)

    def _page_arrived(self, generation: int, offset: int, result: tuple[list[str], ParticipantPage]) -> None:
        if generation != self._generation:
            return
        columns, page = result
        self._set_idle()
        rows = list(zip(*(col.to_pylist() for col in page.table.columns), strict=True)) if page.num_rows else []
        self._exhausted = page.num_rows < self._page_size
        if offset == 0:
            self.beginResetModel()
            self._columns = columns
            self._numeric_columns = {
                i for i, field in enumerate(page.table.schema)
                if pa.types.is_integer(field.type) or pa.types.is_floating(field.type)
                or pa.types.is_decimal(field.type)
            }
            self._sort_column, self._descending = page.sort_column, page.descending
            self._rows = rows
            self._stale = False
            self.endResetModel()
        elif rows:
            self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows) + len(rows) - 1)
            self._rows.extend(rows)
            self.endInsertRows()
        self.page_loaded.emit(len(self._rows), page.elapsed_ms)
        if offset == 0:
            self.first_page_loaded.emit()

    def _page_failed(self, generation: int, _failure: JobFailure) -> None:
        if generation != self._generation:
            return
        self._set_idle()
        self._exhausted = True  # stop the view from retrying; F5 (reload) tries again
        self.page_failed.emit(_failure.message)

    def _page_cancelled(self, generation: int) -> None:
        if generation == self._generation:
            self._set_idle()

    def _set_idle(self) -> None:
        if self._loading_job is not None:
            self._loading_job = None
            self.loading_changed.emit(False)

    def _cancel_loading(self) -> None:
        if self._loading_job is not None:
            self._jobs.cancel(self._loading_job.job_id)
            self._generation += 1
            self._set_idle()

    def _mark_stale(self) -> None:
        if not self._stale:
            self._stale = True
            if self._rows and self._columns:
                self.dataChanged.emit(
                    self.index(0, 0),
                    self.index(len(self._rows) - 1, len(self._columns) - 1),
                    [Qt.ItemDataRole.ForegroundRole],
                )
