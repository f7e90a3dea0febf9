"""Sync a release into the local cache: list → plan → fetch and verify → ingest in one transaction → move files.

Steps of `sync_release`:
1. read release.json (release_id and schema_version required); a cache that holds another release_id refuses it;
2. list the source (on its own thread, from the start: for S3, folders and sub-folders in parallel) while the
   database is opened READ-ONLY and its catalog read; plan as the listing arrives (kfexplorer.sync.plan). With
   nothing to do, stop there: the database is never opened read-write (so a no-op sync also works while the app
   reads the cache). Otherwise reopen it read-write (the one writer; CacheBusyError otherwise), finish file moves
   a killed sync left (see below), plan again against the catalog as it is now, and empty DIR/partial/;
3. (the plan: objects to fetch, to delete, unchanged; a listing is always made, release.json alone is not trusted)
4. fetch the planned objects in parallel to DIR/partial/ and verify size and sha256 (kfexplorer.sync.transfer);
5. ONE DuckDB transaction: delete the rows of changed and deleted objects from every table with a `_source_id`
   column (quarantine included), ingest the new objects, reload ontologies and rebuild the clinical tables when
   their objects changed (or on the first sync), check that occurrences agree with FHIR, write catalog, quarantine,
   release_meta, and the list of pending file moves; COMMIT;
6. move the verified files kept as files (DICOM, notes, ontologies) from DIR/partial/ to DIR/files/<key>, delete the
   files of deleted objects, then clear the pending moves.

Crash safety. Until the COMMIT of step 5 nothing visible has changed: DIR/files/ is untouched, the database holds
the previous state (DuckDB's WAL makes the transaction atomic), and the next run empties DIR/partial/ and plans
again. After the COMMIT the table `pending_file_moves` records every file move and deletion still owed; a sync
killed during step 6 leaves DIR/files/ partly old until the next sync (of any kind) replays the moves at its step 2
(a staged file already moved is simply absent). As a last line, the plan re-fetches any file-kept object whose
file is missing or of the wrong size. So a SIGKILL anywhere leaves a readable previous (or new) state, and the
next run converges.

An ingest error DuckDB raises for one object (a damaged Parquet data page, an overflowing value) aborts DuckDB's
transaction; the engine then rolls back, quarantines that object and runs the transaction again without it.
Cancellation is checked between objects; a cancelled sync raises `kfexplorer.progress.Cancelled` after rolling
back, leaving the previous state.

Resume. A verified download is kept in DIR/partial/ under a name derived from its key, etag and size
(kfexplorer.sync.transfer.verified_name) until the commit; a sync killed before the commit leaves them there and
the next run reuses them (reported as `resumed`) instead of downloading them again. Anything else in DIR/partial/
(half-written files, verified files of objects no longer planned) is removed once the plan is made.

Partial failure. An object that cannot be fetched after the source's retries (ObjectFetchError) is left out of the
transaction: its previous rows and catalog entry stay, the report names it in `failed`, and the next sync plans it
again. Everything else lands.

Selection and free space. A SyncSelection prunes the plan (kfexplorer.sync.plan). Before downloading, the free space
of the cache's file system must hold the planned bytes not yet downloaded, times INGEST_SPACE_FACTOR for objects
that are loaded into the database (files kept as files need their size once); otherwise InsufficientSpaceError.

Releases side by side. `cache_dir` may be a release library (kfexplorer.sync.releases): ROOT/current names the
release in use, ROOT/releases/<name>/ holds one plain cache folder per release_id. A sync into a library syncs the
release into its own folder (the steps above, unchanged), so the current release stays readable, untouched, while
a new release_id syncs beside it; a killed sync of the new release leaves `current` as it was, and the rerun resumes
in the new folder. The switch is automatic: once a sync of a release completes (no object failed), its folder is
marked complete and ROOT/current is replaced atomically to name it, unless `switch=False` (then
`kfexplorer switch --cache ROOT RELEASE_ID` switches later). `remove_old=True` deletes the previously current
release after the switch (refused while another process has it open). `side_by_side=True` makes a new folder a
library, or converts a plain cache folder into one (its release becomes the library's current release). A plain
cache folder without `side_by_side` works as always: another release_id raises ReleaseMismatchError.

Test hook: the environment variable KFEXPLORER_TEST_CRASH_AT=download|ingest|catalog|during-commit|commit makes
the process SIGKILL itself after the fetch (every object verified, nothing ingested), after the objects were
ingested (inside the transaction), after the catalog and pending moves were written (just before COMMIT), from
another thread while COMMIT runs (the kill lands during or right after it), or right after the COMMIT.
"""

from __future__ import annotations

