"""Declarative views over `fhir_resources`: a resource type, an optional forEach list, and named columns.

Shaped like SQL-on-FHIR ViewDefinitions (resource, where, forEach, column name + path), with the paths written as
DuckDB SQL over the resource JSON (`resource`, and `item` for a forEach element) through a few macros
(`fhir_identifier`, `fhir_codings`, `fhir_text`, `fhir_extension`, `fhir_age_days`, …). Each view compiles to one
`CREATE TEMP TABLE … AS SELECT` that DuckDB runs in bulk; kfexplorer.fhir.flatten joins them into the clinical
tables. A later FHIRPath-to-SQL compiler can replace the expressions without touching the joins.

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

import re
from dataclasses import dataclass

import duckdb

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


@dataclass(frozen=True)
class Column:
    name: str
    expression: str  # DuckDB SQL over `resource` (JSON), `id`, `full_url`, and `item` in a forEach view
    type: str = "VARCHAR"


@dataclass(frozen=True)
class View:
    name: str  # temp table it becomes
    resource_type: str
    columns: tuple[Column, ...]
    where: str = "true"
    for_each: str | None = None  # JSON path of a list: one row per element, bound as `item`


R = "resource"
_VALUE_CC = jx(R, "$.valueCodeableConcept")
_DOC_IS_NOTE = (
    "(list_contains(list_transform(list_concat(fhir_codings(json_extract(resource, '$.type')), "
    "flatten(list_transform(fhir_list(json_extract(resource, '$.category')), lambda c: fhir_codings(c)))), "
    "lambda x: x.code), 'clinical-note') "
    f"OR regexp_matches(coalesce({js(R, '$.content[0].attachment.url')}, ''), '(^|/)notes/[^/]+/[^/]+$'))"
)
_STUDY_UID = ("regexp_replace(list_filter(fhir_identifiers(resource), lambda i: i.system = 'urn:dicom:uid')[1].value,"
              " '^urn:oid:', '')")
_ATTACHMENT = "$.content[0].attachment"

VIEWS: tuple[View, ...] = (
    View("_v_patient", "Patient", (
        Column("participant_id", f"coalesce(fhir_identifier(resource, '{KF}/participant_id'), id)"),
        Column("sex", js(R, "$.gender")),
        Column("race", f"fhir_us_core_text(fhir_extension(resource, '{US_CORE_RACE_URL}'))"),
        Column("ethnicity", f"fhir_us_core_text(fhir_extension(resource, '{US_CORE_ETHNICITY_URL}'))"),
        Column("birth_year", f"TRY_CAST(left({js(R, '$.birthDate')}, 4) AS INTEGER)", "INTEGER"),
    )),
    View("_v_study", "ResearchStudy", (
        Column("study_id", f"coalesce(fhir_identifier(resource, '{KF}/study_id'), id)"),
        Column("study_code", f"coalesce(fhir_identifier(resource, '{KF}/study_code'), "
                             f"fhir_codings({jx(R, '$.keyword[0]')})[1].code, {js(R, '$.keyword[0].text')})"),
        Column("title", js(R, "$.title")),
        Column("domain", "coalesce(list_transform(list_filter(fhir_list(json_extract(resource, '$.extension')), "
                         "lambda e: contains(lower(json_extract_string(e, '$.url')), 'domain')), "
                         "lambda e: coalesce(json_extract_string(e, '$.valueString'), "
                         "json_extract_string(e, '$.valueCode'), json_extract_string(e, '$.valueCoding.code'), "
                         "fhir_text(json_extract(e, '$.valueCodeableConcept'))))[1], "
                         f"fhir_codings({jx(R, '$.category[0]')})[1].code, {js(R, '$.category[0].text')})"),
    )),
    View("_v_research_subject", "ResearchSubject", (
        Column("individual_ref", js(R, "$.individual.reference")),
        Column("study_ref", js(R, "$.study.reference")),
    )),
    View("_v_group", "Group", (
        Column("family_id", f"coalesce(fhir_identifier(resource, '{KF}/family_id'), id)"),
    ), where=f"{js(R, '$.type')} = 'person'"),
    View("_v_group_member", "Group", (
        Column("family_id", f"coalesce(fhir_identifier(resource, '{KF}/family_id'), id)"),
        Column("entity_ref", js("item", "$.entity.reference")),
    ), where=f"{js(R, '$.type')} = 'person'", for_each="$.member"),
    View("_v_proband_status", "Observation", (
        Column("subject_ref", js(R, "$.subject.reference")),
        Column("is_proband", f"coalesce(TRY_CAST({js(R, '$.valueBoolean')} AS BOOLEAN), "
                             f"CASE WHEN fhir_has_code({_VALUE_CC}, '373066001') THEN true "
                             f"WHEN fhir_has_code({_VALUE_CC}, '373067005') THEN false END)", "BOOLEAN"),
    ), where=f"fhir_has_code({jx(R, '$.code')}, '{SNOMED_PROBAND_STATUS}')"),
    View("_v_vital_status", "Observation", (
        Column("subject_ref", js(R, "$.subject.reference")),
        Column("vital_status", f"coalesce({js(R, '$.valueCodeableConcept.text')}, "
                               f"fhir_codings({_VALUE_CC})[1].display, "
                               f"CASE fhir_codings({_VALUE_CC})[1].code "
                               "WHEN '438949009' THEN 'Alive' WHEN '419099009' THEN 'Dead' "
                               f"ELSE fhir_codings({_VALUE_CC})[1].code END, {js(R, '$.valueString')})"),
        Column("age_days", "fhir_age_at_event(resource)", "INTEGER"),
    ), where=f"fhir_has_code({jx(R, '$.code')}, '{SNOMED_VITAL_STATUS}')"),
    View("_v_family_relationship", "Observation", (
        Column("proband_ref", js(R, "$.subject.reference")),
        Column("relative_ref", js(R, "$.focus[0].reference")),
        Column("relation_code", f"fhir_codings({_VALUE_CC})[1].code"),
        Column("relation_text", f"fhir_text({_VALUE_CC})"),
    ), where=f"fhir_has_code({jx(R, '$.code')}, '{FAMILY_MEMBER_CODE}')"),
    View("_v_condition_coding", "Condition", (
        Column("subject_ref", js(R, "$.subject.reference")),
        Column("terminology", f"fhir_terminology({js('item', '$.system')}, {js('item', '$.code')})"),
        Column("code", f"fhir_ontology_code({js('item', '$.code')})"),
        Column("display", js("item", "$.display")),
        Column("source_text", js(R, "$.code.text")),
        Column("verification", f"fhir_codings({jx(R, '$.verificationStatus')})[1].code"),
        Column("age_days", f"coalesce(fhir_age_days({jx(R, '$.onsetAge')}), fhir_age_at_event(resource))",
               "INTEGER"),
        Column("derived", f"fhir_is_tagged(resource, '{SYSTEM_GENERATED_TAG}')", "BOOLEAN"),
    ), for_each="$.code.coding"),
    View("_v_specimen", "Specimen", (
        Column("sample_id", f"coalesce(fhir_identifier(resource, '{KF}/biospecimen_id'), id)"),
        Column("subject_ref", js(R, "$.subject.reference")),
        Column("sample_type", f"fhir_text({jx(R, '$.type')})"),
        Column("tissue", f"fhir_text({jx(R, '$.collection.bodySite')})"),
        Column("age_days", f"coalesce(fhir_age_at_event(resource), fhir_age_at_event({jx(R, '$.collection')}), "
                           f"fhir_age_at_event({jx(R, '$.collection._collectedDateTime')}))", "INTEGER"),
        Column("parent_ref", js(R, "$.parent[0].reference")),
    )),
    View("_v_document", "DocumentReference", (
        Column("document_id", "coalesce(list_filter(fhir_identifiers(resource), lambda i: "
                              "i.system LIKE '%file_id%' OR i.system LIKE '%document_id%')[1].value, "
                              "fhir_identifiers(resource)[1].value, id)"),
        Column("subject_ref", js(R, "$.subject.reference")),
        Column("is_note", _DOC_IS_NOTE, "BOOLEAN"),
        Column("data_type", f"fhir_text({jx(R, '$.type')})"),
        Column("format", f"coalesce({js(R, '$.content[0].format.display')}, {js(R, '$.content[0].format.code')})"),
        Column("title", f"coalesce({js(R, _ATTACHMENT + '.title')}, {js(R, '$.description')})"),
        Column("file_name", js(R, _ATTACHMENT + ".title")),
        Column("size", f"TRY_CAST({js(R, _ATTACHMENT + '.size')} AS BIGINT)", "BIGINT"),
        Column("hash", js(R, _ATTACHMENT + ".hash")),
        Column("url", js(R, _ATTACHMENT + ".url")),
        Column("content_type", js(R, _ATTACHMENT + ".contentType")),
    )),
    View("_v_imaging_study", "ImagingStudy", (
        Column("study_instance_uid", f"coalesce({_STUDY_UID}, id)"),
        Column("subject_ref", js(R, "$.subject.reference")),
        Column("description", js(R, "$.description")),
        Column("age_days", "fhir_age_at_event(resource)", "INTEGER"),
        Column("number_of_series", f"coalesce(TRY_CAST({js(R, '$.numberOfSeries')} AS INTEGER), "
                                   f"CAST(len(fhir_list({jx(R, '$.series')})) AS INTEGER))", "INTEGER"),
    )),
    View("_v_imaging_series", "ImagingStudy", (
        Column("study_instance_uid", f"coalesce({_STUDY_UID}, id)"),
        Column("subject_ref", js(R, "$.subject.reference")),
        Column("series_instance_uid", js("item", "$.uid")),
        Column("modality", js("item", "$.modality.code")),
        Column("body_part", f"coalesce({js('item', '$.bodySite.display')}, {js('item', '$.bodySite.code')})"),
        Column("description", js("item", "$.description")),
        Column("number_of_instances", f"TRY_CAST({js('item', '$.numberOfInstances')} AS INTEGER)", "INTEGER"),
    ), for_each="$.series"),
)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PATH = re.compile(r"\$(\.[A-Za-z]+)+")


def create_macros(con: duckdb.DuckDBPyConnection) -> None:
    for name, body in MACROS.items():
        con.execute(f"CREATE OR REPLACE TEMP MACRO {name}{body}")


def view_sql(view: View) -> str:
    """The CREATE TEMP TABLE statement of one view (every name and path comes from the constants above)."""
    for name in (view.name, view.resource_type, *(c.name for c in view.columns)):
        if not _NAME.fullmatch(name):
            raise ValueError(f"not an identifier: {name!r}")
    if view.for_each is not None and not _PATH.fullmatch(view.for_each):
        raise ValueError(f"not a simple JSON path: {view.for_each!r}")
    columns = ", ".join(f"CAST({c.expression} AS {c.type}) AS {c.name}" for c in view.columns)
    source = "fhir_resources"
    if view.for_each is not None:
        source += f", unnest(fhir_list({jx(R, view.for_each)})) AS each_item(item)"
    return (f"CREATE OR REPLACE TEMP TABLE {view.name} AS SELECT id AS fhir_id, full_url, {columns} "
            f"FROM {source} WHERE resource_type = '{view.resource_type}' AND ({view.where})")


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """Materialise every view as a temp table (macros first)."""
    create_macros(con)
    for view in VIEWS:
        con.execute(view_sql(view))


def drop_views(con: duckdb.DuckDBPyConnection) -> None:
    for view in VIEWS:
        con.execute(f"DROP TABLE IF EXISTS temp.{view.name}")
