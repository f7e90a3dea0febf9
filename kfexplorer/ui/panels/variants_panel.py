"""The Variants tab: the current cohort's variants (or all its calls) in a windowed table, inheritance filters, and
drill-down: variant → its carriers → "make this a cohort"; participant → their variants; gene → its variants.

Everything the panel filters is a criterion of the shared cohort (kfexplorer.services.cohort_state): the inheritance
picker, "filter to this variant", "variants of this gene / participant" all edit the cohort, and every view follows.
Tables are built and paged in jobs (kfexplorer.services.variant_table does the SQL); the window never blocks.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import (
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QShortcut,
    QShowEvent,
    QStandardItem,
    QStandardItemModel,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QScrollBar,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from kfexplorer.progress import Cancelled, CancelToken, ProgressCallback
from kfexplorer.query.inheritance import DE_NOVO, MODE_LABELS, MODES, InheritanceSettings, parse_values
from kfexplorer.query.inheritance import FIELD as INHERITANCE_FIELD
from kfexplorer.query.model import Cohort, Criterion, Group, QueryError, Value
from kfexplorer.services.cohort_count import count_cohort
from kfexplorer.services.cohort_state import CohortState
from kfexplorer.services.jobs import Job, JobFailure
from kfexplorer.services.variant_table import (
    CARRIER_COLUMNS,
    OCCURRENCE_COLUMNS,
    VARIANT_COLUMNS,
    BuildInterrupted,
    CohortTables,
    Column,
    Materialised,
    Sort,
    TablePage,
)
from kfexplorer.services.workspace import Workspace, WorkspaceClosedError
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.models.variants_model import WindowedTableModel, format_value
from kfexplorer.ui.preview_host import ensure_application, open_preview_workspace, show_preview

VIEWS = ("Variants", "Occurrences")
MAKE_ALL_CARRIERS_TEXT = "Make all carriers the cohort"
ROW_HEIGHT = 24
HIDDEN_BY_DEFAULT = {"chromosome", "start", "topmed_af", "family_id"}


def carrier_criterion(locus: str) -> Criterion:
    """Carries the variant `locus` (a variant criterion, so the variant tables follow it too)."""
    return Criterion("variant.locus_id", "in", (locus,))


def carriers_cohort(locus: str) -> Cohort:
    """Every carrier of `locus` in the release."""
    return Cohort(Group("and", (carrier_criterion(locus),)))


def make_all_carriers_text(total: int) -> str:
    """The button that makes every carrier in the release the cohort, with their number."""
    if total == 1:
        return "Make the only carrier the cohort"
    return f"Make all {total:,} carriers the cohort"


class WindowedTable(QWidget):
    """A QTableView over a WindowedTableModel with its own scrollbar spanning every row of the table.

    Model rows are rows of the window, so a scroll moves the selection with its table rows (wheel, scrollbar) or,
    for a key step past the window's edge, keeps the cursor on its model row and says so (`current_moved`)."""

    current_moved = Signal()  # the current model row now shows another table row

    def __init__(self, model: WindowedTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.view = QTableView(self)
        self.view.setModel(model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        self.view.setShowGrid(False)
        self.view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.view.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setSortIndicatorShown(True)
        self.view.setSortingEnabled(True)
        self.scrollbar = QScrollBar(Qt.Orientation.Vertical, self)
        self._cursor_scroll = False  # True while a key step scrolls the window under the cursor
        self.scrollbar.valueChanged.connect(self._scroll_window)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.view)
        layout.addWidget(self.scrollbar)
        self.view.viewport().installEventFilter(self)
        self.view.installEventFilter(self)
        model.modelReset.connect(self._sync_scrollbar)

    def _sync_scrollbar(self) -> None:
        rows = self.model.window_rows
        self.scrollbar.blockSignals(True)
        self.scrollbar.setRange(0, max(0, self.model.total - rows))
        self.scrollbar.setPageStep(max(1, rows - 1))
        self.scrollbar.setValue(self.model.window_start)
        self.scrollbar.blockSignals(False)

    def visible_rows(self) -> int:
        return max(1, self.view.viewport().height() // ROW_HEIGHT)

    def _scroll_window(self, start: int) -> None:
        """Show the window from table row `start`; the selection stays on the table rows it was on."""
        selection = self.view.selectionModel()
        current = self.view.currentIndex()
        selected = [index.row() for index in selection.selectedRows()]
        before = self.model.window_start
        self.model.set_window_start(start)
        shift = before - self.model.window_start
        if not shift or not current.isValid():
            return
        if self._cursor_scroll:
            self.current_moved.emit()
            return
        rows = self.model.rowCount()
        selection.blockSignals(True)  # the same table rows stay selected: nothing changed for the listeners
        selection.clearSelection()
        for row in selected:
            if 0 <= row + shift < rows:
                selection.select(self.model.index(row + shift, 0),
                                 QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)
        if 0 <= current.row() + shift < rows:
            selection.setCurrentIndex(self.model.index(current.row() + shift, current.column()),
                                      QItemSelectionModel.SelectionFlag.NoUpdate)
        else:
            selection.clearCurrentIndex()
        selection.blockSignals(False)
        self.view.viewport().update()

    def _fit_window(self) -> None:
        self.model.set_window_rows(self.visible_rows())
        self._sync_scrollbar()

    def scroll_to(self, row: int) -> None:
        """Show table row `row` (0-based) at the top of the window (a jump: one page query)."""
        self.scrollbar.setValue(row)
        self.view.selectRow(row - self.model.window_start)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Resize and watched is self.view.viewport():
            self._fit_window()
        if event.type() == QEvent.Type.Wheel and watched is self.view.viewport():
            assert isinstance(event, QWheelEvent)
            steps = -event.angleDelta().y() // 40
            self.scrollbar.setValue(self.scrollbar.value() + steps)
            return True
        if event.type() == QEvent.Type.KeyPress and watched is self.view:
            assert isinstance(event, QKeyEvent)
            current = self.view.currentIndex().row()
            moves = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1, Qt.Key.Key_PageDown: self.model.window_rows - 1,
                     Qt.Key.Key_PageUp: -(self.model.window_rows - 1)}
            if event.key() in (Qt.Key.Key_Home, Qt.Key.Key_End) and event.modifiers() & \
                    Qt.KeyboardModifier.ControlModifier:
                self.scroll_to(0 if event.key() == Qt.Key.Key_Home else self.model.total - 1)
                return True
            step = moves.get(Qt.Key(event.key()))
            if step is not None:
                target = current + step
                if not 0 <= target < self.model.rowCount():
                    self._cursor_scroll = True
                    try:
                        self.scrollbar.setValue(self.scrollbar.value() + step)
                    finally:
                        self._cursor_scroll = False
                    return True
        return super().eventFilter(watched, event)


class VariantsPanel(QWidget):
    """Variants / occurrences of the cohort, inheritance picker, column chooser, copy, and the carriers drill-down."""

    participant_activated = Signal(str)
    table_ready = Signal(str, int)  # view name, rows

    def __init__(self, jobs: QtJobRunner, cohort_state: CohortState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._jobs = jobs
        self._state = cohort_state
        self._workspace: Workspace | None = None
        self._tables: CohortTables | None = None
        self._dirty = True
        self._built_for: tuple[Any, ...] | None = None
        self._made: Materialised | None = None
        self._job_key = f"variants-build-{id(self)}"
        self._build_job: Job | None = None
        self._sorts: dict[str, Sort | None] = {"Variants": Sort("carriers", True), "Occurrences": None}
        self._hidden: dict[str, set[str]] = {v: set(HIDDEN_BY_DEFAULT) for v in VIEWS}
        self._selected_locus: str | None = None
        self._selected_genes: list[str] = []
        self._build()
        cohort_state.add_listener(self._cohort_changed)
        self._show_inheritance(cohort_state.cohort)

    # -- widgets ------------------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.view_choice = QComboBox()
        self.view_choice.addItems(VIEWS)
        self.view_choice.setToolTip("One row per variant, or one row per call (occurrence) of the cohort")
        self.view_choice.currentTextChanged.connect(lambda _text: self._view_changed())
        self.inheritance_choice = QComboBox()
        self.inheritance_choice.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.inheritance_choice.setMinimumContentsLength(16)  # the longest mode shows in full in the popup
        self.inheritance_choice.addItem("Any inheritance", None)
        for mode in MODES:
            self.inheritance_choice.addItem(MODE_LABELS[mode].capitalize(), mode)
        self.inheritance_choice.setToolTip(
            "Inheritance over every family of the cohort (a criterion of the cohort; the other variant criteria "
            "define the qualifying variants)")
        self.inheritance_choice.activated.connect(lambda _index: self._inheritance_picked())
        defaults = InheritanceSettings()
        self.parent_gq_box = QSpinBox()
        self.parent_gq_box.setRange(0, 99)
        self.parent_gq_box.setValue(defaults.min_parent_gq)
        self.parent_gq_box.setPrefix("parents GQ ≥ ")
        self.parent_dp_box = QSpinBox()
        self.parent_dp_box.setRange(0, 999)
        self.parent_dp_box.setValue(defaults.min_parent_dp)
        self.parent_dp_box.setPrefix("DP ≥ ")
        for box in (self.parent_gq_box, self.parent_dp_box):
            box.setKeyboardTracking(False)
            box.setToolTip("De novo: both parents WT with at least this genotype quality and depth at the site")
            box.setEnabled(False)
            box.valueChanged.connect(lambda _value: self._inheritance_picked())
        self.goto_box = QSpinBox()
        self.goto_box.setRange(1, 1)
        self.goto_box.setPrefix("Row ")
        self.goto_box.setGroupSeparatorShown(True)
        self.goto_box.setKeyboardTracking(False)
        self.goto_box.setToolTip("Jump to a row of the table in its current sort")
        self.goto_box.valueChanged.connect(lambda value: self.jump_to(value - 1))
        self.columns_button = QToolButton()
        self.columns_button.setText("Columns")
        self.columns_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.columns_menu = QMenu(self.columns_button)
        self.columns_button.setMenu(self.columns_menu)
        self.copy_button = QToolButton()
        self.copy_button.setText("Copy")
        self.copy_button.setToolTip("Copy the selected rows as TSV (Ctrl+C)")
        self.copy_button.clicked.connect(self.copy_selection)
        self.status = QLabel("")
        self.status.setObjectName("VariantsStatus")
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens the window
        # two rows, so the tab fits beside both docks at 1280 px (one row of everything squeezed the Facets dock
        # and cut the status off): what the table shows, then the status with the column chooser and Copy
        bar = QHBoxLayout()
        bar.setSpacing(8)
        for widget in (self.view_choice, self.inheritance_choice, self.parent_gq_box, self.parent_dp_box,
                       self.goto_box):
            bar.addWidget(widget)
        bar.addStretch(1)
        status_bar = QHBoxLayout()
        status_bar.setSpacing(8)
        status_bar.addWidget(self.status, 1)
        status_bar.addWidget(self.columns_button)
        status_bar.addWidget(self.copy_button)

        self.model = WindowedTableModel(self._jobs, "Variants", self)
        self.model.sort_requested.connect(self._sort_requested)
        self.model.page_failed.connect(lambda message: self.status.setText(f"Could not read rows: {message}"))
        self.table = WindowedTable(self.model, self)
        self.table.view.selectionModel().currentRowChanged.connect(lambda current, _prev: self._row_changed(current))
        self.table.current_moved.connect(lambda: self._row_changed(self.table.view.currentIndex()))
        self.table.view.doubleClicked.connect(self._double_clicked)
        self.model.page_arrived.connect(lambda _offset, _ms: self._current_row_loaded())

        self.carriers_title = QLabel("Select a variant to see its carriers in the cohort.")
        self.carriers_title.setWordWrap(True)  # wraps rather than widening the tab beside its buttons
        self.carriers_model = QStandardItemModel(0, len(CARRIER_COLUMNS), self)
        self.carriers_model.setHorizontalHeaderLabels([c.title for c in CARRIER_COLUMNS])
        self.carriers_view = QTableView()
        self.carriers_view.setModel(self.carriers_model)
        self.carriers_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.carriers_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.carriers_view.verticalHeader().setVisible(False)
        self.carriers_view.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.carriers_view.horizontalHeader().setStretchLastSection(True)
        self.carriers_view.setAlternatingRowColors(True)
        self.carriers_view.doubleClicked.connect(
            lambda index: self._open_participant(self.carriers_model.item(index.row(), 0).text()))
        self.carrier_cohort_button = QPushButton(MAKE_ALL_CARRIERS_TEXT)
        self.carrier_cohort_button.setToolTip("Replace the cohort's criteria by: carries this variant (every carrier "
                                              "in the release, not only the carriers listed for this cohort)")
        self.carrier_cohort_button.clicked.connect(self.make_variant_cohort)
        self.keep_carriers_button = QPushButton("Keep only carriers in this cohort")
        self.keep_carriers_button.setToolTip("Add the criterion: carries this variant (the cohort and its carriers "
                                             "listed here)")
        self.keep_carriers_button.clicked.connect(self.keep_variant_carriers)
        self.gene_button = QPushButton("Variants of this gene")
        self.gene_button.clicked.connect(self.filter_to_gene)
        self.participant_button = QPushButton("Variants of this participant")
        self.participant_button.setToolTip("Add the criterion: participant is the selected carrier")
        self.participant_button.clicked.connect(self.filter_to_participant)
        drill_buttons = (self.keep_carriers_button, self.carrier_cohort_button, self.gene_button,
                         self.participant_button)
        for button in drill_buttons:
            button.setEnabled(False)
        self.carriers_view.selectionModel().currentRowChanged.connect(
            lambda current, _prev: self.participant_button.setEnabled(current.isValid()))
        drill = QWidget()
        drill_layout = QVBoxLayout(drill)
        drill_layout.setContentsMargins(0, 0, 0, 0)
        drill_bar = QHBoxLayout()
        drill_bar.addWidget(self.carriers_title, 1)
        # the buttons two by two (carriers | gene and participant), so the tab still fits beside both docks
        drill_grid = QGridLayout()
        drill_grid.setSpacing(4)
        for index, button in enumerate(drill_buttons):
            drill_grid.addWidget(button, index // 2, index % 2)
        drill_bar.addLayout(drill_grid)
        drill_layout.addLayout(drill_bar)
        drill_layout.addWidget(self.carriers_view)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(drill)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(bar)
        layout.addLayout(status_bar)
        layout.addWidget(self.splitter, 1)
        self.copy_shortcut = QShortcut(QKeySequence.StandardKey.Copy, self.table.view)
        self.copy_shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.copy_shortcut.activated.connect(self.copy_selection)

    # -- workspace and cohort -----------------------------------------------------------------------------------
    @property
    def view_name(self) -> str:
        return self.view_choice.currentText()

    def set_workspace(self, workspace: Workspace | None) -> None:
        self._workspace = workspace
        self._tables = CohortTables(workspace.cursor) if workspace is not None else None
        self._built_for = None
        self._made = None
        if workspace is None:
            self.model.mark_stale()
            self.status.setText("No release open")
            return
        self._request_build()

    def _cohort_changed(self, cohort: Cohort) -> None:
        self._show_inheritance(cohort)
        self._request_build()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._dirty:
            self._request_build()

    def _request_build(self) -> None:
        """Rebuild now when visible, else when the tab is shown (the table of a hidden tab costs nothing)."""
        self._dirty = True
        if self.isVisible():
            self.build()

    def build(self) -> None:
        """Materialise the current view of the cohort in a job (a newer build cancels the older one)."""
        tables, workspace = self._tables, self._workspace
        if tables is None or workspace is None or not workspace.is_open:
            return
        cohort, view, sort = self._state.cohort, self.view_name, self._sorts[self.view_name]
        wanted = (cohort, view, sort)
        self._dirty = False
        if wanted == self._built_for:
            return
        self._built_for = wanted
        self.model.mark_stale()
        self.status.setText(f"Finding the {view.lower()} of the cohort…")

        def materialise(_progress: ProgressCallback, cancel: CancelToken) -> Materialised | None:
            cancel.raise_if_cancelled()
            try:
                if "occurrences" not in workspace.table_names():
                    return None  # a release (or cache) without variant calls
                if view == "Variants":
                    return tables.variants(cohort, sort or Sort("carriers", True))
                return tables.occurrences(cohort, sort)
            except WorkspaceClosedError:
                return None
            except BuildInterrupted:
                if cancel.cancelled:  # a newer build replaced this one and interrupted it
                    raise Cancelled("replaced by a newer build") from None
                raise

        if self._build_job is not None and not self._build_job.done:
            tables.interrupt_build()  # the newer job (same key) cancels it; this stops its DuckDB query too
        self._build_job = self._jobs.submit(
            materialise, name=f"{view} of the cohort", key=self._job_key, tracked=True,
            on_finished=lambda made: self._built(wanted, made),
            on_failed=lambda failure: self._build_failed(wanted, failure))

    def _built(self, wanted: tuple[Any, ...], made: Materialised | None) -> None:
        if wanted != self._built_for or self._tables is None:
            return
        if made is None:
            self.model.set_source((), 0, None)
            self.status.setText("No variant calls in this cache: sync a release with variants to see them here.")
            return
        tables, view = self._tables, wanted[1]
        self._made = made
        columns = VARIANT_COLUMNS if view == "Variants" else OCCURRENCE_COLUMNS

        def fetch(offset: int, limit: int) -> TablePage:
            try:
                if view == "Variants":
                    return tables.page(made, offset, limit)
                return tables.occurrence_page(made, offset, limit)
            except WorkspaceClosedError:  # the cache was handed to a sync: no rows until it reopens
                return TablePage(offset, (), [], 0.0)

        self.model.set_source(columns, made.total, fetch)
        self._apply_column_visibility()
        self._rebuild_columns_menu()
        sort = wanted[2]
        if sort is not None:
            names = [c.name for c in columns]
            order = Qt.SortOrder.DescendingOrder if sort.descending else Qt.SortOrder.AscendingOrder
            header = self.table.view.horizontalHeader()
            header.blockSignals(True)
            header.setSortIndicator(names.index(sort.column), order)
            header.blockSignals(False)
        self.goto_box.blockSignals(True)
        self.goto_box.setRange(1, max(1, made.total))
        self.goto_box.blockSignals(False)
        noun = "variants" if view == "Variants" else "calls"
        self.status.setText(f"{made.total:,} {noun} · {made.sequenced:,} sequenced participants · "
                            f"built in {made.seconds:.1f} s")
        self.status.setToolTip(self.status.text())
        self._set_locus(None)
        self.table_ready.emit(view, made.total)

    def _build_failed(self, wanted: tuple[Any, ...], failure: JobFailure) -> None:
        if wanted == self._built_for:
            self._built_for = None
            self.status.setText(f"Could not list the {wanted[1].lower()}: {failure.message}")

    def _view_changed(self) -> None:
        self._request_build()

    def _sort_requested(self, column: int, descending: bool) -> None:
        columns = self.model.columns
        if not 0 <= column < len(columns):
            return
        self._sorts[self.view_name] = Sort(columns[column].name, descending)
        self._request_build()

    def jump_to(self, row: int) -> None:
        """Show row `row` (0-based, current sort) at the top and select it."""
        if self.model.total:
            self.table.scroll_to(max(0, min(row, self.model.total - 1)))

    # -- inheritance --------------------------------------------------------------------------------------------
    def _show_inheritance(self, cohort: Cohort) -> None:
        values: tuple[Value, ...] = ()
        for node in cohort.top_level():
            if isinstance(node, Criterion) and node.field == INHERITANCE_FIELD:
                values = node.values
        modes = [str(v) for v in values if str(v) in MODES]
        index = self.inheritance_choice.findData(modes[0]) if len(modes) == 1 else 0
        self.inheritance_choice.setCurrentIndex(max(0, index))
        settings = InheritanceSettings()
        if modes:
            try:
                settings = parse_values(Criterion(INHERITANCE_FIELD, "in", values)).settings
            except QueryError:
                pass
        for box, value in ((self.parent_gq_box, settings.min_parent_gq), (self.parent_dp_box, settings.min_parent_dp)):
            box.blockSignals(True)
            box.setValue(value)
            box.setEnabled(DE_NOVO in modes)
            box.blockSignals(False)

    def _inheritance_picked(self) -> None:
        """The picked mode (and, for de novo, non-default parental thresholds) becomes the cohort's criterion."""
        mode = self.inheritance_choice.currentData()
        values: list[Value] = [mode] if mode else []
        defaults = InheritanceSettings()
        if mode == DE_NOVO:
            if self.parent_gq_box.value() != defaults.min_parent_gq:
                values.append(f"min_parent_gq={self.parent_gq_box.value()}")
            if self.parent_dp_box.value() != defaults.min_parent_dp:
                values.append(f"min_parent_dp={self.parent_dp_box.value()}")
        self._state.set_field_values(INHERITANCE_FIELD, values)

    # -- drill-down ---------------------------------------------------------------------------------------------
    def _row_changed(self, current: QModelIndex) -> None:
        record = self.model.record(current.row()) if current.isValid() else None
        self._set_locus(str(record["locus_id"]) if record and record.get("locus_id") else None,
                        str(record.get("genes") or "") if record else "")

    def _current_row_loaded(self) -> None:
        current = self.table.view.currentIndex()
        if self._selected_locus is None and current.isValid() and self.model.record(current.row()) is not None:
            self._row_changed(current)

    def _set_locus(self, locus: str | None, genes: str = "") -> None:
        self._selected_locus = locus
        self._selected_genes = [g.strip() for g in genes.split(",") if g.strip()]
        self.carriers_model.removeRows(0, self.carriers_model.rowCount())
        self.carrier_cohort_button.setEnabled(locus is not None)
        self.keep_carriers_button.setEnabled(locus is not None)
        self.carrier_cohort_button.setText(MAKE_ALL_CARRIERS_TEXT)  # "all N" once the release is counted
        self.gene_button.setEnabled(bool(self._selected_genes))
        self.gene_button.setText(f"Variants of {self._selected_genes[0]}" if self._selected_genes
                                 else "Variants of this gene")
        self.participant_button.setEnabled(False)
        if locus is None or self._tables is None:
            self.carriers_title.setText("Select a variant to see its carriers in the cohort.")
            return
        self.carriers_title.setText(f"Carriers of {locus} in the cohort…")
        tables, cohort = self._tables, self._state.cohort

        def carriers(_progress: ProgressCallback, cancel: CancelToken) -> TablePage:
            cancel.raise_if_cancelled()
            return tables.carriers(cohort, locus)

        self._jobs.submit(carriers, name="Carriers", key=f"variants-carriers-{id(self)}",
                          on_finished=lambda page: self._carriers_arrived(locus, page))
        self._count_release_carriers(locus)

    def _count_release_carriers(self, locus: str) -> None:
        """Count the cohort "Make all N carriers the cohort" makes (every carrier in the release), in a worker."""
        workspace = self._workspace
        if workspace is None:
            return
        everyone = carriers_cohort(locus)

        def count(_progress: ProgressCallback, cancel: CancelToken) -> int:
            cancel.raise_if_cancelled()
            return count_cohort(workspace.cursor(), everyone).count

        self._jobs.submit(count, name="Carriers in the release", key=f"variants-carrier-total-{id(self)}",
                          on_finished=lambda total: self._release_carriers_counted(locus, total))

    def _release_carriers_counted(self, locus: str, total: int) -> None:
        if locus == self._selected_locus:
            self.carrier_cohort_button.setText(make_all_carriers_text(total))

    def _carriers_arrived(self, locus: str, page: TablePage) -> None:
        if locus != self._selected_locus:
            return
        self.carriers_model.removeRows(0, self.carriers_model.rowCount())
        for row in page.rows:
            items = []
            for column, value in zip(CARRIER_COLUMNS, row, strict=True):
                item = QStandardItem(format_value(column, value))
                if column.numeric:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                items.append(item)
            self.carriers_model.appendRow(items)
        noun = "carrier" if len(page.rows) == 1 else "carriers"
        self.carriers_title.setText(f"{len(page.rows):,} {noun} of {locus} in the cohort "
                                    "(double-click one to open them)")
        self.carriers_view.resizeColumnsToContents()

    def carrier_ids(self) -> list[str]:
        return [self.carriers_model.item(r, 0).text() for r in range(self.carriers_model.rowCount())]

    def make_variant_cohort(self) -> None:
        """The cohort becomes: carries the selected variant (a variant criterion, so the tables follow it); every
        carrier in the release, whatever the cohort was."""
        if self._selected_locus:
            self._state.set_cohort(carriers_cohort(self._selected_locus))

    def keep_variant_carriers(self) -> None:
        """The cohort AND carries the selected variant: the carriers listed for this cohort."""
        if not self._selected_locus:
            return
        node = carrier_criterion(self._selected_locus)
        cohort = self._state.cohort
        if node not in cohort.top_level():
            self._state.set_cohort(cohort.with_criterion(node))

    def filter_to_gene(self) -> None:
        if self._selected_genes:
            self._state.set_field_values("consequence.gene_symbol", [self._selected_genes[0]])

    def filter_to_participant(self) -> None:
        index = self.carriers_view.currentIndex()
        if index.isValid():
            self._state.set_field_values("participant.id", [self.carriers_model.item(index.row(), 0).text()])

    def _double_clicked(self, index: QModelIndex) -> None:
        record = self.model.record(index.row())
        if record and record.get("participant_id"):
            self._open_participant(str(record["participant_id"]))

    def _open_participant(self, participant_id: str) -> None:
        if participant_id:
            self.participant_activated.emit(participant_id)

    # -- columns and copy ---------------------------------------------------------------------------------------
    def _apply_column_visibility(self) -> None:
        hidden = self._hidden[self.view_name]
        for i, column in enumerate(self.model.columns):
            self.table.view.setColumnHidden(i, column.name in hidden)
        if self.model.columns:
            header = self.table.view.horizontalHeader()
            for i, column in enumerate(self.model.columns):
                header.resizeSection(i, _width(column))

    def _rebuild_columns_menu(self) -> None:
        self.columns_menu.clear()
        hidden = self._hidden[self.view_name]
        for column in self.model.columns:
            action = self.columns_menu.addAction(column.title)
            action.setCheckable(True)
            action.setChecked(column.name not in hidden)
            action.toggled.connect(lambda shown, name=column.name: self.set_column_shown(name, shown))

    def set_column_shown(self, name: str, shown: bool) -> None:
        hidden = self._hidden[self.view_name]
        (hidden.discard if shown else hidden.add)(name)
        self._apply_column_visibility()

    def selection_as_tsv(self) -> str:
        rows = sorted({i.row() for i in self.table.view.selectionModel().selectedIndexes()})
        if not rows:
            return ""
        columns = [i for i in range(self.model.columnCount()) if not self.table.view.isColumnHidden(i)]
        return self.model.rows_as_tsv(rows, columns)

    def copy_selection(self) -> str:
        text = self.selection_as_tsv()
        if text:
            QGuiApplication.clipboard().setText(text)
        return text


def _width(column: Column) -> int:
    wide = {"locus_id": 150, "consequence": 170, "hgvsp": 130, "genes": 80, "clinvar": 120, "participant_id": 110,
            "participant_frequency": 100, "allele_frequency": 90, "impact": 80}
    return wide.get(column.name, 76 if column.numeric else 80)


def preview(cache_dir: Path, exec_loop: bool = True) -> QWidget:
    """Open the Variants tab alone over `cache_dir` (all participants)."""
    ensure_application()
    jobs = QtJobRunner()
    panel = VariantsPanel(jobs, CohortState())
    jobs.setParent(panel)
    panel.set_workspace(open_preview_workspace(cache_dir))
    return show_preview(panel, "Variants", exec_loop, size=(1280, 800))


if __name__ == "__main__":
    preview(Path(sys.argv[1]))