import errno
import json
import os
import queue
import shutil
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from kfexplorer.progress import CancelToken, ProgressCallback, ProgressEvent
from kfexplorer.store.cache import (
    CacheBusyError,
    UnsafePathError,
    connect,
    database_path,
    ensure_cache_layout,
    make_private_dir,
    partial_dir,
    safe_cache_path,
)
from kfexplorer.store.catalog import (
    CatalogEntry,
    add_quarantine,
    delete_catalog_entries,
    next_source_id,
    read_catalog,
    read_release_meta,
    read_warnings,
    replace_warnings,
    upsert_catalog_entry,
    write_release_meta,
)
from kfexplorer.store.preaggregates import preaggregates_ready, rebuild_preaggregates
from kfexplorer.store.records import QuarantineItem
from kfexplorer.store.schema import create_schema, existing_tables, schema_is_current, tables_with_source_id
from kfexplorer.sync.plan import FILE_KINDS, RELEASE_JSON_KEY, PlannedObject, SyncPlan, SyncSelection, make_plan
from kfexplorer.sync.releases import (
    convert_to_library,
    current_release_id,
    is_release_library,
    release_folder,
    remove_release,
    switch_release,
    write_entry,
)
from kfexplorer.sync.source import (
    AccessDeniedError,
    CredentialsError,
    MissingBucketError,
    MissingObjectError,
    ObjectFetchError,
    ObjectInfo,
    Source,
    SourceError,
    open_source,
)
from kfexplorer.sync.transfer import DEFAULT_CONCURRENCY, FetchResult, fetch_objects, verified_name
from kfexplorer.variants.ingest import ingest_parquet_object

CRASH_HOOK_ENV = "KFEXPLORER_TEST_CRASH_AT"
PARQUET_KINDS = ("occurrences", "variants", "consequences")
# ingest order: release metadata and ontologies first, then data, FHIR, then files
INGEST_ORDER = {"release": 0, "ontology": 1, "occurrences": 2, "variants": 3, "consequences": 4, "fhir": 5,
                "imaging": 6, "notes": 7}
ONTOLOGY_NAMES = {"ontologies/hp.obo": "hpo", "ontologies/mondo.obo": "mondo"}
IMAGING_BATCH = 500
AGREEMENT_FIELDS = ("study_id", "family_id", "is_proband", "affected_status")
# free space wanted per planned byte: a loaded object is staged, then written to DuckDB (and its WAL)
INGEST_SPACE_FACTOR = 3.0
FILE_SPACE_FACTOR = 1.05
SPACE_MARGIN_BYTES = 64 * 1024 * 1024


class SyncError(Exception):
    """A sync that cannot proceed, worded for the user in one line."""


class ReleaseMismatchError(SyncError):
    """The cache holds another release than the one being synced."""


class ReleaseNotFoundError(SyncError, SourceError):
    """The location has no release.json (a wrong prefix or folder)."""


class InsufficientSpaceError(SyncError):
    """The cache's file system has too little free space for the planned download and ingest."""


