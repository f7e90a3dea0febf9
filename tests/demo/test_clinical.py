"""The demo clinical writer: FHIR NDJSON shapes, references, affected status, validity and determinism.

Oracles read the written NDJSON with json and compare it with the population model and pyhpo directly.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from pyhpo import Ontology as PyhpoOntology

from kfexplorer.demo.clinical import write_clinical
from kfexplorer.demo.imaging_model import DemoImagingStudy, DemoSeries
from kfexplorer.demo.population import Population, build_population

N_PARTICIPANTS = 60
KF_PARTICIPANT = "https://kidsfirstdrc.org/participant_id"
AGE_URL = "https://kidsfirstdrc.org/fhir/StructureDefinition/age-at-event"


def _population() -> Population:
    """A small population whose families include trios, duos and proband-only families."""
    for seed in range(1, 200):
        population = build_population(N_PARTICIPANTS, seed)
        if {"trio", "duo", "proband-only"} <= {f.family_type for f in population.families}:
            return population
    raise AssertionError("no seed gives all family types")


def _imaging(population: Population) -> list[DemoImagingStudy]:
    probands = population.probands()[:2]
    return [
        DemoImagingStudy(p.index, p.participant_id, p.study_id, f"1.2.826.0.1.3680043.8.498.{n}1",
                         "MRI brain", p.age_at_enrollment_days,
                         (DemoSeries(f"1.2.826.0.1.3680043.8.498.{n}2", 1, "MR", "BRAIN", "T1 axial", 20),
                          DemoSeries(f"1.2.826.0.1.3680043.8.498.{n}3", 2, "CT", "HEAD", "Head CT", 30)))
        for n, p in enumerate(probands)
    ]


def _read(root: Path) -> dict[str, list[dict[str, Any]]]:
    resources: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in sorted((root / "fhir").rglob("*.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines():
            resource = json.loads(line)
            assert path.parent.name == resource["resourceType"]
            resources[resource["resourceType"]].append(resource)
    return resources


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Population, dict[str, int]]:
    population = _population()
    root = tmp_path_factory.mktemp("release")
    counts = write_clinical(root, population, _imaging(population), population.seed)
    return root, population, counts


def _identifier(resource: dict[str, Any], system: str) -> str | None:
    return next((i["value"] for i in resource.get("identifier", []) if i["system"] == system), None)


def test_counts_match_files_and_every_patient_has_one_kf_identifier(release: Any) -> None:
    root, population, counts = release
    resources = _read(root)
    assert counts == {k: len(v) for k, v in resources.items()}
    ids = [_identifier(p, KF_PARTICIPANT) for p in resources["Patient"]]
    assert None not in ids
    assert sorted(ids) == sorted(p.participant_id for p in population.participants)  # each exactly once
    by_id = {p.participant_id: p for p in population.participants}
    for patient in resources["Patient"]:
        participant = by_id[_identifier(patient, KF_PARTICIPANT)]
        assert patient["gender"] == participant.sex
        assert patient["birthDate"] == str(participant.birth_year)  # year only
        urls = {e["url"] for e in patient["extension"]}
        assert urls == {"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
                        "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"}
    all_ids = [r["id"] for rs in resources.values() for r in rs]
    assert all("_" not in i and len(i) <= 64 for i in all_ids)


def test_references_resolve_and_families_match_the_population(release: Any) -> None:
    root, population, _ = release
    resources = _read(root)
    known = {f"{t}/{r['id']}" for t, rs in resources.items() for r in rs}
    patient_of = {f"Patient/{p['id']}": _identifier(p, KF_PARTICIPANT) for p in resources["Patient"]}
    for subject in resources["ResearchSubject"]:
        assert subject["individual"]["reference"] in known
        assert subject["study"]["reference"] in known
    assert len(resources["ResearchSubject"]) == len(population.participants)
    groups = {_identifier(g, "https://kidsfirstdrc.org/family_id"): g for g in resources["Group"]}
    assert set(groups) == {f.family_id for f in population.families}
    types = set()
    for family in population.families:
        group = groups[family.family_id]
        assert group["type"] == "person"
        members = {patient_of[m["entity"]["reference"]] for m in group["member"]}
        assert members == {population.participants[i].participant_id for i in family.member_indexes}
        types.add(group["code"]["text"])
    assert {"trio", "duo", "proband-only"} <= types
    relation = {"mother": "MTH", "father": "FTH", "sibling": "SIB"}
    fammemb = [o for o in resources["Observation"] if o["code"]["coding"][0]["code"] == "FAMMEMB"]
    expected = {(population.participants[f.proband_index].participant_id, population.participants[i].participant_id,
                 relation[population.participants[i].role])
                for f in population.families for i in f.member_indexes if i != f.proband_index}
    got = {(patient_of[o["subject"]["reference"]], patient_of[o["focus"][0]["reference"]],
            o["valueCodeableConcept"]["coding"][0]["code"]) for o in fammemb}
    assert got == expected and expected
    for resource_type in ("Observation", "Condition", "Specimen", "DocumentReference", "ImagingStudy"):
        for resource in resources[resource_type]:
            assert resource["subject"]["reference"] in known
    for specimen in resources["Specimen"]:
        for parent in specimen.get("parent", []):
            assert parent["reference"] in known


def test_affected_iff_confirmed_diagnosis_and_ages_are_consistent(release: Any) -> None:
    root, population, _ = release
    resources = _read(root)
    patient_of = {f"Patient/{p['id']}": _identifier(p, KF_PARTICIPANT) for p in resources["Patient"]}
    by_id = {p.participant_id: p for p in population.participants}
    diagnosed: dict[str, list[int]] = defaultdict(list)
    phenotype_status = set()
    hpo_seen = {}
    for condition in resources["Condition"]:
        systems = {c["system"] for c in condition["code"]["coding"]}
        status = condition["verificationStatus"]["coding"][0]["code"]
        pid = patient_of[condition["subject"]["reference"]]
        assert condition["onsetAge"]["code"] == "d"
        assert condition["onsetAge"]["value"] <= by_id[pid].age_at_last_follow_up_days
        if "http://purl.obolibrary.org/obo/mondo.owl" in systems and status == "confirmed":
            diagnosed[pid].append(condition["onsetAge"]["value"])
        if systems == {"http://purl.obolibrary.org/obo/hp.owl"}:
            phenotype_status.add(status)
            coding = condition["code"]["coding"][0]
            hpo_seen[coding["code"]] = coding["display"]
    assert {pid for pid, p in by_id.items() if p.affected} == set(diagnosed)
    assert phenotype_status == {"confirmed", "refuted"}
    PyhpoOntology()
    for hpo_id, label in hpo_seen.items():
        assert PyhpoOntology.get_hpo_object(hpo_id).name == label
    vital = [o for o in resources["Observation"] if o["code"]["coding"][0]["code"] == "263493007"]
    assert len(vital) == len(population.participants)
    for observation in vital:
        participant = by_id[patient_of[observation["subject"]["reference"]]]
        age = next(e["valueAge"] for e in observation["extension"] if e["url"] == AGE_URL)
        assert age == {"value": participant.age_at_last_follow_up_days, "unit": "d",
                       "system": "http://unitsofmeasure.org", "code": "d"}
        assert observation["valueCodeableConcept"]["text"] == participant.vital_status
    proband = [o for o in resources["Observation"] if o["code"]["coding"][0]["code"] == "85900004"]
    assert {patient_of[o["subject"]["reference"]]: o["valueBoolean"] for o in proband} == \
        {p.participant_id: p.is_proband for p in population.participants}


def test_files_imaging_and_nlp_derived_conditions(release: Any) -> None:
    root, population, _ = release
    resources = _read(root)
    imaging = _imaging(population)
    studies = {s["identifier"][0]["value"]: s for s in resources["ImagingStudy"]}
    assert set(studies) == {f"urn:oid:{s.study_instance_uid}" for s in imaging}
    for demo in imaging:
        study = studies[f"urn:oid:{demo.study_instance_uid}"]
        assert [(s["uid"], s["modality"]["code"], s["numberOfInstances"]) for s in study["series"]] == \
            [(s.series_instance_uid, s.modality, s.number_of_instances) for s in demo.series]
    sequenced = sum(p.sequenced for p in population.participants)
    data_files = [d for d in resources["DocumentReference"]
                  if d["content"][0]["attachment"]["url"].startswith("s3://")]
    assert len(data_files) == 3 * sequenced
    assert {d["content"][0]["format"]["code"] for d in data_files} == {"cram", "crai", "gvcf"}
    notes = {d["id"]: d for d in resources["DocumentReference"] if d["content"][0]["attachment"]["url"]
             .startswith("notes/")}
    assert notes
    for note in notes.values():
        assert (root / note["content"][0]["attachment"]["url"]).is_file()
    derived = [c for c in resources["Condition"] if c.get("meta", {}).get("tag")]
    assert derived
    for condition in derived:
        assert condition["meta"]["tag"][0]["code"] == "SYSTEM_GENERATED"
        assert condition["code"]["coding"][0]["system"] == "http://hl7.org/fhir/sid/icd-10-cm"
        assert condition["evidence"][0]["detail"][0]["reference"].removeprefix("DocumentReference/") in notes


def test_every_resource_validates_with_fhir_r4b(release: Any) -> None:
    root, _, _ = release
    for resource_type, items in _read(root).items():
        model = get_fhir_model_class(resource_type)
        for resource in items:
            model.model_validate(resource)


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    population = build_population(40, 11)
    first, second = tmp_path / "a", tmp_path / "b"
    write_clinical(first, population, [], 11)
    write_clinical(second, build_population(40, 11), [], 11)
    files_a = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert files_a == files_b and files_a
    for rel in files_a:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel
    other = tmp_path / "c"
    write_clinical(other, build_population(40, 11), [], 12)
    assert (other / "fhir/Condition/Condition.ndjson").read_bytes() != \
        (first / "fhir/Condition/Condition.ndjson").read_bytes()


def test_big_types_are_split_into_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kfexplorer.demo.clinical as clinical

    monkeypatch.setattr(clinical, "MAX_LINES_PER_FILE", 25)
    counts = write_clinical(tmp_path, build_population(40, 3), [], 3)
    parts = sorted((tmp_path / "fhir" / "Patient").iterdir())
    assert [p.name for p in parts] == ["part-0000.ndjson", "part-0001.ndjson"]
    assert [len(p.read_text().splitlines()) for p in parts] == [25, counts["Patient"] - 25]
    assert [p.name for p in (tmp_path / "fhir" / "ResearchStudy").iterdir()] == ["ResearchStudy.ndjson"]


def test_ages_fit_the_birth_year():
    from kfexplorer.demo.population import RELEASE_YEAR, build_population

    for p in build_population(400, 5).participants:
        lived = (RELEASE_YEAR - p.birth_year + 1) * 365
        assert 0 <= p.age_at_enrollment_days <= p.age_at_last_follow_up_days <= lived, p
        if p.role in ("mother", "father"):
            assert p.age_at_enrollment_days >= 18 * 365 or lived < 36 * 365
