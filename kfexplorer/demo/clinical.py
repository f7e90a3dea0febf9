"""The clinical part of the demo release: FHIR R4 NDJSON (NCPI / Kids First profile shapes) under fhir/<Type>/,
plus the free-text notes (written by kfexplorer.demo.notes) that the note DocumentReferences point to.

Everything derives from the seed and the population: the same seed gives the same bytes. Ages are days since birth;
no dates are written.
"""

from __future__ import annotations

import base64
import hashlib
import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from kfexplorer.demo.clinical_vocab import (
    DiagnosisEntry,
    diagnosis_catalog,
    phenotype_catalog,
    phenotype_entry,
)
from kfexplorer.demo.imaging_model import DemoImagingStudy
from kfexplorer.demo.notes import NoteInfo, write_notes
from kfexplorer.demo.population import KF_ID_ALPHABET, Participant, Population, fhir_id_for
from kfexplorer.ontology.hpo import load_hpo
from kfexplorer.ontology.mondo import load_mondo

MAX_LINES_PER_FILE = 50_000

KF = "https://kidsfirstdrc.org"
AGE_AT_EVENT_URL = f"{KF}/fhir/StructureDefinition/age-at-event"
PARTICIPANT_ID_SYSTEM = f"{KF}/participant_id"
STUDY_ID_SYSTEM = f"{KF}/study_id"
STUDY_CODE_SYSTEM = f"{KF}/study_code"
FAMILY_ID_SYSTEM = f"{KF}/family_id"
BIOSPECIMEN_ID_SYSTEM = f"{KF}/biospecimen_id"
FILE_ID_SYSTEM = f"{KF}/file_id"
DOCUMENT_ID_SYSTEM = f"{KF}/document_id"
HPO_SYSTEM = "http://purl.obolibrary.org/obo/hp.owl"
MONDO_SYSTEM = "http://purl.obolibrary.org/obo/mondo.owl"
NCIT_SYSTEM = "http://purl.obolibrary.org/obo/ncit.owl"
ICD10CM_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED_SYSTEM = "http://snomed.info/sct"
LOINC_SYSTEM = "http://loinc.org"
ROLE_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
VER_STATUS_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY_SYSTEM = f"{KF}/fhir/CodeSystem/condition-type"
UCUM = "http://unitsofmeasure.org"
OMB_SYSTEM = "urn:oid:2.16.840.1.113883.6.238"
NULL_FLAVOR_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
US_CORE_RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
US_CORE_ETHNICITY = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
DICOM_DCM_SYSTEM = "http://dicom.nema.org/resources/ontology/DCM"

OMB_RACE = {
    "White": ("2106-3", "White"),
    "Black or African American": ("2054-5", "Black or African American"),
    "Asian": ("2028-9", "Asian"),
    "American Indian or Alaska Native": ("1002-5", "American Indian or Alaska Native"),
    "Native Hawaiian or Other Pacific Islander": ("2076-8", "Native Hawaiian or Other Pacific Islander"),
}
OMB_ETHNICITY = {
    "Hispanic or Latino": ("2135-2", "Hispanic or Latino"),
    "Not Hispanic or Latino": ("2186-5", "Not Hispanic or Latino"),
}
RELATIONSHIP_CODES = {"mother": ("MTH", "mother"), "father": ("FTH", "father"), "sibling": ("SIB", "sibling")}
BODY_SITES = {
    "BRAIN": ("12738006", "Brain structure"),
    "HEAD": ("69536005", "Head structure"),
    "CHEST": ("51185008", "Thoracic structure"),
    "HEART": ("80891009", "Heart structure"),
    "SPINE": ("421060004", "Spinal structure"),
}


class PhenotypeAssignment(NamedTuple):
    hpo_id: str
    label: str
    observed: bool
    age_days: int


class DiagnosisAssignment(NamedTuple):
    mondo_id: str
    label: str
    age_days: int
    entry: DiagnosisEntry


@dataclass(frozen=True)
class DataFile:
    file_id: str
    participant_index: int
    data_type: str
    file_format: str
    file_name: str
    size: int
    url: str


def _age(days: int) -> dict[str, Any]:
    return {"value": int(days), "unit": "d", "system": UCUM, "code": "d"}


def _age_extension(days: int) -> list[dict[str, Any]]:
    return [{"url": AGE_AT_EVENT_URL, "valueAge": _age(days)}]