def free_bytes(path: Path) -> int:
    """Free bytes on the file system holding `path` (the nearest existing folder)."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def _size_text(count: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:,.0f} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}"
        count /= 1000
    return f"{count:,.1f} TB"


@dataclass
class ObjectTally:
    objects: int = 0
    bytes: int = 0

    def add(self, size: int) -> None:
        self.objects += 1
        self.bytes += size

    def to_json(self) -> dict[str, int]:
        return {"objects": self.objects, "bytes": self.bytes}


@dataclass
class SyncReport:
    """What a sync did; `to_json()` is the `kfexplorer sync --json` shape (CACHE.md) plus warnings, release_id."""

    release_id: str
    planned: ObjectTally = field(default_factory=ObjectTally)
    transferred: ObjectTally = field(default_factory=ObjectTally)
    skipped: ObjectTally = field(default_factory=ObjectTally)
    deleted: ObjectTally = field(default_factory=ObjectTally)
    resumed: ObjectTally = field(default_factory=ObjectTally)
    excluded: ObjectTally = field(default_factory=ObjectTally)
    planned_by_kind: dict[str, ObjectTally] = field(default_factory=dict)
    quarantined: list[QuarantineItem] = field(default_factory=list)
    failed: list[QuarantineItem] = field(default_factory=list)
    seconds: float = 0.0
    transfer_seconds: float = 0.0  # list, plan, download and verify: everything before the ingest
    ingest_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    release_folder: str = ""
    current_release: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "planned": self.planned.to_json(),
            "transferred": self.transferred.to_json(),
            "skipped": self.skipped.to_json(),
            "deleted": self.deleted.to_json(),
            "quarantined": [{"path": q.path, "reason": q.reason} for q in self.quarantined],
            "seconds": round(self.seconds, 3),
            "transfer_seconds": round(self.transfer_seconds, 3),
            "ingest_seconds": round(self.ingest_seconds, 3),
            "warnings": list(self.warnings),
            "release_id": self.release_id,
        }

    def details_json(self) -> dict[str, Any]:
        """What to_json (CACHE.md's shape) leaves out: resumed and excluded objects, the plan by kind, failures."""
        return {
            "resumed": self.resumed.to_json(),
            "excluded": self.excluded.to_json(),
            "planned_by_kind": {kind: tally.to_json() for kind, tally in sorted(self.planned_by_kind.items())},
            "failed": [{"path": f.path, "reason": f.reason} for f in self.failed],
            "release_folder": self.release_folder,
            "current_release": self.current_release,
        }


class _ObjectIngestFailed(Exception):
    """An ingest error that aborted the transaction, charged to these objects."""

    def __init__(self, keys: Sequence[str], reason: str) -> None:
        super().__init__(reason)
        self.keys = list(keys)
        self.reason = reason


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_HOOK_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _emit(progress: ProgressCallback | None, phase: str, done: int, total: int, message: str = "") -> None:
    if progress is not None:
        progress(ProgressEvent(phase, done, total, message))


def read_release_json(source: Source) -> dict[str, Any]:
    """Parse and check the release's release.json (release_id and schema_version are required)."""
    try:
        raw = source.read_bytes(RELEASE_JSON_KEY)
    except MissingObjectError as error:
        raise ReleaseNotFoundError(f"{source.uri} is not a release: it has no release.json (wrong prefix?)") \
            from error
    except (CredentialsError, AccessDeniedError, MissingBucketError, ObjectFetchError):
        raise
    except (SourceError, OSError) as error:
        raise ReleaseNotFoundError(f"{source.uri} is not a release: release.json is missing or unreadable ({error})") \
            from error
    try:
        release = json.loads(raw)
    except ValueError as error:
        raise SyncError(f"release.json of {source.uri} is not valid JSON: {error}") from error
    if not isinstance(release, dict):
        raise SyncError(f"release.json of {source.uri} is not a JSON object")
    missing = [name for name in ("release_id", "schema_version") if release.get(name) in (None, "")]
    if missing:
        raise SyncError(f"release.json of {source.uri} lacks the required {', '.join(missing)}")
    if not isinstance(release["schema_version"], int) or isinstance(release["schema_version"], bool):
        raise SyncError(f"release.json of {source.uri}: schema_version must be an integer")
    return release


def _check_release_id(cached: dict[str, Any] | str | None, release: dict[str, Any], cache_dir: Path) -> None:
    cached_id = cached.get("release_id") if isinstance(cached, dict) else cached
    if cached is not None and str(cached_id) != str(release["release_id"]):
        raise ReleaseMismatchError(
            f"the cache {cache_dir} holds release {cached_id}, not {release['release_id']}; "
            "sync this release into a new cache folder (--cache), or beside it (--side-by-side)"
        )


class _EitherToken(CancelToken):
    """Cancelled when the caller's token or the engine's own is."""

    def __init__(self, *tokens: CancelToken | None) -> None:
        super().__init__()
        self._tokens = [t for t in tokens if t is not None]

    @property
    def cancelled(self) -> bool:
        return any(t.cancelled for t in self._tokens)

    def raise_if_cancelled(self) -> None:
        for token in self._tokens:
            token.raise_if_cancelled()


def _list_source(source: Source, progress: ProgressCallback | None, cancel: CancelToken | None) -> list[ObjectInfo]:
    listing: list[ObjectInfo] = []
    for info in source.list_objects():
        listing.append(info)
        if len(listing) % 1000 == 0:
            _emit(progress, "list", len(listing), 0)
            if cancel is not None:
                cancel.raise_if_cancelled()
    _emit(progress, "list", len(listing), len(listing))
    return listing


class _StreamedListing:
    """The source's listing, run on its own thread from the start of a sync (it is the network-bound, longest step
    of a no-op sync). Iterating it yields the objects as they arrive, so the plan is made while the last pages are
    still being listed; `complete()` waits for the rest. Errors of the listing are raised to the iterating thread."""

    BATCH = 256

    def __init__(self, source: Source, progress: ProgressCallback | None, cancel: CancelToken | None) -> None:
        self.items: list[ObjectInfo] = []
        self._queue: queue.Queue[list[ObjectInfo] | BaseException | None] = queue.Queue()
        self._stop = CancelToken()
        self._finished = False
        threading.Thread(target=self._run, args=(source, progress, _EitherToken(cancel, self._stop)),
                         name="kfexplorer-list", daemon=True).start()

    def _run(self, source: Source, progress: ProgressCallback | None, cancel: CancelToken) -> None:
        try:
            batch: list[ObjectInfo] = []
            count = 0
            for info in source.list_objects():
                batch.append(info)
                count += 1
                if len(batch) >= self.BATCH:
                    self._queue.put(batch)
                    batch = []
                if count % 1000 == 0:
                    _emit(progress, "list", count, 0)
                    cancel.raise_if_cancelled()
            self._queue.put(batch)
            _emit(progress, "list", count, count)
            self._queue.put(None)
        except BaseException as error:  # handed to the iterating thread
            self._queue.put(error)

    def __iter__(self) -> Iterator[ObjectInfo]:
        if self._finished:
            yield from self.items
            return
        while True:
            item = self._queue.get()
            if item is None:
                self._finished = True
                return
            if isinstance(item, BaseException):
                self._stop.cancel()
                raise item
            self.items.extend(item)
            yield from item

    def complete(self) -> list[ObjectInfo]:
        for _info in self:
            pass
        return self.items

    def stop(self) -> None:
        self._stop.cancel()


def _cached_release_id(con: duckdb.DuckDBPyConnection) -> str | None:
    """The release_id the cache holds (None before a first sync), without parsing the stored release.json."""
    if "release_meta" not in existing_tables(con):
        return None
    rows = con.execute("SELECT release_id FROM release_meta LIMIT 1").fetchall()
    return str(rows[0][0]) if rows else None


def _has_pending_file_moves(con: duckdb.DuckDBPyConnection) -> bool:
    if "pending_file_moves" not in existing_tables(con):
        return False
    return bool(con.execute("SELECT count(*) FROM pending_file_moves").fetchall()[0][0])


# ---- file moves owed after a commit ----------------------------------------------------------------------------

def apply_pending_file_moves(con: duckdb.DuckDBPyConnection, cache_dir: Path) -> None:
    """Carry out the file moves and deletions a committed sync recorded, then forget them (idempotent)."""
    if "pending_file_moves" not in existing_tables(con):
        return
    rows = con.execute("SELECT key, staged_path FROM pending_file_moves ORDER BY rowid").fetchall()
    if not rows:
        return
    for key, staged in rows:
        try:
            dest = safe_cache_path(cache_dir, key)
        except UnsafePathError:
            continue
        if staged is None:
            dest.unlink(missing_ok=True)
            continue
        staged_path = Path(cache_dir) / staged
        if staged_path.is_file():
            make_private_dir(dest.parent)
            os.replace(staged_path, dest)
    con.execute("DELETE FROM pending_file_moves")


def _empty_partial_dir(cache_dir: Path, keep: frozenset[str] = frozenset()) -> None:
    """Remove everything in DIR/partial/ but the names in `keep` (verified downloads still planned)."""
    folder = partial_dir(cache_dir)
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.name in keep and entry.is_file() and not entry.is_symlink():
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


# ---- the ingest transaction --------------------------------------------------------------------------------------

@dataclass
class _IngestOutcome:
    quarantined: list[QuarantineItem]
    warnings: list[str]


@dataclass(frozen=True)
class _IngestInput:
    """What one ingest works on: the cache's connection and folder, the release document, the plan and the fetched
    objects (in any order); `first_sync` when the cache held no release yet; where it reports and is cancelled."""

    con: duckdb.DuckDBPyConnection
    cache_dir: Path
    release: dict[str, Any]
    plan: SyncPlan
    fetched: list[FetchResult]
    first_sync: bool
    progress: ProgressCallback | None
    cancel: CancelToken | None


class _IngestTransaction:
    """One attempt at the ingest transaction; `forced` holds objects already known to fail (quarantined)."""

    def __init__(self, ingest: _IngestInput, forced: dict[str, str], imaging_one_by_one: bool) -> None:
        self.ingest = ingest
        # the fetched objects in ingest order
        self.fetched = sorted(ingest.fetched, key=lambda r: (INGEST_ORDER.get(r.planned.kind, 99), r.planned.info.key))
        self.forced = forced
        self.imaging_one_by_one = imaging_one_by_one
        self.quarantined: list[QuarantineItem] = []
        self.moves: list[tuple[str, str | None]] = []
        self.next_id = 0
        self.done = 0

    def _check_cancel(self) -> None:
        if self.ingest.cancel is not None:
            self.ingest.cancel.raise_if_cancelled()

    def _source_id(self, planned: PlannedObject) -> int:
        if planned.existing is not None:
            return planned.existing.source_id
        self.next_id += 1
        return self.next_id - 1

    def _catalog(self, planned: PlannedObject, source_id: int, sha256: str | None, quarantined: bool,
                 verified: bool = True) -> None:
        if sha256 is None and verified:
            sha256 = planned.expected_sha256
        entry = CatalogEntry(source_id, planned.info.key, planned.kind, planned.info.size, planned.info.etag,
                             sha256, quarantined)
        upsert_catalog_entry(self.ingest.con, entry, exists=planned.existing is not None)

    def _quarantine(self, items: Sequence[QuarantineItem], kind: str, source_id: int | None) -> None:
        add_quarantine(self.ingest.con, items, kind, source_id)
        self.quarantined.extend(items)

    def _ingested(self) -> None:
        self.done += 1
        _emit(self.ingest.progress, "ingest", self.done, len(self.fetched) + len(self.ingest.plan.rejected))

    def run(self) -> _IngestOutcome:
        con = self.ingest.con
        con.execute("BEGIN TRANSACTION")
        create_schema(con)
        self.next_id = next_source_id(con)
        # 1. forget the rows of every changed or deleted object
        old_ids = [p.existing.source_id for p in [*self.ingest.plan.fetch, *self.ingest.plan.rejected]
                   if p.existing is not None]
        old_ids += [entry.source_id for entry in self.ingest.plan.delete]
        if old_ids:
            for table in tables_with_source_id(con):
                # table names come from information_schema of our own database
                con.execute(f'DELETE FROM "{table}" WHERE list_contains(?, _source_id)', [old_ids])
        delete_catalog_entries(con, [entry.source_id for entry in self.ingest.plan.delete])
        for entry in self.ingest.plan.delete:
            if entry.kind in FILE_KINDS:
                self.moves.append((entry.key, None))
        # 2. rejected keys: catalogued and quarantined, never fetched
        for planned in self.ingest.plan.rejected:
            source_id = self._source_id(planned)
            self._catalog(planned, source_id, None, quarantined=True)
            self._quarantine([QuarantineItem(planned.info.key, planned.reason)], planned.kind, source_id)
            self._ingested()
        # 3. fetched objects
        imaging: list[tuple[FetchResult, int]] = []
        for result in self.fetched:
            self._check_cancel()
            planned = result.planned
            source_id = self._source_id(planned)
            key = planned.info.key
            problem = result.problem
            if problem is None and key in self.forced:
                problem = QuarantineItem(key, self.forced[key])
            if problem is not None or result.staged_path is None:
                # bytes that failed verification (size, sha256) were never verified: no sha256 in the catalog, so
                # the next sync fetches the object again (a corrupted transfer heals; a bad source stays quarantined)
                self._catalog(planned, source_id, None, quarantined=True, verified=result.problem is None)
                self._quarantine([problem or QuarantineItem(key, "not fetched")], planned.kind, source_id)
                if planned.existing is not None and planned.kind in FILE_KINDS:
                    self.moves.append((key, None))
                self._ingested()
                continue
            if planned.kind == "imaging":
                imaging.append((result, source_id))
                continue
            items = self._ingest_object(planned, source_id, result.staged_path)
            whole_object_failed = any(item.path == key for item in items) and planned.kind in (*PARQUET_KINDS,)
            self._quarantine(items, planned.kind, source_id)
            self._catalog(planned, source_id, result.sha256, quarantined=whole_object_failed)
            if planned.kind in FILE_KINDS:
                self.moves.append((key, self._relative_to_cache(result.staged_path)))
            self._ingested()
        self._ingest_imaging(imaging)
        _crash_point("ingest")
        # 4. derived tables
        warnings: list[str] = []
        changed_kinds = {p.kind for p in self.ingest.plan.fetch} | {e.kind for e in self.ingest.plan.delete}
        if self.ingest.first_sync or "ontology" in changed_kinds:
            self._load_ontologies()
        if self.ingest.first_sync or "fhir" in changed_kinds:
            fhir_warnings = self._rebuild_clinical()
            replace_warnings(con, "fhir", fhir_warnings)
        # --- phenotypes derived from the notes, with evidence (kfexplorer.nlp.note_phenotypes)
        if (self.ingest.first_sync or {"fhir", "notes"} & changed_kinds) and "notes" in existing_tables(con):
            from kfexplorer.nlp.note_phenotypes import derive_note_phenotypes, read_note

            staged = {r.planned.info.key: r.staged_path for r in self.fetched
                      if r.planned.kind == "notes" and r.staged_path is not None}
            derive_note_phenotypes(con, lambda path: read_note(self.ingest.cache_dir, path, staged))
        # --- (end of the notes-derived phenotypes)
        replace_warnings(con, "agreement", occurrence_fhir_disagreements(con))
        variant_changes = (changed_kinds | {p.kind for p in self.ingest.plan.rejected}) & set(PARQUET_KINDS)
        if self.ingest.first_sync or variant_changes or not preaggregates_ready(con):
            rebuild_preaggregates(con)  # kfexplorer.query.preaggregates: consistent with the variant tables
        warnings = read_warnings(con)
        if any(p.kind == "release" for p in self.ingest.plan.fetch) or self.ingest.first_sync:
            write_release_meta(con, self.ingest.release)
        if self.moves:
            con.executemany("INSERT INTO pending_file_moves (key, staged_path) VALUES (?, ?)",
                            [[key, staged] for key, staged in self.moves])
        self._check_cancel()
        _crash_point("catalog")
        if os.environ.get(CRASH_HOOK_ENV) == "during-commit":
            threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGKILL), daemon=True).start()
        con.execute("COMMIT")
        return _IngestOutcome(self.quarantined, warnings)

    def _relative_to_cache(self, path: Path) -> str:
        return path.relative_to(self.ingest.cache_dir).as_posix()

    def _ingest_object(self, planned: PlannedObject, source_id: int, path: Path) -> list[QuarantineItem]:
        key = planned.info.key
        try:
            if planned.kind in PARQUET_KINDS:
                return ingest_parquet_object(self.ingest.con, planned.kind, source_id, key, path)
            if planned.kind == "fhir":
                from kfexplorer.fhir.ingest import load_fhir_object

                return load_fhir_object(self.ingest.con, source_id, key, path)
        except (duckdb.Error, ValueError, TypeError, KeyError, OSError) as error:
            raise _ObjectIngestFailed([key], f"ingest failed: {error}") from error
        return []  # release, ontology, notes: nothing to load per object

    def _ingest_imaging(self, imaging: list[tuple[FetchResult, int]]) -> None:
        if not imaging:
            return
        from kfexplorer.imaging.header_index import index_dicom_files

        batch_size = 1 if self.imaging_one_by_one else IMAGING_BATCH
        for start in range(0, len(imaging), batch_size):
            self._check_cancel()
            batch = imaging[start:start + batch_size]
            items = [(source_id, r.planned.info.key, r.staged_path) for r, source_id in batch if r.staged_path]
            try:
                problems = index_dicom_files(self.ingest.con, items)
            except Exception as error:  # charged to the batch; retried one by one
                raise _ObjectIngestFailed([r.planned.info.key for r, _ in batch], f"DICOM index failed: {error}") from error
            bad_paths = {item.path for item in problems}
            ids = {r.planned.info.key: source_id for r, source_id in batch}
            for item in problems:
                self._quarantine([item], "imaging", ids.get(item.path))
            for result, source_id in batch:
                key = result.planned.info.key
                bad = key in bad_paths
                self._catalog(result.planned, source_id, result.sha256, quarantined=bad)
                if bad:
                    if result.planned.existing is not None:
                        self.moves.append((key, None))
                elif result.staged_path is not None:
                    self.moves.append((key, self._relative_to_cache(result.staged_path)))
                self._ingested()

    def _ontology_paths(self) -> dict[str, Path]:
        paths: dict[str, Path] = {}
        staged = {r.planned.info.key: r.staged_path for r in self.fetched
                  if r.planned.kind == "ontology" and r.staged_path is not None and r.planned.info.key not in self.forced}
        for entry in self.ingest.plan.unchanged:
            if entry.kind == "ontology" and not entry.quarantined and entry.key in ONTOLOGY_NAMES:
                paths[ONTOLOGY_NAMES[entry.key]] = safe_cache_path(self.ingest.cache_dir, entry.key)
        for key, path in staged.items():
            if key in ONTOLOGY_NAMES and path is not None:
                paths[ONTOLOGY_NAMES[key]] = path
        return paths

    def _load_ontologies(self) -> None:
        try:
            from kfexplorer.ontology.cache_tables import load_ontologies
        except ModuleNotFoundError as error:
            if error.name != "kfexplorer.ontology.cache_tables":
                raise
            return  # this build has no ontology loader: the ontology tables stay as they are
        paths = self._ontology_paths()
        try:
            load_ontologies(self.ingest.con, paths)
        except (duckdb.Error, ValueError, OSError) as error:
            changed = [r.planned.info.key for r in self.fetched if r.planned.kind == "ontology"]
            if not changed:
                raise
            raise _ObjectIngestFailed(changed, f"ontology load failed: {error}") from error

    def _rebuild_clinical(self) -> list[str]:
        try:
            from kfexplorer.fhir.flatten import rebuild_clinical_tables
        except ModuleNotFoundError as error:
            if error.name != "kfexplorer.fhir.flatten":
                raise
            return []  # this build has no FHIR flattening: the clinical tables stay as they are
        return list(rebuild_clinical_tables(self.ingest.con))


