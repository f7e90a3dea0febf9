"""Each packaged ViewDefinition against rows written by hand from the fixture JSON; the SQL-on-FHIR constructs
(forEach, forEachOrNull, unionAll, nested select, where, constants); user views from a folder; unusual ids."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from fhir_release_fixture import KF, build_resources, load_release, patient

from kfexplorer.fhir.flatten import rebuild_clinical_tables
from kfexplorer.fhir.ingest import load_fhir_object
from kfexplorer.fhir.view_definitions import (
    VIEWS_DIR_ENV,
    ViewDefinitionError,
    compile_view_definition,
    packaged_view_definitions,
)
from kfexplorer.fhir.views import create_macros


def _insert(con: duckdb.DuckDBPyConnection, resources: list[dict[str, Any]]) -> None:
    for r in resources:
        con.execute("INSERT INTO fhir_resources VALUES (?, ?, NULL, ?, 1)",
                    [r["resourceType"], r["id"], orjson.dumps(r).decode()])


def _view_rows(con: duckdb.DuckDBPyConnection, definition: dict[str, Any]) -> list[tuple[Any, ...]]:
    compiled = compile_view_definition(definition)
    return sorted(con.execute(compiled.sql, compiled.params).fetchall(), key=repr)


@pytest.fixture
def fixture_con(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    create_macros(con)
    for resources in build_resources().values():
        _insert(con, resources)
    return con


ALIVE = ("Alive", None, None, 3000.0, "d")
# Rows by hand from tests/fhir/fhir_release_fixture.py build_resources(), in each view's column order.
EXPECTED: dict[str, list[tuple[Any, ...]]] = {
    "patient": [("PT_F1", "male", "Asian", "Not Hispanic or Latino", "2011"),
                ("PT_M1", "female", "White", "Not Hispanic or Latino", "2011"),
                ("PT_P1", "female", "White", "Not Hispanic or Latino", "2011"),
                ("hl7-patient-4", "male", "White", "Not Hispanic or Latino", "2011")],
    "research_study": [("SD_STUDY1", "KF-CHD", "Heart trios", "birth-defect")],
    "research_subject": [("Patient/hl7-patient-4", "ResearchStudy/sd-study1"),
                         ("Patient/pt-f1", "ResearchStudy/sd-study1"),
                         ("Patient/pt-m1", "ResearchStudy/sd-study1"),
                         ("Patient/pt-p1", "ResearchStudy/sd-study1")],
    "family_group": [("FM_1",)],
    "group_member": [("FM_1", "Patient/pt-f1"), ("FM_1", "Patient/pt-m1"), ("FM_1", "Patient/pt-p1")],
    "observation_proband": [("Patient/hl7-patient-4", True, False, False), ("Patient/pt-f1", False, False, False),
                            ("Patient/pt-m1", False, False, False), ("Patient/pt-p1", True, False, False)],
    "observation_vital": [("Patient/hl7-patient-4", "Alive", None, None, 900.0, "d"),
                          ("Patient/hl7-patient-4", "Dead", None, None, 1200.0, "d"),
                          ("Patient/pt-p1", *ALIVE)],
    "observation_fammemb": [("Patient/pt-p1", "Patient/pt-f1", "FTH", "FTH"),
                            ("Patient/pt-p1", "Patient/pt-m1", "MTH", "MTH")],
    "specimen": [("BS_1", "Patient/pt-p1", "Peripheral Whole Blood", "Blood", 365.0, "d", None),
                 ("BS_1D", "Patient/pt-p1", "DNA", None, None, None, "Specimen/bs-1")],
    "document_reference": [
        ("DOC_1", "Patient/pt-p1", True, None, None, "Clinic visit", "Clinic visit", None, None,
         "notes/PT_P1/DOC_1.txt", "text/plain"),
        ("GF_1", "Patient/pt-p1", False, "Aligned Reads", "cram", "pt_p1.cram", "pt_p1.cram", 123456789,
         "c2hhMQ==", "s3://bucket/harmonized/pt_p1.cram", None)],
    "imaging_study": [("urn:oid:1.2.826.0.1.3680043.8.498.1", "Patient/hl7-patient-4", "MRI brain", 2100.0, "d", 2,
                       2)],
    "imaging_series": [
        ("urn:oid:1.2.826.0.1.3680043.8.498.1", "Patient/hl7-patient-4", "1.2.826.0.1.3680043.8.498.1.1", "MR",
         "Brain", "T1", 24),
        ("urn:oid:1.2.826.0.1.3680043.8.498.1", "Patient/hl7-patient-4", "1.2.826.0.1.3680043.8.498.1.2", "MR",
         "Brain", "T2", 30)],
}


def _condition_rows() -> list[tuple[Any, ...]]:
    rows = []
    for c in build_resources()["Condition"]:
        coding = c["code"]["coding"][0]
        onset = c.get("onsetAge")
        derived = "SYSTEM_GENERATED" in [t["code"] for t in c.get("meta", {}).get("tag", [])]
        rows.append((c["subject"]["reference"], c["code"]["text"], c["verificationStatus"]["coding"][0]["code"],
                     float(onset["value"]) if onset else None, onset["code"] if onset else None, derived,
                     coding["system"], coding["code"], coding["display"]))
    return sorted(rows, key=repr)


def test_every_packaged_view_gives_the_hand_computed_rows(fixture_con: duckdb.DuckDBPyConnection) -> None:
    definitions = packaged_view_definitions()
    assert set(definitions) == set(EXPECTED) | {"condition"}
    for name, rows in EXPECTED.items():
        assert _view_rows(fixture_con, definitions[name]) == sorted(rows, key=repr), name
    assert _view_rows(fixture_con, definitions["condition"]) == _condition_rows()


def test_for_each_or_null_union_all_nested_select_and_where(con: duckdb.DuckDBPyConnection) -> None:
    create_macros(con)
    _insert(con, [
        {"resourceType": "Patient", "id": "a", "active": True, "name": [{"family": "A1", "given": ["x", "y"]}],
         "telecom": [{"system": "phone", "value": "111"}], "address": [{"city": "Paris"}]},
        {"resourceType": "Patient", "id": "b", "active": True},
        {"resourceType": "Patient", "id": "c", "active": False, "name": [{"family": "C1"}]},
    ])
    base = {"name": "v", "resource": "Patient", "where": [{"path": "active"}]}
    for_each_or_null = {**base, "select": [{"column": [{"name": "id", "path": "id"}]},
                                           {"forEachOrNull": "name", "column": [{"name": "family", "path": "family"}],
                                            "select": [{"forEach": "given",
                                                        "column": [{"name": "given", "path": "$this"}]}]}]}
    # the nested forEach over given drops b (no name → no given): forEachOrNull keeps only the outer row
    assert _view_rows(con, for_each_or_null) == [("a", "A1", "x"), ("a", "A1", "y")]
    outer_only = {**base, "select": [{"column": [{"name": "id", "path": "id"}]},
                                     {"forEachOrNull": "name", "column": [{"name": "family", "path": "family"}]}]}
    assert _view_rows(con, outer_only) == [("a", "A1"), ("b", None)]
    for_each = {**base, "select": [{"column": [{"name": "id", "path": "id"}]},
                                   {"forEach": "name", "column": [{"name": "family", "path": "family"}]}]}
    assert _view_rows(con, for_each) == [("a", "A1")]
    union = {**base, "select": [{"column": [{"name": "id", "path": "id"}],
                                 "unionAll": [{"forEach": "telecom", "column": [{"name": "kind", "path": "system"},
                                                                                {"name": "val", "path": "value"}]},
                                              {"forEach": "address", "column": [{"name": "kind", "path": "'city'"},
                                                                                {"name": "val", "path": "city"}]}]}]}
    assert _view_rows(con, union) == [("a", "city", "Paris"), ("a", "phone", "111")]
    constant = {"name": "v", "resource": "Patient", "constant": [{"name": "fam", "valueString": "C1"}],
                "where": [{"path": "name.family = %fam"}], "select": [{"column": [{"name": "id", "path": "id"}]}]}
    assert _view_rows(con, constant) == [("c",)]


@pytest.mark.parametrize(("definition", "message"), [
    ({"name": "v", "resource": "Patient", "select": [{"column": [{"name": "x", "path": "name.select(given)"}]}]},
     "name.select(given)"),
    ({"name": "v", "resource": "Patient", "select": [{"repeat": ["item"], "column": []}]}, "repeat"),
    ({"name": "v", "resource": "patient; DROP", "select": []}, "resource"),
    ({"name": "v", "resource": "Patient", "select": [{"column": [{"name": "bad name", "path": "id"}]}]},
     "bad name"),
    ({"name": "v", "resource": "Patient", "select": [{"column": [{"name": "a", "path": "id"},
                                                                 {"name": "a", "path": "gender"}]}]}, "duplicate"),
])
def test_unsupported_view_definitions_fail_clearly(definition: dict[str, Any], message: str) -> None:
    with pytest.raises(ViewDefinitionError, match="view v") as caught:
        compile_view_definition(definition)
    assert message in str(caught.value)


def test_a_user_view_definition_becomes_a_table(con: duckdb.DuckDBPyConnection, tmp_path: Path,
                                                release: tuple[Path, dict[str, Path]],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    root, paths = release
    load_release(con, root, paths)
    views = tmp_path / "my_views"
    views.mkdir()
    (views / "patient_names.json").write_text(json.dumps({
        "resourceType": "ViewDefinition", "name": "patient_gender", "resource": "Patient",
        "select": [{"column": [{"name": "patient_key", "path": "getResourceKey()"},
                               {"name": "gender", "path": "gender"}]}]}))
    (views / "broken.json").write_text(json.dumps({"name": "broken", "resource": "Patient",
                                                   "select": [{"column": [{"name": "x", "path": "id.foo()"}]}]}))
    monkeypatch.setenv(VIEWS_DIR_ENV, str(views))
    warnings = rebuild_clinical_tables(con)
    expected = {(f"Patient/{p['id']}", p["gender"]) for p in build_resources()["Patient"]}
    expected.add(("Patient/7d1c2f4e-1b2a-4c3d-9e8f-0a1b2c3d4e5f", "male"))  # the Bundle's urn:uuid Patient
    assert set(con.execute("SELECT patient_key, gender FROM view_patient_gender").fetchall()) == expected
    assert any("view broken skipped" in w and "id.foo()" in w for w in warnings)
    monkeypatch.delenv(VIEWS_DIR_ENV)
    con.execute("DROP TABLE view_patient_gender")
    rebuild_clinical_tables(con, views_dir=views)  # the parameter works too
    assert con.execute("SELECT count(*) FROM view_patient_gender").fetchone() == (len(expected),)


def test_ids_with_unusual_characters_flatten_and_resolve(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    long_id = "a.b-" + "9" * 60  # 64 characters: the FHIR maximum
    ids = ["p.1", "p-2-", long_id, "P.-.Q"]
    lines = [patient(i, None, "female") for i in ids]
    lines += [{"resourceType": "ResearchSubject", "id": f"rs{n}", "status": "on-study",
               "individual": {"reference": f"Patient/{i}"}, "study": {"reference": "ResearchStudy/st.1"}}
              for n, i in enumerate(ids)]
    lines.append({"resourceType": "ResearchStudy", "id": "st.1", "status": "active",
                  "identifier": [{"system": f"{KF}/study_id", "value": "SD_X"}]})
    path = tmp_path / "odd.ndjson"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in lines))
    assert load_fhir_object(con, 1, "odd.ndjson", path) == []
    assert rebuild_clinical_tables(con) == []
    assert sorted(con.execute("SELECT participant_id, study_id FROM participants").fetchall()) == \
        sorted((i, "SD_X") for i in ids)