def _ref(resource_type: str, resource_id: str) -> dict[str, str]:
    return {"reference": f"{resource_type}/{resource_id}"}


def _rng(seed: int, purpose: str) -> random.Random:
    return random.Random(f"kfexplorer-demo-{seed}-{purpose}")


def _weighted(rng: random.Random, items: Sequence[Any], weights: Sequence[float], k: int) -> list[Any]:
    """k distinct items drawn by weight (deterministic for the rng)."""
    pool = list(range(len(items)))
    w = list(weights)
    picked: list[Any] = []
    for _ in range(min(k, len(pool))):
        index = rng.choices(range(len(pool)), weights=w)[0]
        picked.append(items[pool.pop(index)])
        w.pop(index)
    return picked


def assign_diagnoses(population: Population, seed: int) -> dict[int, list[DiagnosisAssignment]]:
    """Confirmed diagnoses: one (sometimes two) per affected participant, none for unaffected ones."""
    rng = _rng(seed, "diagnoses")
    mondo = load_mondo()
    result: dict[int, list[DiagnosisAssignment]] = {}
    for p in population.participants:
        if not p.affected:
            continue
        study = population.study(p.study_id)
        catalog = diagnosis_catalog(study.domain, study.study_id)
        count = 2 if rng.random() < 0.08 else 1
        entries = _weighted(rng, catalog, [e.weight for e in catalog], count)
        assigned: list[DiagnosisAssignment] = []
        for entry in entries:
            if entry.onset == "congenital":
                age = rng.randint(0, 30)
            elif p.is_proband:
                age = max(0, p.age_at_enrollment_days - rng.randint(0, 400))
            else:
                age = max(0, p.age_at_enrollment_days - rng.randint(0, 3650))
            age = min(age, p.age_at_last_follow_up_days)
            assigned.append(DiagnosisAssignment(entry.mondo_id, mondo.terms[entry.mondo_id].label, age, entry))
        result[p.index] = sorted(assigned, key=lambda d: (d.age_days, d.mondo_id))
    return result


def assign_phenotypes(population: Population, seed: int) -> dict[int, list[PhenotypeAssignment]]:
    """HPO phenotypes per participant index: affected participants get observed and not-observed ones from their
    study's catalog; some unaffected relatives get a few not-observed ones (examined, absent)."""
    rng = _rng(seed, "phenotypes")
    hpo = load_hpo()
    diagnoses = assign_diagnoses(population, seed)
    result: dict[int, list[PhenotypeAssignment]] = {}
    for p in population.participants:
        study = population.study(p.study_id)
        catalog = phenotype_catalog(study.domain, study.study_id)
        if p.affected:
            n_observed = rng.randint(2, 5)
            n_absent = rng.randint(1, 3)
        elif rng.random() < 0.3:
            n_observed, n_absent = 0, rng.randint(1, 2)
        else:
            continue
        chosen = _weighted(rng, catalog, [e.weight for e in catalog], n_observed + n_absent)
        first_dx = diagnoses.get(p.index, [None])[0]
        anchor = first_dx.age_days if first_dx is not None else p.age_at_enrollment_days
        items: list[PhenotypeAssignment] = []
        for position, entry in enumerate(chosen):
            observed = position < n_observed
            if observed:
                if study.domain == "cancer":
                    age = max(0, anchor - rng.randint(0, 120))
                else:
                    age = rng.randint(0, max(0, min(p.age_at_enrollment_days, 3 * 365)))
            else:
                age = p.age_at_enrollment_days
            age = min(age, p.age_at_last_follow_up_days)
            items.append(PhenotypeAssignment(entry.hpo_id, hpo.terms[entry.hpo_id].label, observed, age))
        result[p.index] = items
    return result


class _KfIds:
    """New Kids First style ids that collide with none of the population's."""

    def __init__(self, rng: random.Random, taken: Iterable[str]) -> None:
        self._rng = rng
        self._seen = set(taken)

    def new(self, prefix: str) -> str:
        while True:
            value = prefix + "_" + "".join(self._rng.choice(KF_ID_ALPHABET) for _ in range(8))
            if value not in self._seen:
                self._seen.add(value)
                return value


def _sha1_base64(rng: random.Random) -> str:
    return base64.b64encode(rng.getrandbits(160).to_bytes(20, "big")).decode("ascii")


