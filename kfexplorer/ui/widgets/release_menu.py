"""The toolbar's "Release ▾" menu (UI.md): the releases of the open release library, to switch between, plus
"Remove old release" and "Evict study / chromosome…".

The releases of the library (kfexplorer.sync.releases) are listed in a job whenever the window opens a cache, and
the menu shows the last list it got, so opening the menu never reads the disk. Switching writes the library's
`current` pointer in a job, then the window reopens the library (which opens the new current release). Removing a
release that is not the current one, and evicting studies or chromosomes from the open release
(kfexplorer.sync.evict), run as tracked jobs with progress in the status bar; eviction writes to the open cache,
so the window first hands over its read-only connection (`release_workspace_for_sync`, closed in the worker before
the write) and reopens the cache when the job ends, whatever its outcome. The UI thread never waits on any of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from kfexplorer.progress import CancelToken, ProgressCallback, ProgressEvent
from kfexplorer.services.jobs import Job
from kfexplorer.sync.evict import EvictableParts, EvictReport, evict, evictable_parts
from kfexplorer.sync.releases import ReleaseEntry, library_of, list_releases, remove_release, switch_release
from kfexplorer.ui.job_signals import QtJobRunner

CHECKED = Qt.CheckState.Checked


class ReleaseMenuHost(Protocol):
    """What the menu needs from the window."""

    cache_dir: Path | None
    workspace: Any  # kfexplorer.services.workspace.Workspace | None
    release: Any  # kfexplorer.services.workspace.ReleaseInfo | None

    def open_cache(self, cache_dir: Path | None) -> None: ...

    def release_workspace_for_sync(self) -> Callable[[], None]: ...


@dataclass(frozen=True)
class LibraryListing:
    """The releases of a library, as a job read them."""

    root: Path
    releases: list[ReleaseEntry]


def release_label(entry: ReleaseEntry) -> str:
    """'kf-demo-2026-11-01 · current', 'kf-demo-2026-12-01 · incomplete'."""
    notes = [note for note, applies in (("current", entry.current), ("incomplete", not entry.complete)) if applies]
    return " · ".join([entry.release_id, *notes])


class EvictDialog(QDialog):
    """Pick studies and/or chromosomes to evict from the open release (non-modal; `evict_requested` on OK)."""

    evict_requested = Signal(list, list)  # studies, chromosomes

    def __init__(self, parts: EvictableParts, release_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Evict study / chromosome")
        self.setModal(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(8)
        intro = QLabel(f"Remove the occurrences of the checked studies and / or chromosomes from release "
                       f"<b>{release_id}</b>. A later sync that selects them brings them back.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        lists = QGridLayout()
        lists.setSpacing(8)
        self.study_list = self._checklist(parts.studies)
        self.chromosome_list = self._checklist(parts.chromosomes)
        for column, (title, widget) in enumerate((("Studies", self.study_list), ("Chromosomes", self.chromosome_list))):
            group = QGroupBox(title)
            group_layout = QVBoxLayout(group)
            group_layout.addWidget(widget)
            lists.addWidget(group, 0, column)
        layout.addLayout(lists)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.evict_button = self.buttons.addButton("Evict", QDialogButtonBox.ButtonRole.AcceptRole)
        self.evict_button.setEnabled(False)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.study_list.itemChanged.connect(self._update_button)
        self.chromosome_list.itemChanged.connect(self._update_button)

    @staticmethod
    def _checklist(values: list[str]) -> QListWidget:
        widget = QListWidget()
        widget.setMinimumHeight(160)
        for value in values:
            item = QListWidgetItem(value)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            widget.addItem(item)
        return widget

    @staticmethod
    def _checked(widget: QListWidget) -> list[str]:
        return [widget.item(i).text() for i in range(widget.count()) if widget.item(i).checkState() == CHECKED]

    def set_checked(self, studies: list[str], chromosomes: list[str]) -> None:
        for widget, wanted in ((self.study_list, studies), (self.chromosome_list, chromosomes)):
            for i in range(widget.count()):
                item = widget.item(i)
                item.setCheckState(CHECKED if item.text() in wanted else Qt.CheckState.Unchecked)

    def checked_studies(self) -> list[str]:
        return self._checked(self.study_list)

    def checked_chromosomes(self) -> list[str]:
        return self._checked(self.chromosome_list)

    def _update_button(self, *_args: object) -> None:
        self.evict_button.setEnabled(bool(self.checked_studies() or self.checked_chromosomes()))

    def _accept(self) -> None:
        studies, chromosomes = self.checked_studies(), self.checked_chromosomes()
        if studies or chromosomes:
            self.evict_requested.emit(studies, chromosomes)
            self.accept()


class ReleaseMenu(QMenu):
    """The Release ▾ menu: the library's releases (checked: the current one) on top, the window's own actions in
    the middle (added by the window), "Remove old release" and "Evict study / chromosome…" at the bottom
    (`add_library_actions`, called by the window after its own)."""

    releases_listed = Signal(object)  # LibraryListing | None
    release_switched = Signal(str)
    release_removed = Signal(str)
    evicted = Signal(object)  # EvictReport

    def __init__(self, jobs: QtJobRunner, host: ReleaseMenuHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._jobs = jobs
        self._host = host
        self.listing: LibraryListing | None = None
        self._release_actions: list[QAction] = []
        self._header = self.addSection("Releases")
        self._header.setVisible(False)
        self._top_separator = self.addSeparator()
        self.remove_menu = QMenu("Remove old release", self)
        self.evict_action: QAction | None = None
        self.evict_dialog: EvictDialog | None = None
        self.aboutToShow.connect(self._rebuild)

    def add_library_actions(self) -> None:
        self.addSeparator()
        self.addMenu(self.remove_menu)
        self.evict_action = self.addAction("Evict study / chromosome…", self.show_evict_dialog)
        self._rebuild()

    # -- the library's releases ---------------------------------------------------------------------------------
    def refresh(self) -> Job:
        """List the releases of the library the window's cache belongs to (in a job)."""
        folder = self._host.cache_dir

        def read(_progress: ProgressCallback, _cancel: CancelToken) -> LibraryListing | None:
            root = library_of(folder) if folder is not None else None
            return LibraryListing(root, list_releases(root)) if root is not None else None

        return self._jobs.submit(read, name="List releases", key="release-library", on_finished=self._listed)

    def _listed(self, listing: LibraryListing | None) -> None:
        self.listing = listing
        self._rebuild()
        self.releases_listed.emit(listing)

    def _rebuild(self) -> None:
        for action in self._release_actions:
            self.removeAction(action)
            action.deleteLater()
        self._release_actions = []
        self.remove_menu.clear()
        releases = self.listing.releases if self.listing is not None else []
        self._header.setVisible(bool(releases))
        self._top_separator.setVisible(bool(releases))
        for entry in releases:
            action = self._make_action(release_label(entry), partial(self._switch_action, entry.release_id))
            action.setCheckable(True)
            action.setChecked(entry.current)
            action.setEnabled(entry.complete)  # an incomplete release cannot be switched to yet
            action.setToolTip(str(entry.folder))
            self.insertAction(self._top_separator, action)
            self._release_actions.append(action)
            if not entry.current:
                remove = self._make_action(f"Remove {release_label(entry)}…", partial(self._remove_action, entry.release_id))
                self.remove_menu.addAction(remove)
        self.remove_menu.setEnabled(any(not entry.current for entry in releases))
        if self.evict_action is not None:
            self.evict_action.setEnabled(self._host.workspace is not None)

    def _switch_action(self, release_id: str, _checked: bool = False) -> None:
        self.switch_to(release_id)

    def _remove_action(self, release_id: str, _checked: bool = False) -> None:
        self.confirm_remove(release_id)

    def _make_action(self, text: str, slot: Callable[..., None]) -> QAction:
        action = QAction(text, self)
        action.triggered.connect(slot)
        return action

    def release_actions(self) -> dict[str, QAction]:
        """The release entries shown, by release_id (for tests and screenshots)."""
        return {action.text().split(" · ")[0]: action for action in self._release_actions}

    # -- switch ---------------------------------------------------------------------------------------------------
    def switch_to(self, release_id: str) -> Job | None:
        """Make `release_id` the library's current release (a job), then reopen the library on it."""
        if self.listing is None:
            return None
        root = self.listing.root
        if any(entry.current and entry.release_id == release_id for entry in self.listing.releases):
            self._rebuild()  # already current: keep its check mark
            return None

        def switch(progress: ProgressCallback, _cancel: CancelToken) -> str:
            progress(ProgressEvent("switch", 0, 1, release_id))
            switch_release(root, release_id)
            progress(ProgressEvent("switch", 1, 1, release_id))
            return release_id

        def switched(switched_id: str) -> None:
            self._host.open_cache(root)
            self.release_switched.emit(switched_id)

        return self._jobs.submit(switch, name=f"Switch to {release_id}", tracked=True, on_finished=switched,
                                 on_failed=lambda _failure: self._rebuild())

    # -- remove ---------------------------------------------------------------------------------------------------
    def confirm_remove(self, release_id: str) -> None:
        answer = QMessageBox.question(self.parentWidget(), "Remove old release",
                                      f"Delete release {release_id} and its cache folder? A sync can bring it back.")
        if answer == QMessageBox.StandardButton.Yes:
            self.remove(release_id)

    def remove(self, release_id: str) -> Job | None:
        """Delete a release of the library that is not the current one (a tracked job), then list the releases."""
        if self.listing is None:
            return None
        root = self.listing.root

        def run(progress: ProgressCallback, _cancel: CancelToken) -> str:
            progress(ProgressEvent("remove", 0, 1, release_id))
            remove_release(root, release_id)
            progress(ProgressEvent("remove", 1, 1, release_id))
            return release_id

        def removed(removed_id: str) -> None:
            self.refresh()
            self.release_removed.emit(removed_id)

        return self._jobs.submit(run, name=f"Remove release {release_id}", tracked=True, on_finished=removed)

    # -- evict ----------------------------------------------------------------------------------------------------
    def show_evict_dialog(self) -> Job | None:
        """Read what the open release can evict (a job on the workspace), then show the dialog to pick it."""
        workspace = self._host.workspace
        if workspace is None:
            return None
        release_id = str(getattr(self._host.release, "release_id", "") or "the open release")

        def read(_progress: ProgressCallback, cancel: CancelToken) -> EvictableParts:
            cancel.raise_if_cancelled()
            return evictable_parts(workspace.cursor())

        def show(parts: EvictableParts) -> None:
            if self.evict_dialog is not None:
                self.evict_dialog.close()
                self.evict_dialog.deleteLater()
            self.evict_dialog = EvictDialog(parts, release_id, self.parentWidget())
            self.evict_dialog.evict_requested.connect(self.evict)
            self.evict_dialog.show()

        return self._jobs.submit(read, name="Read the release's studies", key="evictable-parts", on_finished=show)

    def evict(self, studies: list[str], chromosomes: list[str]) -> Job | None:
        """Evict from the open cache (a tracked job): the window's read-only connection is closed in the worker
        before the write, and the cache reopened when the job ends (finished, failed or cancelled)."""
        cache_dir = self._host.cache_dir
        if cache_dir is None or not (studies or chromosomes):
            return None
        close_workspace = self._host.release_workspace_for_sync()
        what = ", ".join([*studies, *(f"chr{c}" for c in chromosomes)])

        def run(progress: ProgressCallback, cancel: CancelToken) -> EvictReport:
            progress(ProgressEvent("evict", 0, 2, "closing the read-only connection"))
            close_workspace()
            cancel.raise_if_cancelled()
            progress(ProgressEvent("evict", 1, 2, what))
            report = evict(cache_dir, studies=studies or None, chromosomes=chromosomes or None)
            progress(ProgressEvent("evict", 2, 2, what))
            return report

        def finished(report: EvictReport) -> None:
            self._host.open_cache(cache_dir)
            self.evicted.emit(report)

        return self._jobs.submit(run, name=f"Evict {what}", tracked=True, on_finished=finished,
                                 on_failed=lambda _failure: self._host.open_cache(cache_dir),
                                 on_cancelled=lambda: self._host.open_cache(cache_dir))
