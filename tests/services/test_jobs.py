"""JobRunner: results, progress, failures with tracebacks, cancellation and coalescing by key (no Qt)."""

from __future__ import annotations

import threading

import pytest

from kfexplorer.progress import CancelToken, ProgressCallback, ProgressEvent
from kfexplorer.services.jobs import JobCallbacks, JobFailure, JobRunner, JobState


@pytest.fixture
def runner() -> JobRunner:
    jobs = JobRunner(max_workers=3)
    yield jobs
    jobs.shutdown(timeout=5)


def test_result_and_progress_arrive_from_a_worker_thread(runner: JobRunner) -> None:
    seen: dict[str, object] = {}
    events: list[ProgressEvent] = []
    done = threading.Event()

    def work(progress: ProgressCallback, _cancel: CancelToken) -> int:
        seen["thread"] = threading.current_thread()
        for step in range(3):
            progress(ProgressEvent("count", step + 1, 3))
        return 42

    def finished(_job_id: int, result: object) -> None:
        seen["result"] = result
        done.set()

    job = runner.submit(work, name="answer", callbacks=JobCallbacks(progress=lambda _i, e: events.append(e),
                                                                     finished=finished))
    assert done.wait(5)
    assert seen["result"] == 42
    assert seen["thread"] is not threading.main_thread()
    assert [e.done for e in events] == [1, 2, 3]
    assert job.state is JobState.FINISHED


def test_failure_reports_message_and_traceback_to_job_and_listeners(runner: JobRunner) -> None:
    failures: list[JobFailure] = []
    listened: list[JobFailure] = []
    done = threading.Event()
    runner.add_failure_listener(lambda f: (listened.append(f), done.set()))

    def broken_step(_progress: ProgressCallback, _cancel: CancelToken) -> None:
        raise ValueError("the release is unreadable\nsecond line")

    runner.submit(broken_step, name="Broken", callbacks=JobCallbacks(failed=failures.append))
    assert done.wait(5)
    assert failures and listened and failures[0] is listened[0]
    assert failures[0].message == "ValueError: the release is unreadable"
    assert "broken_step" in failures[0].details and "Traceback" in failures[0].details
    assert failures[0].name == "Broken"


def test_a_newer_job_with_the_same_key_cancels_the_older(runner: JobRunner) -> None:
    started = threading.Event()
    outcomes: dict[str, str] = {}
    both_done = threading.Barrier(3)

    def slow(_progress: ProgressCallback, cancel: CancelToken) -> str:
        started.set()
        for _ in range(500):
            if cancel.cancelled:
                return "stale result"  # returned after cancel: must be reported as cancelled, not finished
            threading.Event().wait(0.01)
        return "too slow"

    def record(label: str) -> JobCallbacks:
        return JobCallbacks(
            finished=lambda _i, r: (outcomes.__setitem__(label, f"finished:{r}"), both_done.wait(5)),
            cancelled=lambda _i: (outcomes.__setitem__(label, "cancelled"), both_done.wait(5)),
        )

    older = runner.submit(slow, name="query", key="view", callbacks=record("older"))
    assert started.wait(5)
    newer = runner.submit(lambda _p, _c: "fresh", name="query", key="view", callbacks=record("newer"))
    both_done.wait(5)
    assert outcomes == {"older": "cancelled", "newer": "finished:fresh"}
    assert older.state is JobState.CANCELLED and newer.state is JobState.FINISHED


def test_cancel_by_id_and_raise_if_cancelled(runner: JobRunner) -> None:
    started, done = threading.Event(), threading.Event()
    outcome: list[str] = []

    def loop(_progress: ProgressCallback, cancel: CancelToken) -> None:
        started.set()
        while True:
            cancel.raise_if_cancelled()
            threading.Event().wait(0.005)

    job = runner.submit(loop, name="loop", callbacks=JobCallbacks(
        cancelled=lambda _i: (outcome.append("cancelled"), done.set()),
        failed=lambda _f: (outcome.append("failed"), done.set()),
    ))
    assert started.wait(5)
    assert [j.job_id for j in runner.active_jobs()] == [job.job_id]
    runner.cancel(job.job_id)
    assert done.wait(5)
    assert outcome == ["cancelled"]
    assert runner.active_jobs() == []