class _Resources:
    def __init__(self) -> None:
        self.by_type: dict[str, list[dict[str, Any]]] = {}

    def add(self, resource: dict[str, Any]) -> None:
        self.by_type.setdefault(resource["resourceType"], []).append(resource)


def _research_study(study_id: str, study_code: str, name: str, domain: str) -> dict[str, Any]:
    return {
        "resourceType": "ResearchStudy",
        "id": fhir_id_for(study_id),
        "identifier": [{"system": STUDY_ID_SYSTEM, "value": study_id},
                       {"system": STUDY_CODE_SYSTEM, "value": study_code}],
        "title": name,
        "status": "completed",
        "keyword": [{"coding": [{"system": STUDY_CODE_SYSTEM, "code": study_code}], "text": study_code}],
        "category": [{"coding": [{"system": f"{KF}/fhir/CodeSystem/research-domain", "code": domain}],
                      "text": domain}],
    }


def _race_extension(race: str) -> dict[str, Any]:
    inner: list[dict[str, Any]] = []
    if race in OMB_RACE:
        code, display = OMB_RACE[race]
        inner.append({"url": "ombCategory", "valueCoding": {"system": OMB_SYSTEM, "code": code, "display": display}})
    elif race == "Other":
        inner.append({"url": "detailed", "valueCoding": {"system": OMB_SYSTEM, "code": "2131-1",
                                                         "display": "Other Race"}})
    else:
        inner.append({"url": "ombCategory", "valueCoding": {"system": NULL_FLAVOR_SYSTEM, "code": "UNK",
                                                            "display": "Unknown"}})
    inner.append({"url": "text", "valueString": race})
    return {"url": US_CORE_RACE, "extension": inner}


def _ethnicity_extension(ethnicity: str) -> dict[str, Any]:
    inner: list[dict[str, Any]] = []
    if ethnicity in OMB_ETHNICITY:
        code, display = OMB_ETHNICITY[ethnicity]
        inner.append({"url": "ombCategory", "valueCoding": {"system": OMB_SYSTEM, "code": code, "display": display}})
    else:
        inner.append({"url": "ombCategory", "valueCoding": {"system": NULL_FLAVOR_SYSTEM, "code": "UNK",
                                                            "display": "Unknown"}})
    inner.append({"url": "text", "valueString": ethnicity})
    return {"url": US_CORE_ETHNICITY, "extension": inner}


def _patient(p: Participant) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": p.fhir_id,
        "identifier": [{"system": PARTICIPANT_ID_SYSTEM, "value": p.participant_id}],
        "gender": p.sex,
        "birthDate": f"{p.birth_year:04d}",  # year precision only: no month or day
        "extension": [_race_extension(p.race), _ethnicity_extension(p.ethnicity)],
    }


def _observation(resource_id: str, subject: str, code: dict[str, Any], **values: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Observation", "id": resource_id, "status": "final", "code": code,
                                "subject": _ref("Patient", subject)}
    resource.update(values)
    return resource


def _condition(resource_id: str, subject: str, codings: list[dict[str, str]], text: str, verification: str,
               category: str, age_days: int) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": resource_id,
        "verificationStatus": {"coding": [{"system": VER_STATUS_SYSTEM, "code": verification}]},
        "category": [{"coding": [{"system": CONDITION_CATEGORY_SYSTEM, "code": category}], "text": category}],
        "code": {"coding": codings, "text": text},
        "subject": _ref("Patient", subject),
        "onsetAge": _age(age_days),
    }


def _write_ndjson(root: Path, resources: _Resources) -> dict[str, int]:
    counts: dict[str, int] = {}
    for resource_type in sorted(resources.by_type):
        items = resources.by_type[resource_type]
        folder = root / "fhir" / resource_type
        folder.mkdir(parents=True, exist_ok=True)
        lines = [orjson.dumps(r, option=orjson.OPT_SORT_KEYS) for r in items]
        if len(lines) <= MAX_LINES_PER_FILE:
            chunks = [(f"{resource_type}.ndjson", lines)]
        else:
            chunks = [(f"part-{n:04d}.ndjson", lines[start:start + MAX_LINES_PER_FILE])
                      for n, start in enumerate(range(0, len(lines), MAX_LINES_PER_FILE))]
        for name, chunk in chunks:
            (folder / name).write_bytes(b"\n".join(chunk) + b"\n")
        counts[resource_type] = len(items)
    return counts


