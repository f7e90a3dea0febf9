"""The resource-level views the clinical tables are built from, and the DuckDB macros they use.

The views are SQL-on-FHIR v2 ViewDefinitions in resources/fhir_views/*.json (compiled by
kfexplorer.fhir.view_definitions, FHIRPath by kfexplorer.fhir.fhirpath), each read into a temp table
`_v_*` that also derives what FHIRPath leaves to SQL (kfexplorer.fhir.flatten joins those):
ages in days from an Age's value + unit, the terminology of a coding, DICOM UIDs without `urn:oid:`, the note
flag from the attachment url, the proband flag from valueBoolean or its SNOMED code.

What is read (NCPI / Kids First profiles, DATA_CONTRACT.md):
- identifiers with system https://kidsfirstdrc.org/{participant_id,study_id,biospecimen_id,family_id}; the
  resource id when absent. ResearchStudy.study_code: identifier …/study_code, else keyword[0]; domain: an
  extension whose url mentions "domain", else category[0].
- Patient: gender, birthDate (year), US Core race / ethnicity extensions (text, else first ombCategory).
- Observations by code: 85900004 proband status (valueBoolean, or SNOMED 373066001/373067005), 263493007 vital
  status (valueCodeableConcept / valueString), FAMMEMB (subject = proband, focus = relative, value = RoleCode).
- Ages: Age elements (onsetAge, valueAge of the KF age-at-event extension) in days; a, mo, wk, h converted.
- DocumentReference: a clinical note when a category / type code is `clinical-note` or the attachment url points
  at notes/<participant>/<file>; otherwise a data file (first content entry).
"""

from __future__ import annotations

import duckdb

from kfexplorer.fhir.view_definitions import compile_view_definition, packaged_view_definitions

KF = "https://kidsfirstdrc.org"
AGE_AT_EVENT_URL = "https://kidsfirstdrc.org/fhir/StructureDefinition/age-at-event"
US_CORE_RACE_URL = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
US_CORE_ETHNICITY_URL = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
SNOMED_PROBAND_STATUS = "85900004"
SNOMED_VITAL_STATUS = "263493007"
FAMILY_MEMBER_CODE = "FAMMEMB"
SYSTEM_GENERATED_TAG = "SYSTEM_GENERATED"

def js(base: str, path: str) -> str:
    """SQL for the string at a JSON path (`$.a.b[0].c`) of a JSON expression."""
    return f"json_extract_string({base}, '{path}')"


def jx(base: str, path: str) -> str:
    """SQL for the JSON at a path of a JSON expression (functions, not `->`: inside macro and lambda arguments
    DuckDB reads `x->'y'` as a lambda)."""
    return f"json_extract({base}, '{path}')"