def _columns_of(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main'",
        [table],
    ).fetchall()
    return {row[0] for row in rows}


def occurrence_fhir_disagreements(con: duckdb.DuckDBPyConnection) -> list[str]:
    """One warning per field where occurrences disagree with participants (from FHIR): how many participants."""
    if not {"occurrences", "participants"} <= existing_tables(con):
        return []
    fields = [f for f in AGREEMENT_FIELDS if f in _columns_of(con, "participants") and f in _columns_of(con, "occurrences")]
    if not fields or "participant_id" not in _columns_of(con, "participants"):
        return []
    # field names come from AGREEMENT_FIELDS (code constants)
    counts = ", ".join(
        f"count(DISTINCT CASE WHEN o.{f} IS DISTINCT FROM p.{f} THEN o.participant_id END)" for f in fields
    )
    row = con.execute(
        f"SELECT {counts} FROM (SELECT DISTINCT participant_id, {', '.join(fields)} FROM occurrences) o "
        "JOIN participants p ON p.participant_id = o.participant_id"
    ).fetchall()[0]
    return [
        f"occurrences disagree with FHIR on {f} for {n} participant{'s' if n != 1 else ''}"
        for f, n in zip(fields, row, strict=True)
        if n
    ]


# ---- the public entry point --------------------------------------------------------------------------------------

