"""The desktop shell of the main window: File and View menus, workspaces, layout memory, theme, drag and drop.

- Workspaces are cache folders (one per release or project). The recent list lives in settings.json
  (Settings.recent_caches, most recent first); File ▸ Open workspace… / Recent workspaces / Forget.
- Window geometry and dock layout are remembered per workspace in a QSettings file next to settings.json
  (QSettings holds only those).
- View ▸ Theme switches the palette live and saves the choice.
- A cohort / SQON .json dropped on the window becomes the cohort; a dropped cache or release folder opens; any
  other folder is read (headers only, never written) for a DICOM series, shown in the Imaging tab's viewer.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, Qt, QUrl
from PySide6.QtGui import QAction, QActionGroup, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QMenu

from kfexplorer.config import Settings, config_dir, load_settings, save_settings
from kfexplorer.progress import CancelToken, ProgressCallback
from kfexplorer.query.model import Cohort
from kfexplorer.services.cohort_count import read_cohort_file
from kfexplorer.services.imaging_catalog import SeriesEntry, SeriesInstance
from kfexplorer.services.workspace import has_cache
from kfexplorer.store.cache import CacheMissingError
from kfexplorer.sync.releases import ReleaseLibraryError, resolve_cache_folder
from kfexplorer.ui.app import apply_theme, current_theme
from kfexplorer.ui.dialogs.preferences_dialog import THEME_LABELS, PreferencesDialog
from kfexplorer.ui.dicom_folder import read_folder_series
from kfexplorer.ui.icon_library import themed_icon

if TYPE_CHECKING:
    from kfexplorer.ui.main_window import MainWindow

LAYOUT_FILE = "window_layout.ini"
NO_WORKSPACE_KEY = "start"
MAX_RECENT = 12
# Toolbar actions of the main window and their icons: re-tinted when the theme changes.
THEMED_ACTION_ICONS = {"sync_action": "sync", "refresh_action": "refresh", "save_action": "save",
                       "export_action": "export"}


def workspace_key(cache_dir: Path | None) -> str:
    """A stable QSettings group name for a cache folder (its resolved path, hashed)."""
    if cache_dir is None:
        return NO_WORKSPACE_KEY
    resolved = str(Path(cache_dir).expanduser().resolve())
    return "workspace-" + hashlib.sha1(resolved.encode("utf-8")).hexdigest()[:16]


def remember_workspace(settings: Settings, cache_dir: Path) -> Settings:
    """`settings` with `cache_dir` first in the recent list (no duplicates, at most MAX_RECENT)."""
    path = str(Path(cache_dir).expanduser().resolve())
    settings.recent_caches = ([path] + [p for p in settings.recent_caches if p != path])[:MAX_RECENT]
    return settings


def forget_workspace(settings: Settings, cache_dir: str) -> Settings:
    """`settings` without `cache_dir` in the recent list (the folder itself is left alone)."""
    settings.recent_caches = [p for p in settings.recent_caches if p != cache_dir]
    return settings


def local_drop_paths(urls: list[QUrl]) -> list[Path]:
    return [Path(url.toLocalFile()) for url in urls if url.isLocalFile() and url.toLocalFile()]


def is_droppable(path: Path) -> bool:
    return path.is_dir() or path.suffix.lower() == ".json"


class DesktopShell(QObject):
    """Installs the menus and behaviours above on `window`; keeps no widget of its own besides menus."""

    def __init__(self, window: MainWindow, settings_path: Path | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.settings_path = settings_path
        self.layout_store = QSettings(str(config_dir() / LAYOUT_FILE), QSettings.Format.IniFormat)
        self._layout_key: str | None = None
        self.persistent = False  # see enable_persistence
        self.layout_restored = False
        self.preferences_dialog: PreferencesDialog | None = None
        self._build_file_menu()
        self._build_edit_menu()
        self._build_view_menu()
        window.setAcceptDrops(True)
        window.installEventFilter(self)
        window.workspace_opened.connect(self._on_workspace_opened)

    def enable_persistence(self) -> bool:
        """Remember workspaces and layouts from now on (the app does this; a window made in a test or a preview
        does not, so it neither reads nor writes them) and restore this workspace's layout; True if restored."""
        self.persistent = True
        self.layout_restored = self._switch_layout(workspace_key(self.window.cache_dir), restore_geometry=True)
        return self.layout_restored

    # -- menus --------------------------------------------------------------------------------------------------
    def _insert_menu(self, title: str) -> QMenu:
        """A top-level menu placed before Help (another part of the window adds Help)."""
        bar = self.window.menuBar()
        menu = QMenu(title, bar)
        help_action = next((a for a in bar.actions() if a.text().replace("&", "") == "Help"), None)
        if help_action is not None:
            bar.insertMenu(help_action, menu)
        else:
            bar.addMenu(menu)
        return menu

    def _action(self, menu: QMenu, text: str, slot: Callable[[], object], shortcut: str | None = None) -> QAction:
        action = QAction(text, self.window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

    def _build_file_menu(self) -> None:
        window = self.window
        menu = self._insert_menu("&File")
        self.file_menu = menu
        self.open_workspace_action = self._action(menu, "Open workspace…", window.choose_folder, "Ctrl+O")
        self.recent_menu = menu.addMenu("Recent workspaces")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.forget_action = self._action(menu, "Forget this workspace", self.forget_current)
        self.forget_action.setToolTip("Remove the open workspace from the recent list (its files stay)")
        menu.addSeparator()
        self.demo_action = self._action(menu, "Open the demo release", window.open_demo_release)
        self.sync_menu_action = self._action(menu, "Sync from a source…", window.show_sync_dialog)
        menu.addSeparator()
        for attribute in ("save_action", "export_action"):  # the toolbar's own actions (Ctrl+S, Ctrl+E)
            action = getattr(window, attribute, None)
            if isinstance(action, QAction):
                menu.addAction(action)
        menu.addSeparator()
        self.preferences_action = self._action(menu, "Preferences…", self.show_preferences, "Ctrl+,")
        self.preferences_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        menu.addSeparator()
        self.quit_action = self._action(menu, "Quit", window.close, "Ctrl+Q")
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        menu.aboutToShow.connect(self.update_actions)
        self.update_actions()

    def _key_entry(self, menu: QMenu, text: str, keys: str, slot: Callable[[], object]) -> QAction:
        """A menu entry for a key the window already binds (QShortcut): the key is shown, not bound twice."""
        return self._action(menu, f"{text}\t{keys}", slot)

    def _build_edit_menu(self) -> None:
        window = self.window
        menu = self._insert_menu("&Edit")
        self.edit_menu = menu
        self.undo_action = self._key_entry(menu, "Undo cohort edit", "Ctrl+Z", window.cohort_state.undo)
        self.redo_action = self._key_entry(menu, "Redo cohort edit", "Ctrl+Shift+Z", window.cohort_state.redo)
        menu.addSeparator()
        self._key_entry(menu, "Quick search", "Ctrl+K", window.focus_quick_search)
        self._key_entry(menu, "Cancel the focused job", "Esc", window.cancel_focused_job)
        menu.aboutToShow.connect(self.update_actions)

    def _build_view_menu(self) -> None:
        window = self.window
        menu = self._insert_menu("&View")
        self.view_menu = menu
        tabs_menu = menu.addMenu("Go to tab")
        for index in range(window.tabs.count()):
            self._key_entry(tabs_menu, window.tabs.tabText(index), f"Ctrl+{index + 1}",
                            functools.partial(window.tabs.setCurrentIndex, index))
        self._key_entry(menu, "Refresh", "F5", window.refresh)
        menu.addSeparator()
        theme_menu = menu.addMenu("Theme")
        self.theme_group = QActionGroup(self.window)
        self.theme_actions: dict[str, QAction] = {}
        active = current_theme(_application())
        for theme, label in THEME_LABELS.items():
            action = QAction(label, self.window)
            action.setCheckable(True)
            action.setChecked(theme == active)
            action.triggered.connect(lambda _checked=False, theme=theme: self.set_theme(theme))
            self.theme_group.addAction(action)
            theme_menu.addAction(action)
            self.theme_actions[theme] = action
        menu.addSeparator()
        for dock in (window.facets_dock, window.participant_dock):
            menu.addAction(dock.toggleViewAction())
        menu.addSeparator()
        self.reset_layout_action = self._action(menu, "Reset layout", self.reset_layout)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        current = str(Path(self.window.cache_dir).resolve()) if self.window.cache_dir else None
        recent = load_settings(self.settings_path).recent_caches
        for path in recent:
            action = self.recent_menu.addAction(path)
            action.setCheckable(True)
            action.setChecked(path == current)
            action.setEnabled(Path(path).is_dir())
            action.triggered.connect(lambda _checked=False, path=path: self.switch_workspace(Path(path)))
        if not recent:
            self.recent_menu.addAction("No recent workspaces").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear the list", self.clear_recent)

    def update_actions(self) -> None:
        """Enable what makes sense now: forgetting needs an open workspace, undo / redo a history."""
        self.forget_action.setEnabled(self.window.workspace is not None and self.window.cache_dir is not None)
        if hasattr(self, "undo_action"):
            self.undo_action.setEnabled(self.window.cohort_state.can_undo)
            self.redo_action.setEnabled(self.window.cohort_state.can_redo)

    # -- workspaces ---------------------------------------------------------------------------------------------
    def switch_workspace(self, cache_dir: Path) -> None:
        self.save_layout()
        self.window.open_folder(Path(cache_dir))

    def forget_current(self) -> None:
        if self.window.cache_dir is None:
            return
        path = str(Path(self.window.cache_dir).resolve())
        save_settings(forget_workspace(load_settings(self.settings_path), path), self.settings_path)
        self.window.statusBar().showMessage(f"Removed {path} from the recent workspaces (its files stay)", 6000)

    def clear_recent(self) -> None:
        settings = load_settings(self.settings_path)
        settings.recent_caches = []
        save_settings(settings, self.settings_path)

    def _on_workspace_opened(self, _workspace: object) -> None:
        cache_dir = self.window.cache_dir
        self.update_actions()
        if cache_dir is None or not self.persistent:
            return
        save_settings(remember_workspace(load_settings(self.settings_path), cache_dir), self.settings_path)
        self._switch_layout(workspace_key(cache_dir), restore_geometry=False)

    # -- layout (QSettings) -------------------------------------------------------------------------------------
    def _switch_layout(self, key: str, *, restore_geometry: bool) -> bool:
        """Save the layout of the workspace being left, restore the one of `key`; True if one was restored."""
        if key == self._layout_key:
            return False
        if self._layout_key is not None:
            self.save_layout()
        self._layout_key = key
        return self.restore_layout(restore_geometry=restore_geometry)

    def save_layout(self) -> None:
        if self._layout_key is None or not self.persistent:
            return
        self.layout_store.beginGroup(self._layout_key)
        self.layout_store.setValue("geometry", self.window.saveGeometry())
        self.layout_store.setValue("state", self.window.saveState())
        self.layout_store.endGroup()
        self.layout_store.sync()

    def restore_layout(self, *, restore_geometry: bool = True) -> bool:
        if self._layout_key is None:
            return False
        self.layout_store.beginGroup(self._layout_key)
        geometry = self.layout_store.value("geometry")
        state = self.layout_store.value("state")
        self.layout_store.endGroup()
        restored = False
        if restore_geometry and isinstance(geometry, QByteArray) and not geometry.isEmpty():
            restored = self.window.restoreGeometry(geometry)
        if isinstance(state, QByteArray) and not state.isEmpty():
            restored = self.window.restoreState(state) or restored
        return restored

    def reset_layout(self) -> None:
        window = self.window
        for dock in (window.facets_dock, window.participant_dock):
            dock.setFloating(False)
            dock.show()
        window.resizeDocks([window.facets_dock, window.participant_dock], [220, 320], Qt.Orientation.Horizontal)

    # -- theme and preferences ----------------------------------------------------------------------------------
    def set_theme(self, theme: str, *, save: bool = True) -> None:
        """Apply `theme` live (palette and toolbar icons); with `save`, keep it in settings.json."""
        apply_theme(_application(), theme)
        repolish_style_sheets(_application())
        self.refresh_icons()
        if theme in self.theme_actions:
            self.theme_actions[theme].setChecked(True)
        if save:
            settings = load_settings(self.settings_path)
            settings.theme = theme
            save_settings(settings, self.settings_path)

    def refresh_icons(self) -> None:
        """Re-tint the toolbar icons to the new palette's text colour."""
        for attribute, icon_name in THEMED_ACTION_ICONS.items():
            action = getattr(self.window, attribute, None)
            if isinstance(action, QAction):
                action.setIcon(themed_icon(icon_name))

    def show_preferences(self) -> PreferencesDialog:
        if self.preferences_dialog is None:
            dialog = PreferencesDialog(settings_path=self.settings_path,
                                       apply_theme=lambda theme: self.set_theme(theme, save=False),
                                       parent=self.window)
            dialog.settings_saved.connect(self._preferences_saved)
            dialog.finished.connect(self._preferences_closed)
            self.preferences_dialog = dialog
        self.preferences_dialog.show()
        return self.preferences_dialog

    def _preferences_saved(self, settings: Settings) -> None:
        self.set_theme(settings.theme, save=False)
        self.window.statusBar().showMessage("Preferences saved", 4000)

    def _preferences_closed(self, _result: int) -> None:
        if self.preferences_dialog is not None:
            self.preferences_dialog.deleteLater()
        self.preferences_dialog = None

    # -- drag and drop ------------------------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt naming
        if watched is self.window:
            kind = event.type()
            if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove) and isinstance(event, QDragEnterEvent | QDropEvent):
                paths = local_drop_paths(event.mimeData().urls()) if event.mimeData().hasUrls() else []
                if paths and all(is_droppable(p) for p in paths):
                    event.acceptProposedAction()
                    return True
            elif kind == QEvent.Type.Drop and isinstance(event, QDropEvent):
                paths = local_drop_paths(event.mimeData().urls()) if event.mimeData().hasUrls() else []
                if paths:
                    event.acceptProposedAction()
                    self.open_dropped(paths)
                    return True
            elif kind == QEvent.Type.Close:
                self.save_layout()
        return False

    def open_dropped(self, paths: list[Path]) -> None:
        """The first path decides: a .json file becomes the cohort, a cache or release folder opens as a workspace,
        another folder opens its DICOM series in the viewer."""
        path = paths[0]
        if path.is_dir() and (is_workspace_folder(path) or (path / "release.json").is_file()):
            self.switch_workspace(path)
        elif path.is_dir():
            self.open_dicom_folder(path)
        elif path.suffix.lower() == ".json":
            self.open_cohort_file(path)
        else:
            self.window.error_notice.show_error(f"Cannot open {path.name}: drop a cohort / SQON .json or a folder")

    def open_dicom_folder(self, folder: Path) -> None:
        """Read the folder's DICOM headers in a worker, then show its series in the Imaging tab's viewer."""
        window = self.window
        if window.workspace is None:
            window.error_notice.show_error(f"Open a release first to view the DICOM folder {folder.name}")
            return

        def read(progress: ProgressCallback, cancel: CancelToken) -> tuple[SeriesEntry, list[SeriesInstance]]:
            return read_folder_series(folder, progress, cancel)

        def opened(found: tuple[SeriesEntry, list[SeriesInstance]]) -> None:
            entry, instances = found
            window.tabs.setCurrentWidget(window.imaging_panel)
            window.imaging_panel.viewer.open_series(entry, instances)
            window.statusBar().showMessage(f"Opened {len(instances):,} DICOM files of {folder.name}", 6000)

        window.jobs.submit(read, name="Open DICOM folder", key="drop-dicom", tracked=True, on_finished=opened)

    def open_cohort_file(self, path: Path) -> None:
        """Read a cohort / SQON file in a worker, then make it the cohort (one undo away)."""

        def read(_progress: ProgressCallback, cancel: CancelToken) -> Cohort:
            cancel.raise_if_cancelled()
            return read_cohort_file(path)

        def opened(cohort: Cohort) -> None:
            self.window.cohort_state.set_cohort(cohort)
            self.window.statusBar().showMessage(f"Opened the cohort of {path.name}", 6000)

        # A file that is not a cohort fails the job: the window's error notice says why.
        self.window.jobs.submit(read, name="Open cohort file", key="drop-cohort", on_finished=opened)


def is_workspace_folder(folder: Path) -> bool:
    """A kfexplorer cache, or a release library with a current release."""
    try:
        return has_cache(resolve_cache_folder(folder))
    except (CacheMissingError, ReleaseLibraryError):
        return has_cache(folder)


def repolish_style_sheets(app: QApplication) -> None:
    """After a palette change: widgets under a style sheet keep the palette they were polished with (the window's
    docks, centre and status bar stayed light in dark mode), so set each sheet again to polish them anew."""
    for widget in app.allWidgets():
        sheet = widget.styleSheet()
        if sheet:
            widget.setStyleSheet(sheet)


def _application() -> QApplication:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    return app


def install_desktop_shell(window: MainWindow, settings_path: Path | None = None) -> DesktopShell:
    """Add File / View menus, workspaces, layout memory, theme switching and drag and drop to `window`."""
    return DesktopShell(window, settings_path)
