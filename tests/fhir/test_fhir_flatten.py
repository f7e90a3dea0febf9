"""rebuild_clinical_tables: the clinical tables agree with the fixture JSON (the oracle), references resolve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from fhir_release_fixture import (
    HPO,
    KF,
    all_fixture_resources,
    fammemb,
    load_release,
    observation,
    patient,
)

from kfexplorer.fhir.flatten import rebuild_clinical_tables
from kfexplorer.fhir.ingest import load_fhir_object

DIAGNOSIS_SYSTEMS = ("mondo", "ncit", "icd-10")


def _participant_id(res: dict[str, Any]) -> str:
    return next((i["value"] for i in res.get("identifier", []) if i["system"] == f"{KF}/participant_id"), res["id"])


def _oracle() -> dict[str, Any]:
    """What the tables should hold, read from the fixture resources (the newest copy of a repeated one wins)."""
    resources: dict[tuple[str, str], dict[str, Any]] = {}
    for res in all_fixture_resources():
        resources[(res["resourceType"], res["id"])] = res
    by_type: dict[str, list[dict[str, Any]]] = {}
    for res in resources.values():
        by_type.setdefault(res["resourceType"], []).append(res)
    patients = by_type["Patient"]
    pid_by_ref = {f"Patient/{p['id']}": _participant_id(p) for p in patients}
    pid_by_ref["urn:uuid:" + next(p["id"] for p in patients if len(p["id"]) == 36)] = "PT_B5"

    def pid(ref: str) -> str:
        return pid_by_ref.get(ref, ref.rsplit("/", 1)[-1])

    conditions = by_type["Condition"]
    affected = {pid(c["subject"]["reference"]) for c in conditions
                if any(s in c["code"]["coding"][0]["system"] for s in DIAGNOSIS_SYSTEMS)
                and c["verificationStatus"]["coding"][0]["code"] == "confirmed"}
    phenotypes = {(pid(c["subject"]["reference"]), c["code"]["coding"][0]["code"],
                   c["verificationStatus"]["coding"][0]["code"] != "refuted")
                  for c in conditions if c["code"]["coding"][0]["system"] == HPO}
    diagnoses = {(pid(c["subject"]["reference"]), c["code"]["coding"][0]["code"],
                  c.get("meta", {}).get("tag", [{}])[0].get("code") == "SYSTEM_GENERATED")
                 for c in conditions if c["code"]["coding"][0]["system"] != HPO}
    return {"patients": patients, "pid": pid, "affected": affected, "phenotypes": phenotypes,
            "diagnoses": diagnoses, "by_type": by_type}


@pytest.fixture
def loaded(con: duckdb.DuckDBPyConnection, release: tuple[Path, dict[str, Path]]) -> list[str]:
    root, paths = release
    load_release(con, root, paths)
    return rebuild_clinical_tables(con)


def test_participants_match_the_fixture(con: duckdb.DuckDBPyConnection, loaded: list[str]) -> None:
    oracle = _oracle()
    rows = {r[0]: r for r in con.execute(
        "SELECT participant_id, fhir_id, study_id, sex, race, is_proband, affected_status, birth_year "
        "FROM participants").fetchall()}
    assert set(rows) == {_participant_id(p) for p in oracle["patients"]}
    assert "hl7-patient-4" in rows  # no Kids First identifier: Patient.id
    for p in oracle["patients"]:
        row = rows[_participant_id(p)]
        assert row[1] == p["id"]
        assert row[3] == p["gender"]
        assert row[4] == p["extension"][0]["extension"][1]["valueString"]
        assert row[7] == int(p["birthDate"])  # pt-p1: the Bundle's newer copy
        assert row[2] == "SD_STUDY1"  # PT_B5's ResearchSubject points at it through urn:uuid
        assert row[6] == (row[0] in oracle["affected"])
    probands = {o["subject"]["reference"]: o["valueBoolean"] for o in oracle["by_type"]["Observation"]
                if o["code"]["coding"][0]["code"] == "85900004"}
    assert {pid for pid, r in rows.items() if r[5]} == {oracle["pid"](ref) for ref, v in probands.items() if v}


def test_vital_status_family_and_relationships(con: duckdb.DuckDBPyConnection, loaded: list[str]) -> None:
    vital = dict(((p, (s, a)) for p, s, a in con.execute(
        "SELECT participant_id, vital_status, age_at_last_follow_up_days FROM participants").fetchall()))
    assert vital["hl7-patient-4"] == ("Dead", 1200)  # the latest of two vital-status Observations
    assert vital["PT_P1"] == ("Alive", 3000)
    assert con.execute("SELECT family_id, study_id, family_type, proband_id, member_count FROM families"
                       ).fetchall() == [("FM_1", "SD_STUDY1", "trio", "PT_P1", 3)]
    assert set(con.execute("SELECT * FROM family_members").fetchall()) == {
        ("FM_1", "PT_P1", "proband"), ("FM_1", "PT_M1", "mother"), ("FM_1", "PT_F1", "father")}
    fam = dict(con.execute("SELECT participant_id, family_type FROM participants WHERE family_id = 'FM_1'"
                           ).fetchall())
    assert fam == {"PT_P1": "trio", "PT_M1": "trio", "PT_F1": "trio"}


def test_conditions_specimens_files_notes_imaging(con: duckdb.DuckDBPyConnection, loaded: list[str]) -> None:
    oracle = _oracle()
    assert set(con.execute("SELECT participant_id, hpo_id, observed FROM phenotypes").fetchall()) \
        == oracle["phenotypes"]
    assert set(con.execute("SELECT participant_id, code, derived FROM diagnoses").fetchall()) == oracle["diagnoses"]
    assert con.execute("SELECT label, system, age_at_event_days, source_text, verification FROM diagnoses "
                       "WHERE participant_id = 'PT_P1'").fetchall() \
        == [("Congenital heart disease", "MONDO", 100, "congenital heart disease", "confirmed")]
    # a Condition whose Patient is absent is kept (its reference's id), and reported
    assert "1 Conditions reference unknown Patients" in loaded
    assert con.execute("SELECT count(*) FROM diagnoses WHERE participant_id = 'pt-nobody'").fetchone() == (1,)

    specimens = {s["id"]: s for s in oracle["by_type"]["Specimen"]}
    assert set(con.execute("SELECT sample_id, participant_id, age_at_collection_days, parent_sample_id, "
                           "sample_type FROM biospecimens").fetchall()) == {
        ("BS_1", "PT_P1", specimens["bs-1"]["extension"][0]["valueAge"]["value"], None, "Peripheral Whole Blood"),
        ("BS_1D", "PT_P1", None, "BS_1", "DNA")}

    docs = {d["id"]: d for d in oracle["by_type"]["DocumentReference"]}
    attachment = docs["gf-1"]["content"][0]["attachment"]
    assert con.execute("SELECT file_id, participant_id, data_type, format, file_name, size, hash, url FROM files"
                       ).fetchall() == [("GF_1", "PT_P1", "Aligned Reads", "cram", attachment["title"],
                                         attachment["size"], attachment["hash"], attachment["url"])]
    note = docs["note-1"]["content"][0]["attachment"]
    assert con.execute("SELECT document_id, participant_id, title, path, content_type FROM notes").fetchall() \
        == [("DOC_1", "PT_P1", note["title"], note["url"], note["contentType"])]

    study = oracle["by_type"]["ImagingStudy"][0]
    uid = study["identifier"][0]["value"].removeprefix("urn:oid:")
    assert con.execute("SELECT study_instance_uid, participant_id, age_at_scan_days, number_of_series "
                       "FROM imaging_studies").fetchall() == [(uid, "hl7-patient-4", 2100, 2)]
    assert set(con.execute("SELECT series_instance_uid, study_instance_uid, modality, body_part, "
                           "number_of_instances FROM imaging_series").fetchall()) == {
        (s["uid"], uid, s["modality"]["code"], s["bodySite"]["display"], s["numberOfInstances"])
        for s in study["series"]}
    assert con.execute("SELECT study_id, study_code, domain FROM studies").fetchall() \
        == [("SD_STUDY1", "KF-CHD", "birth-defect")]


def test_rebuild_is_idempotent_keeps_other_phenotypes_and_stays_in_the_callers_transaction(
        con: duckdb.DuckDBPyConnection, loaded: list[str]) -> None:
    con.execute("INSERT INTO phenotypes (participant_id, hpo_id, observed, source, derived) "
                "VALUES ('PT_P1', 'HP:0000001', true, 'note', true)")
    tables = ("participants", "families", "family_members", "diagnoses", "phenotypes", "biospecimens", "files",
              "notes", "imaging_studies", "imaging_series", "studies")
    before = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone() for t in tables}
    assert rebuild_clinical_tables(con) == loaded
    assert {t: con.execute(f"SELECT count(*) FROM {t}").fetchone() for t in tables} == before

    con.execute("BEGIN")
    con.execute("DELETE FROM fhir_resources")
    rebuild_clinical_tables(con)
    assert con.execute("SELECT count(*) FROM participants").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM phenotypes").fetchone() == (1,)  # the notes row stays
    con.execute("ROLLBACK")  # nothing was committed inside
    assert con.execute("SELECT count(*) FROM participants").fetchone() == before["participants"]


@pytest.mark.parametrize(("relatives", "family_type"), [
    ({"m": "MTH"}, "duo"),
    ({"m": "MTH", "f": "FTH", "s": "SIB"}, "trio+"),
    ({}, "proband-only"),
])
def test_family_types(con: duckdb.DuckDBPyConnection, tmp_path: Path, relatives: dict[str, str],
                      family_type: str) -> None:
    members = ["pr", *relatives]
    resources = [patient(m, f"PT_{m.upper()}", "female") for m in members]
    resources.append({"resourceType": "Group", "id": "fam", "type": "person", "actual": True,
                      "member": [{"entity": {"reference": f"Patient/{m}"}} for m in members]})
    resources += [fammemb(f"fm-{m}", "Patient/pr", f"Patient/{m}", code) for m, code in relatives.items()]
    resources.append(observation("pb", "Patient/pr", "85900004", valueBoolean=True))
    path = tmp_path / "family.ndjson"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in resources))
    assert load_fhir_object(con, 1, "family.ndjson", path) == []
    rebuild_clinical_tables(con)
    assert con.execute("SELECT family_id, family_type, proband_id, member_count FROM families").fetchall() \
        == [("fam", family_type, "PT_PR", len(members))]
    assert con.execute("SELECT count(*) FROM participants WHERE family_type = ?", [family_type]).fetchone() \
        == (len(members),)