def sync_release(
    source: str | Source,
    cache_dir: Path,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    dry_run: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    selection: SyncSelection | None = None,
    profile: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    check_space: bool = True,
    side_by_side: bool = False,
    switch: bool = True,
    remove_old: bool = False,
) -> SyncReport:
    """Bring the cache at `cache_dir` up to date with the release at `source` (see the module docstring).

    `source` is a Source or a location for `open_source` (a folder, file:// or s3://bucket/prefix, with `profile`,
    `region` and `endpoint_url`). Raises SyncError (no release.json, another release in the cache, too little free
    space), SourceError, CacheBusyError, or Cancelled. `dry_run` plans only: nothing is fetched or written. Objects
    that failed to download are named in the report's `failed` (the rest landed). A release library (or
    `side_by_side`) syncs beside the other releases; `switch` and `remove_old` apply there (module docstring).
    """
    started = time.perf_counter()
    cache_dir = Path(cache_dir)
    if isinstance(source, str):
        src = open_source(source, profile=profile, region=region, endpoint_url=endpoint_url)
    else:
        src = source
    if side_by_side or is_release_library(cache_dir):
        return _sync_into_library(src, cache_dir, switch=switch, remove_old=remove_old, progress=progress,
                                  cancel=cancel, dry_run=dry_run, concurrency=concurrency, selection=selection,
                                  check_space=check_space)
    if dry_run:
        release = read_release_json(src)
        return _dry_run(src, cache_dir, release, SyncReport(release_id=str(release["release_id"])), progress, cancel,
                        started, selection)
    # the listing starts first and runs while release.json is read and the catalog compared (see _StreamedListing)
    listing = _StreamedListing(src, progress, cancel)
    try:
        release = read_release_json(src)
        report = SyncReport(release_id=str(release["release_id"]))
        ensure_cache_layout(cache_dir)
        # compare on a read-only connection (a no-op sync writes nothing, and works while the app reads the cache);
        # take the database read-write only when there is something to write
        read_only = database_path(cache_dir).is_file()
        con = connect(cache_dir, read_only=read_only)
    except BaseException:
        listing.stop()
        raise
    try:
        cached_id = _cached_release_id(con)
        _check_release_id(cached_id, release, cache_dir)
        if not read_only:
            apply_pending_file_moves(con, cache_dir)
        plan = make_plan(listing, read_catalog(con), release, cache_dir, selection)
        first_sync = cached_id is None
        if read_only and (plan.has_work or first_sync or not schema_is_current(con) or _has_pending_file_moves(con)):
            con.close()
            con = connect(cache_dir, read_only=False)
            cached_id = _cached_release_id(con)
            _check_release_id(cached_id, release, cache_dir)
            first_sync = cached_id is None
            apply_pending_file_moves(con, cache_dir)
            plan = make_plan(listing.complete(), read_catalog(con), release, cache_dir, selection)
        _tally_plan(report, plan)
        keep = frozenset(verified_name(planned) for planned in plan.fetch)
        _empty_partial_dir(cache_dir, keep)
        if not plan.has_work and not first_sync and schema_is_current(con):
            report.warnings = read_warnings(con)
            report.seconds = time.perf_counter() - started
            return report
        if check_space:
            _check_free_space(cache_dir, plan, keep)
        fetched = fetch_objects(src, plan.fetch, partial_dir(cache_dir), concurrency=concurrency,
                                progress=progress, cancel=cancel)
        # the transfer is everything before the ingest: list, plan, download and verify (what `aws s3 sync` does)
        report.transfer_seconds = time.perf_counter() - started
        for result in fetched:
            if result.resumed:
                report.resumed.add(result.planned.info.size)
            elif result.staged_path is not None:
                report.transferred.add(result.planned.info.size)
        report.failed = [QuarantineItem(r.planned.info.key, r.failed) for r in fetched if r.failed is not None]
        if report.failed:
            plan, fetched = _without_failed(plan, fetched)
            report.warnings.extend(f"did not land: {f.path} ({f.reason})" for f in report.failed)
        if fetched:
            _crash_point("download")
        ingest_started = time.perf_counter()
        outcome = _run_ingest(_IngestInput(con, cache_dir, release, plan, fetched, first_sync, progress, cancel))
        _crash_point("commit")
        apply_pending_file_moves(con, cache_dir)
        _empty_partial_dir(cache_dir)
        report.ingest_seconds = time.perf_counter() - ingest_started
        report.quarantined = [r.problem for r in fetched if r.problem is not None]
        report.quarantined += [q for q in outcome.quarantined if q not in report.quarantined]
        report.warnings = [*report.warnings, *outcome.warnings]
    except BaseException as error:
        listing.stop()
        if not isinstance(error, CacheBusyError):  # busy when reopening read-write: keep what a killed sync left
            _empty_partial_dir(cache_dir)
        if _is_disk_full(error):
            raise DiskFullError(f"the disk holding the cache {cache_dir} is full; free some space and sync again "
                                "(the previous state of the cache is kept)") from error
        raise
    finally:
        con.close()
    report.seconds = time.perf_counter() - started
    return report


