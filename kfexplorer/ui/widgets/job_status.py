"""Status-bar widget for long background jobs: name, phase, progress bar and Cancel."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from kfexplorer.progress import ProgressEvent
from kfexplorer.ui.icon_library import themed_icon
from kfexplorer.ui.job_signals import QtJobRunner

MEBIBYTE = 1024 * 1024


def describe_progress(event: ProgressEvent) -> str:
    """'download 3 / 12 objects' or '12.0 / 48.5 MB' — the phase and how far it is."""
    unit_is_bytes = event.total > 64 * 1024 or event.done > 64 * 1024
    if unit_is_bytes:
        amount = f"{event.done / MEBIBYTE:,.1f} / {event.total / MEBIBYTE:,.1f} MB" if event.total else (
            f"{event.done / MEBIBYTE:,.1f} MB")
    else:
        amount = f"{event.done:,} / {event.total:,}" if event.total else f"{event.done:,}"
    message = f" — {event.message}" if event.message else ""
    return f"{event.phase} {amount}{message}"


class JobStatusWidget(QWidget):
    """Shows the most recent tracked job of a QtJobRunner; Cancel (or Esc in the window) cancels it."""

    def __init__(self, jobs: QtJobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._jobs = jobs
        self._active: dict[int, str] = {}
        self._current: int | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self.label = QLabel()
        layout.addWidget(self.label)
        self.progress_bar = QProgressBar()
        self.progress_bar.setFixedWidth(140)
        self.progress_bar.setMaximumHeight(16)
        self.progress_bar.setTextVisible(True)
        layout.addWidget(self.progress_bar)
        self.cancel_button = QToolButton()
        self.cancel_button.setIcon(themed_icon("cancel"))
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Cancel this job (Esc)")
        self.cancel_button.setAutoRaise(True)
        self.cancel_button.clicked.connect(self.cancel_current)
        layout.addWidget(self.cancel_button)
        jobs.job_started.connect(self._on_started)
        jobs.job_progress.connect(self._on_progress)
        jobs.job_finished.connect(self._on_done)
        jobs.job_cancelled.connect(self._on_done)
        jobs.job_failed.connect(lambda failure: self._on_done(failure.job_id))
        self.setVisible(False)

    @property
    def current_job_id(self) -> int | None:
        return self._current

    def cancel_current(self) -> bool:
        """Cancel the job shown; False when there is none."""
        if self._current is None:
            return False
        self._jobs.cancel(self._current)
        self.label.setText(f"{self._active.get(self._current, 'Job')}: cancelling…")
        return True

    @Slot(int, str, bool)
    def _on_started(self, job_id: int, name: str, tracked: bool) -> None:
        if not tracked:
            return
        self._active[job_id] = name
        self._current = job_id
        self.label.setText(f"{name}…")
        self.progress_bar.setRange(0, 0)
        self.setVisible(True)

    @Slot(int, object)
    def _on_progress(self, job_id: int, event: ProgressEvent) -> None:
        if job_id != self._current:
            return
        name = self._active.get(job_id, "Job")
        self.label.setText(f"{name}: {describe_progress(event)}")
        if event.total > 0:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(1000 * (event.fraction or 0.0)))
        else:
            self.progress_bar.setRange(0, 0)

    @Slot(int)
    def _on_done(self, job_id: int) -> None:
        if self._active.pop(job_id, None) is None:
            return
        if job_id == self._current:
            self._current = next(reversed(self._active), None) if self._active else None
        if self._current is None:
            self.setVisible(False)
        else:
            self.label.setText(f"{self._active[self._current]}…")
            self.progress_bar.setRange(0, 0)
