"""A small FHIR release made by code (DATA_CONTRACT.md shapes): NDJSON per resource type plus a transaction Bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import orjson

from kfexplorer.fhir.ingest import load_fhir_object
from kfexplorer.store.records import QuarantineItem

KF = "https://kidsfirstdrc.org"
AGE_URL = "https://kidsfirstdrc.org/fhir/StructureDefinition/age-at-event"
HPO = "http://purl.obolibrary.org/obo/hp.owl"
MONDO = "http://purl.obolibrary.org/obo/mondo.owl"
NCIT = "http://purl.obolibrary.org/obo/ncit.owl"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
ROLE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
BUNDLE_PATIENT_UUID = "urn:uuid:7d1c2f4e-1b2a-4c3d-9e8f-0a1b2c3d4e5f"


def age(days: int) -> dict[str, Any]:
    return {"value": days, "unit": "d", "system": "http://unitsofmeasure.org", "code": "d"}


def age_ext(days: int) -> list[dict[str, Any]]:
    return [{"url": AGE_URL, "valueAge": age(days)}]


def patient(fhir_id: str, kf_id: str | None, gender: str, race: str = "White") -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Patient", "id": fhir_id, "gender": gender, "birthDate": "2011",
        "extension": [
            {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
             "extension": [{"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238",
                                                                  "code": "2106-3", "display": race}},
                           {"url": "text", "valueString": race}]},
            {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity",
             "extension": [{"url": "text", "valueString": "Not Hispanic or Latino"}]},
        ],
    }
    if kf_id:
        res["identifier"] = [{"system": f"{KF}/participant_id", "value": kf_id}]
    return res


def subject(fhir_id: str, patient_ref: str, study_ref: str = "ResearchStudy/sd-study1") -> dict[str, Any]:
    return {"resourceType": "ResearchSubject", "id": fhir_id, "status": "on-study",
            "individual": {"reference": patient_ref}, "study": {"reference": study_ref}}


def condition(fhir_id: str, patient_ref: str, system: str, code: str, display: str, status: str,
              onset: int | None = None, derived: bool = False) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Condition", "id": fhir_id, "subject": {"reference": patient_ref},
        "verificationStatus": {"coding": [{"system": VER, "code": status}]},
        "code": {"coding": [{"system": system, "code": code, "display": display}], "text": display.lower()},
    }
    if onset is not None:
        res["onsetAge"] = age(onset)
    if derived:
        res["meta"] = {"tag": [{"code": "SYSTEM_GENERATED"}]}
    return res


def observation(fhir_id: str, patient_ref: str, code: str, **value: Any) -> dict[str, Any]:
    system = ROLE if code == "FAMMEMB" else SNOMED
    return {"resourceType": "Observation", "id": fhir_id, "status": "final",
            "code": {"coding": [{"system": system, "code": code}]}, "subject": {"reference": patient_ref}, **value}


def fammemb(fhir_id: str, proband: str, relative: str, role: str) -> dict[str, Any]:
    return observation(fhir_id, proband, "FAMMEMB", focus=[{"reference": relative}],
                       valueCodeableConcept={"coding": [{"system": ROLE, "code": role}]})


def vital(fhir_id: str, patient_ref: str, status: str, days: int) -> dict[str, Any]:
    return observation(fhir_id, patient_ref, "263493007", extension=age_ext(days),
                       valueCodeableConcept={"coding": [{"system": SNOMED, "display": status}], "text": status})


def build_resources() -> dict[str, list[dict[str, Any]]]:
    """NDJSON contents by resource type. pt-p1 (proband) + pt-m1 + pt-f1 form a trio; hl7-patient-4 has no KF id."""
    study = {"resourceType": "ResearchStudy", "id": "sd-study1", "status": "completed",
             "title": "Heart trios", "identifier": [{"system": f"{KF}/study_id", "value": "SD_STUDY1"},
                                                    {"system": f"{KF}/study_code", "value": "KF-CHD"}],
             "category": [{"coding": [{"code": "birth-defect"}]}]}
    return {
        "ResearchStudy": [study],
        "Patient": [patient("pt-p1", "PT_P1", "female"), patient("pt-m1", "PT_M1", "female"),
                    patient("pt-f1", "PT_F1", "male", race="Asian"), patient("hl7-patient-4", None, "male")],
        "ResearchSubject": [subject("rs-1", "Patient/pt-p1"), subject("rs-2", "Patient/pt-m1"),
                            subject("rs-3", "Patient/pt-f1"), subject("rs-4", "Patient/hl7-patient-4")],
        "Group": [{"resourceType": "Group", "id": "fm-1", "type": "person", "actual": True,
                   "identifier": [{"system": f"{KF}/family_id", "value": "FM_1"}],
                   "member": [{"entity": {"reference": f"Patient/{p}"}} for p in ("pt-p1", "pt-m1", "pt-f1")]}],
        "Observation": [
            fammemb("fam-m", "Patient/pt-p1", "Patient/pt-m1", "MTH"),
            fammemb("fam-f", "Patient/pt-p1", "Patient/pt-f1", "FTH"),
            observation("pb-1", "Patient/pt-p1", "85900004", valueBoolean=True),
            observation("pb-2", "Patient/pt-m1", "85900004", valueBoolean=False),
            observation("pb-3", "Patient/pt-f1", "85900004", valueBoolean=False),
            observation("pb-4", "Patient/hl7-patient-4", "85900004", valueBoolean=True),
            vital("vs-1", "Patient/pt-p1", "Alive", 3000),
            vital("vs-4a", "Patient/hl7-patient-4", "Alive", 900),
            vital("vs-4b", "Patient/hl7-patient-4", "Dead", 1200),
        ],
        "Condition": [
            condition("dx-1", "Patient/pt-p1", MONDO, "MONDO:0005453", "Congenital heart disease", "confirmed", 100),
            condition("ph-1", "Patient/pt-p1", HPO, "HP:0001250", "Seizure", "confirmed", 400),
            condition("ph-2", "Patient/pt-p1", HPO, "HP:0001263", "Global developmental delay", "refuted"),
            condition("dx-2", "Patient/pt-m1", MONDO, "MONDO:0005453", "Congenital heart disease", "refuted"),
            condition("dx-4", "Patient/hl7-patient-4", NCIT, "NCIT:C3058", "Glioblastoma", "confirmed", 2000),
            condition("nlp-4", "Patient/hl7-patient-4", ICD10CM, "G40.909", "Epilepsy", "unconfirmed", derived=True),
            condition("dx-ghost", "Patient/pt-nobody", MONDO, "MONDO:0005453", "Congenital heart disease",
                      "confirmed"),
        ],
        "Specimen": [
            {"resourceType": "Specimen", "id": "bs-1", "subject": {"reference": "Patient/pt-p1"},
             "identifier": [{"system": f"{KF}/biospecimen_id", "value": "BS_1"}], "extension": age_ext(365),
             "type": {"text": "Peripheral Whole Blood"},
             "collection": {"bodySite": {"coding": [{"display": "Blood"}]}}},
            {"resourceType": "Specimen", "id": "bs-1-dna", "subject": {"reference": "Patient/pt-p1"},
             "identifier": [{"system": f"{KF}/biospecimen_id", "value": "BS_1D"}],
             "type": {"text": "DNA"}, "parent": [{"reference": "Specimen/bs-1"}]},
        ],
        "DocumentReference": [
            {"resourceType": "DocumentReference", "id": "gf-1", "status": "current",
             "identifier": [{"system": f"{KF}/file_id", "value": "GF_1"}],
             "subject": {"reference": "Patient/pt-p1"}, "type": {"text": "Aligned Reads"},
             "content": [{"attachment": {"title": "pt_p1.cram", "size": 123456789, "hash": "c2hhMQ==",
                                         "url": "s3://bucket/harmonized/pt_p1.cram"},
                          "format": {"code": "cram", "display": "cram"}}]},
            {"resourceType": "DocumentReference", "id": "note-1", "status": "current",
             "identifier": [{"system": f"{KF}/document_id", "value": "DOC_1"}],
             "subject": {"reference": "Patient/pt-p1"},
             "category": [{"coding": [{"code": "clinical-note"}]}],
             "content": [{"attachment": {"contentType": "text/plain", "title": "Clinic visit",
                                         "url": "notes/PT_P1/DOC_1.txt"}}]},
        ],
        "ImagingStudy": [
            {"resourceType": "ImagingStudy", "id": "img-1", "status": "available",
             "subject": {"reference": "Patient/hl7-patient-4"}, "description": "MRI brain",
             "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:1.2.826.0.1.3680043.8.498.1"}],
             "extension": age_ext(2100), "numberOfSeries": 2,
             "series": [{"uid": "1.2.826.0.1.3680043.8.498.1.1", "modality": {"code": "MR"},
                         "bodySite": {"display": "Brain"}, "description": "T1", "numberOfInstances": 24},
                        {"uid": "1.2.826.0.1.3680043.8.498.1.2", "modality": {"code": "MR"},
                         "bodySite": {"display": "Brain"}, "description": "T2", "numberOfInstances": 30}]},
        ],
    }


def build_bundle() -> dict[str, Any]:
    """A transaction Bundle: a Patient known only by urn:uuid (no id), refs to it, and a copy of pt-p1."""
    p5 = patient("x", "PT_B5", "male")
    del p5["id"]
    p1_copy = patient("pt-p1", "PT_P1", "female")
    p1_copy["birthDate"] = "2012"  # newer content than the NDJSON copy
    entries = [
        {"fullUrl": BUNDLE_PATIENT_UUID, "resource": p5, "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:0b6f4a1e-5a7c-4f7e-9d11-2b3c4d5e6f70",
         "resource": {**condition("c-b5", BUNDLE_PATIENT_UUID, HPO, "HP:0001631", "Atrial septal defect",
                                  "confirmed")},
         "request": {"method": "PUT", "url": "Condition/c-b5"}},
        {"fullUrl": "urn:uuid:9a8b7c6d-1111-4222-8333-944455566677",
         "resource": subject("rs-b5", BUNDLE_PATIENT_UUID), "request": {"method": "PUT", "url": "ResearchSubject/rs-b5"}},
        {"fullUrl": "urn:uuid:1a2b3c4d-2222-4333-8444-955566677788",
         "resource": observation("pb-b5", BUNDLE_PATIENT_UUID, "85900004", valueBoolean=True),
         "request": {"method": "PUT", "url": "Observation/pb-b5"}},
        {"fullUrl": "http://example.org/fhir/Patient/pt-p1", "resource": p1_copy,
         "request": {"method": "PUT", "url": "Patient/pt-p1"}},
        {"request": {"method": "DELETE", "url": "Patient/gone"}},
    ]
    return {"resourceType": "Bundle", "id": "tx-1", "type": "transaction", "entry": entries}


MALFORMED_LINE = b'{"resourceType": "Condition", "id": "broken", '
NO_SUBJECT = {"resourceType": "Condition", "id": "no-subject",
              "code": {"coding": [{"system": HPO, "code": "HP:0000001"}]}}


def write_release(root: Path) -> dict[str, Path]:
    """Write the NDJSON files (Condition with one malformed line and one resource without subject) and the Bundle."""
    paths: dict[str, Path] = {}
    for resource_type, resources in build_resources().items():
        path = root / "fhir" / resource_type / f"{resource_type}-1.ndjson"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [orjson.dumps(r) for r in resources]
        if resource_type == "Condition":
            lines[2:2] = [MALFORMED_LINE, orjson.dumps(NO_SUBJECT)]  # lines 3 and 4
        path.write_bytes(b"\n".join(lines) + b"\n")
        paths[resource_type] = path
    bundle = root / "fhir" / "bundles" / "tx-1.json"
    bundle.parent.mkdir(parents=True, exist_ok=True)
    bundle.write_bytes(orjson.dumps(build_bundle()))
    paths["bundle"] = bundle
    return paths


def load_release(con: duckdb.DuckDBPyConnection, root: Path, paths: dict[str, Path]) -> list[QuarantineItem]:
    """Ingest every object, NDJSON first and the Bundle last (source ids in that order)."""
    quarantined: list[QuarantineItem] = []
    for source_id, path in enumerate(paths.values(), start=1):
        quarantined += load_fhir_object(con, source_id, path.relative_to(root).as_posix(), path)
    return quarantined


def all_fixture_resources() -> list[dict[str, Any]]:
    """Every resource of the fixture release that should land (NDJSON + Bundle, bundle ids filled from fullUrl)."""
    resources = [r for rs in build_resources().values() for r in rs]
    for entry in build_bundle()["entry"]:
        if "resource" in entry:
            res = dict(entry["resource"])
            res.setdefault("id", entry["fullUrl"].removeprefix("urn:uuid:"))
            resources.append(res)
    return resources


