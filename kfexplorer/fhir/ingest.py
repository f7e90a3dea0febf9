"""Load one FHIR object of a release (NDJSON or a Bundle) into `fhir_resources`.

Every resource gets cheap structural checks (a JSON object, a resourceType, a FHIR-valid id, the references its
type requires); a small sample per resource type is fully validated with the fhir.resources R4B models. What fails
is returned as QuarantineItem and does not land; everything else is bulk inserted through Arrow. A resource is
one row per (resource_type, id): a later object carrying the same resource replaces the row (newer content wins).

Inputs as they come: NDJSON (a Bundle on a line is unpacked), a Bundle or a single resource in a .json file, a
FHIR Bulk Data export manifest (recognised by its `output` / `error` / `outcome` arrays: it lists the NDJSON files,
which arrive as objects of their own, and holds no resources), HealthLake export prefixes (the same NDJSON under
`<datastore>-FHIR_EXPORT-<job>/<Type>/`). OperationOutcome resources (bulk export `error` / `outcome` files) are not
clinical data: they do not land and come back as items whose reason starts with OUTCOME_REASON (a manifest's
error / outcome entries: MANIFEST_REASON); kfexplorer.fhir.flatten reports them as sync warnings. Empty files are fine.
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
import pyarrow.compute  # noqa: F401 - pa.compute

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
OUTCOME_REASON = "export outcome (not clinical data)"
MANIFEST_REASON = "bulk export manifest"
MANIFEST_KEYS = ("output", "error", "outcome")
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
            if _load_ndjson_in_bulk(con, source_id, local_path):
                return quarantine
            with _open(local_path) as stream:
                _load_candidates(con, source_id, _ndjson_candidates(stream, rel_path, quarantine), quarantine)
        else:
            with _open(local_path) as stream:
                data = stream.read()
            if not data.strip():
                return quarantine  # an empty file: nothing to load
            _load_candidates(con, source_id, _json_candidates(data, rel_path, quarantine), quarantine)
    except OSError as exc:
        quarantine.append(QuarantineItem(rel_path, f"cannot read: {exc}"))
    return quarantine


_REFERENCE_ELEMENTS = tuple(sorted({e for elements in REQUIRED_REFERENCES.values() for e in elements}))


def _required_reference_sql() -> str:
    """SQL (over the slots `e`) true when the references the resource type requires are there: a single
    Reference object with a non-blank `reference` or an `identifier` (lists and odd shapes go the Python way)."""
    cases = []
    for resource_type, elements in REQUIRED_REFERENCES.items():
        checks = []
        for element in elements:
            slot = f"e[{_REFERENCE_ELEMENTS.index(element) + 3}]"
            checks.append(f"(json_type({slot}) = 'OBJECT' AND (json_type({slot}, '$.reference') = 'VARCHAR' AND "
                          f"regexp_matches(json_extract_string({slot}, '$.reference'), '\\S') OR "
                          f"json_type({slot}, '$.identifier') = 'OBJECT'))")
        cases.append(f"WHEN '{resource_type}' THEN {' AND '.join(checks)}")
    return f"CASE json_extract_string(e[1], '$') {' '.join(cases)} ELSE true END"


# One NDJSON object read by DuckDB: every line with its type, id, text, position and whether it passes the
# structural checks (a line that is a Bundle or an OperationOutcome does not: the Python path handles those).
# The JSON of a line is parsed once (a multi-path json_extract); the checks read the small pieces.
_BULK_PATHS = ", ".join(f"'$.{name}'" for name in ("resourceType", "id", *_REFERENCE_ELEMENTS))
_BULK_READ_SQL = f"""
    SELECT json_extract_string(e[1], '$') AS resource_type, json_extract_string(e[2], '$') AS id, resource, line,
           CAST(coalesce(json_type(e[1]) = 'VARCHAR' AND json_extract_string(e[1], '$') NOT IN ('', 'Bundle',
                    'OperationOutcome') AND json_type(e[2]) = 'VARCHAR'
                    AND regexp_full_match(json_extract_string(e[2], '$'), '{FHIR_ID.pattern}')
                    AND {_required_reference_sql()}, false) AS TINYINT) AS ok
    FROM (SELECT json AS resource, row_number() OVER () AS line,
                 CASE WHEN json_type(json) = 'OBJECT' THEN json_extract(json, [{_BULK_PATHS}]) END AS e
          FROM read_json_objects(?, format = 'newline_delimited'))"""
BULK_STAGING = "_fhir_ingest_bulk"


def _load_ndjson_in_bulk(con: duckdb.DuckDBPyConnection, source_id: int, path: Path) -> bool:
    """The fast path for a clean NDJSON object: DuckDB parses it (in a cursor of its own, so a malformed file
    cannot abort the caller's transaction) and checks every line in SQL; the sample is validated as usual. True
    when it landed; False (nothing written) when any line needs the line-by-line path and its quarantine."""
    cursor = con.cursor()
    try:
        # the resource column stays JSON through Arrow (arrow.json), so the insert does not parse it again
        cursor.execute("SET SESSION arrow_lossless_conversion = true")  # this cursor only
        table = cursor.sql(_BULK_READ_SQL, params=[str(path)]).to_arrow_table()
    except duckdb.Error:
        return False
    finally:
        cursor.close()
    if table.num_rows == 0:
        return True
    if pa.compute.min(table.column("ok")).as_py() != 1:  # 1: the line passes (a TINYINT: Arrow has no bool8 `min`)
        return False
    validator = SampleValidator()
    types = table.column("resource_type")
    for resource_type in types.unique().to_pylist():  # the first rows of each type (Arrow finds them, no Python loop)
        first_rows = pa.compute.indices_nonzero(pa.compute.equal(types, resource_type))[:validator.per_type]
        for resource in table.column("resource").take(first_rows).to_pylist():
            if validator.check(orjson.loads(resource)) is not None:
                return False
    keys = table.column("id") if len(types.unique()) == 1 else \
        pa.compute.binary_join_element_wise(types, table.column("id"), "/")
    repeated = pa.compute.count_distinct(keys).as_py() < table.num_rows
    con.register(BULK_STAGING, table)
    try:
        last_copy = " QUALIFY row_number() OVER (PARTITION BY resource_type, id ORDER BY line DESC) = 1" \
            if repeated else ""  # the last copy in an object wins
        _merge(con, f"(SELECT resource_type, id, CAST(NULL AS VARCHAR) AS full_url, resource, "
                    f"CAST({int(source_id)} AS BIGINT) AS _source_id FROM {BULK_STAGING}{last_copy})")
    finally:
        con.unregister(BULK_STAGING)
    return True


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
        if isinstance(resource, dict) and resource.get("resourceType") == "Bundle":
            yield from _bundle_candidates(resource, where, quarantine)
            continue
        yield _Candidate(where, resource, line, None)


def is_bulk_manifest(document: Any) -> bool:
    """A FHIR Bulk Data export manifest: no resourceType, and `output` / `error` / `outcome` lists."""
    return (isinstance(document, dict) and "resourceType" not in document
            and any(isinstance(document.get(key), list) for key in MANIFEST_KEYS)
            and all(isinstance(document.get(key, []), list) for key in MANIFEST_KEYS))


def _manifest_notes(document: dict[str, Any], rel_path: str) -> list[QuarantineItem]:
    """What a manifest tells the user: the error / outcome files it lists (OperationOutcomes, not clinical)."""
    notes: list[QuarantineItem] = []
    for key in ("error", "outcome"):
        for index, entry in enumerate(document.get(key) or []):
            url = entry.get("url") if isinstance(entry, dict) else None
            kind = entry.get("type") if isinstance(entry, dict) else None
            notes.append(QuarantineItem(f"{rel_path}:{key}[{index}]",
                                        f"{MANIFEST_REASON}: {key} file {url!r} ({kind or 'OperationOutcome'}) "
                                        "holds export errors, not clinical data"))
    return notes


def _json_candidates(data: bytes, rel_path: str, quarantine: list[QuarantineItem]) -> Iterator[_Candidate]:
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        quarantine.append(QuarantineItem(rel_path, f"invalid JSON: {exc}"))
        return
    if is_bulk_manifest(document):
        quarantine.extend(_manifest_notes(document, rel_path))
        return
    if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
        # a single resource in a .json file
        yield _Candidate(rel_path, document, None, None)
        return
    yield from _bundle_candidates(document, rel_path, quarantine)


def _bundle_candidates(document: dict[str, Any], rel_path: str,
                       quarantine: list[QuarantineItem]) -> Iterator[_Candidate]:
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
        if isinstance(candidate.resource, dict) and candidate.resource.get("resourceType") == "OperationOutcome":
            quarantine.append(QuarantineItem(candidate.where, f"{OUTCOME_REASON}: {_outcome_text(candidate.resource)}"))
            continue
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


def _outcome_text(outcome: dict[str, Any]) -> str:
    issue = outcome.get("issue")
    issues: list[Any] = issue if isinstance(issue, list) else []
    texts = [str(i.get("diagnostics") or (i.get("details") or {}).get("text") or i.get("code") or "")
             for i in issues if isinstance(i, dict)]
    return "; ".join(t for t in texts if t)[:300] or "no diagnostics"


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
        _merge(con, STAGING_VIEW)
    finally:
        con.unregister(STAGING_VIEW)


def _merge(con: duckdb.DuckDBPyConnection, staging: str) -> None:
    """Upsert the rows of `staging` (a registered relation or subquery built by this module) by (type, id)."""
    # A resource already present (from another object) takes the newer content; it keeps its Bundle fullUrl
    # when the newer copy has none, so urn:uuid references to it keep resolving. None of these (type, id) keys
    # there yet (the first ingest: no resource of these types, or only other ids): a plain insert.
    fresh = not con.execute(f"SELECT EXISTS (SELECT 1 FROM fhir_resources WHERE resource_type IN "
                            f"(SELECT resource_type FROM {staging}))").fetchall()[0][0]
    if not fresh:
        fresh = not con.execute(f"SELECT EXISTS (SELECT 1 FROM fhir_resources AS f JOIN {staging} AS s "
                                "ON f.resource_type = s.resource_type AND f.id = s.id)").fetchall()[0][0]
    if fresh:
        con.execute(f"INSERT INTO fhir_resources (resource_type, id, full_url, resource, _source_id) "
                    f"SELECT resource_type, id, full_url, CAST(resource AS JSON), _source_id FROM {staging}")
        return
    con.execute(
        f"UPDATE fhir_resources AS f SET resource = CAST(s.resource AS JSON), "
        f"full_url = coalesce(s.full_url, f.full_url), _source_id = s._source_id FROM {staging} AS s "
        "WHERE f.resource_type = s.resource_type AND f.id = s.id"
    )
    con.execute(
        f"INSERT INTO fhir_resources (resource_type, id, full_url, resource, _source_id) "
        f"SELECT s.resource_type, s.id, s.full_url, CAST(s.resource AS JSON), s._source_id FROM {staging} AS s "
        "WHERE NOT EXISTS (SELECT 1 FROM fhir_resources AS f WHERE f.resource_type = s.resource_type AND f.id = s.id)"
    )
