"""The Imaging tab: the series of the current cohort (or of the selected participant), grouped by participant and
study, with thumbnails; double-click a series to open it in the viewer beside it.

The list re-queries in a worker whenever the cohort changes (a newer query cancels the older one); thumbnails are
made in a worker too and cached under `<cache>/thumbnails/`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kfexplorer.progress import CancelToken, ProgressCallback, ProgressEvent
from kfexplorer.query.model import Cohort
from kfexplorer.services.cohort_state import CohortState
from kfexplorer.services.imaging_catalog import (
    SeriesEntry,
    SeriesInstance,
    ThumbnailError,
    list_series,
    make_thumbnail,
    series_instances,
    thumbnail_path,
)
from kfexplorer.services.workspace import Workspace
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.panels.dicom_viewer import DicomViewer, format_age
from kfexplorer.ui.widgets.empty_state import EmptyState

SCOPES = ("Current cohort", "Selected participant")
ICON_SIZE = 48
SERIES_ROLE = Qt.ItemDataRole.UserRole


class ImagingPanel(QWidget):
    """Series list (left) and viewer (right). Signals: series_listed(list[SeriesEntry]), series_opened(entry),
    participant_activated(participant_id) when a series is opened (the window shows them in the Participant dock)."""

    series_listed = Signal(object)
    series_opened = Signal(object)
    participant_activated = Signal(str)
    thumbnail_ready = Signal(str)

    def __init__(self, jobs: QtJobRunner, cohort_state: CohortState | None = None, *,
                 user_db_path: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.cohort_state = cohort_state if cohort_state is not None else CohortState()
        self.workspace: Workspace | None = None
        self.participant_id: str | None = None
        self.entries: list[SeriesEntry] = []
        self.series_items: dict[str, QTreeWidgetItem] = {}
        self._generation = 0
        self._build(user_db_path)
        self.cohort_state.add_listener(self._cohort_changed)

    def _build(self, user_db_path: Path | None) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter = splitter
        self._sized = False
        layout.addWidget(splitter, 1)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(8)
        row = QHBoxLayout()
        row.setSpacing(8)
        self.scope_combo = QComboBox()
        self.scope_combo.addItems(SCOPES)
        self.scope_combo.setToolTip("List the series of the current cohort, or of the participant selected in the "
                                    "Participant dock")
        self.scope_combo.currentIndexChanged.connect(lambda _index: self.refresh())
        row.addWidget(self.scope_combo, 1)
        self.summary_label = QLabel("")
        self.summary_label.setEnabled(False)
        self.summary_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.scope_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.scope_combo.setMinimumContentsLength(12)
        left_layout.addLayout(row)
        left_layout.addWidget(self.summary_label)
        self.list_stack = QStackedWidget()
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.tree.setIndentation(16)
        self.tree.setMinimumWidth(160)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.tree.itemActivated.connect(self._item_activated)
        self.tree.itemDoubleClicked.connect(self._item_activated)
        self.list_empty = EmptyState("No imaging series", "")
        self.list_stack.addWidget(self.tree)
        self.list_stack.addWidget(self.list_empty)
        left_layout.addWidget(self.list_stack, 1)
        splitter.addWidget(left)
        self.viewer = DicomViewer(self.jobs, user_db_path=user_db_path)
        splitter.addWidget(self.viewer)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([250, 1030])
        self._placeholder_icon = self._blank_icon()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt naming
        super().showEvent(event)
        if not self._sized and self.width() > 0:
            self._sized = True
            left = max(200, min(300, self.width() // 4))
            self.splitter.setSizes([left, self.width() - left])

    @staticmethod
    def _blank_icon() -> QIcon:
        pixmap = QPixmap(ICON_SIZE, ICON_SIZE)
        pixmap.fill(Qt.GlobalColor.black)
        return QIcon(pixmap)

    # -- inputs ---------------------------------------------------------------------------------------------------
    def set_workspace(self, workspace: Workspace | None) -> None:
        self.workspace = workspace
        self.viewer.set_workspace(workspace)
        if workspace is None:
            self.viewer.close_series()
        self.refresh()

    def set_participant(self, participant_id: str | None) -> None:
        """The participant selected elsewhere (the list follows it in the "Selected participant" scope)."""
        if participant_id == self.participant_id:
            return
        self.participant_id = participant_id
        if self.scope_combo.currentText() == "Selected participant":
            self.refresh()

    def show_participant_scope(self, participant_id: str) -> None:
        self.participant_id = participant_id
        self.scope_combo.setCurrentText("Selected participant")
        self.refresh()

    def _cohort_changed(self, _cohort: Cohort) -> None:
        if self.scope_combo.currentText() == "Current cohort":
            self.refresh()

    # -- listing --------------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-list the series in a worker (a newer refresh cancels the older one)."""
        self._generation += 1
        generation = self._generation
        self.jobs.runner.cancel_key("imaging-thumbnails")
        workspace = self.workspace
        if workspace is None:
            self._show_entries(generation, [])
            return
        by_participant = self.scope_combo.currentText() == "Selected participant"
        participant_id = self.participant_id
        if by_participant and participant_id is None:
            self._show_entries(generation, [])
            return
        cohort = self.cohort_state.cohort if self.cohort_state.top_level() else None

        def query(_progress: ProgressCallback, cancel: CancelToken) -> list[SeriesEntry]:
            cancel.raise_if_cancelled()
            cursor = workspace.cursor()
            if by_participant:
                return list_series(cursor, participant_id=participant_id)
            return list_series(cursor, cohort=cohort)

        self.tree.setEnabled(False)  # dimmed until the new list arrives
        self.jobs.submit(query, name="Imaging series", key="imaging-series",
                         on_finished=lambda entries: self._show_entries(generation, entries))

    def _show_entries(self, generation: int, entries: list[SeriesEntry]) -> None:
        if generation != self._generation:
            return
        self.tree.setEnabled(True)
        self.entries = entries
        self.tree.clear()
        self.series_items = {}
        participants: dict[str, QTreeWidgetItem] = {}
        studies: dict[str, QTreeWidgetItem] = {}
        for entry in entries:
            pid = entry.participant_id or "(no participant id)"
            parent = participants.get(pid)
            if parent is None:
                parent = QTreeWidgetItem([pid])
                font = parent.font(0)
                font.setBold(True)
                parent.setFont(0, font)
                self.tree.addTopLevelItem(parent)
                parent.setExpanded(True)
                participants[pid] = parent
            study = studies.get(entry.study_instance_uid)
            if study is None:
                age = format_age(entry.age_at_scan_days)
                study = QTreeWidgetItem([" · ".join(p for p in (entry.study_description or "Study", age) if p)])
                study.setToolTip(0, entry.study_instance_uid)
                parent.addChild(study)
                study.setExpanded(True)
                studies[entry.study_instance_uid] = study
            size = f"{entry.columns}×{entry.rows}" if entry.rows and entry.columns else ""
            detail = " · ".join(p for p in (entry.modality, f"{entry.frames} images", size) if p)
            item = QTreeWidgetItem([f"{entry.title}\n{detail}"])
            item.setData(0, SERIES_ROLE, entry.series_instance_uid)
            item.setToolTip(0, f"{entry.series_description or ''}\n{entry.series_instance_uid}\n"
                               "Double-click to view")
            item.setIcon(0, self._placeholder_icon)
            study.addChild(item)
            self.series_items[entry.series_instance_uid] = item
        count = len({e.participant_id for e in entries})
        self.summary_label.setText(f"{len(entries):,} series · {count:,} participant{'s' if count != 1 else ''}")
        if entries:
            self.list_stack.setCurrentWidget(self.tree)
        else:
            scope = self.scope_combo.currentText()
            hint = ("Select a participant with imaging (Participants tab or quick search)."
                    if scope == "Selected participant" else
                    "No participant of the current cohort has imaging in the cache; widen the cohort or sync "
                    "the release's imaging.")
            self.list_empty.text_label.setText(hint)
            self.list_empty.text_label.setVisible(True)
            self.list_stack.setCurrentWidget(self.list_empty)
        self.series_listed.emit(entries)
        self._make_thumbnails(generation, entries)

    def listed_series_uids(self) -> list[str]:
        return [e.series_instance_uid for e in self.entries]

    # -- thumbnails -----------------------------------------------------------------------------------------------
    def _make_thumbnails(self, generation: int, entries: list[SeriesEntry]) -> None:
        workspace = self.workspace
        if workspace is None or not entries:
            return
        cache_dir = workspace.cache_dir
        pending = []
        for entry in entries:
            path = thumbnail_path(cache_dir, entry.series_instance_uid)
            if path.is_file():
                self._set_thumbnail(entry.series_instance_uid, path)
            else:
                pending.append(entry)
        if not pending:
            return

        def make(progress: ProgressCallback, cancel: CancelToken) -> int:
            made = 0
            for number, entry in enumerate(pending, start=1):
                cancel.raise_if_cancelled()
                try:
                    make_thumbnail(cache_dir, entry)
                    made += 1
                except (ThumbnailError, OSError):
                    pass
                progress(ProgressEvent("thumbnails", number, len(pending), entry.series_instance_uid))
            return made

        def on_progress(event: ProgressEvent) -> None:
            if generation == self._generation:
                path = thumbnail_path(cache_dir, event.message)
                if path.is_file():
                    self._set_thumbnail(event.message, path)

        self.jobs.submit(make, name="Thumbnails", key="imaging-thumbnails", on_progress=on_progress)

    def _set_thumbnail(self, series_uid: str, path: Path) -> None:
        item = self.series_items.get(series_uid)
        pixmap = QPixmap(str(path))
        if item is not None and not pixmap.isNull():
            item.setIcon(0, QIcon(pixmap))
            self.thumbnail_ready.emit(series_uid)

    # -- opening --------------------------------------------------------------------------------------------------
    def _item_activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        uid = item.data(0, SERIES_ROLE)
        if uid:
            self.open_series(str(uid))

    def open_series(self, series_uid: str) -> None:
        """Open a listed series in the viewer (its files are looked up in a worker)."""
        entry = next((e for e in self.entries if e.series_instance_uid == series_uid), None)
        workspace = self.workspace
        if entry is None or workspace is None:
            return
        if entry.participant_id:
            self.participant_activated.emit(entry.participant_id)

        def find(_progress: ProgressCallback, _cancel: CancelToken) -> list[SeriesInstance]:
            return series_instances(workspace.cursor(), workspace.cache_dir, series_uid)

        def opened(instances: list[SeriesInstance]) -> None:
            self.viewer.open_series(entry, instances)
            self.viewer.setFocus(Qt.FocusReason.OtherFocusReason)
            self.series_opened.emit(entry)

        self.jobs.submit(find, name="Series files", key="imaging-open", on_finished=opened,
                         on_failed=lambda failure: self.viewer.show_error(failure.message))


def preview(cache_dir: Path | None = None, exec_loop: bool = True) -> QWidget:
    """Open the Imaging tab alone over `cache_dir`."""
    from kfexplorer.ui.preview_host import ensure_application, open_preview_workspace, show_preview

    ensure_application()
    panel = ImagingPanel(QtJobRunner())
    panel.set_workspace(open_preview_workspace(cache_dir))
    return show_preview(panel, "Imaging", exec_loop, size=(1280, 800))


if __name__ == "__main__":
    preview(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
