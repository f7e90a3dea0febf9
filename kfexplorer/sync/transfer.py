"""Fetch planned objects in parallel to temporary names under DIR/partial/ and verify them.

Each object is written to DIR/partial/tmp-<random>-<file name>, then its size is checked against the listing (and
against release.json "files" size) and, when release.json lists a sha256, its SHA-256 (the digest the source took
while the bytes streamed in, when it did: an S3 object fetched in one GET, a local copy; else the file's). A verified object is renamed
(atomically) to DIR/partial/<verified_name>: a digest of its key, etag, size and expected sha256, then its file
name. It stays there until the ingest transaction commits, so a sync killed before then finds it on the next run
and does not download it again (`resumed`). A mismatch is returned as a QuarantineItem and its temporary file
removed. An ObjectFetchError (one object failing after the source's retries) is returned as `failed`, so the other
objects still land; any other error reading the source aborts the transfer (nothing in the cache changes).
Cancellation is checked before each object starts and while the results come in.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from kfexplorer.progress import CancelToken, ProgressCallback, ProgressEvent
from kfexplorer.store.records import QuarantineItem
from kfexplorer.sync.plan import PlannedObject
from kfexplorer.sync.source import ObjectFetchError, Source

DEFAULT_CONCURRENCY = 8
HASH_CHUNK_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class FetchResult:
    """A fetched object: its verified temporary file, or why it was quarantined (staged_path None)."""

    planned: PlannedObject
    staged_path: Path | None
    sha256: str | None
    problem: QuarantineItem | None
    failed: str | None = None  # why the object did not land (it is left out of this sync and planned again)
    resumed: bool = False  # found verified in DIR/partial/ from an earlier, interrupted sync


def verified_name(planned: PlannedObject) -> str:
    """The name a verified download of `planned` has in DIR/partial/: stable across runs for the same object."""
    info = planned.info
    identity = f"{info.key}\0{info.etag}\0{info.size}\0{planned.expected_sha256 or ''}".encode()
    return f"{hashlib.sha256(identity).hexdigest()[:32]}-{info.key.rsplit('/', 1)[-1]}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as reader:
        while chunk := reader.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


class _ByteCounter:
    def __init__(self, total: int, progress: ProgressCallback | None) -> None:
        self._lock = threading.Lock()
        self._done = 0
        self._total = total
        self._progress = progress

    def add(self, count: int) -> None:
        if self._progress is None:
            return
        with self._lock:
            self._done += count
            done = self._done
        self._progress(ProgressEvent("download", done, self._total))


def _fetch_one(
    source: Source, planned: PlannedObject, partial_dir: Path, counter: _ByteCounter, cancel: CancelToken | None
) -> FetchResult:
    if cancel is not None:
        cancel.raise_if_cancelled()
    key = planned.info.key
    final = partial_dir / verified_name(planned)
    if final.is_file() and not final.is_symlink() and final.stat().st_size == planned.info.size:
        counter.add(planned.info.size)
        return FetchResult(planned, final, planned.expected_sha256, None, resumed=True)
    # keep the object's file name: ingesters read the format from it (…ndjson, …json, …dcm)
    dest = partial_dir / f"tmp-{uuid.uuid4().hex}-{key.rsplit('/', 1)[-1]}"
    try:
        try:
            streamed_sha = source.fetch(key, dest, counter.add)
        except ObjectFetchError as error:
            dest.unlink(missing_ok=True)
            return FetchResult(planned, None, None, None, failed=str(error))
        size = dest.stat().st_size
        problem: str | None = None
        sha: str | None = None
        if size != planned.info.size:
            problem = f"size mismatch: listed {planned.info.size} bytes, received {size}"
        elif planned.expected_size is not None and size != planned.expected_size:
            problem = f"size mismatch: release.json says {planned.expected_size} bytes, received {size}"
        elif planned.expected_sha256 is not None:
            sha = streamed_sha or file_sha256(dest)
            if sha != planned.expected_sha256:
                problem = f"sha256 mismatch: release.json says {planned.expected_sha256}, received {sha}"
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    if problem is not None:
        dest.unlink(missing_ok=True)
        return FetchResult(planned, None, None, QuarantineItem(key, problem))
    os.replace(dest, final)
    return FetchResult(planned, final, sha, None)


def fetch_objects(
    source: Source,
    objects: Sequence[PlannedObject],
    partial_dir: Path,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[FetchResult]:
    """Fetch and verify `objects` with `concurrency` threads; results in the order of `objects`.

    On cancellation or a source error, waits for running fetches, removes every temporary file and raises.
    """
    counter = _ByteCounter(sum(p.info.size for p in objects), progress)
    if progress is not None:
        progress(ProgressEvent("download", 0, sum(p.info.size for p in objects)))
    if not objects:
        return []
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="kfexplorer-fetch") as pool:
        futures: list[Future[FetchResult]] = [
            pool.submit(_fetch_one, source, planned, partial_dir, counter, cancel) for planned in objects
        ]
        pending: set[Future[FetchResult]] = set(futures)
        failure: BaseException | None = None
        while pending and failure is None and not (cancel is not None and cancel.cancelled):
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
            failure = next((f.exception() for f in done if f.exception() is not None), None)
        if failure is not None or (cancel is not None and cancel.cancelled):
            for future in futures:
                future.cancel()
            wait(futures)
            for future in futures:
                if not future.cancelled() and future.exception() is None:
                    staged = future.result().staged_path
                    if staged is not None:
                        staged.unlink(missing_ok=True)
            if failure is not None:
                raise failure
            assert cancel is not None
            cancel.raise_if_cancelled()
    return [future.result() for future in futures]
