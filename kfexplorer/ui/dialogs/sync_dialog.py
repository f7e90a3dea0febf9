"""The Sync dialog (non-modal): pick a release source and a cache folder, run the sync as a job with progress."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kfexplorer.progress import CancelToken, ProgressCallback, ProgressEvent
from kfexplorer.services.jobs import Job, JobFailure
from kfexplorer.ui.icon_library import themed_icon
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.preview_host import ensure_application, show_preview
from kfexplorer.ui.widgets.job_status import describe_progress


class SyncFunction(Protocol):
    def __call__(
        self, source: str, cache_dir: Path, *, progress: ProgressCallback | None, cancel: CancelToken | None
    ) -> Any: ...


def engine_sync_release() -> SyncFunction:
    """kfexplorer.sync.engine.sync_release, imported when a sync starts."""
    from kfexplorer.sync.engine import sync_release

    return sync_release


def report_as_json(report: Any) -> dict[str, Any]:
    if hasattr(report, "to_json"):
        value = report.to_json()
        return dict(value) if isinstance(value, dict) else {"report": value}
    return dict(report) if isinstance(report, dict) else {}


def summarise_report(report: dict[str, Any]) -> str:
    transferred = report.get("transferred", {}) or {}
    skipped = report.get("skipped", {}) or {}
    quarantined = report.get("quarantined", []) or []
    seconds = report.get("seconds")
    parts = [f"{int(transferred.get('objects', 0)):,} objects synced", f"{int(skipped.get('objects', 0)):,} unchanged"]
    if quarantined:
        parts.append(f"{len(quarantined):,} quarantined")
    if isinstance(seconds, int | float):
        parts.append(f"{seconds:,.1f} s")
    return "Done: " + ", ".join(parts)


# Called on the UI thread when Sync starts; returns what the worker must call before it opens the cache
# read-write (the window closes its read-only connection there).
WorkspaceRelease = Callable[[], Callable[[], None]]


class SyncDialog(QDialog):
    """Source + cache folder, Sync / Cancel, a progress bar with phase and bytes/objects. Never modal."""

    sync_finished = Signal(object)  # the SyncReport as JSON dict
    sync_ended = Signal(str)  # the cache folder, after any outcome (finished, failed, cancelled)

    def __init__(
        self,
        jobs: QtJobRunner,
        cache_dir: Path,
        *,
        sync_function: SyncFunction | None = None,
        workspace_release: WorkspaceRelease | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sync a release")
        self.setModal(False)
        self.setMinimumWidth(560)
        self._jobs = jobs
        self._sync_function = sync_function
        self._workspace_release = workspace_release
        self._job: Job | None = None
        self.last_report: dict[str, Any] | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(8)
        intro = QLabel("Copy a release (a folder, file:// URL or s3://bucket/prefix) into the local cache. "
                       "Only changed objects are transferred; the window keeps working meanwhile.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        form.setHorizontalSpacing(8)
        form.setVerticalSpacing(8)
        self.source_edit = QLineEdit()
        self.source_edit.setPlaceholderText("/path/to/release, file:///path/to/release or s3://bucket/prefix")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_source)
        source_row = QHBoxLayout()
        source_row.setSpacing(8)
        source_row.addWidget(self.source_edit, 1)
        source_row.addWidget(browse)
        form.addRow("Source", source_row)
        self.cache_edit = QLineEdit(str(cache_dir))
        form.addRow("Cache folder", self.cache_edit)
        layout.addLayout(form)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        layout.addWidget(self.progress_bar)
        self.phase_label = QLabel("Ready.")
        self.phase_label.setWordWrap(True)
        layout.addWidget(self.phase_label)
        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        buttons.addStretch(1)
        self.sync_button = QPushButton(themed_icon("sync"), "Sync")
        self.sync_button.setDefault(True)
        self.sync_button.clicked.connect(self.start_sync)
        self.cancel_button = QPushButton(themed_icon("cancel"), "Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_sync)
        close_button = QPushButton("Close")
        close_button.setToolTip("Close this window; a running sync continues in the status bar")
        close_button.clicked.connect(self.close)
        buttons.addWidget(self.sync_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(close_button)
        layout.addLayout(buttons)
        self.source_edit.textChanged.connect(self._update_buttons)
        self._update_buttons()

    @property
    def is_running(self) -> bool:
        return self._job is not None

    def set_source(self, source: str) -> None:
        self.source_edit.setText(source)

    def cache_dir(self) -> Path:
        return Path(self.cache_edit.text().strip()).expanduser()

    def start_sync(self) -> Job | None:
        source = self.source_edit.text().strip()
        if not source or self._job is not None:
            return None
        cache_dir = self.cache_dir()
        try:
            sync_function = self._sync_function or engine_sync_release()
        except ImportError as exc:
            self.phase_label.setText(f"Sync is not available in this build: {exc}")
            return None
        before_write = self._workspace_release() if self._workspace_release is not None else None

        def run_sync(progress: ProgressCallback, cancel: CancelToken) -> dict[str, Any]:
            if before_write is not None:
                before_write()
            return report_as_json(sync_function(source, cache_dir, progress=progress, cancel=cancel))

        self.phase_label.setText("Starting…")
        self.progress_bar.setRange(0, 0)
        self._job = self._jobs.submit(
            run_sync,
            name="Sync",
            key="sync",
            tracked=True,
            on_progress=self._on_progress,
            on_finished=self._on_finished,
            on_failed=self._on_failed,
            on_cancelled=self._on_cancelled,
        )
        self._update_buttons()
        return self._job

    def cancel_sync(self) -> bool:
        if self._job is None:
            return False
        self._jobs.cancel(self._job.job_id)
        self.phase_label.setText("Cancelling…")
        return True

    def _browse_source(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Release folder", self.source_edit.text())
        if folder:
            self.source_edit.setText(folder)

    def _update_buttons(self) -> None:
        running = self._job is not None
        self.sync_button.setEnabled(not running and bool(self.source_edit.text().strip()))
        self.cancel_button.setEnabled(running)
        self.source_edit.setEnabled(not running)
        self.cache_edit.setEnabled(not running)

    def _on_progress(self, event: ProgressEvent) -> None:
        self.phase_label.setText(describe_progress(event))
        if event.total > 0:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(1000 * (event.fraction or 0.0)))
        else:
            self.progress_bar.setRange(0, 0)

    def _settle(self, text: str, fraction: float) -> None:
        self._job = None
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(int(1000 * fraction))
        self.phase_label.setText(text)
        self._update_buttons()
        self.sync_ended.emit(str(self.cache_dir()))

    def _on_finished(self, report: dict[str, Any]) -> None:
        self.last_report = report
        self._settle(summarise_report(report), 1.0)
        self.sync_finished.emit(report)

    def _on_failed(self, failure: JobFailure) -> None:
        self._settle(f"Failed: {failure.message}", 0.0)

    def _on_cancelled(self) -> None:
        self._settle("Cancelled; the cache keeps its previous state.", 0.0)


def preview(cache_dir: Path, exec_loop: bool = True) -> QWidget:
    """Open the Sync dialog alone, targeting `cache_dir`."""
    ensure_application()
    jobs = QtJobRunner()
    dialog = SyncDialog(jobs, Path(cache_dir))
    jobs.setParent(dialog)
    return show_preview(dialog, "Sync", exec_loop, size=(600, 260))


if __name__ == "__main__":
    preview(Path(sys.argv[1]))
