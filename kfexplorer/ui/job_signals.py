"""Qt adapter for kfexplorer.services.jobs: worker-thread callbacks become UI-thread signals and callbacks.

Worker code never touches widgets: it calls back into a QObject living on the UI thread through queued signals,
and the per-job UI callbacks given to `submit` run on the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from kfexplorer.progress import ProgressEvent
from kfexplorer.services.jobs import Job, JobCallbacks, JobFailure, JobFunction, JobRunner


@dataclass
class _UiCallbacks:
    name: str
    tracked: bool
    progress: Callable[[ProgressEvent], None] | None
    finished: Callable[[Any], None] | None
    failed: Callable[[JobFailure], None] | None
    cancelled: Callable[[], None] | None


class QtJobRunner(QObject):
    """Runs jobs on a JobRunner and reports back on the UI thread.

    Signals (UI thread): job_started(job_id, name, tracked), job_progress(job_id, ProgressEvent),
    job_finished(job_id), job_cancelled(job_id), job_failed(JobFailure) — the latter for every failure, so the
    error notice can hook into it. `tracked` jobs are the ones the status bar shows (long work).
    """

    job_started = Signal(int, str, bool)
    job_progress = Signal(int, object)
    job_finished = Signal(int)
    job_cancelled = Signal(int)
    job_failed = Signal(object)

    # Internal: emitted on worker threads, delivered queued on the UI thread.
    _progress_from_worker = Signal(int, object)
    _finished_from_worker = Signal(int, object)
    _failed_from_worker = Signal(object)
    _cancelled_from_worker = Signal(int)

    def __init__(self, runner: JobRunner | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner if runner is not None else JobRunner()
        self._callbacks: dict[int, _UiCallbacks] = {}
        queued = Qt.ConnectionType.QueuedConnection
        self._progress_from_worker.connect(self._on_progress, queued)
        self._finished_from_worker.connect(self._on_finished, queued)
        self._failed_from_worker.connect(self._on_failed, queued)
        self._cancelled_from_worker.connect(self._on_cancelled, queued)

    def submit(
        self,
        fn: JobFunction,
        *,
        name: str,
        key: str | None = None,
        tracked: bool = False,
        on_progress: Callable[[ProgressEvent], None] | None = None,
        on_finished: Callable[[Any], None] | None = None,
        on_failed: Callable[[JobFailure], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
    ) -> Job:
        """Run `fn(progress, cancel)` in a worker; the `on_*` callbacks run later on the UI thread."""
        worker_callbacks = JobCallbacks(
            progress=lambda job_id, event: self._progress_from_worker.emit(job_id, event),
            finished=lambda job_id, result: self._finished_from_worker.emit(job_id, result),
            failed=lambda failure: self._failed_from_worker.emit(failure),
            cancelled=lambda job_id: self._cancelled_from_worker.emit(job_id),
        )
        ui_callbacks = _UiCallbacks(name, tracked, on_progress, on_finished, on_failed, on_cancelled)
        job = self.runner.submit(fn, name=name, key=key, callbacks=worker_callbacks)
        self._callbacks[job.job_id] = ui_callbacks
        self.job_started.emit(job.job_id, name, tracked)
        return job

    def cancel(self, job_id: int) -> None:
        self.runner.cancel(job_id)

    def is_tracked(self, job_id: int) -> bool:
        callbacks = self._callbacks.get(job_id)
        return callbacks is not None and callbacks.tracked

    def pending_count(self) -> int:
        return len(self._callbacks)

    def shutdown(self, timeout: float = 5.0) -> None:
        self.runner.shutdown(wait=True, timeout=timeout)

    @Slot(int, object)
    def _on_progress(self, job_id: int, event: ProgressEvent) -> None:
        callbacks = self._callbacks.get(job_id)
        if callbacks is None:
            return
        if callbacks.progress is not None:
            callbacks.progress(event)
        self.job_progress.emit(job_id, event)

    @Slot(int, object)
    def _on_finished(self, job_id: int, result: object) -> None:
        callbacks = self._callbacks.pop(job_id, None)
        if callbacks is not None and callbacks.finished is not None:
            callbacks.finished(result)
        self.job_finished.emit(job_id)

    @Slot(object)
    def _on_failed(self, failure: JobFailure) -> None:
        callbacks = self._callbacks.pop(failure.job_id, None)
        if callbacks is not None and callbacks.failed is not None:
            callbacks.failed(failure)
        self.job_failed.emit(failure)

    @Slot(int)
    def _on_cancelled(self, job_id: int) -> None:
        callbacks = self._callbacks.pop(job_id, None)
        if callbacks is not None and callbacks.cancelled is not None:
            callbacks.cancelled()
        self.job_cancelled.emit(job_id)