# Macros the view expressions use (temporary: they live as long as the connection).
MACROS: dict[str, str] = {
    "fhir_list": "(j) AS coalesce(from_json(j, '[\"JSON\"]'), [])",
    "fhir_identifiers": (
        "(res) AS coalesce(from_json(json_extract(res, '$.identifier'), "
        "'[{\"system\":\"VARCHAR\",\"value\":\"VARCHAR\"}]'), [])"
    ),
    "fhir_identifier": "(res, sys) AS list_filter(fhir_identifiers(res), lambda i: i.system = sys)[1].value",
    "fhir_codings": (
        "(cc) AS coalesce(from_json(json_extract(cc, '$.coding'), "
        "'[{\"system\":\"VARCHAR\",\"code\":\"VARCHAR\",\"display\":\"VARCHAR\"}]'), [])"
    ),
    "fhir_has_code": "(cc, c) AS list_contains(list_transform(fhir_codings(cc), lambda x: x.code), c)",
    "fhir_text": (
        "(cc) AS coalesce(json_extract_string(cc, '$.text'), fhir_codings(cc)[1].display, fhir_codings(cc)[1].code)"
    ),
    "fhir_extension": (
        "(el, u) AS list_filter(fhir_list(json_extract(el, '$.extension')), "
        "lambda e: json_extract_string(e, '$.url') = u)[1]"
    ),
    "fhir_age_days": (
        "(age) AS CAST(round(TRY_CAST(json_extract_string(age, '$.value') AS DOUBLE) * "
        "CASE lower(coalesce(json_extract_string(age, '$.code'), json_extract_string(age, '$.unit'), 'd')) "
        "WHEN 'a' THEN 365.25 WHEN 'y' THEN 365.25 WHEN 'yr' THEN 365.25 WHEN 'year' THEN 365.25 "
        "WHEN 'years' THEN 365.25 WHEN 'mo' THEN 30.4375 WHEN 'month' THEN 30.4375 WHEN 'months' THEN 30.4375 "
        "WHEN 'wk' THEN 7 WHEN 'week' THEN 7 WHEN 'weeks' THEN 7 WHEN 'h' THEN 1.0 / 24 WHEN 'hour' THEN 1.0 / 24 "
        "ELSE 1 END) AS INTEGER)"
    ),
    "fhir_age_value_days": (
        "(v, unit) AS CAST(round(TRY_CAST(v AS DOUBLE) * "
        "CASE lower(coalesce(unit, 'd')) "
        "WHEN 'a' THEN 365.25 WHEN 'y' THEN 365.25 WHEN 'yr' THEN 365.25 WHEN 'year' THEN 365.25 "
        "WHEN 'years' THEN 365.25 WHEN 'mo' THEN 30.4375 WHEN 'month' THEN 30.4375 WHEN 'months' THEN 30.4375 "
        "WHEN 'wk' THEN 7 WHEN 'week' THEN 7 WHEN 'weeks' THEN 7 WHEN 'h' THEN 1.0 / 24 WHEN 'hour' THEN 1.0 / 24 "
        "ELSE 1 END) AS INTEGER)"
    ),
    "fhir_age_at_event": (
        f"(el) AS fhir_age_days(json_extract(fhir_extension(el, '{AGE_AT_EVENT_URL}'), '$.valueAge'))"
    ),
    "fhir_is_tagged": (
        "(res, c) AS coalesce(list_contains(list_transform(coalesce(from_json(json_extract(res, '$.meta.tag'), "
        "'[{\"code\":\"VARCHAR\"}]'), []), lambda t: t.code), c), false)"
    ),
    # The key a reference resolves by: `urn:…` as written (matched against Bundle fullUrls), else `Type/id` (an
    # absolute URL or a versioned reference reduced to it). NULL for what cannot resolve (conditional, contained).
    "fhir_ref_key": (
        "(ref) AS CASE WHEN ref LIKE 'urn:%' THEN ref "
        "ELSE nullif(regexp_extract(ref, '(^|/)([A-Za-z]+/[A-Za-z0-9.\\-]{1,64})(/_history/[^/]*)?$', 2), '') END"
    ),
    # What an unresolved reference is kept as: the id it names (or the identifier value of a conditional one).
    "fhir_ref_fallback": (
        "(ref) AS CASE WHEN ref IS NULL THEN NULL WHEN ref LIKE 'urn:%' THEN ref "
        "WHEN contains(ref, '?') THEN coalesce(nullif(regexp_extract(ref, '\\|([^|&]+)$', 1), ''), ref) "
        "ELSE coalesce(nullif(regexp_extract(ref, '([A-Za-z0-9.\\-]+)(/_history/[^/]*)?$', 1), ''), ref) END"
    ),
    "fhir_us_core_text": (
        "(ext) AS coalesce(json_extract_string(fhir_extension(ext, 'text'), '$.valueString'), "
        "json_extract_string(fhir_extension(ext, 'ombCategory'), '$.valueCoding.display'), "
        "json_extract_string(fhir_extension(ext, 'detailed'), '$.valueCoding.display'), "
        "json_extract_string(fhir_extension(ext, 'ombCategory'), '$.valueCoding.code'))"
    ),
    # Which terminology a coding belongs to: HPO, MONDO, NCIT, ICD-10-CM, ICD-10 or NULL.
    "fhir_terminology": (
        "(sys, code) AS CASE "
        "WHEN sys ILIKE '%/hp.owl' OR sys ILIKE '%/hpo%' OR sys ILIKE '%human-phenotype%' OR code LIKE 'HP:%' "
        "THEN 'HPO' "
        "WHEN sys ILIKE '%mondo%' OR code LIKE 'MONDO:%' THEN 'MONDO' "
        "WHEN sys ILIKE '%ncit%' OR sys ILIKE '%ncicb%' OR sys ILIKE '%thesaurus%' OR code LIKE 'NCIT:%' "
        "THEN 'NCIT' "
        "WHEN sys ILIKE '%icd-10-cm%' OR sys ILIKE '%icd10cm%' THEN 'ICD-10-CM' "
        "WHEN sys ILIKE '%icd-10%' OR sys ILIKE '%icd10%' THEN 'ICD-10' "
        "ELSE NULL END"
    ),
    "fhir_ontology_code": "(code) AS regexp_replace(code, '^(HP|MONDO|NCIT)_', '\\1:')",
}


