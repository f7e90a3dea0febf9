"""The open cache (workspace): release info, table counts and paged participant queries, Qt-free.

The workspace owns one read-only DuckDB connection; every thread that queries gets its own cursor
(`con.cursor()`), as DuckDB requires. Close it before anything opens the same cache read-write (a sync).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from kfexplorer.query.compiler import compile_cohort
from kfexplorer.query.model import Cohort
from kfexplorer.store.cache import CacheBusyError, CacheMissingError, connect, database_path
from kfexplorer.store.preaggregates import preaggregates_ready
from kfexplorer.store.status import RELEASE_DATA_TABLES

# Preferred order of the participant columns; columns the cache has beyond these follow in table order.
PARTICIPANT_COLUMN_ORDER: tuple[str, ...] = (
    "participant_id",
    "study_id",
    "sex",
    "race",
    "ethnicity",
    "is_proband",
    "affected_status",
    "family_id",
    "family_type",
    "vital_status",
    "age_at_last_follow_up_days",
    "fhir_id",
)

# Tables whose row counts the window shows: the release-data tables of the status, plus the quarantine.
COUNTED_TABLES: tuple[str, ...] = (*RELEASE_DATA_TABLES, "quarantine")

PAGE_SIZE = 256


class WorkspaceError(Exception):
    """The cache folder cannot be opened as a workspace."""


class WorkspaceMissingError(WorkspaceError):
    """There is no cache database in the folder (nothing synced yet)."""


class WorkspaceBusyError(WorkspaceError):
    """Another process holds the cache read-write (a sync is running)."""


class WorkspaceClosedError(WorkspaceError):
    """The workspace was closed (for example for a sync) while a query wanted it."""


@dataclass(frozen=True)
class ReleaseInfo:
    release_id: str
    title: str
    schema_version: int | None


@dataclass(frozen=True)
class ParticipantPage:
    """One page of participants in the requested order, with how long the query took."""

    table: pa.Table
    offset: int
    sort_column: str
    descending: bool
    elapsed_ms: float

    @property
    def num_rows(self) -> int:
        return int(self.table.num_rows)


@dataclass(frozen=True)
class CacheFacts:
    """Facts about the cache folder for the status bar."""

    size_bytes: int
    last_sync: dt.datetime | None


def has_cache(cache_dir: Path | None) -> bool:
    return cache_dir is not None and database_path(Path(cache_dir)).is_file()


def _connect_read_only(cache_dir: Path) -> duckdb.DuckDBPyConnection:
    """Open the cache read-only, translating the store's errors into the workspace's."""
    try:
        return connect(cache_dir, read_only=True)
    except CacheMissingError as exc:
        raise WorkspaceMissingError(str(exc)) from exc
    except CacheBusyError as exc:
        raise WorkspaceBusyError(str(exc)) from exc


CLOSE_WAIT_SECONDS = 0.5
CLOSE_GIVE_UP_SECONDS = 60.0


def _close_all(handles: list[duckdb.DuckDBPyConnection]) -> list[duckdb.DuckDBPyConnection]:
    """Close what can be closed (cursors before their connection); return the ones still busy."""
    busy = []
    for handle in handles:
        try:
            handle.close()
        except duckdb.Error:
            busy.append(handle)
    return busy


def _close_eventually(handles: list[duckdb.DuckDBPyConnection]) -> None:
    deadline = time.monotonic() + CLOSE_GIVE_UP_SECONDS
    while handles and time.monotonic() < deadline:
        time.sleep(0.05)
        for handle in handles:
            try:
                handle.interrupt()
            except duckdb.Error:
                pass
        handles = _close_all(handles)


class Workspace:
    """An open cache folder. Thread-safe: each calling thread queries through its own cursor."""

    def __init__(self, cache_dir: Path, connection: duckdb.DuckDBPyConnection) -> None:
        self.cache_dir = Path(cache_dir)
        self._con: duckdb.DuckDBPyConnection | None = connection
        self._lock = threading.Lock()
        self._cursors: dict[int, duckdb.DuckDBPyConnection] = {}
        self._participant_columns: list[str] | None = None

    @classmethod
    def open(cls, cache_dir: Path) -> Workspace:
        return cls(Path(cache_dir), _connect_read_only(Path(cache_dir)))

    # -- connection handling ------------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._con is not None

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """The calling thread's own cursor (created on first use)."""
        ident = threading.get_ident()
        with self._lock:
            if self._con is None:
                raise WorkspaceClosedError("the workspace is closed")
            cur = self._cursors.get(ident)
            if cur is None:
                cur = self._con.cursor()
                self._cursors[ident] = cur
            return cur

    def interrupt(self) -> None:
        """Interrupt every running query of this workspace (used when cancelling)."""
        with self._lock:
            for cur in self._cursors.values():
                try:
                    cur.interrupt()
                except duckdb.Error:
                    pass

    def close(self, wait_seconds: float = CLOSE_WAIT_SECONDS) -> bool:
        """Stop every running query, then close all cursors and the connection; later queries raise
        WorkspaceClosedError. A query still winding down after its interrupt keeps the connection busy (DuckDB
        refuses to close it then): this waits up to `wait_seconds`, and past that a background thread finishes
        the close, so the caller (often the UI thread) never blocks for long. True when closed on return."""
        with self._lock:
            cursors, self._cursors = list(self._cursors.values()), {}
            con, self._con = self._con, None
        for cur in cursors:
            try:
                cur.interrupt()
            except duckdb.Error:
                pass
        handles: list[duckdb.DuckDBPyConnection] = [*cursors, *([con] if con is not None else [])]
        deadline = time.monotonic() + wait_seconds
        handles = _close_all(handles)
        while handles and time.monotonic() < deadline:
            time.sleep(0.02)
            handles = _close_all(handles)
        if handles:
            threading.Thread(target=_close_eventually, args=(handles,), name="kf-workspace-close",
                             daemon=True).start()
        return not handles

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- catalogue ----------------------------------------------------------------------------------------------
    def table_names(self) -> set[str]:
        rows = self.cursor().execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
        return {str(row[0]) for row in rows}

    def table_columns(self, table: str) -> list[str]:
        rows = self.cursor().execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ? "
            "ORDER BY ordinal_position",
            [table],
        ).fetchall()
        return [str(row[0]) for row in rows]

    def release_info(self) -> ReleaseInfo:
        if "release_meta" not in self.table_names():
            return ReleaseInfo(release_id="", title="", schema_version=None)
        columns = set(self.table_columns("release_meta"))
        wanted = [c for c in ("release_id", "title", "schema_version") if c in columns]
        if not wanted:
            return ReleaseInfo(release_id="", title="", schema_version=None)
        select = ", ".join(f'"{c}"' for c in wanted)  # identifiers from the constant list above
        row = self.cursor().execute(f"SELECT {select} FROM release_meta LIMIT 1").fetchall()
        values: dict[str, Any] = dict(zip(wanted, row[0], strict=True)) if row else {}
        version = values.get("schema_version")
        return ReleaseInfo(
            release_id=str(values.get("release_id") or ""),
            title=str(values.get("title") or ""),
            schema_version=int(version) if version is not None else None,
        )

    def table_counts(self) -> dict[str, int]:
        """Row counts of the known tables that exist in the cache."""
        present = self.table_names()
        counts: dict[str, int] = {}
        cur = self.cursor()
        for table in COUNTED_TABLES:
            if table in present:
                counts[table] = int(cur.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0])
        return counts

    def cache_facts(self) -> CacheFacts:
        """Size on disk of the cache folder and the time of the last sync (catalog, else database mtime)."""
        size = 0
        for root, _dirs, files in os.walk(self.cache_dir):
            for name in files:
                try:
                    size += (Path(root) / name).stat().st_size
                except OSError:
                    continue
        last_sync: dt.datetime | None = None
        try:
            if "catalog" in self.table_names() and "synced_at" in self.table_columns("catalog"):
                value = self.cursor().execute("SELECT max(synced_at) FROM catalog").fetchall()[0][0]
                if isinstance(value, dt.datetime):
                    last_sync = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        except duckdb.Error:
            last_sync = None
        if last_sync is None:
            db = database_path(self.cache_dir)
            if db.is_file():
                last_sync = dt.datetime.fromtimestamp(db.stat().st_mtime, tz=dt.UTC)
        return CacheFacts(size_bytes=size, last_sync=last_sync)

    # -- participants -------------------------------------------------------------------------------------------
    def participant_columns(self) -> list[str]:
        """The participant columns to show: the preferred order first, then any others."""
        if self._participant_columns is None:
            if "participants" not in self.table_names():
                return []
            present = self.table_columns("participants")
            ordered = [c for c in PARTICIPANT_COLUMN_ORDER if c in present]
            ordered += [c for c in present if c not in ordered]
            self._participant_columns = ordered
        return list(self._participant_columns)

    def participant_count(self) -> int:
        if "participants" not in self.table_names():
            return 0
        return int(self.cursor().execute("SELECT count(*) FROM participants").fetchall()[0][0])

    def _order_by(self, sort_column: str, descending: bool) -> str:
        columns = self.participant_columns()
        if sort_column not in columns:  # the whitelist: only real columns of the table
            raise ValueError(f"cannot sort participants by unknown column {sort_column!r}")
        direction = "DESC" if descending else "ASC"
        tie_break = ', "participant_id" ASC' if "participant_id" in columns and sort_column != "participant_id" else ""
        return f'"{sort_column}" {direction} NULLS LAST{tie_break}'

    def participants_page(
        self,
        *,
        offset: int = 0,
        limit: int = PAGE_SIZE,
        sort_column: str = "participant_id",
        descending: bool = False,
        cohort: Cohort | None = None,
    ) -> ParticipantPage:
        """One page of participants ordered by `sort_column` (a column of the table), as an Arrow table;
        with `cohort`, only its participants (`WHERE participant_id IN (<compiled cohort>)`, values bound)."""
        if offset < 0 or limit <= 0:
            raise ValueError("offset must be >= 0 and limit > 0")
        columns = self.participant_columns()
        if not columns:
            return ParticipantPage(pa.table({}), offset, sort_column, descending, 0.0)
        select = ", ".join(f'"{c}"' for c in columns)
        order_by = self._order_by(sort_column, descending)
        where, params = "", []
        if cohort is not None:
            compiled = compile_cohort(cohort, preaggregated=preaggregates_ready(self.cursor()))
            where, params = f' WHERE "participant_id" IN ({compiled.sql})', list(compiled.params)
        started = time.perf_counter()
        table = (
            self.cursor()
            .sql(f"SELECT {select} FROM participants{where} ORDER BY {order_by} LIMIT ? OFFSET ?",
                 params=[*params, limit, offset])
            .to_arrow_table()
        )
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        return ParticipantPage(table, offset, sort_column, descending, elapsed_ms)

    def find_participant(self, text: str) -> dict[str, Any] | None:
        """The participant whose id (or FHIR id) equals `text`, else the first whose id starts with it."""
        columns = self.participant_columns()
        if not columns or not text.strip() or "participant_id" not in columns:
            return None
        needle = text.strip()
        select = ", ".join(f'"{c}"' for c in columns)
        id_match = '"participant_id" = ?' + (' OR "fhir_id" = ?' if "fhir_id" in columns else "")
        params: list[Any] = [needle] + ([needle] if "fhir_id" in columns else [])
        cur = self.cursor()
        rows = cur.execute(f"SELECT {select} FROM participants WHERE {id_match} LIMIT 1", params).fetchall()
        if not rows:
            rows = cur.execute(
                f'SELECT {select} FROM participants WHERE starts_with(upper("participant_id"), upper(?)) '
                'ORDER BY "participant_id" LIMIT 1',
                [needle],
            ).fetchall()
        if not rows:
            return None
        return dict(zip(columns, rows[0], strict=True))