class DiskFullError(SyncError):
    """The disk ran out of space during download or ingest; the transaction was rolled back."""


def _is_disk_full(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    return isinstance(error, duckdb.Error) and "No space left on device" in str(error)


def _without_failed(plan: SyncPlan, fetched: list[FetchResult]) -> tuple[SyncPlan, list[FetchResult]]:
    """The plan and results without the objects that did not land: their previous state stays as it is."""
    failed = {r.planned.info.key for r in fetched if r.failed is not None}
    pruned = SyncPlan(fetch=[p for p in plan.fetch if p.info.key not in failed], rejected=plan.rejected,
                      unchanged=plan.unchanged, delete=plan.delete, ignored=plan.ignored, excluded=plan.excluded)
    return pruned, [r for r in fetched if r.failed is None]


def _check_free_space(cache_dir: Path, plan: SyncPlan, already_downloaded: frozenset[str]) -> None:
    folder = partial_dir(cache_dir)
    wanted = float(SPACE_MARGIN_BYTES)
    for planned in plan.fetch:
        loaded = planned.kind not in FILE_KINDS
        on_disk = (folder / verified_name(planned)).is_file() and verified_name(planned) in already_downloaded
        size = planned.info.size
        if on_disk:
            wanted += size * (INGEST_SPACE_FACTOR - 1) if loaded else 0
        else:
            wanted += size * (INGEST_SPACE_FACTOR if loaded else FILE_SPACE_FACTOR)
    available = free_bytes(cache_dir)
    if available < wanted:
        raise InsufficientSpaceError(
            f"not enough free space for the cache {cache_dir}: this sync needs about {_size_text(wanted)} "
            f"({_size_text(plan.fetch_bytes)} to download, then to load), {_size_text(available)} free; free some "
            "space, choose another --cache, or sync less (--studies, --chromosomes, --include)"
        )


def _tally_plan(report: SyncReport, plan: SyncPlan) -> None:
    for planned in plan.fetch:
        report.planned.add(planned.info.size)
        report.planned_by_kind.setdefault(planned.kind, ObjectTally()).add(planned.info.size)
    for info in plan.excluded:
        report.excluded.add(info.size)
    for entry in plan.unchanged:
        report.skipped.add(entry.size)
    for entry in plan.delete:
        report.deleted.add(entry.size)


def _run_ingest(ingest: _IngestInput) -> _IngestOutcome:
    """Run the ingest transaction; an object whose ingest aborts it is quarantined and the transaction re-run."""
    con = ingest.con
    forced: dict[str, str] = {}
    imaging_one_by_one = False
    attempts = len(ingest.fetched) + 2
    for _attempt in range(attempts):
        transaction = _IngestTransaction(ingest, forced, imaging_one_by_one)
        try:
            return transaction.run()
        except _ObjectIngestFailed as failure:
            con.execute("ROLLBACK")
            if len(failure.keys) > 1 and not imaging_one_by_one:
                imaging_one_by_one = True
            else:
                forced.update({key: failure.reason for key in failure.keys})
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass
            raise
    raise SyncError("ingest kept failing; the previous state of the cache is unchanged")


def _dry_run(
    src: Source,
    cache_dir: Path,
    release: dict[str, Any],
    report: SyncReport,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    started: float,
    selection: SyncSelection | None,
) -> SyncReport:
    catalog: dict[str, CatalogEntry] = {}
    if database_path(cache_dir).is_file():
        con = connect(cache_dir, read_only=True)
        try:
            _check_release_id(read_release_meta(con), release, cache_dir)
            catalog = read_catalog(con)
        finally:
            con.close()
    plan = make_plan(_list_source(src, progress, cancel), catalog, release, cache_dir, selection)
    _tally_plan(report, plan)
    report.seconds = time.perf_counter() - started
    return report



def _sync_into_library(
    src: Source,
    root: Path,
    *,
    switch: bool,
    remove_old: bool,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    dry_run: bool,
    concurrency: int,
    selection: SyncSelection | None,
    check_space: bool,
) -> SyncReport:
    """Sync the release into its own folder of the library at `root`; switch to it once complete (see above)."""
    release = read_release_json(src)
    release_id = str(release["release_id"])
    folder = release_folder(root, release_id)
    if dry_run:
        report = sync_release(src, folder, progress=progress, cancel=cancel, dry_run=True, selection=selection)
        report.release_folder = str(folder)
        report.current_release = current_release_id(root) if is_release_library(root) else None
        return report
    convert_to_library(root)
    previous = current_release_id(root)
    if not (folder / "release_entry.json").is_file():
        write_entry(root, release_id, complete=False)
    report = sync_release(src, folder, progress=progress, cancel=cancel, concurrency=concurrency,
                          selection=selection, check_space=check_space)
    report.release_folder = str(folder)
    if not report.failed:
        write_entry(root, release_id, complete=True)
        if switch or previous is None:
            switch_release(root, release_id)
            if remove_old and previous is not None and previous != release_id:
                try:
                    remove_release(root, previous)
                except CacheBusyError:
                    report.warnings.append(f"kept the previous release {previous}: it is in use; remove it later "
                                           f"(kfexplorer releases --cache {root} --remove {previous})")
    report.current_release = current_release_id(root)
    return report
