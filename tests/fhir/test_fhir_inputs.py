"""FHIR inputs as they come: Bulk Data manifests, HealthLake export prefixes, Bundles inside NDJSON, export
OperationOutcomes, empty files."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import orjson
from fhir_release_fixture import build_resources, observation, patient, subject

from kfexplorer.fhir.flatten import rebuild_clinical_tables
from kfexplorer.fhir.ingest import MANIFEST_REASON, OUTCOME_REASON, is_bulk_manifest, load_fhir_object

OUTCOME = {"resourceType": "OperationOutcome",
           "issue": [{"severity": "error", "code": "processing", "diagnostics": "Patient/zz could not be exported"}]}


def _ndjson(path: Path, resources: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in resources))
    return path


def _count(con: duckdb.DuckDBPyConnection, table: str = "fhir_resources") -> int:
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def test_bulk_manifest_is_recognised_and_its_outputs_ingest(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    resources = build_resources()
    outputs = {t: _ndjson(tmp_path / f"{t}.ndjson", rs) for t, rs in resources.items()}
    errors = _ndjson(tmp_path / "errors" / "OperationOutcome.ndjson", [OUTCOME, OUTCOME])
    for spelling in ("error", "outcome"):
        manifest = {"transactionTime": "2024-01-01T00:00:00Z", "request": "https://x/$export", "requiresAccessToken":
                    False, "output": [{"type": t, "url": f"{t}.ndjson"} for t in outputs],
                    spelling: [{"type": "OperationOutcome", "url": "errors/OperationOutcome.ndjson"}]}
        assert is_bulk_manifest(manifest)
        path = tmp_path / f"manifest-{spelling}.json"
        path.write_text(json.dumps(manifest))
        notes = load_fhir_object(con, 1, path.name, path)
        assert _count(con) == 0  # not a Bundle, not a resource: nothing lands
        assert [n.path for n in notes] == [f"{path.name}:{spelling}[0]"]
        assert notes[0].reason.startswith(MANIFEST_REASON) and "errors/OperationOutcome.ndjson" in notes[0].reason
    for source_id, path in enumerate(outputs.values(), start=2):
        assert load_fhir_object(con, source_id, path.name, path) == []
    outcome_notes = load_fhir_object(con, 99, "errors/OperationOutcome.ndjson", errors)
    assert [n.path for n in outcome_notes] == ["errors/OperationOutcome.ndjson:1", "errors/OperationOutcome.ndjson:2"]
    assert all(n.reason.startswith(OUTCOME_REASON) and "could not be exported" in n.reason for n in outcome_notes)
    assert _count(con) == sum(len(rs) for rs in resources.values())  # the outcomes did not land
    assert not is_bulk_manifest({"resourceType": "Bundle", "type": "collection", "entry": []})
    assert not is_bulk_manifest({"output": "not a list"})


def test_healthlake_export_prefix_ingests_as_is(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    export = tmp_path / "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6-FHIR_EXPORT-0123456789abcdef0123456789abcdef"
    resources = build_resources()
    for resource_type, items in resources.items():
        half = len(items) // 2
        _ndjson(export / resource_type / f"{resource_type}-0.ndjson", items[:half])
        _ndjson(export / resource_type / f"{resource_type}-1.ndjson", items[half:])
    (export / "Encounter").mkdir()
    (export / "Encounter" / "Encounter-0.ndjson").write_bytes(b"")  # empty files are fine
    files = sorted(export.rglob("*.ndjson"))
    for source_id, path in enumerate(files, start=1):
        assert load_fhir_object(con, source_id, path.relative_to(tmp_path).as_posix(), path) == []
    assert rebuild_clinical_tables(con) == ["1 Conditions reference unknown Patients"]
    by_type = dict(con.execute("SELECT resource_type, count(*) FROM fhir_resources GROUP BY ALL").fetchall())
    assert by_type == {t: len(rs) for t, rs in resources.items()}
    assert _count(con, "participants") == len(resources["Patient"])


def test_bundle_inside_ndjson_is_unpacked_with_its_full_urls(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    uuid = "urn:uuid:5b9f3c1e-8a2d-4e6f-9b0c-7d1e2f3a4b5c"
    inner = patient("nd-b1", "PT_ND1", "female")
    bundle = {"resourceType": "Bundle", "id": "b-in-ndjson", "type": "collection",
              "entry": [{"fullUrl": uuid, "resource": inner},
                        {"fullUrl": "urn:uuid:6c0a4d2f-9b3e-4f70-8c1d-8e2f3a4b5c6d",
                         "resource": observation("nd-pb", uuid, "85900004", valueBoolean=True)},
                        {"fullUrl": "urn:uuid:7d1b5e30-0c4f-4081-9d2e-9f3a4b5c6d7e",
                         "resource": subject("nd-rs", uuid, "ResearchStudy/sd-1")}]}
    plain = patient("nd-p2", "PT_ND2", "male")
    path = _ndjson(tmp_path / "mixed.ndjson", [plain, bundle])
    (tmp_path / "empty.ndjson").write_bytes(b"\n\n")
    (tmp_path / "empty.json").write_bytes(b"")
    assert load_fhir_object(con, 1, "mixed.ndjson", path) == []
    assert load_fhir_object(con, 2, "empty.ndjson", tmp_path / "empty.ndjson") == []
    assert load_fhir_object(con, 3, "empty.json", tmp_path / "empty.json") == []
    rows = con.execute("SELECT resource_type, id, full_url FROM fhir_resources ORDER BY id").fetchall()
    assert rows == [("Patient", "nd-b1", uuid), ("Patient", "nd-p2", None),
                    ("Observation", "nd-pb", "urn:uuid:6c0a4d2f-9b3e-4f70-8c1d-8e2f3a4b5c6d"),
                    ("ResearchSubject", "nd-rs", "urn:uuid:7d1b5e30-0c4f-4081-9d2e-9f3a4b5c6d7e")]
    rebuild_clinical_tables(con)
    assert sorted(con.execute("SELECT participant_id, is_proband FROM participants").fetchall()) == \
        [("PT_ND1", True), ("PT_ND2", None)]
    bad = _ndjson(tmp_path / "bad.ndjson", [{"resourceType": "Bundle", "type": "nonsense", "entry": []}])
    assert [q.reason for q in load_fhir_object(con, 4, "bad.ndjson", bad)] == ["Bundle of unknown type 'nonsense'"]


def test_export_errors_and_manifest_become_sync_warnings(tmp_path: Path) -> None:
    from kfexplorer.store.cache import connect
    from kfexplorer.sync.engine import sync_release

    root = tmp_path / "release"
    resources = build_resources()
    for resource_type, items in resources.items():
        _ndjson(root / "fhir" / resource_type / f"{resource_type}.ndjson", items)
    _ndjson(root / "fhir" / "errors" / "OperationOutcome.ndjson", [OUTCOME, OUTCOME])
    manifest = {"transactionTime": "2024-01-01T00:00:00Z", "request": "https://x/$export", "requiresAccessToken": False,
                "output": [{"type": t, "url": f"{t}/{t}.ndjson"} for t in resources],
                "error": [{"type": "OperationOutcome", "url": "errors/OperationOutcome.ndjson"}]}
    (root / "fhir" / "manifest.json").write_text(json.dumps(manifest))
    (root / "release.json").write_text(json.dumps({"release_id": "outcomes", "schema_version": 1}))
    report = sync_release(str(root), tmp_path / "cache")
    outcome_warnings = sorted(w for w in report.warnings if "Bulk Data export" in w)
    assert outcome_warnings == sorted([
        "2 OperationOutcome entries in Bulk Data export error / outcome files (not clinical data), e.g. "
        "fhir/errors/OperationOutcome.ndjson:1: Patient/zz could not be exported",
        "1 error / outcome files listed by a Bulk Data export manifest (not clinical data), e.g. "
        "fhir/manifest.json:error[0]: error file 'errors/OperationOutcome.ndjson' (OperationOutcome) holds export "
        "errors, not clinical data",
    ])
    con = connect(tmp_path / "cache", read_only=True)
    try:  # the clinical data landed, the outcomes did not
        by_type = dict(con.execute("SELECT resource_type, count(*) FROM fhir_resources GROUP BY ALL").fetchall())
    finally:
        con.close()
    assert by_type == {t: len(rs) for t, rs in resources.items()}
