"""COPY to a file: cancel and failure leave nothing under the target name; memory stays flat while writing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import psutil
import pytest

from kfexplorer.export.copy_writer import copy_to_file
from kfexplorer.progress import Cancelled, CancelToken, ProgressEvent

SLOW_ROWS = "SELECT range AS i, repeat('x', 200) || range AS s FROM range(?)"


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_cancel_interrupts_duckdb_and_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "rows.csv"
    target.write_text("the previous export\n")
    cancel = CancelToken()
    events: list[ProgressEvent] = []

    def progress(event: ProgressEvent) -> None:
        events.append(event)
        if event.done > 0:
            cancel.cancel()  # cancel once DuckDB has reported progress: the COPY is running

    con = duckdb.connect()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        copy_to_file(con, SLOW_ROWS, (400_000_000,), target, "csv", progress=progress, cancel=cancel)
    assert time.monotonic() - started < 30  # interrupted, not run to the end (400 M rows)
    assert events and all(0 <= e.done < e.total for e in events)
    assert target.read_text() == "the previous export\n"
    assert leftovers(tmp_path) == ["rows.csv"]  # no temporary file left behind


def test_a_failing_query_leaves_no_file(tmp_path: Path) -> None:
    con = duckdb.connect()
    failing = "SELECT CASE WHEN range = 300000 THEN error('boom') ELSE range END AS i FROM range(?)"
    with pytest.raises(duckdb.Error, match="boom"):
        copy_to_file(con, failing, (1_000_000,), tmp_path / "rows.parquet", "parquet")
    assert leftovers(tmp_path) == []


def test_cancelled_before_start_writes_nothing(tmp_path: Path) -> None:
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        copy_to_file(duckdb.connect(), SLOW_ROWS, (10,), tmp_path / "rows.csv", "csv", cancel=cancel)
    assert leftovers(tmp_path) == []


def test_memory_stays_flat_while_writing_hundreds_of_megabytes(tmp_path: Path) -> None:
    process = psutil.Process()
    con = duckdb.connect()
    con.execute("SELECT 1").fetchall()
    baseline = process.memory_info().rss
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = copy_to_file(con, SLOW_ROWS, (1_500_000,), tmp_path / "rows.csv", "csv")
    finally:
        done.set()
        sampler.join()
    assert result.rows == 1_500_000 and result.bytes > 300_000_000
    growth = peak[0] - baseline
    assert growth < 100_000_000, f"RSS grew {growth / 1e6:.0f} MB while writing {result.bytes / 1e6:.0f} MB"


def test_statistics_prove_a_text_column_clean_only_when_it_is() -> None:
    from kfexplorer.export.spreadsheet_safety import clean_text_columns

    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT 'PT_' || range AS clean, CASE WHEN range = 250000 THEN '=1+1' "
                "ELSE 'x' || range END AS planted, CAST(range AS VARCHAR) AS digits FROM range(300000)")
    assert clean_text_columns(con, "t", ["clean", "planted", "digits"]) == {"clean", "digits"}
    con.execute("INSERT INTO t VALUES ('PT_z', 'x', '-5')")  # '-' is below the digits: no longer provable
    assert clean_text_columns(con, "t", ["clean", "planted", "digits"]) == {"clean"}
    assert clean_text_columns(con, "no_such_table", ["clean"]) == set()


def test_the_exports_settings_stay_on_its_own_cursor(tmp_path: Path) -> None:
    """The app shares one DuckDB instance between views: an export must not change their settings."""
    con = duckdb.connect()
    copy_to_file(con, SLOW_ROWS, (10,), tmp_path / "rows.csv", "csv")
    settings = con.execute("SELECT current_setting('preserve_insertion_order'), "
                           "current_setting('enable_progress_bar')").fetchall()[0]
    assert settings == (True, False)
