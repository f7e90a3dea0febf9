"""The sidecar `FILE.cohort.json` every export writes beside FILE, and reading it back as a cohort.

It holds what reproduces the export: the cohort (our JSON and its SQON), its plain-words description, the SQL and
its parameters, the release id, the ontology and annotation versions release.json declares, row counts per table,
`participants_sha256` (SHA-256 of the sorted participant ids joined by "\\n", CACHE.md), the app version and the
time. `kfexplorer count --cohort FILE.cohort.json` counts its cohort again and compares.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from kfexplorer import __version__
from kfexplorer.query.model import Cohort, cohort_to_json
from kfexplorer.query.sqon import cohort_to_sqon

SIDECAR_FORMAT_KEY = "kfexplorer_export"
SIDECAR_FORMAT_VERSION = 1
SIDECAR_SUFFIX = ".cohort.json"

# Keys of release.json `versions` that name ontologies; every other key is an annotation source.
ONTOLOGY_VERSION_KEYS = frozenset({"hpo", "hp", "mondo", "ncit", "so", "orpha", "doid", "icd10", "icd-10-cm"})


def participants_sha256(participant_ids: Sequence[str]) -> str:
    """SHA-256 of the sorted participant ids joined by newlines (CACHE.md, `kfexplorer count`)."""
    return hashlib.sha256("\n".join(sorted(participant_ids)).encode("utf-8")).hexdigest()


def sidecar_path(export_path: Path) -> Path:
    return Path(export_path).with_name(Path(export_path).name + SIDECAR_SUFFIX)


@dataclass(frozen=True)
class ReleaseFacts:
    release_id: str | None
    title: str | None
    ontology_versions: dict[str, str] = field(default_factory=dict)
    annotation_versions: dict[str, str] = field(default_factory=dict)


def release_facts(con: duckdb.DuckDBPyConnection) -> ReleaseFacts:
    """The release id and the versions its release.json declares (from the cache's release_meta)."""
    try:
        rows = con.execute("SELECT release_id, title, json FROM release_meta LIMIT 1").fetchall()
    except duckdb.CatalogException:
        return ReleaseFacts(None, None)
    if not rows:
        return ReleaseFacts(None, None)
    release_id, title, text = rows[0]
    try:
        document = json.loads(text) if text else {}
    except json.JSONDecodeError:
        document = {}
    versions = document.get("versions") if isinstance(document, Mapping) else None
    ontologies: dict[str, str] = {}
    annotations: dict[str, str] = {}
    if isinstance(versions, Mapping):
        for key, value in versions.items():
            (ontologies if str(key).lower() in ONTOLOGY_VERSION_KEYS else annotations)[str(key)] = str(value)
    return ReleaseFacts(str(release_id) if release_id is not None else None, str(title) if title else None,
                        ontologies, annotations)


def build_sidecar(
    *,
    cohort: Cohort,
    description: str,
    sql: str,
    params: Sequence[Any],
    release: ReleaseFacts,
    participant_ids: Sequence[str],
    row_counts: Mapping[str, int],
    export: Mapping[str, Any],
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    moment = now or dt.datetime.now(dt.UTC)
    return {
        SIDECAR_FORMAT_KEY: SIDECAR_FORMAT_VERSION,
        "export": dict(export),
        "cohort": cohort_to_json(cohort),
        "sqon": cohort_to_sqon(cohort),
        "description": description,
        "sql": sql,
        "params": list(params),
        "release_id": release.release_id,
        "release_title": release.title,
        "ontology_versions": release.ontology_versions,
        "annotation_versions": release.annotation_versions,
        "row_counts": dict(row_counts),
        "participant_count": len(participant_ids),
        "participants_sha256": participants_sha256(participant_ids),
        "app": "kfexplorer",
        "app_version": __version__,
        "exported_at": moment.isoformat(timespec="seconds"),
    }


def write_json_atomically(path: Path, payload: Any) -> None:
    """Write JSON to a temporary name beside `path`, then rename it onto `path`."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.partial")
    try:
        temporary.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def is_sidecar(data: Any) -> bool:
    return isinstance(data, Mapping) and SIDECAR_FORMAT_KEY in data and isinstance(data.get("cohort"), Mapping)


def cohort_document(data: Any) -> Any:
    """The cohort document inside a sidecar; any other document as it is."""
    return data["cohort"] if is_sidecar(data) else data


def read_sidecar(path: Path) -> dict[str, Any] | None:
    """The sidecar at `path` as a dict, or None when the file is not a sidecar (a plain cohort or SQON)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return dict(data) if is_sidecar(data) else None


def reproduction_warnings(sidecar: Mapping[str, Any], release_id: str | None, sha256: str) -> list[str]:
    """What differs between a sidecar and a count of its cohort on a cache (empty when it reproduces)."""
    expected_release = sidecar.get("release_id")
    if expected_release != release_id:
        return [f"the cohort was exported from release {expected_release!r}, the cache holds release "
                f"{release_id!r}: the participants may differ (sha256 {sha256[:12]}… vs "
                f"{str(sidecar.get('participants_sha256'))[:12]}… exported)"]
    if sidecar.get("participants_sha256") != sha256:
        return [f"same release {release_id!r}, but the participants differ from the export's "
                f"(sha256 {sha256[:12]}… vs {str(sidecar.get('participants_sha256'))[:12]}…): the cache changed"]
    return []
