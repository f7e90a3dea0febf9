"""Background jobs: a thread pool that runs `fn(progress, cancel)` with progress, cancel and coalescing.

Qt-free. Callbacks run on the worker thread; a UI adapts them to its own event loop (see kfexplorer.ui.job_signals).
A job submitted with a `key` supersedes (cancels) any unfinished job with the same key: the older job's token is
set, and whatever it returns afterwards is reported as cancelled, never as a result.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from kfexplorer.progress import Cancelled, CancelToken, ProgressCallback, ProgressEvent

log = logging.getLogger(__name__)

JobFunction = Callable[[ProgressCallback, CancelToken], Any]


class JobState(Enum):
    PENDING = "pending"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class JobFailure:
    """Why a job failed: the one-line message and the full traceback text."""

    job_id: int
    name: str
    message: str
    details: str
    exception: BaseException


@dataclass
class JobCallbacks:
    """Called on the worker thread. Exactly one of finished / failed / cancelled is called per job."""

    progress: Callable[[int, ProgressEvent], None] | None = None
    finished: Callable[[int, Any], None] | None = None
    failed: Callable[[JobFailure], None] | None = None
    cancelled: Callable[[int], None] | None = None


@dataclass
class Job:
    """One submitted unit of work."""

    job_id: int
    name: str
    key: str | None
    cancel_token: CancelToken
    callbacks: JobCallbacks
    state: JobState = JobState.PENDING
    last_progress: ProgressEvent | None = None
    submitted_at: float = field(default_factory=time.monotonic)
    future: Future[Any] | None = None

    def cancel(self) -> None:
        self.cancel_token.cancel()

    @property
    def done(self) -> bool:
        return self.state in (JobState.FINISHED, JobState.FAILED, JobState.CANCELLED)


def describe_exception(exc: BaseException) -> str:
    """One line naming the failure: 'TypeName: message' (message first line only)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class JobRunner:
    """Runs jobs on a thread pool; coalesces by key; reports through per-job and runner-wide callbacks."""

    def __init__(self, max_workers: int = 4, thread_name_prefix: str = "kf-job") -> None:
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._jobs: dict[int, Job] = {}
        self._latest_by_key: dict[str, int] = {}
        self._failure_listeners: list[Callable[[JobFailure], None]] = []
        self._closed = False

    # -- submission ---------------------------------------------------------------------------------------------
    def submit(
        self,
        fn: JobFunction,
        *,
        name: str = "job",
        key: str | None = None,
        callbacks: JobCallbacks | None = None,
    ) -> Job:
        """Run `fn(progress, cancel)` on a worker. With `key`, cancel the unfinished older job of that key."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the job runner is shut down")
            job = Job(next(self._ids), name, key, CancelToken(), callbacks or JobCallbacks())
            self._jobs[job.job_id] = job
            if key is not None:
                older_id = self._latest_by_key.get(key)
                older = self._jobs.get(older_id) if older_id is not None else None
                if older is not None and not older.done:
                    older.cancel()
                self._latest_by_key[key] = job.job_id
            job.future = self._executor.submit(self._run, job, fn)
        return job

    def add_failure_listener(self, listener: Callable[[JobFailure], None]) -> None:
        """Called (on the worker thread) for every failed job, after the job's own `failed` callback."""
        self._failure_listeners.append(listener)

    # -- control ------------------------------------------------------------------------------------------------
    def cancel(self, job_id: int) -> None:
        job = self._jobs.get(job_id)
        if job is not None:
            job.cancel()

    def cancel_key(self, key: str) -> None:
        for job in self.active_jobs():
            if job.key == key:
                job.cancel()

    def cancel_all(self) -> None:
        for job in self.active_jobs():
            job.cancel()

    def active_jobs(self) -> list[Job]:
        with self._lock:
            return [job for job in self._jobs.values() if not job.done]

    def job(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def wait(self, jobs: list[Job] | None = None, timeout: float | None = None) -> bool:
        """Wait until the given (default: all active) jobs are done; True if all finished within `timeout`."""
        targets = jobs if jobs is not None else self.active_jobs()
        futures = [job.future for job in targets if job.future is not None]
        _done, not_done = wait_futures(futures, timeout=timeout)
        return not not_done

    def shutdown(self, wait: bool = True, timeout: float | None = 10.0) -> None:
        """Cancel everything and stop the pool (waiting up to `timeout` seconds for running jobs)."""
        with self._lock:
            self._closed = True
        self.cancel_all()
        if wait:
            self.wait(timeout=timeout)
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- worker side --------------------------------------------------------------------------------------------
    def _run(self, job: Job, fn: JobFunction) -> Any:
        if job.cancel_token.cancelled:
            self._settle_cancelled(job)
            return None
        job.state = JobState.RUNNING

        def progress(event: ProgressEvent) -> None:
            job.last_progress = event
            if job.callbacks.progress is not None and not job.cancel_token.cancelled:
                self._call_safely(job.callbacks.progress, job.job_id, event)

        try:
            result = fn(progress, job.cancel_token)
        except Cancelled:
            self._settle_cancelled(job)
            return None
        except BaseException as exc:  # noqa: BLE001 - every failure is reported, none is swallowed
            if job.cancel_token.cancelled:
                # A superseded/cancelled job that broke while being interrupted is not a user-visible failure.
                self._settle_cancelled(job)
                return None
            failure = JobFailure(
                job.job_id,
                job.name,
                describe_exception(exc),
                "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
                exc,
            )
            job.state = JobState.FAILED
            self._forget(job)
            log.warning("job %s (%s) failed: %s", job.job_id, job.name, failure.message)
            if job.callbacks.failed is not None:
                self._call_safely(job.callbacks.failed, failure)
            for listener in list(self._failure_listeners):
                self._call_safely(listener, failure)
            return None
        if job.cancel_token.cancelled:
            self._settle_cancelled(job)
            return None
        job.state = JobState.FINISHED
        self._forget(job)
        if job.callbacks.finished is not None:
            self._call_safely(job.callbacks.finished, job.job_id, result)
        return result

    def _settle_cancelled(self, job: Job) -> None:
        job.state = JobState.CANCELLED
        self._forget(job)
        if job.callbacks.cancelled is not None:
            self._call_safely(job.callbacks.cancelled, job.job_id)

    def _forget(self, job: Job) -> None:
        with self._lock:
            self._jobs.pop(job.job_id, None)
            if job.key is not None and self._latest_by_key.get(job.key) == job.job_id:
                del self._latest_by_key[job.key]

    @staticmethod
    def _call_safely(callback: Callable[..., None], *args: Any) -> None:
        try:
            callback(*args)
        except Exception:  # noqa: BLE001 - a broken listener must not kill the worker
            log.exception("job callback %r raised", callback)