_AGE = "fhir_age_value_days(age_value, age_unit) AS age_days"
_DICOM_UID = "coalesce(regexp_replace(dicom_uid, '^urn:oid:', ''), fhir_id) AS study_instance_uid"

# The temp tables flatten reads: (name, packaged ViewDefinition, SELECT list over its rows).
_KEYS = "fhir_id, full_url"
DERIVED_VIEWS: tuple[tuple[str, str, str], ...] = (
    ("_v_patient", "patient", f"{_KEYS}, participant_id, sex, race, ethnicity, "
                              "TRY_CAST(left(birth_date, 4) AS INTEGER) AS birth_year"),
    ("_v_study", "research_study", f"{_KEYS}, study_id, study_code, title, domain"),
    ("_v_research_subject", "research_subject", f"{_KEYS}, individual_ref, study_ref"),
    ("_v_group", "family_group", f"{_KEYS}, family_id"),
    ("_v_group_member", "group_member", f"{_KEYS}, family_id, entity_ref"),
    ("_v_proband_status", "observation_proband",
     f"{_KEYS}, subject_ref, coalesce(value_boolean, CASE WHEN coded_yes THEN true WHEN coded_no THEN false END) "
     "AS is_proband"),
    ("_v_vital_status", "observation_vital",
     f"{_KEYS}, subject_ref, coalesce(value_text, CASE value_code WHEN '438949009' THEN 'Alive' "
     f"WHEN '419099009' THEN 'Dead' ELSE value_code END, value_string) AS vital_status, {_AGE}"),
    ("_v_family_relationship", "observation_fammemb",
     f"{_KEYS}, proband_ref, relative_ref, relation_code, relation_text"),
    ("_v_condition_coding", "condition",
     f"{_KEYS}, subject_ref, fhir_terminology(system, code) AS terminology, fhir_ontology_code(code) AS code, "
     f"display, source_text, verification, {_AGE}, derived"),
    ("_v_specimen", "specimen", f"{_KEYS}, sample_id, subject_ref, sample_type, tissue, {_AGE}, parent_ref"),
    ("_v_document", "document_reference",
     f"{_KEYS}, document_id, subject_ref, (coalesce(note_coded, false) OR "
     "regexp_matches(coalesce(url, ''), '(^|/)notes/[^/]+/[^/]+$')) AS is_note, data_type, format, "
     "title, file_name, size, hash, url, content_type"),
    ("_v_imaging_study", "imaging_study",
     f"{_KEYS}, {_DICOM_UID}, subject_ref, description, {_AGE}, "
     "CAST(coalesce(number_of_series, series_count) AS INTEGER) AS number_of_series"),
    ("_v_imaging_series", "imaging_series",
     f"{_KEYS}, {_DICOM_UID}, subject_ref, series_instance_uid, modality, body_part, description, "
     "number_of_instances"),
)


def create_macros(con: duckdb.DuckDBPyConnection) -> None:
    for name, body in MACROS.items():
        con.execute(f"CREATE OR REPLACE TEMP MACRO {name}{body}")


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """Materialise every packaged ViewDefinition as `_j_<name>` and the `_v_*` views over them (macros first)."""
    create_macros(con)
    definitions = packaged_view_definitions()
    for name, view, select in DERIVED_VIEWS:  # materialised: flatten reads most of them several times
        compiled = compile_view_definition(definitions[view], row_keys=True)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {select} FROM ({compiled.sql}) AS {view}",
                    compiled.params)


def drop_views(con: duckdb.DuckDBPyConnection) -> None:
    for name, _, _ in DERIVED_VIEWS:
        con.execute(f"DROP TABLE IF EXISTS temp.{name}")