def _data_files(population: Population, rng: random.Random, ids: _KfIds) -> list[DataFile]:
    files: list[DataFile] = []
    kinds = (("Aligned Reads", "cram", "aligned-reads", ".cram", (900_000_000, 2_100_000_000)),
             ("Aligned Reads Index", "crai", "aligned-reads", ".cram.crai", (900_000, 3_000_000)),
             ("gVCF", "gvcf", "gvcf", ".g.vcf.gz", (400_000_000, 1_900_000_000)))
    for p in population.participants:
        if not p.sequenced:
            continue
        stem = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        bucket = f"s3://kf-study-us-east-1-prd-{p.study_id.lower().replace('_', '-')}"
        for data_type, file_format, folder, ext, (low, high) in kinds:
            name = stem + ext
            files.append(DataFile(ids.new("GF"), p.index, data_type, file_format, name, rng.randint(low, high),
                                  f"{bucket}/harmonized-data/{folder}/{name}"))
    return files


def write_clinical(root: Path, population: Population, imaging: Sequence[DemoImagingStudy],
                   seed: int) -> dict[str, int]:
    """Write fhir/<ResourceType>/*.ndjson and notes/ for the population; return resource counts per type."""
    root = Path(root)
    participants = population.participants
    hpo = load_hpo()
    diagnoses = assign_diagnoses(population, seed)
    phenotypes = assign_phenotypes(population, seed)
    rng = _rng(seed, "clinical")
    taken = {p.participant_id for p in participants} | {p.sample_id for p in participants}
    taken |= {f.family_id for f in population.families}
    ids = _KfIds(rng, taken)
    out = _Resources()

    for study in population.studies:
        out.add(_research_study(study.study_id, study.study_code, study.name, study.domain))

    for p in participants:
        out.add(_patient(p))
        out.add({"resourceType": "ResearchSubject", "id": f"rs-{p.fhir_id}", "status": "on-study",
                 "identifier": [{"system": PARTICIPANT_ID_SYSTEM, "value": p.participant_id}],
                 "study": _ref("ResearchStudy", fhir_id_for(p.study_id)), "individual": _ref("Patient", p.fhir_id)})
        vital_code = ("438949009", "Alive") if p.vital_status == "Alive" else ("419099009", "Dead")
        out.add(_observation(
            f"vs-{p.fhir_id}", p.fhir_id,
            {"coding": [{"system": SNOMED_SYSTEM, "code": "263493007", "display": "Clinical status"}],
             "text": "Vital status"},
            valueCodeableConcept={"coding": [{"system": SNOMED_SYSTEM, "code": vital_code[0],
                                              "display": vital_code[1]}], "text": vital_code[1]},
            extension=_age_extension(p.age_at_last_follow_up_days)))
        out.add(_observation(
            f"proband-{p.fhir_id}", p.fhir_id,
            {"coding": [{"system": SNOMED_SYSTEM, "code": "85900004", "display": "Proband"}],
             "text": "Proband status"},
            valueBoolean=p.is_proband))

    for family in population.families:
        members = family.member_indexes
        proband = participants[family.proband_index]
        out.add({"resourceType": "Group", "id": fhir_id_for(family.family_id), "type": "person", "actual": True,
                 "identifier": [{"system": FAMILY_ID_SYSTEM, "value": family.family_id}],
                 "code": {"coding": [{"system": f"{KF}/fhir/CodeSystem/family-type", "code": family.family_type}],
                          "text": family.family_type},
                 "quantity": len(members),
                 "member": [{"entity": _ref("Patient", participants[i].fhir_id)} for i in members]})
        for i in members:
            relative = participants[i]
            if i == family.proband_index:
                continue
            code, display = RELATIONSHIP_CODES[relative.role]
            out.add(_observation(
                f"fammemb-{relative.fhir_id}", proband.fhir_id,
                {"coding": [{"system": ROLE_CODE_SYSTEM, "code": "FAMMEMB", "display": "family member"}],
                 "text": "Family relationship"},
                focus=[_ref("Patient", relative.fhir_id)],
                valueCodeableConcept={"coding": [{"system": ROLE_CODE_SYSTEM, "code": code, "display": display}],
                                      "text": display}))

    diagnosis_text: dict[int, str] = {}
    for index in sorted(diagnoses):
        p = participants[index]
        for n, dx in enumerate(diagnoses[index]):
            codings = [{"system": MONDO_SYSTEM, "code": dx.mondo_id, "display": dx.label}]
            if dx.entry.ncit:
                codings.append({"system": NCIT_SYSTEM, "code": f"NCIT:{dx.entry.ncit[0]}",
                                "display": dx.entry.ncit[1]})
            if dx.entry.icd10cm:
                codings.append({"system": ICD10CM_SYSTEM, "code": dx.entry.icd10cm[0],
                                "display": dx.entry.icd10cm[1]})
            out.add(_condition(f"dx-{p.fhir_id}-{n}", p.fhir_id, codings, dx.label, "confirmed", "disease",
                               dx.age_days))
        first = diagnoses[index][0].label
        diagnosis_text[index] = "orofacial cleft" if "cleft" in first else first

    for index in sorted(phenotypes):
        p = participants[index]
        for n, ph in enumerate(phenotypes[index]):
            out.add(_condition(f"ph-{p.fhir_id}-{n}", p.fhir_id,
                               [{"system": HPO_SYSTEM, "code": ph.hpo_id, "display": ph.label}], ph.label,
                               "confirmed" if ph.observed else "refuted", "phenotype", ph.age_days))

    # Specimens: a blood sample per participant (the sequenced sample_id), a DNA aliquot for sequenced ones,
    # a tumour sample for affected cancer probands.
    dna_specimen: dict[int, str] = {}
    for p in participants:
        collected = min(p.age_at_enrollment_days + rng.randint(0, 30), p.age_at_last_follow_up_days)
        blood_id = fhir_id_for(p.sample_id)
        out.add({"resourceType": "Specimen", "id": blood_id, "status": "available",
                 "identifier": [{"system": BIOSPECIMEN_ID_SYSTEM, "value": p.sample_id}],
                 "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0487", "code": "BLD",
                                      "display": "Whole blood"}], "text": "Peripheral Whole Blood"},
                 "subject": _ref("Patient", p.fhir_id),
                 "collection": {"bodySite": {"coding": [{"system": SNOMED_SYSTEM, "code": "87612001",
                                                         "display": "Blood"}], "text": "Blood"}},
                 "extension": _age_extension(collected)})
        if p.sequenced:
            dna_kf = ids.new("BS")
            dna_specimen[p.index] = fhir_id_for(dna_kf)
            out.add({"resourceType": "Specimen", "id": fhir_id_for(dna_kf), "status": "available",
                     "identifier": [{"system": BIOSPECIMEN_ID_SYSTEM, "value": dna_kf}],
                     "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0487", "code": "DNA",
                                          "display": "DNA"}], "text": "DNA"},
                     "subject": _ref("Patient", p.fhir_id), "parent": [_ref("Specimen", blood_id)],
                     "extension": _age_extension(collected)})
        if p.is_proband and p.affected and population.study(p.study_id).domain == "cancer":
            tumour_kf = ids.new("BS")
            age = diagnoses[p.index][0].age_days if p.index in diagnoses else collected
            out.add({"resourceType": "Specimen", "id": fhir_id_for(tumour_kf), "status": "available",
                     "identifier": [{"system": BIOSPECIMEN_ID_SYSTEM, "value": tumour_kf}],
                     "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0487", "code": "TUMOR",
                                          "display": "Tumor"}], "text": "Solid Tissue"},
                     "subject": _ref("Patient", p.fhir_id),
                     "collection": {"bodySite": {"coding": [{"system": SNOMED_SYSTEM, "code": "12738006",
                                                             "display": "Brain structure"}], "text": "Brain"}},
                     "extension": _age_extension(age)})

    for data_file in _data_files(population, rng, ids):
        p = participants[data_file.participant_index]
        out.add({"resourceType": "DocumentReference", "id": fhir_id_for(data_file.file_id), "status": "current",
                 "docStatus": "final",
                 "identifier": [{"system": FILE_ID_SYSTEM, "value": data_file.file_id}],
                 "type": {"coding": [{"system": f"{KF}/fhir/CodeSystem/data-type", "code": data_file.data_type,
                                      "display": data_file.data_type}], "text": data_file.data_type},
                 "category": [{"coding": [{"system": f"{KF}/fhir/CodeSystem/data-category", "code": "Genomics"}],
                               "text": "Genomics"}],
                 "subject": _ref("Patient", p.fhir_id),
                 "context": {"related": [_ref("Specimen", dna_specimen[p.index])]},
                 "content": [{"attachment": {"url": data_file.url, "title": data_file.file_name,
                                             "size": data_file.size, "hash": _sha1_base64(rng)},
                              "format": {"system": f"{KF}/fhir/CodeSystem/file-format",
                                         "code": data_file.file_format, "display": data_file.file_format}}]})

    for study_image in imaging:
        p = participants[study_image.participant_index]
        image_id = "img-" + hashlib.sha1(study_image.study_instance_uid.encode()).hexdigest()[:20]
        modalities = sorted({s.modality for s in study_image.series})
        series = []
        for s in study_image.series:
            site = BODY_SITES.get(s.body_part.upper())
            body_site = ({"system": SNOMED_SYSTEM, "code": site[0], "display": site[1]} if site
                         else {"display": s.body_part})
            series.append({"uid": s.series_instance_uid, "number": s.series_number,
                           "modality": {"system": DICOM_DCM_SYSTEM, "code": s.modality},
                           "description": s.description, "numberOfInstances": s.number_of_instances,
                           "bodySite": body_site})
        out.add({"resourceType": "ImagingStudy", "id": image_id, "status": "available",
                 "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{study_image.study_instance_uid}"}],
                 "subject": _ref("Patient", p.fhir_id), "description": study_image.description,
                 "modality": [{"system": DICOM_DCM_SYSTEM, "code": m} for m in modalities],
                 "numberOfSeries": len(series),
                 "numberOfInstances": sum(s.number_of_instances for s in study_image.series),
                 "series": series, "extension": _age_extension(study_image.age_at_scan_days)})

    notes = write_notes(root, population, phenotypes, seed, diagnosis_text=diagnosis_text)
    _add_note_resources(out, population, notes, rng, hpo_labels={k: v.label for k, v in hpo.terms.items()})
    return _write_ndjson(root, out)


