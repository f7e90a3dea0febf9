"""Write a query's rows to a file with DuckDB `COPY` (streaming), with progress and cancel, atomically.

The rows go to a temporary name in the target folder (`.<name>.<random>.partial`) and are renamed onto the target
only when the COPY succeeded: a cancelled or failed export leaves no file under the target name (and removes its
temporary file). Cancel interrupts the running DuckDB query. Progress is DuckDB's own query progress.
"""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from kfexplorer.progress import Cancelled, CancelToken, ProgressCallback, ProgressEvent, no_progress
from kfexplorer.query.model import Value

FILE_FORMATS: tuple[str, ...] = ("csv", "tsv", "parquet")

# COPY options per format (code constants).
_COPY_OPTIONS: dict[str, str] = {
    "csv": "FORMAT csv, HEADER true, DELIMITER ','",
    "tsv": "FORMAT csv, HEADER true, DELIMITER '\t'",
    "parquet": "FORMAT parquet, COMPRESSION zstd",
}
PROGRESS_STEPS = 100  # percent
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class CopyResult:
    path: Path
    rows: int
    bytes: int


def format_for(path: Path, requested: str | None) -> str:
    """The format asked for, else the one the file name says (.tsv, .parquet), else CSV."""
    if requested:
        if requested not in FILE_FORMATS:
            raise ValueError(f"unknown format {requested!r} (choose one of: {', '.join(FILE_FORMATS)})")
        return requested
    suffix = path.suffix.lower().lstrip(".")
    return {"tsv": "tsv", "tab": "tsv", "parquet": "parquet", "pq": "parquet"}.get(suffix, "csv")


def temporary_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.partial")


def _watch(cursor: duckdb.DuckDBPyConnection, done: threading.Event, cancel: CancelToken,
           progress: ProgressCallback, phase: str, label: str) -> None:
    """Until `done`: interrupt the cursor once cancel is set; otherwise report its query progress."""
    last = -1
    while not done.wait(POLL_SECONDS):
        if cancel.cancelled:
            cursor.interrupt()
            return
        try:
            percent = cursor.query_progress()
        except duckdb.Error:
            continue
        if percent >= 0:
            step = int(min(100.0, percent) * PROGRESS_STEPS / 100)
            if step != last:
                last = step
                progress(ProgressEvent(phase, step, PROGRESS_STEPS, label))


def copy_to_file(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: tuple[Value, ...],
    target: Path,
    file_format: str,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    phase: str = "export",
) -> CopyResult:
    """COPY the rows of `sql` into `target` (through a temporary name). Raises Cancelled when cancelled."""
    progress = progress or no_progress
    cancel = cancel or CancelToken()
    if file_format not in _COPY_OPTIONS:
        raise ValueError(f"unknown format {file_format!r}")
    target = Path(target)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"the folder {target.parent} does not exist")
    cancel.raise_if_cancelled()
    temporary = temporary_path(target)
    cursor = con.cursor()  # our own connection: its settings and its interrupt touch no one else's query
    done = threading.Event()
    try:
        # SESSION: these settings stay on this cursor (a plain SET of some changes the whole database instance).
        cursor.execute("SET SESSION enable_progress_bar_print = false")
        cursor.execute("SET SESSION enable_progress_bar = true")
        # Unordered rows may be written as they come (an ORDER BY is still kept): bounded memory, parallel writes.
        cursor.execute("SET SESSION preserve_insertion_order = false")
        watcher = threading.Thread(target=_watch, args=(cursor, done, cancel, progress, phase, target.name), daemon=True,
                                   name="kf-export-watch")
        watcher.start()
        try:
            rows = cursor.execute(f"COPY ({sql}) TO ? ({_COPY_OPTIONS[file_format]})",
                                  [*params, str(temporary)]).fetchall()
        except duckdb.Error as error:
            if cancel.cancelled:
                raise Cancelled("export cancelled") from error
            raise
        finally:
            done.set()
            watcher.join()
        cancel.raise_if_cancelled()
        os.replace(temporary, target)
    finally:
        cursor.close()
        temporary.unlink(missing_ok=True)
    progress(ProgressEvent(phase, PROGRESS_STEPS, PROGRESS_STEPS, target.name))
    count = int(rows[0][0]) if rows and rows[0] else 0
    return CopyResult(target, count, target.stat().st_size)
