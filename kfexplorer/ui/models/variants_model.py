"""A windowed Qt table model over a materialised cohort table (variants or occurrences) of any size.

QTableView stops painting past 2^31 pixels (~89 M rows of 24 px), so the model never shows the whole table: it
shows a *window* of `window_rows` rows starting at `window_start`, and the panel drives `window_start` from its own
scrollbar (range = total rows). Row r of the model is row `window_start + r` of the table in the current sort. Rows
come in pages (PAGE rows, one range query on the row number each) fetched by jobs, one at a time, newest window
first; rows not yet fetched read "…" until their page arrives.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from kfexplorer.progress import CancelToken, ProgressCallback
from kfexplorer.services.jobs import Job, JobFailure
from kfexplorer.services.variant_table import Column, TablePage
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.models.cell_format import copy_text, format_cell

ModelIndex = QModelIndex | QPersistentModelIndex
RAW_VALUE_ROLE = Qt.ItemDataRole.UserRole + 1
PAGE = 256
PAGES_KEPT = 64
PENDING_TEXT = "…"
PageFetcher = Callable[[int, int], TablePage]  # (offset, limit) -> page; runs in a worker


def format_value(column: Column, value: Any) -> str:
    """Frequencies and scores with significant digits; positions and counts with separators; lists joined."""
    if isinstance(value, float) and column.numeric:
        if value == 0:
            return "0"
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return format_cell(column.name, value)


class WindowedTableModel(QAbstractTableModel):
    """`window_rows` rows of a table of `total` rows, starting at `window_start`, fetched a page at a time."""

    page_arrived = Signal(int, float)  # offset, milliseconds
    page_failed = Signal(str)
    sort_requested = Signal(int, bool)  # column, descending: the panel re-materialises the table in that sort

    def __init__(self, jobs: QtJobRunner, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs = jobs
        self._name = name
        self._job_key = f"{name}-page-{id(self)}"
        self._columns: tuple[Column, ...] = ()
        self._fetch: PageFetcher | None = None
        self._total = 0
        self._start = 0
        self._window_rows = 40
        self._pages: OrderedDict[int, list[tuple[Any, ...]]] = OrderedDict()
        self._generation = 0
        self._in_flight: tuple[int, Job, int] | None = None  # page, job, request number
        self._requests = 0
        self._stale = False
        self.sort_column = 0
        self.sort_descending = False

    # -- source -------------------------------------------------------------------------------------------------
    @property
    def columns(self) -> tuple[Column, ...]:
        return self._columns

    @property
    def total(self) -> int:
        return self._total

    @property
    def window_start(self) -> int:
        return self._start

    @property
    def window_rows(self) -> int:
        return self._window_rows

    def set_source(self, columns: tuple[Column, ...], total: int, fetch: PageFetcher | None) -> None:
        """Show a new table (`fetch(offset, limit)` pages it); the window goes back to the top."""
        self.beginResetModel()
        self._generation += 1
        self._cancel()
        self._columns, self._total, self._fetch = columns, total, fetch
        self._start = 0
        self._pages.clear()
        self._stale = False
        self.endResetModel()
        self._ensure_pages()

    def mark_stale(self) -> None:
        """Dim the rows until the next source arrives (a newer query is running)."""
        self._stale = True
        if self.rowCount() and self.columnCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, self.columnCount() - 1),
                                  [Qt.ItemDataRole.ForegroundRole])

    def set_window_rows(self, rows: int) -> None:
        rows = max(1, rows)
        if rows == self._window_rows:
            return
        self.beginResetModel()
        self._window_rows = rows
        self._start = min(self._start, max(0, self._total - rows))
        self.endResetModel()
        self._ensure_pages()

    def set_window_start(self, start: int) -> None:
        """Scroll: row 0 of the model becomes row `start` of the table."""
        start = max(0, min(start, max(0, self._total - self._window_rows)))
        if start == self._start:
            return
        before = self.rowCount()
        self._start = start
        if self.rowCount() != before:
            self.beginResetModel()
            self.endResetModel()
        elif before:
            self.dataChanged.emit(self.index(0, 0), self.index(before - 1, max(0, self.columnCount() - 1)))
            self.headerDataChanged.emit(Qt.Orientation.Vertical, 0, before - 1)
        self._ensure_pages()

    def absolute_row(self, row: int) -> int:
        return self._start + row

    def record(self, row: int) -> dict[str, Any] | None:
        """The values of model row `row` by column name (None while its page is loading)."""
        values = self._row_values(self._start + row)
        if values is None:
            return None
        return {c.name: v for c, v in zip(self._columns, values, strict=False)}

    def rows_as_tsv(self, rows: list[int], columns: list[int]) -> str:
        lines = ["\t".join(self._columns[c].name for c in columns)]
        for row in rows:
            values = self._row_values(self._start + row)
            if values is not None:
                lines.append("\t".join(copy_text(values[c]) for c in columns))
        return "\n".join(lines) + "\n"

    # -- Qt model -----------------------------------------------------------------------------------------------
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        if parent.isValid():
            return 0
        return max(0, min(self._window_rows, self._total - self._start))

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        column = self._columns[index.column()]
        values = self._row_values(self._start + index.row())
        value = values[index.column()] if values is not None else None
        if role == Qt.ItemDataRole.DisplayRole:
            return PENDING_TEXT if values is None else format_value(column, value)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            horizontal = Qt.AlignmentFlag.AlignRight if column.numeric else Qt.AlignmentFlag.AlignLeft
            return int(horizontal | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole:
            if self._stale or values is None or value is None:
                return QApplication.palette().brush(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
            return None
        if role == Qt.ItemDataRole.ToolTipRole and values is not None:
            return f"{column.title}: {format_value(column, value)}"
        if role == RAW_VALUE_ROLE:
            return value
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self._columns):
            column = self._columns[section]
            if role == Qt.ItemDataRole.DisplayRole:
                return column.title
            if role == Qt.ItemDataRole.ToolTipRole:
                return column.name
            if role == Qt.ItemDataRole.TextAlignmentRole:
                horizontal = Qt.AlignmentFlag.AlignRight if column.numeric else Qt.AlignmentFlag.AlignLeft
                return int(horizontal | Qt.AlignmentFlag.AlignVCenter)
        elif orientation == Qt.Orientation.Vertical and role == Qt.ItemDataRole.DisplayRole:
            return f"{self._start + section + 1:,}"
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Remember the wanted sort; the panel re-materialises the table in it (sort_requested)."""
        self.sort_column, self.sort_descending = column, order == Qt.SortOrder.DescendingOrder
        self.sort_requested.emit(column, self.sort_descending)

    # -- pages --------------------------------------------------------------------------------------------------
    def _row_values(self, absolute: int) -> tuple[Any, ...] | None:
        page = self._pages.get(absolute // PAGE)
        if page is None:
            return None
        at = absolute % PAGE
        return page[at] if at < len(page) else None

    def needed_pages(self) -> list[int]:
        if not self._total:
            return []
        first = self._start // PAGE
        last = (min(self._total, self._start + self._window_rows) - 1) // PAGE
        return [p for p in range(first, last + 1) if p not in self._pages]

    def is_window_loaded(self) -> bool:
        return self._fetch is not None and not self.needed_pages()

    def _ensure_pages(self) -> None:
        missing = self.needed_pages()
        if not missing or self._fetch is None:
            return
        if self._in_flight is not None:
            if self._in_flight[0] in missing:
                return
            self._cancel()  # the user scrolled on: the window it was for is gone
        page_number, fetch, generation = missing[0], self._fetch, self._generation
        self._requests += 1
        request = self._requests

        def fetch_page(_progress: ProgressCallback, cancel: CancelToken) -> TablePage:
            cancel.raise_if_cancelled()
            return fetch(page_number * PAGE, PAGE)

        job = self._jobs.submit(
            fetch_page, name=f"{self._name} page", key=self._job_key,
            on_finished=lambda page: self._arrived(generation, request, page_number, page),
            on_failed=lambda failure: self._failed(request, failure),
            on_cancelled=lambda: self._forget(request),
        )
        self._in_flight = (page_number, job, request)

    def _settled(self, request: int) -> bool:
        """Forget the request in flight if it is `request`; True when it was."""
        if self._in_flight is not None and self._in_flight[2] == request:
            self._in_flight = None
            return True
        return False

    def _forget(self, request: int) -> None:
        self._settled(request)

    def _arrived(self, generation: int, request: int, page_number: int, page: TablePage) -> None:
        self._settled(request)
        if generation != self._generation:
            return
        self._pages[page_number] = page.rows
        self._pages.move_to_end(page_number)
        while len(self._pages) > PAGES_KEPT:
            self._pages.popitem(last=False)
        first, last = page_number * PAGE - self._start, (page_number + 1) * PAGE - 1 - self._start
        first, last = max(0, first), min(self.rowCount() - 1, last)
        if first <= last and self.columnCount():
            self.dataChanged.emit(self.index(first, 0), self.index(last, self.columnCount() - 1))
        self.page_arrived.emit(page.offset, page.elapsed_ms)
        self._ensure_pages()

    def _failed(self, request: int, failure: JobFailure) -> None:
        if self._settled(request):
            self.page_failed.emit(failure.message)

    def _cancel(self) -> None:
        if self._in_flight is not None:
            self._jobs.cancel(self._in_flight[1].job_id)
            self._in_flight = None
