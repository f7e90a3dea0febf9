"""The main window (UI.md): toolbar, query bar, Facets dock, centre tabs, Participant dock, status bar.

All cache reads run as jobs on worker threads; the window only binds results to widgets.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QSizePolicy,
    QTabWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from kfexplorer.progress import CancelToken, ProgressCallback
from kfexplorer.query.model import Cohort
from kfexplorer.services.cohort_count import CohortCount, count_cohort
from kfexplorer.services.cohort_extent import CohortExtent, cohort_extent
from kfexplorer.services.cohort_state import CohortState
from kfexplorer.services.jobs import Job, JobFailure
from kfexplorer.services.workspace import CacheFacts, ReleaseInfo, Workspace, has_cache
from kfexplorer.store.cache import CacheMissingError
from kfexplorer.store.user_db import UserDatabase, open_user_database
from kfexplorer.sync.releases import resolve_cache_folder
from kfexplorer.ui.dialogs.export_dialog import ExportController
from kfexplorer.ui.dialogs.saved_cohorts import (
    SavedCohortsDialog,
    ask_and_save,
    readable_saved_cohorts,
    save_cohort,
)
from kfexplorer.ui.dialogs.sync_dialog import SyncDialog, SyncFunction
from kfexplorer.ui.dialogs.venn_dialog import VennDialog
from kfexplorer.ui.icon_library import themed_icon
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.models.cell_format import format_bytes
from kfexplorer.ui.panels.coming_panels import ComingPanel
from kfexplorer.ui.panels.compare_panel import ComparePanel
from kfexplorer.ui.panels.facets_panel import FacetsPanel
from kfexplorer.ui.panels.imaging_panel import ImagingPanel
from kfexplorer.ui.panels.participant_dock import ParticipantDetailPanel
from kfexplorer.ui.panels.participants_panel import ParticipantsPanel
from kfexplorer.ui.panels.summary_panel import SummaryPanel
from kfexplorer.ui.panels.variants_panel import VariantsPanel
from kfexplorer.ui.preview_host import ensure_application, show_preview
from kfexplorer.ui.widgets.dicom_shortcuts_sheet import ShortcutsSheet
from kfexplorer.ui.widgets.empty_state import EmptyState
from kfexplorer.ui.widgets.error_notice import ErrorNotice
from kfexplorer.ui.widgets.job_status import JobStatusWidget
from kfexplorer.ui.widgets.page_stack import CurrentPageStack
from kfexplorer.ui.widgets.query_bar import QueryBar, query_title
from kfexplorer.ui.widgets.quick_search import QuickSearchBox
from kfexplorer.ui.widgets.release_menu import ReleaseMenu
from kfexplorer.ui.workspace_menu import DesktopShell, install_desktop_shell

TAB_NAMES = ("Summary", "Participants", "Variants", "Imaging", "Compare")
PARTICIPANTS_TAB = TAB_NAMES.index("Participants")


@dataclass(frozen=True)
class WorkspaceSnapshot:
    """What the window shows about an open cache, read in a worker."""

    workspace: Workspace
    release: ReleaseInfo
    counts: dict[str, int]
    facts: CacheFacts


def format_age_of(moment: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """'just now', '5 min ago', '2 h ago', '3 d ago'."""
    if moment is None:
        return "never"
    now = now or dt.datetime.now(dt.UTC)
    seconds = max(0.0, (now - moment).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"


def cohort_size_text(counts: dict[str, int]) -> str:
    """'1,000 participants · 48,211 variants · 96 imaging series' from table counts."""
    participants = counts.get("participants", 0)
    variants = counts.get("variants", 0)
    series = counts.get("imaging_series", 0)
    return f"{participants:,} participants · {variants:,} variants · {series:,} imaging series"


def _current_release_folder(folder: Path) -> Path:
    """A release library opens on its current release; a library without one (and any other folder) as it is."""
    try:
        return resolve_cache_folder(folder)
    except CacheMissingError:
        return folder


def default_cache_dir() -> Path:
    try:
        from kfexplorer.config import load_settings

        return load_settings().default_cache_dir()
    except (ImportError, AttributeError):
        import platformdirs

        return Path(platformdirs.user_cache_dir("kfexplorer")) / "default"


class MainWindow(QMainWindow):
    """One window; every panel plugs into it. `loaded` fires when counts and the first page are shown."""

    loaded = Signal()
    workspace_opened = Signal(object)  # Workspace

    def __init__(
        self,
        cache_dir: Path | None = None,
        *,
        jobs: QtJobRunner | None = None,
        sync_function: SyncFunction | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("kfexplorer")
        self.setWindowIcon(themed_icon("app"))
        self.jobs = jobs if jobs is not None else QtJobRunner(parent=self)
        self.cache_dir: Path | None = Path(cache_dir) if cache_dir is not None else None
        self.workspace: Workspace | None = None
        self.release: ReleaseInfo | None = None
        self.counts: dict[str, int] = {}
        self._sync_function = sync_function
        self.sync_dialog: SyncDialog | None = None
        self._open_job: Job | None = None
        self._counts_ready = False
        self._page_ready = False
        self._loaded_emitted = False
        self.cohort_state = CohortState()
        self._user_database: UserDatabase | None = None

        self._build_toolbar()
        self._build_query_bar()
        self._build_centre()
        self._build_docks()
        self._build_status_bar()
        self._build_shortcuts()
        self._build_help_menu()
        self.jobs.job_failed.connect(self._on_job_failed)
        self.participants_panel.model.first_page_loaded.connect(self._on_first_page)
        self.participants_panel.model.page_loaded.connect(self._on_page_loaded)
        self.participants_panel.model.page_failed.connect(lambda _message: self._on_first_page())
        self.participants_panel.participant_selected.connect(self._on_participant_selected)
        self.cohort_state.add_listener(self._cohort_changed)
        self.open_cache(self.cache_dir)
        self.desktop: DesktopShell = install_desktop_shell(self)  # File / View menus, workspaces, drops

    # -- building -----------------------------------------------------------------------------------------------
    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("MainToolbar")
        toolbar.setMovable(False)
        toolbar.setFloatable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.setContentsMargins(8, 4, 8, 4)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
        self.toolbar = toolbar

        self.release_button = QPushButton()
        self.release_button.setObjectName("ReleaseButton")
        self.release_button.setFlat(True)
        self.release_button.setToolTip("The open release (workspace)")
        release_menu = ReleaseMenu(self.jobs, self, self.release_button)  # the library's releases, evict
        release_menu.addAction("Open a cache or release folder…", self.choose_folder)
        release_menu.addAction("Open the demo release", self.open_demo_release)
        release_menu.addAction("Sync from a source…", self.show_sync_dialog)
        release_menu.add_library_actions()
        self.workspace_opened.connect(lambda _workspace: release_menu.refresh())
        self.release_menu = release_menu
        self.release_button.setMenu(release_menu)
        toolbar.addWidget(self.release_button)

        self.sync_action = QAction(themed_icon("sync"), "Sync…", self)
        self.sync_action.setToolTip("Sync a release into the cache (runs in the background)")
        self.sync_action.triggered.connect(self.show_sync_dialog)
        toolbar.addAction(self.sync_action)
        self.refresh_action = QAction(themed_icon("refresh"), "Refresh", self)
        self.refresh_action.setToolTip("Reload counts and tables (F5)")
        self.refresh_action.setPriority(QAction.Priority.LowPriority)  # icon only in the toolbar
        self.refresh_action.triggered.connect(self.refresh)
        toolbar.addAction(self.refresh_action)
        toolbar.addSeparator()

        self.quick_search = QuickSearchBox(self.jobs)  # participants, genes, terms, regions, rsIDs, HGVS
        self.quick_search.setMinimumWidth(220)
        self.quick_search.setMaximumWidth(440)
        self.quick_search.participant_chosen.connect(self.show_participant)
        self.quick_search.criterion_chosen.connect(lambda node: self.cohort_state.add(node))
        self.quick_search.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        toolbar.addWidget(self.quick_search)

        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        toolbar.addWidget(spacer)
        self.cohort_label = QLabel()
        self.cohort_label.setObjectName("CohortSize")
        self.cohort_label.setToolTip("The current cohort (all participants until filters exist)")
        toolbar.addWidget(self.cohort_label)
        # "· V variants · S imaging series" of a filtered cohort: counted after the participants, in its own job
        self.cohort_extent_label = QLabel()
        self.cohort_extent_label.setObjectName("CohortExtent")
        self.cohort_extent_label.setContentsMargins(5, 0, 0, 0)  # reads on from "… participants"
        self.cohort_extent_label.setToolTip("The cohort's distinct variants (its members' carried calls that satisfy "
                                            "its variant criteria) and its members' imaging series")
        self._cohort_extent_action = toolbar.addWidget(self.cohort_extent_label)
        self._cohort_extent_action.setVisible(False)
        toolbar.addSeparator()
        self.save_action = QAction(themed_icon("save"), "Save", self)
        self.save_action.setToolTip("Save the cohort with a name (Ctrl+S)")
        self.save_action.setShortcut(QKeySequence("Ctrl+S"))
        self.save_action.triggered.connect(lambda: self.save_cohort())
        toolbar.addAction(self.save_action)
        self.cohorts_button = QPushButton("Cohorts")
        self.cohorts_button.setFlat(True)
        self.cohorts_button.setToolTip("Saved cohorts, Venn of cohorts, import a SQON")
        cohorts_menu = QMenu(self.cohorts_button)
        self.save_cohort_menu_action = cohorts_menu.addAction("Save cohort…", lambda: self.save_cohort())
        cohorts_menu.addAction("Saved cohorts…", self.show_saved_cohorts)
        cohorts_menu.addAction("Venn of cohorts…", self.show_venn)
        cohorts_menu.addAction("Import SQON / cohort…", self.query_bar_import)
        self.cohorts_button.setMenu(cohorts_menu)
        toolbar.addWidget(self.cohorts_button)
        self.export_action = QAction(themed_icon("export"), "Export", self)
        self.export_controller = ExportController(  # Export ▾ (Ctrl+E): the dialog, the export job, cohorts in
            self.export_action, self.jobs, self.cohort_state, lambda: self.workspace,
            notify=lambda text: self.statusBar().showMessage(text, 20000),
            show_error=lambda text: self.error_notice.show_error(text), parent=self)
        toolbar.addAction(self.export_action)
        export_button = toolbar.widgetForAction(self.export_action)
        if isinstance(export_button, QToolButton):
            export_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self._enable_cache_actions(False)  # until a release is open

    def _build_query_bar(self) -> None:
        self.addToolBarBreak(Qt.ToolBarArea.TopToolBarArea)
        bar = QToolBar("Query", self)
        bar.setObjectName("QueryToolbar")
        bar.setMovable(False)
        bar.setFloatable(False)
        self.query_bar = QueryBar(self.cohort_state, self.jobs)
        self.query_bar.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(self.query_bar)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)

    def _build_centre(self) -> None:
        centre = QWidget()
        layout = QVBoxLayout(centre)
        layout.setContentsMargins(8, 8, 8, 0)
        layout.setSpacing(8)
        self.error_notice = ErrorNotice()
        layout.addWidget(self.error_notice)
        self.centre_stack = CurrentPageStack()
        self.no_release_state = EmptyState(
            "No release yet",
            "Open the demo release · Sync from S3 · Open a folder",
            actions=[
                ("Open the demo release", self.open_demo_release),
                ("Sync from S3…", self.show_sync_dialog),
                ("Open a folder…", self.choose_folder),
            ],
            icon_name="app",
        )
        self.centre_stack.addWidget(self.no_release_state)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.participants_panel = ParticipantsPanel(self.jobs)
        self.imaging_panel = ImagingPanel(self.jobs, self.cohort_state)
        self.imaging_panel.participant_activated.connect(self._show_series_participant)
        self.variants_panel = VariantsPanel(self.jobs, self.cohort_state)
        self.variants_panel.participant_activated.connect(self.show_participant)
        self.summary_panel = SummaryPanel(self.jobs, self.cohort_state)
        self.compare_panel = ComparePanel(self.jobs, self.cohort_state)
        self.compare_panel.venn_requested.connect(self.show_venn)
        self.tab_panels: dict[str, QWidget] = {}
        for name in TAB_NAMES:
            panel: QWidget = {"Participants": self.participants_panel,
                              "Imaging": self.imaging_panel,
                              "Summary": self.summary_panel,
                              "Compare": self.compare_panel,
                              "Variants": self.variants_panel}.get(name) or ComingPanel(name)
            self.tab_panels[name] = panel
            self.tabs.addTab(panel, name)
        self.tabs.setCurrentIndex(PARTICIPANTS_TAB)
        self.centre_stack.addWidget(self.tabs)
        layout.addWidget(self.centre_stack, 1)
        self.setCentralWidget(centre)

    def _build_docks(self) -> None:
        self.facets_dock = QDockWidget("Facets", self)
        self.facets_dock.setObjectName("FacetsDock")
        self.facets_panel = FacetsPanel(self.jobs, self.cohort_state)
        self.facets_dock.setWidget(self.facets_panel)
        self.facets_dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.facets_dock)
        self.participant_dock = QDockWidget("Participant", self)
        self.participant_dock.setObjectName("ParticipantDock")
        self.participant_panel = ParticipantDetailPanel(self.jobs)
        self.participant_panel.participant_requested.connect(self.show_participant)
        self.participant_dock.setWidget(self.participant_panel)
        self.participant_dock.setFeatures(self.facets_dock.features())
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.participant_dock)
        self.setStyleSheet("QDockWidget::title { padding: 6px 8px; }"
                           "QPushButton#ReleaseButton { font-weight: bold; padding: 4px 8px; }")
        self.resizeDocks([self.facets_dock, self.participant_dock], [270, 320], Qt.Orientation.Horizontal)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        status.setSizeGripEnabled(False)
        self.release_status = QLabel()
        self.cache_status = QLabel()
        self.sync_status = QLabel()
        status.setStyleSheet("QStatusBar::item { border: none; }")
        status.setContentsMargins(8, 0, 8, 0)
        for label in (self.release_status, self.cache_status, self.sync_status):
            label.setContentsMargins(0, 0, 8, 0)
            status.addWidget(label)
        self.job_status = JobStatusWidget(self.jobs)
        status.addPermanentWidget(self.job_status)
        self.query_time_label = QLabel()
        self.query_time_label.setToolTip("Time of the last query")
        self.query_time_label.setMinimumWidth(64)
        self.query_time_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        status.addPermanentWidget(self.query_time_label)

    def _build_shortcuts(self) -> None:
        self.shortcuts: list[QShortcut] = []
        for number in range(1, len(TAB_NAMES) + 1):
            shortcut = QShortcut(QKeySequence(f"Ctrl+{number}"), self)
            shortcut.activated.connect(lambda index=number - 1: self.tabs.setCurrentIndex(index))
            self.shortcuts.append(shortcut)
        refresh = QShortcut(QKeySequence(Qt.Key.Key_F5), self)
        refresh.activated.connect(self.refresh)
        cancel = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        cancel.activated.connect(self.cancel_focused_job)
        search = QShortcut(QKeySequence("Ctrl+K"), self)
        search.activated.connect(self.focus_quick_search)
        self.shortcuts += [refresh, cancel, search]

    def _build_help_menu(self) -> None:
        help_menu = self.menuBar().addMenu("&Help")
        self.shortcuts_action = help_menu.addAction("Keyboard shortcuts…", self.show_shortcuts_sheet)
        self.shortcuts_sheet: ShortcutsSheet | None = None

    def show_shortcuts_sheet(self) -> ShortcutsSheet:
        """Help ▸ Keyboard shortcuts: every key of the window and the DICOM viewer (non-modal)."""
        if self.shortcuts_sheet is None:
            self.shortcuts_sheet = ShortcutsSheet(self)
        self.shortcuts_sheet.show()
        return self.shortcuts_sheet

    # -- workspace ----------------------------------------------------------------------------------------------
    def open_cache(self, cache_dir: Path | None) -> None:
        """Open `cache_dir` in a worker (or show the empty state when it holds no release)."""
        self._counts_ready = self._page_ready = False
        self._loaded_emitted = False
        self.cache_dir = _current_release_folder(Path(cache_dir)) if cache_dir is not None else None
        if not has_cache(self.cache_dir):
            self._show_no_release()
            return
        target = Path(self.cache_dir)  # type: ignore[arg-type]

        def open_workspace(_progress: ProgressCallback, cancel: CancelToken) -> WorkspaceSnapshot:
            workspace = Workspace.open(target)
            try:
                cancel.raise_if_cancelled()
                return WorkspaceSnapshot(workspace, workspace.release_info(), workspace.table_counts(),
                                         workspace.cache_facts())
            except BaseException:
                workspace.close()
                raise

        self.cohort_label.setText("Opening the cache…")
        self._open_job = self.jobs.submit(
            open_workspace,
            name="Open cache",
            key="open-workspace",
            on_finished=self._workspace_ready,
            on_failed=self._workspace_failed,
        )

    def _hand_workspace(self, workspace: Workspace | None) -> None:
        """Give every view that queries the cache the open workspace (None: stop querying it)."""
        for view in (self.participants_panel, self.participant_panel, self.imaging_panel, self.facets_panel,
                     self.query_bar, self.quick_search, self.variants_panel, self.summary_panel, self.compare_panel):
            view.set_workspace(workspace)
        self._enable_cache_actions(workspace is not None)

    def _enable_cache_actions(self, enabled: bool) -> None:
        """Save and Export need an open release (cache): disabled while none is open."""
        for action in (self.save_action, self.save_cohort_menu_action, self.export_action):
            action.setEnabled(enabled)

    def _workspace_ready(self, snapshot: WorkspaceSnapshot) -> None:
        self._open_job = None
        if self.workspace is not None:
            self.workspace.close()
        self.workspace, self.release, self.counts = snapshot.workspace, snapshot.release, snapshot.counts
        self._show_release(snapshot)
        self._counts_ready = True
        self.centre_stack.setCurrentWidget(self.tabs)
        self._hand_workspace(self.workspace)
        if self.cohort_state.top_level():
            self._count_cohort(self.cohort_state.cohort)
        self.workspace_opened.emit(self.workspace)
        self._maybe_loaded()

    # -- cohort -------------------------------------------------------------------------------------------------
    def _cohort_changed(self, cohort: Cohort) -> None:
        """Re-query in the background: the table (restricted to the cohort) and the toolbar count."""
        filtered = bool(self.cohort_state.top_level())
        self.participants_panel.model.set_cohort(cohort if filtered else None)
        if not filtered:
            self.jobs.runner.cancel_key("cohort-count")
            self.jobs.runner.cancel_key("cohort-extent")
            self._cohort_extent_action.setVisible(False)  # the release's totals are in the label itself
            self.cohort_label.setEnabled(True)
            self.cohort_label.setText("Cohort: " + cohort_size_text(self.counts) if self.workspace else
                                      self.cohort_label.text())
            return
        self._count_cohort(cohort)

    def _count_cohort(self, cohort: Cohort) -> None:
        workspace = self.workspace
        if workspace is None:
            return

        def count(_progress: ProgressCallback, cancel: CancelToken) -> CohortCount:
            cancel.raise_if_cancelled()
            return count_cohort(workspace.cursor(), cohort)

        self.cohort_label.setEnabled(False)  # dimmed until the new count arrives
        self.jobs.runner.cancel_key("cohort-extent")  # counted again once the participants are
        self._cohort_extent_action.setVisible(True)  # before dimming: a toolbar action passes on its enabled state
        self.cohort_extent_label.setText("· … variants · … imaging series")
        self.cohort_extent_label.setEnabled(False)
        self.jobs.submit(count, name="Cohort count", key="cohort-count",
                         on_finished=lambda result: self._cohort_counted(cohort, result))

    def _cohort_counted(self, cohort: Cohort, result: CohortCount) -> None:
        if cohort != self.cohort_state.cohort:
            return
        total = self.counts.get("participants", 0)
        self.cohort_label.setEnabled(True)
        self.cohort_label.setText(f"Cohort: {result.count:,} of {total:,} participants")
        self.cohort_label.setToolTip(result.description)
        self._count_cohort_extent(cohort)

    def _count_cohort_extent(self, cohort: Cohort) -> None:
        """The cohort's variants and imaging series, after its participants (a distinct count over the calls can
        take seconds at 100 M of them); a newer edit cancels it."""
        workspace = self.workspace
        if workspace is None:
            return

        def extent(_progress: ProgressCallback, cancel: CancelToken) -> CohortExtent:
            cancel.raise_if_cancelled()
            return cohort_extent(workspace.cursor(), cohort, cancel)

        self.jobs.submit(extent, name="Cohort variants and imaging series", key="cohort-extent",
                         on_finished=lambda result: self._cohort_extent_counted(cohort, result),
                         on_failed=lambda failure: self._cohort_extent_counted(cohort, None))

    def _cohort_extent_counted(self, cohort: Cohort, result: CohortExtent | None) -> None:
        if cohort != self.cohort_state.cohort or not self.cohort_state.top_level():
            return
        self.cohort_extent_label.setEnabled(True)
        self.cohort_extent_label.setText("· " + (result.words if result is not None else "variants and imaging "
                                                 "series could not be counted"))

    def _workspace_failed(self, _failure: JobFailure) -> None:
        self._open_job = None
        self._show_no_release()

    def _show_no_release(self) -> None:
        self.workspace, self.release, self.counts = None, None, {}
        self.centre_stack.setCurrentWidget(self.no_release_state)
        self.release_button.setText("No release")
        self.cohort_label.setText("No release open")
        self._cohort_extent_action.setVisible(False)
        self.release_status.setText("No release")
        self.cache_status.setText(f"·  cache {self.cache_dir}" if self.cache_dir else "")
        self.sync_status.setText("")
        self._hand_workspace(None)
        self._counts_ready = self._page_ready = True
        QTimer.singleShot(0, self._maybe_loaded)

    def _show_release(self, snapshot: WorkspaceSnapshot) -> None:
        release = snapshot.release
        name = release.release_id or release.title or (self.cache_dir.name if self.cache_dir else "release")
        self.release_button.setText(name)
        self.release_button.setToolTip(f"{release.title or 'Release'} · {release.release_id or '?'} · "
                                       f"cache {self.cache_dir}")
        if not self.cohort_state.top_level():
            self.cohort_label.setText("Cohort: " + cohort_size_text(snapshot.counts))
        self.release_status.setText(f"release {release.release_id or '?'}")
        self.cache_status.setText(f"·  cache {format_bytes(snapshot.facts.size_bytes)}")
        self.cache_status.setToolTip(str(self.cache_dir))
        self.sync_status.setText(f"·  synced {format_age_of(snapshot.facts.last_sync)}")
        if snapshot.facts.last_sync is not None:
            self.sync_status.setToolTip(snapshot.facts.last_sync.isoformat(timespec="seconds"))
        self.setWindowTitle(f"kfexplorer — {name}")

    def refresh(self) -> None:
        """F5: re-read counts and tables from the cache (or try opening it again)."""
        if self.sync_dialog is not None and self.sync_dialog.is_running:
            return
        self.open_cache(self.cache_dir)

    def release_workspace_for_sync(self) -> Any:
        """Stop querying and hand the worker a closer: it waits for running queries, then closes the connection."""
        workspace, self.workspace = self.workspace, None
        self._hand_workspace(None)
        if self._open_job is not None:
            self.jobs.cancel(self._open_job.job_id)
        pending = self.jobs.runner.active_jobs()
        for job in pending:
            job.cancel()
        runner = self.jobs.runner

        def close_before_write() -> None:
            if workspace is not None:
                workspace.interrupt()
            runner.wait(pending, timeout=30.0)
            if workspace is not None:
                workspace.close(wait_seconds=30.0)

        return close_before_write

    def _on_first_page(self) -> None:
        self._page_ready = True
        self._maybe_loaded()

    def _on_page_loaded(self, _rows: int, elapsed_ms: float) -> None:
        self.query_time_label.setText(f"{elapsed_ms:,.0f} ms")

    def _maybe_loaded(self) -> None:
        if self._counts_ready and self._page_ready and not self._loaded_emitted:
            self._loaded_emitted = True
            self.loaded.emit()

    @property
    def is_loaded(self) -> bool:
        return self._loaded_emitted

    # -- actions ------------------------------------------------------------------------------------------------
    def show_sync_dialog(self, source: str = "") -> SyncDialog:
        if self.sync_dialog is None:
            self.sync_dialog = SyncDialog(
                self.jobs,
                self.cache_dir or default_cache_dir(),
                sync_function=self._sync_function,
                workspace_release=self.release_workspace_for_sync,
                parent=self,
            )
            self.sync_dialog.sync_ended.connect(lambda cache: self.open_cache(Path(cache)))
        if isinstance(source, str) and source:
            self.sync_dialog.set_source(source)
        self.sync_dialog.show()
        if QGuiApplication.platformName() != "offscreen":  # offscreen cannot raise windows (it warns)
            self.sync_dialog.raise_()
        return self.sync_dialog

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a cache or release folder")
        if folder:
            self.open_folder(Path(folder))

    def open_folder(self, folder: Path) -> None:
        """A cache folder opens directly; a release folder opens the Sync dialog with it as the source."""
        if has_cache(_current_release_folder(folder)):
            self.open_cache(folder)
        elif (folder / "release.json").is_file():
            self.show_sync_dialog(str(folder))
        else:
            self.error_notice.show_error(f"{folder} holds neither a kfexplorer cache nor a release (release.json)")

    def open_demo_release(self) -> None:
        """Generate (once) and sync the demo release as a background job, then open its cache."""
        from kfexplorer.services.demo_workspace import prepare_demo_cache

        if self.workspace is not None and self.cache_dir is not None:
            closer = self.release_workspace_for_sync()
        else:
            closer = None

        def build_demo(progress: ProgressCallback, cancel: CancelToken) -> Path:
            if closer is not None:
                closer()
            return prepare_demo_cache(progress=progress, cancel=cancel)

        self.jobs.submit(
            build_demo,
            name="Demo release",
            key="sync",
            tracked=True,
            on_finished=lambda cache: self.open_cache(Path(cache)),
            on_failed=lambda _failure: self.open_cache(self.cache_dir),
            on_cancelled=lambda: self.open_cache(self.cache_dir),
        )

    def focus_quick_search(self) -> None:
        self.quick_search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.quick_search.selectAll()

    def run_quick_search(self) -> None:
        """Enter in the quick-search box: choose its first hit (looked up in a worker when not there yet)."""
        self.quick_search.returnPressed.emit()

    def cancel_focused_job(self) -> bool:
        """Esc: cancel the sync when its dialog is active, else the job shown in the status bar."""
        if self.sync_dialog is not None and self.sync_dialog.isActiveWindow() and self.sync_dialog.is_running:
            return self.sync_dialog.cancel_sync()
        return self.job_status.cancel_current()

    def show_participant(self, participant_id: str) -> None:
        """Open `participant_id` in the Participant dock (any panel calls this); the detail loads in a worker."""
        self.participant_panel.load_participant(participant_id)
        self.imaging_panel.set_participant(participant_id)
        self._reveal_participant_dock()

    def _show_series_participant(self, participant_id: str) -> None:
        """A series opened in the Imaging tab: its participant in the Participant dock (kept when shown already)."""
        shown = self.participant_panel.record
        if shown is not None and str(shown.get("participant_id")) == participant_id:
            self._reveal_participant_dock()
        else:
            self.show_participant(participant_id)

    def _on_participant_selected(self, record: dict[str, Any] | None) -> None:
        self.participant_panel.show_participant(record)
        participant_id = record.get("participant_id") if record else None
        self.imaging_panel.set_participant(str(participant_id) if participant_id else None)
        if record is not None:
            self._reveal_participant_dock()

    def _reveal_participant_dock(self) -> None:
        if not self.participant_dock.isVisible():
            self.participant_dock.show()

    def _on_job_failed(self, failure: JobFailure) -> None:
        self.error_notice.show_failure(failure)

    # -- saved cohorts and Venn (kfexplorer.ui.dialogs.saved_cohorts / venn_dialog) ------------------------------
    @property
    def user_database(self) -> UserDatabase:
        if self._user_database is None:
            self._user_database = open_user_database()
        return self._user_database

    def _release_id(self) -> str | None:
        return self.release.release_id if self.release is not None and self.release.release_id else None

    def save_cohort(self, name: str | None = None, cohort: Cohort | None = None) -> str | None:
        """Ctrl+S: save the cohort (or `cohort`) for the open release under `name` (asked when None)."""
        cohort = cohort if cohort is not None else self.cohort_state.cohort
        if name is None:
            name = ask_and_save(self, self.user_database, cohort, self._release_id())
        else:
            save_cohort(self.user_database, cohort, name, self._release_id())
        if name:
            self.statusBar().showMessage(f"Saved the cohort “{name}”", 4000)
        return name

    def show_saved_cohorts(self) -> SavedCohortsDialog:
        dialog = SavedCohortsDialog(self.user_database, self._release_id(), parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open_requested.connect(lambda cohort: self.cohort_state.add_query(cohort))
        dialog.show()
        return dialog

    def show_venn(self) -> VennDialog:
        candidates = [(query_title(i, q), q) for i, q in enumerate(self.cohort_state.queries)]
        candidates += readable_saved_cohorts(self.user_database, self._release_id())
        dialog = VennDialog(self.jobs, self.workspace, candidates, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.cohort_chosen.connect(lambda cohort: self.cohort_state.add_query(cohort))
        dialog.save_requested.connect(lambda cohort: self.save_cohort(cohort=cohort))
        dialog.show()
        return dialog

    def query_bar_import(self) -> None:
        self.query_bar.show_import()

    # -- teardown -----------------------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Cancel jobs, wait briefly for them, close the workspace."""
        self._hand_workspace(None)
        self.jobs.shutdown(timeout=10.0)
        if self._user_database is not None:
            self._user_database.close()
            self._user_database = None
        if self.workspace is not None:
            self.workspace.close()
            self.workspace = None

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.sync_dialog is not None:
            self.sync_dialog.close()
        self.shutdown()
        super().closeEvent(event)


def preview(cache_dir: Path | None, exec_loop: bool = True) -> QWidget:
    """Open the whole main window over `cache_dir`."""
    ensure_application()
    return show_preview(MainWindow(cache_dir), "Main window", exec_loop, size=(1280, 800))


if __name__ == "__main__":
    preview(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
