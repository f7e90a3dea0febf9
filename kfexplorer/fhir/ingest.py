"""Load one FHIR object of a release (NDJSON or a Bundle) into `fhir_resources`.

Every resource gets cheap structural checks (a JSON object, a resourceType, a FHIR-valid id, the references its
type requires); a small sample per resource type is fully validated with the fhir.resources R4B models. What fails
is returned as QuarantineItem and does not land; everything else is bulk inserted through Arrow. A resource is
one row per (resource_type, id): a later object carrying the same resource replaces the row (newer content wins).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import duckdb
import orjson
import pyarrow as pa

from kfexplorer.fhir.validation import SampleValidator
from kfexplorer.store.records import QuarantineItem

FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
BUNDLE_TYPES = frozenset({"collection", "transaction", "batch", "searchset", "transaction-response",
                          "batch-response", "history", "document", "message"})

# References a resource of this type must carry (element names; a list element needs at least one entry).
REQUIRED_REFERENCES: dict[str, tuple[str, ...]] = {
    "Condition": ("subject",),
    "Observation": ("subject",),
    "ResearchSubject": ("individual", "study"),
    "ImagingStudy": ("subject",),
}

BATCH_ROWS = 50_000
STAGING_VIEW = "_fhir_ingest_staging"

ARROW_SCHEMA = pa.schema([
    ("resource_type", pa.string()),
    ("id", pa.string()),
    ("full_url", pa.string()),
    ("resource", pa.string()),
    ("_source_id", pa.int64()),
])


@dataclass(frozen=True)
class _Candidate:
    """A parsed resource before its checks: where it came from, its dict, its JSON text (None: re-serialise)."""

    where: str
    resource: Any
    text: bytes | None
    full_url: str | None


def structural_problem(resource: Any) -> str | None:
    """Why a parsed resource fails the cheap structural checks, or None when it passes."""
    if not isinstance(resource, dict):
        return "not a JSON object"
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        return "no resourceType"
    rid = resource.get("id")
    if not isinstance(rid, str) or not FHIR_ID.fullmatch(rid):
        return f"{resource_type}: missing or invalid id {rid!r}" if rid is not None else f"{resource_type}: no id"
    for element in REQUIRED_REFERENCES.get(resource_type, ()):
        if not _has_reference(resource.get(element)):
            return f"{resource_type}/{rid}: missing required reference {element}"
    return None


def _has_reference(value: Any) -> bool:
    if isinstance(value, list):
        return any(_has_reference(v) for v in value)
    if not isinstance(value, dict):
        return False
    ref = value.get("reference")
    return (isinstance(ref, str) and bool(ref.strip())) or isinstance(value.get("identifier"), dict)


def load_fhir_object(con: duckdb.DuckDBPyConnection, source_id: int, rel_path: str,
                     local_path: Path) -> list[QuarantineItem]:
    """Ingest one NDJSON file (one resource a line) or Bundle JSON into fhir_resources; return what was rejected.

    Runs inside the caller's transaction (no BEGIN/COMMIT here). `rel_path` names the object in quarantine
    entries (`rel_path:line` for NDJSON, `rel_path:entry[i]` for Bundles).
    """
    quarantine: list[QuarantineItem] = []
    name = local_path.name.lower()
    try:
        if name.endswith((".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")):
            with _open(local_path) as stream:
                _load_candidates(con, source_id, _ndjson_candidates(stream, rel_path, quarantine), quarantine)
        else:
            with _open(local_path) as stream:
                data = stream.read()
            _load_candidates(con, source_id, _json_candidates(data, rel_path, quarantine), quarantine)
    except OSError as exc:
        quarantine.append(QuarantineItem(rel_path, f"cannot read: {exc}"))
    return quarantine


def remove_fhir_object(con: duckdb.DuckDBPyConnection, source_id: int) -> None:
    """Delete the resources that came from one object (before it is re-ingested or when it left the release)."""
    con.execute("DELETE FROM fhir_resources WHERE _source_id = ?", [source_id])


def _open(path: Path) -> BinaryIO:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _ndjson_candidates(stream: BinaryIO, rel_path: str, quarantine: list[QuarantineItem]) -> Iterator[_Candidate]:
    for number, raw in enumerate(stream, start=1):
        line = raw.strip()
        if number == 1:
            line = line.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark
        if not line:
            continue
        where = f"{rel_path}:{number}"
        try:
            resource = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            quarantine.append(QuarantineItem(where, f"invalid JSON: {exc}"))
            continue
        yield _Candidate(where, resource, line, None)


def _json_candidates(data: bytes, rel_path: str, quarantine: list[QuarantineItem]) -> Iterator[_Candidate]:
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        quarantine.append(QuarantineItem(rel_path, f"invalid JSON: {exc}"))
        return
    if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
        # a single resource in a .json file
        yield _Candidate(rel_path, document, None, None)
        return
    if document.get("type") not in BUNDLE_TYPES:
        quarantine.append(QuarantineItem(rel_path, f"Bundle of unknown type {document.get('type')!r}"))
        return
    entries = document.get("entry") or []
    if not isinstance(entries, list):
        quarantine.append(QuarantineItem(rel_path, "Bundle.entry is not a list"))
        return
    for index, entry in enumerate(entries):
        where = f"{rel_path}:entry[{index}]"
        if not isinstance(entry, dict):
            quarantine.append(QuarantineItem(where, "Bundle entry is not a JSON object"))
            continue
        resource = entry.get("resource")
        if resource is None:
            continue  # e.g. a transaction DELETE, or a response entry without a resource: nothing to load
        full_url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
        if isinstance(resource, dict) and "id" not in resource and full_url and full_url.startswith("urn:uuid:"):
            # a transaction POST: the server would assign the id; the uuid is a valid FHIR id and stays resolvable
            resource = {**resource, "id": full_url.removeprefix("urn:uuid:")}
        yield _Candidate(where, resource, None, full_url)


def _load_candidates(con: duckdb.DuckDBPyConnection, source_id: int, candidates: Iterable[_Candidate],
                     quarantine: list[QuarantineItem]) -> None:
    validator = SampleValidator()
    batch: dict[tuple[str, str], tuple[str | None, bytes]] = {}
    for candidate in candidates:
        problem = structural_problem(candidate.resource)
        if problem is None:
            problem = validator.check(candidate.resource)
        if problem is not None:
            quarantine.append(QuarantineItem(candidate.where, problem))
            continue
        resource = candidate.resource
        key = (resource["resourceType"], resource["id"])
        batch.pop(key, None)  # the last copy in an object wins
        batch[key] = (candidate.full_url, candidate.text if candidate.text is not None else orjson.dumps(resource))
        if len(batch) >= BATCH_ROWS:
            _insert_batch(con, source_id, batch)
            batch = {}
    if batch:
        _insert_batch(con, source_id, batch)


def _insert_batch(con: duckdb.DuckDBPyConnection, source_id: int,
                  batch: dict[tuple[str, str], tuple[str | None, bytes]]) -> None:
    table = pa.table(
        [
            pa.array([k[0] for k in batch], pa.string()),
            pa.array([k[1] for k in batch], pa.string()),
            pa.array([v[0] for v in batch.values()], pa.string()),
            pa.array([v[1].decode("utf-8", "replace") for v in batch.values()], pa.string()),
            pa.array([source_id] * len(batch), pa.int64()),
        ],
        schema=ARROW_SCHEMA,
    )
    con.register(STAGING_VIEW, table)
    try:
        # A resource already present (from another object) takes the newer content; it keeps its Bundle fullUrl
        # when the newer copy has none, so urn:uuid references to it keep resolving.
        con.execute(
            f"UPDATE fhir_resources AS f SET resource = CAST(s.resource AS JSON), "
            f"full_url = coalesce(s.full_url, f.full_url), _source_id = s._source_id FROM {STAGING_VIEW} AS s "
            "WHERE f.resource_type = s.resource_type AND f.id = s.id"
        )
        con.execute(
            f"INSERT INTO fhir_resources (resource_type, id, full_url, resource, _source_id) "
            f"SELECT s.resource_type, s.id, s.full_url, CAST(s.resource AS JSON), s._source_id FROM {STAGING_VIEW} AS s "
            "WHERE NOT EXISTS (SELECT 1 FROM fhir_resources AS f WHERE f.resource_type = s.resource_type AND f.id = s.id)"
        )
    finally:
        con.unregister(STAGING_VIEW)