def _add_note_resources(out: _Resources, population: Population, notes: Sequence[NoteInfo], rng: random.Random,
                        hpo_labels: dict[str, str]) -> None:
    for note in notes:
        p = population.participants[note.participant_index]
        out.add({"resourceType": "DocumentReference", "id": note.document_id, "status": "current",
                 "docStatus": "final",
                 "identifier": [{"system": DOCUMENT_ID_SYSTEM, "value": note.document_id}],
                 "type": {"coding": [{"system": LOINC_SYSTEM, "code": note.loinc_code, "display": note.title}],
                          "text": note.title},
                 "category": [{"coding": [{"system": f"{KF}/fhir/CodeSystem/data-category",
                                           "code": "Clinical Notes"}], "text": "Clinical Notes"}],
                 "subject": _ref("Patient", p.fhir_id),
                 "content": [{"attachment": {"contentType": "text/plain", "url": note.relative_path,
                                             "title": note.title, "size": note.size, "hash": note.sha1_base64},
                              "format": {"system": f"{KF}/fhir/CodeSystem/file-format", "code": "txt",
                                         "display": "txt"}}],
                 "extension": _age_extension(note.age_days)})
        # A HealthLake-style integrated NLP pass: ICD-10-CM Conditions for some asserted findings of some notes.
        if rng.random() >= 0.5:
            continue
        derived = 0
        for hpo_id, observed in note.mentions:
            entry = phenotype_entry(hpo_id)
            if not observed or entry is None or entry.icd10cm is None or derived >= 2:
                continue
            out.add({"resourceType": "Condition", "id": f"nlp-{note.document_id}-{derived}",
                     "meta": {"tag": [{"code": "SYSTEM_GENERATED", "display": "System Generated"}]},
                     "verificationStatus": {"coding": [{"system": VER_STATUS_SYSTEM, "code": "unconfirmed"}]},
                     "category": [{"coding": [{"system": CONDITION_CATEGORY_SYSTEM, "code": "nlp-derived"}],
                                   "text": "nlp-derived"}],
                     "code": {"coding": [{"system": ICD10CM_SYSTEM, "code": entry.icd10cm[0],
                                          "display": entry.icd10cm[1]}], "text": hpo_labels.get(hpo_id, hpo_id)},
                     "subject": _ref("Patient", p.fhir_id),
                     "onsetAge": _age(note.age_days),
                     "evidence": [{"detail": [_ref("DocumentReference", note.document_id)]}]})
            derived += 1
