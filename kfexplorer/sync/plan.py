"""Plan a sync: which listed objects to fetch, which cached ones are unchanged, which to delete.

An object is unchanged when the catalog has its key with the same size and etag and, when release.json lists a
sha256 for it, the same sha256. A cached object kept as a file (DICOM, note, ontology) whose file is missing or of
the wrong size is fetched again (repair). Keys that are not safe relative paths are rejected (quarantined without
being fetched). Objects of no known kind (a README, hidden files) are ignored.

A SyncSelection (studies, chromosomes, parts of the release) prunes the plan: a listed object it does not select is
`excluded` (neither fetched nor deleted), and a catalogued object it does not select is left as it is, so a partial
sync never removes what an earlier, wider one brought. release.json and the ontologies are always selected; FHIR
and notes are release-wide (not split by study); chromosomes split the three variant tables, studies the
occurrences and imaging.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfexplorer.store.cache import FILES_DIR_NAME, UnsafePathError, check_release_path
from kfexplorer.store.catalog import CatalogEntry
from kfexplorer.sync.source import ObjectInfo
from kfexplorer.variants.ingest import PARQUET_KIND_BY_PREFIX

RELEASE_JSON_KEY = "release.json"
FILE_KINDS = frozenset({"imaging", "notes", "ontology"})
REJECTED_KIND = "rejected"
FHIR_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz", ".json")


def classify_key(key: str) -> str | None:
    """The kind of a release object from its key, or None for objects sync ignores."""
    if key == RELEASE_JSON_KEY:
        return "release"
    name = key.rsplit("/", 1)[-1]
    if name.startswith("."):
        return None
    for prefix, kind in PARQUET_KIND_BY_PREFIX.items():
        if key.startswith(prefix) and name.endswith(".parquet"):
            return kind
    if key.startswith("fhir/") and name.endswith(FHIR_SUFFIXES):
        return "fhir"
    if key.startswith("imaging/"):
        return "imaging"
    if key.startswith("notes/") and (name.endswith(".txt") or name.endswith(".labels.json")):
        return "notes"
    if key.startswith("ontologies/") and key.count("/") == 1 and name.endswith(".obo"):
        return "ontology"
    return None


def expected_files(release: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """release.json "files": {key: {"size": N, "sha256": "…"}}, tolerating its absence or bad shapes."""
    files = release.get("files")
    if not isinstance(files, dict):
        return {}
    return {str(k): v for k, v in files.items() if isinstance(v, dict)}


INCLUDE_KINDS: dict[str, frozenset[str]] = {
    "variants": frozenset({"occurrences", "variants", "consequences"}),
    "fhir": frozenset({"fhir"}),
    "imaging": frozenset({"imaging"}),
    "notes": frozenset({"notes"}),
}
ALWAYS_SELECTED_KINDS = frozenset({"release", "ontology", REJECTED_KIND})


def normalize_chromosome(name: str) -> str:
    """'chr1' → '1', 'x' → 'X', 'MT' → 'M'."""
    text = name.strip()
    if text.lower().startswith("chr"):
        text = text[3:]
    text = text.upper()
    return "M" if text == "MT" else text


def _partition_value(key: str, name: str) -> str | None:
    marker = f"{name}="
    for part in key.split("/"):
        if part.startswith(marker):
            return part[len(marker):]
    return None


@dataclass(frozen=True)
class SyncSelection:
    """Which part of a release to sync; None for a field means all of it."""

    studies: frozenset[str] | None = None
    chromosomes: frozenset[str] | None = None
    include: frozenset[str] | None = None  # names of INCLUDE_KINDS

    @classmethod
    def parse(cls, studies: str | None = None, chromosomes: str | None = None,
              include: str | None = None) -> SyncSelection:
        """From comma-separated option values (raises ValueError naming an unknown --include part)."""

        def items(text: str | None) -> list[str] | None:
            if text is None:
                return None
            values = [v.strip() for v in text.split(",") if v.strip()]
            return values or None

        study_list, chromosome_list, include_list = items(studies), items(chromosomes), items(include)
        if include_list is not None:
            unknown = sorted(set(v.lower() for v in include_list) - set(INCLUDE_KINDS))
            if unknown:
                raise ValueError(f"unknown --include part {', '.join(unknown)}: choose from "
                                 f"{', '.join(INCLUDE_KINDS)}")
        return cls(
            studies=frozenset(study_list) if study_list else None,
            chromosomes=frozenset(normalize_chromosome(c) for c in chromosome_list) if chromosome_list else None,
            include=frozenset(v.lower() for v in include_list) if include_list else None,
        )

    @property
    def everything(self) -> bool:
        return self.studies is None and self.chromosomes is None and self.include is None

    def selects(self, key: str, kind: str) -> bool:
        if kind in ALWAYS_SELECTED_KINDS:
            return True
        if self.include is not None and not any(kind in INCLUDE_KINDS[name] for name in self.include):
            return False
        if self.chromosomes is not None and kind in INCLUDE_KINDS["variants"]:
            chromosome = _partition_value(key, "chromosome")
            if chromosome is not None and normalize_chromosome(chromosome) not in self.chromosomes:
                return False
        if self.studies is not None:
            study: str | None = None
            if kind == "occurrences":
                study = _partition_value(key, "study_id")
            elif kind == "imaging":
                parts = key.split("/")
                study = parts[1] if len(parts) > 2 else None
            if study is not None and study not in self.studies:
                return False
        return True


@dataclass(frozen=True)
class PlannedObject:
    """A listed object to fetch (or reject): why, and what it must verify against."""

    info: ObjectInfo
    kind: str
    existing: CatalogEntry | None
    expected_sha256: str | None
    expected_size: int | None
    reason: str  # new | changed | repair | unsafe path …


@dataclass
class SyncPlan:
    fetch: list[PlannedObject] = field(default_factory=list)
    rejected: list[PlannedObject] = field(default_factory=list)
    unchanged: list[CatalogEntry] = field(default_factory=list)
    delete: list[CatalogEntry] = field(default_factory=list)
    ignored: list[ObjectInfo] = field(default_factory=list)
    excluded: list[ObjectInfo] = field(default_factory=list)

    @property
    def has_work(self) -> bool:
        return bool(self.fetch or self.rejected or self.delete)

    @property
    def fetch_bytes(self) -> int:
        return sum(p.info.size for p in self.fetch)


def _cached_file_ok(files_root: str, entry: CatalogEntry) -> bool:
    """Is the kept file of a synced object in place with its size? A cheap check (one lstat, no realpath), since a
    no-op sync runs it for every file: `entry.key` has passed check_release_path (make_plan checks every listed
    key first), so it is joined lexically under `files_root` (DIR/files/ with a trailing separator); anything but a
    regular file (a symlink too) counts as missing, so it is fetched again and written through safe_cache_path,
    which resolves."""
    try:
        info = os.lstat(files_root + entry.key)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size == entry.size


def make_plan(
    listing: Iterable[ObjectInfo],
    catalog: dict[str, CatalogEntry],
    release: dict[str, Any],
    cache_dir: Path,
    selection: SyncSelection | None = None,
) -> SyncPlan:
    """Diff the listed objects against the catalog (see the module docstring)."""
    selection = selection or SyncSelection()
    plan = SyncPlan()
    files = expected_files(release)
    files_root = os.path.join(cache_dir, FILES_DIR_NAME, "")
    seen: set[str] = set()
    for info in listing:
        if info.key in seen:
            continue
        seen.add(info.key)
        existing = catalog.get(info.key)
        try:
            check_release_path(info.key)
        except UnsafePathError as error:
            if existing is not None and existing.size == info.size and existing.etag == info.etag:
                plan.unchanged.append(existing)
            else:
                plan.rejected.append(PlannedObject(info, REJECTED_KIND, existing, None, None, str(error)))
            continue
        kind = classify_key(info.key)
        if kind is None:
            plan.ignored.append(info)
            continue
        if not selection.selects(info.key, kind):
            plan.excluded.append(info)
            continue
        listed = files.get(info.key, {})
        sha = listed.get("sha256")
        expected_sha = sha.lower() if isinstance(sha, str) and kind != "release" else None
        size = listed.get("size")
        expected_size = size if isinstance(size, int) and not isinstance(size, bool) and kind != "release" else None
        if existing is None:
            reason = "new"
        elif existing.size != info.size or existing.etag != info.etag or existing.kind != kind:
            reason = "changed"
        elif expected_sha is not None and existing.sha256 != expected_sha:
            reason = "changed"
        elif kind in FILE_KINDS and not existing.quarantined and not _cached_file_ok(files_root, existing):
            reason = "repair"
        else:
            plan.unchanged.append(existing)
            continue
        plan.fetch.append(PlannedObject(info, kind, existing, expected_sha, expected_size, reason))
    plan.delete = [entry for key, entry in catalog.items()
                   if key not in seen and selection.selects(entry.key, entry.kind)]
    return plan
