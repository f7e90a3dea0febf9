"""Rebuild every clinical table from `fhir_resources`, in SQL.

The declarative views of kfexplorer.fhir.views pull columns out of the resource JSON; the statements here resolve
references between them (`Type/id`, and `urn:uuid:` through Bundle fullUrls) and derive what no single resource
says: affected status, family type, relationship to the proband. An unresolvable reference is kept (as the id it
names) and reported as a warning, never dropped. Runs inside the caller's transaction.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from kfexplorer.fhir.ingest import MANIFEST_REASON, OUTCOME_REASON
from kfexplorer.fhir.view_definitions import (
    USER_VIEW_PREFIX,
    ViewDefinitionError,
    compile_view_definition,
    user_view_definitions,
)
from kfexplorer.fhir.views import create_views, drop_views
from kfexplorer.store.catalog import read_quarantine
from kfexplorer.store.clinical_schema import FLATTENED_TABLES, create_clinical_schema

DIAGNOSIS_TERMINOLOGIES = ("MONDO", "NCIT", "ICD-10-CM", "ICD-10")
FHIR_PHENOTYPE_SOURCE = "fhir"

# Reference keys of the resources others point at: `Type/id` and, for Bundle entries, the urn:… fullUrl.
_KEY_TABLES: dict[str, tuple[str, str, str]] = {
    # key table: (view, resource type, value column)
    "_k_patient": ("_v_patient", "Patient", "participant_id"),
    "_k_study": ("_v_study", "ResearchStudy", "study_id"),
    "_k_specimen": ("_v_specimen", "Specimen", "sample_id"),
}

_RELATIONSHIP = """CASE upper(relation_code)
    WHEN 'MTH' THEN 'mother' WHEN 'NMTH' THEN 'mother' WHEN 'FTH' THEN 'father' WHEN 'NFTH' THEN 'father'
    WHEN 'SIB' THEN 'sibling' WHEN 'NSIB' THEN 'sibling' WHEN 'BRO' THEN 'brother' WHEN 'NBRO' THEN 'brother'
    WHEN 'SIS' THEN 'sister' WHEN 'NSIS' THEN 'sister' WHEN 'TWIN' THEN 'twin' WHEN 'CHILD' THEN 'child'
    ELSE lower(coalesce(relation_text, relation_code)) END"""

# (temp table, SQL) computed in order before the clinical tables.
_STEPS: tuple[tuple[str, str], ...] = (
    ("_r_subject", """
        SELECT pk.participant_id, coalesce(sk.study_id, fhir_ref_fallback(rs.study_ref)) AS study_id
        FROM _v_research_subject rs
        JOIN _k_patient pk ON pk.ref_key = fhir_ref_key(rs.individual_ref)
        LEFT JOIN _k_study sk ON sk.ref_key = fhir_ref_key(rs.study_ref)"""),
    ("_r_relationship", f"""
        SELECT coalesce(pp.participant_id, fhir_ref_fallback(f.proband_ref)) AS proband_id,
               coalesce(pr.participant_id, fhir_ref_fallback(f.relative_ref)) AS relative_id,
               {_RELATIONSHIP} AS relationship
        FROM _v_family_relationship f
        LEFT JOIN _k_patient pp ON pp.ref_key = fhir_ref_key(f.proband_ref)
        LEFT JOIN _k_patient pr ON pr.ref_key = fhir_ref_key(f.relative_ref)"""),
    ("_r_proband_status", """
        SELECT coalesce(pk.participant_id, fhir_ref_fallback(o.subject_ref)) AS participant_id,
               bool_or(o.is_proband) AS is_proband
        FROM _v_proband_status o LEFT JOIN _k_patient pk ON pk.ref_key = fhir_ref_key(o.subject_ref)
        GROUP BY ALL"""),
    ("_r_vital_status", """
        SELECT coalesce(pk.participant_id, fhir_ref_fallback(o.subject_ref)) AS participant_id,
               arg_max(o.vital_status, coalesce(o.age_days, -1)) AS vital_status, max(o.age_days) AS age_days
        FROM _v_vital_status o LEFT JOIN _k_patient pk ON pk.ref_key = fhir_ref_key(o.subject_ref)
        GROUP BY ALL"""),
    ("_r_condition", """
        SELECT c.fhir_id AS condition_id, coalesce(pk.participant_id, fhir_ref_fallback(c.subject_ref)) AS participant_id,
               c.terminology, c.code, coalesce(c.display, t.label) AS label, c.source_text, c.verification,
               c.age_days, c.derived
        FROM _v_condition_coding c
        LEFT JOIN _k_patient pk ON pk.ref_key = fhir_ref_key(c.subject_ref)
        LEFT JOIN ontology_terms t ON t.id = c.code
        WHERE c.terminology IS NOT NULL AND c.code IS NOT NULL
          AND c.verification IS DISTINCT FROM 'entered-in-error'"""),
    ("_r_member", """
        SELECT DISTINCT g.family_id, coalesce(pk.participant_id, fhir_ref_fallback(g.entity_ref)) AS participant_id
        FROM _v_group_member g LEFT JOIN _k_patient pk ON pk.ref_key = fhir_ref_key(g.entity_ref)
        WHERE g.entity_ref IS NOT NULL"""),
    # Who is a proband: the proband-status Observation, else the subject / focus roles of FAMMEMB Observations.
    ("_r_is_proband", """
        SELECT p.participant_id,
               coalesce(ps.is_proband,
                        CASE WHEN p.participant_id IN (SELECT proband_id FROM _r_relationship) THEN true
                             WHEN p.participant_id IN (SELECT relative_id FROM _r_relationship) THEN false END)
                 AS is_proband
        FROM (SELECT DISTINCT participant_id FROM _v_patient) p
        LEFT JOIN _r_proband_status ps USING (participant_id)"""),
    ("_r_member_role", """
        SELECT m.family_id, m.participant_id,
               CASE WHEN ip.is_proband THEN 'proband'
                    ELSE (SELECT min(r.relationship) FROM _r_relationship r
                          JOIN _r_member pm ON pm.participant_id = r.proband_id AND pm.family_id = m.family_id
                          WHERE r.relative_id = m.participant_id) END AS relationship_to_proband
        FROM _r_member m LEFT JOIN _r_is_proband ip USING (participant_id)"""),
)

_INSERTS: dict[str, str] = {
    "studies": """
        SELECT study_id, study_code, title, domain, fhir_id FROM _v_study
        QUALIFY row_number() OVER (PARTITION BY study_id ORDER BY fhir_id) = 1""",
    "diagnoses": f"""
        SELECT participant_id, code, terminology, label, age_days, source_text, derived, verification, condition_id
        FROM _r_condition WHERE terminology IN {DIAGNOSIS_TERMINOLOGIES}""",
    "phenotypes": f"""
        SELECT participant_id, code, label, verification IS DISTINCT FROM 'refuted', age_days,
               '{FHIR_PHENOTYPE_SOURCE}', derived, condition_id
        FROM _r_condition WHERE terminology = 'HPO'""",
    "family_members": """
        SELECT family_id, participant_id, relationship_to_proband FROM _r_member_role""",
    "families": """
        WITH per_family AS (
            SELECT g.family_id, min(g.fhir_id) AS fhir_id,
                   (SELECT min(r.participant_id) FROM _r_member_role r
                    WHERE r.family_id = g.family_id AND r.relationship_to_proband = 'proband') AS proband_id,
                   (SELECT count(*) FROM _r_member_role r WHERE r.family_id = g.family_id) AS member_count,
                   (SELECT count(*) FROM _r_member_role r
                    WHERE r.family_id = g.family_id AND r.relationship_to_proband = 'mother') > 0 AS has_mother,
                   (SELECT count(*) FROM _r_member_role r
                    WHERE r.family_id = g.family_id AND r.relationship_to_proband = 'father') > 0 AS has_father,
                   (SELECT min(s.study_id) FROM _r_member_role r JOIN _r_subject s USING (participant_id)
                    WHERE r.family_id = g.family_id) AS study_id
            FROM _v_group g GROUP BY g.family_id)
        SELECT family_id, study_id,
               CASE WHEN has_mother AND has_father AND member_count = 3 THEN 'trio'
                    WHEN has_mother AND has_father THEN 'trio+'
                    WHEN has_mother OR has_father THEN 'duo'
                    ELSE 'proband-only' END,
               proband_id, member_count, fhir_id
        FROM per_family""",
    "participants": f"""
        SELECT p.participant_id, p.fhir_id,
               (SELECT min(s.study_id) FROM _r_subject s WHERE s.participant_id = p.participant_id),
               p.sex, p.race, p.ethnicity, p.birth_year, ip.is_proband,
               EXISTS (SELECT 1 FROM _r_condition c WHERE c.participant_id = p.participant_id
                       AND c.terminology IN {DIAGNOSIS_TERMINOLOGIES} AND c.verification = 'confirmed'),
               fm.family_id, f.family_type, vs.vital_status, vs.age_days
        FROM _v_patient p
        LEFT JOIN _r_is_proband ip USING (participant_id)
        LEFT JOIN (SELECT participant_id, min(family_id) AS family_id FROM _r_member GROUP BY ALL) fm
               USING (participant_id)
        LEFT JOIN families f ON f.family_id = fm.family_id
        LEFT JOIN _r_vital_status vs ON vs.participant_id = p.participant_id
        QUALIFY row_number() OVER (PARTITION BY p.participant_id ORDER BY p.fhir_id) = 1""",
    "biospecimens": """
        SELECT s.sample_id, coalesce(pk.participant_id, fhir_ref_fallback(s.subject_ref)), s.sample_type, s.tissue,
               s.age_days, coalesce(sk.sample_id, fhir_ref_fallback(s.parent_ref)), s.fhir_id
        FROM _v_specimen s
        LEFT JOIN _k_patient pk ON pk.ref_key = fhir_ref_key(s.subject_ref)
        LEFT JOIN _k_specimen sk ON sk.ref_key = fhir_ref_key(s.parent_ref)""",
    "files": """
        SELECT d.document_id, coalesce(pk.participant_id, fhir_ref_fallback(d.subject_ref)), d.data_type, d.format,
               d.file_name, d.size, d.hash, d.url, d.fhir_id
        FROM _v_document d LEFT JOIN _k_patient pk ON pk.ref_key = fhir_ref_key(d.subject_ref)
        WHERE NOT d.is_note""",
    "notes": """
        SELECT d.document_id, coalesce(pk.participant_id, fhir_ref_fallback(d.subject_ref)), d.title,
               CASE WHEN regexp_matches(d.url, '(^|/)\\.\\.?(/|$)') THEN NULL
                    ELSE nullif(regexp_extract(d.url, '(notes/[^/]+/[^/]+)$', 1), '') END,
               d.content_type, d.fhir_id
        FROM _v_document d LEFT JOIN _k_patient pk ON pk.ref_key = fhir_ref_key(d.subject_ref)
        WHERE d.is_note""",
    "imaging_studies": """
        SELECT i.study_instance_uid, coalesce(pk.participant_id, fhir_ref_fallback(i.subject_ref)), i.description,
               i.age_days, i.number_of_series, i.fhir_id
        FROM _v_imaging_study i LEFT JOIN _k_patient pk ON pk.ref_key = fhir_ref_key(i.subject_ref)""",
    "imaging_series": """
        SELECT i.series_instance_uid, i.study_instance_uid, coalesce(pk.participant_id, fhir_ref_fallback(i.subject_ref)),
               i.modality, i.body_part, i.description, i.number_of_instances
        FROM _v_imaging_series i LEFT JOIN _k_patient pk ON pk.ref_key = fhir_ref_key(i.subject_ref)""",
}

assert set(_INSERTS) == set(FLATTENED_TABLES)

# Warnings: (SQL returning one count, message template). References that name a Patient but resolve to none.
_WARNINGS: tuple[tuple[str, str], ...] = (
    ("SELECT count(DISTINCT fhir_id) FROM _v_condition_coding c WHERE {unresolved}",
     "{n} Conditions reference unknown Patients"),
    ("SELECT count(*) FROM (SELECT fhir_id, subject_ref FROM _v_proband_status UNION ALL "
     "SELECT fhir_id, subject_ref FROM _v_vital_status UNION ALL "
     "SELECT fhir_id, proband_ref FROM _v_family_relationship) c WHERE {unresolved}",
     "{n} Observations reference unknown Patients"),
    ("SELECT count(*) FROM _v_specimen c WHERE {unresolved}", "{n} Specimens reference unknown Patients"),
    ("SELECT count(*) FROM _v_document c WHERE {unresolved}",
     "{n} DocumentReferences reference unknown Patients"),
    ("SELECT count(*) FROM _v_imaging_study c WHERE {unresolved}",
     "{n} ImagingStudies reference unknown Patients"),
    ("SELECT count(*) FROM (SELECT fhir_id, individual_ref AS subject_ref FROM _v_research_subject) c "
     "WHERE {unresolved}", "{n} ResearchSubjects reference unknown Patients"),
    ("SELECT count(*) FROM (SELECT DISTINCT family_id, entity_ref AS subject_ref FROM _v_group_member) c "
     "WHERE {unresolved}", "{n} family Group members reference unknown Patients"),
    ("SELECT count(*) FROM _v_research_subject rs WHERE rs.study_ref IS NOT NULL AND NOT EXISTS "
     "(SELECT 1 FROM _k_study k WHERE k.ref_key = fhir_ref_key(rs.study_ref))",
     "{n} ResearchSubjects reference unknown ResearchStudies"),
    ("SELECT count(*) - count(DISTINCT participant_id) FROM _v_patient",
     "{n} Patients repeat another Patient's participant_id (one kept)"),
    ("SELECT count(*) FROM participants WHERE study_id IS NULL", "{n} participants belong to no ResearchStudy"),
)
_UNRESOLVED = ("{ref} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM _k_patient k WHERE k.ref_key = fhir_ref_key({ref}))")


def rebuild_clinical_tables(con: duckdb.DuckDBPyConnection, *, views_dir: Path | str | None = None) -> list[str]:
    """Recompute every clinical table from fhir_resources; return warnings about the data (never raises on it).

    Phenotype rows from other sources (e.g. notes NLP, `source` other than 'fhir') are kept. Every ViewDefinition
    *.json in `views_dir` (default: $KFEXPLORER_VIEWS_DIR) becomes a table `view_<name>`; one that cannot be
    compiled is skipped with a warning.
    """
    create_clinical_schema(con)
    temp_tables: list[str] = []
    try:
        create_views(con)
        for key_table, (view, resource_type, value) in _KEY_TABLES.items():
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {key_table} AS "
                f"SELECT DISTINCT ON (ref_key) ref_key, {value} FROM ("
                f"SELECT '{resource_type}/' || fhir_id AS ref_key, {value} FROM {view} UNION ALL "
                f"SELECT full_url, {value} FROM {view} WHERE full_url LIKE 'urn:%') ORDER BY ref_key, {value}"
            )
            temp_tables.append(key_table)
        for table, sql in _STEPS:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}")
            temp_tables.append(table)
        for table in _INSERTS:  # in dependency order: families before participants
            if table == "phenotypes":
                con.execute("DELETE FROM phenotypes WHERE source = ?", [FHIR_PHENOTYPE_SOURCE])
            else:
                con.execute(f"DELETE FROM {table}")
            con.execute(f"INSERT INTO {table} {_INSERTS[table]}")
        return _warnings(con) + export_outcome_warnings(con) + create_user_views(con, views_dir)
    finally:
        for table in temp_tables:
            con.execute(f"DROP TABLE IF EXISTS temp.{table}")
        drop_views(con)


def _warnings(con: duckdb.DuckDBPyConnection) -> list[str]:
    warnings: list[str] = []
    for sql, message in _WARNINGS:
        row = con.execute(sql.format(unresolved=_UNRESOLVED.format(ref="c.subject_ref"))).fetchone()
        n = int(row[0]) if row and row[0] else 0
        if n:
            warnings.append(message.format(n=n))
    return warnings


def export_outcome_warnings(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Sync warnings for what a FHIR Bulk Data export said went wrong: the OperationOutcomes of its error / outcome
    files and the error / outcome files its manifest lists. They are not clinical data, so ingest keeps them out of
    fhir_resources as quarantine items of their object (which come and go with it); here they read as warnings."""
    items = [q for q in read_quarantine(con) if q.reason.startswith((OUTCOME_REASON, MANIFEST_REASON))]
    warnings: list[str] = []
    for reason, what in ((OUTCOME_REASON, "OperationOutcome entries in Bulk Data export error / outcome files"),
                         (MANIFEST_REASON, "error / outcome files listed by a Bulk Data export manifest")):
        found = sorted((q for q in items if q.reason.startswith(reason)), key=lambda q: q.path)
        if found:
            example = found[0].reason.removeprefix(reason).lstrip(": ")
            warnings.append(f"{len(found)} {what} (not clinical data), e.g. {found[0].path}: {example}")
    return warnings


def create_user_views(con: duckdb.DuckDBPyConnection, views_dir: Path | str | None = None) -> list[str]:
    """(Re)create a table `view_<name>` for each user ViewDefinition; return warnings for those that fail."""
    warnings: list[str] = []
    try:
        definitions = user_view_definitions(views_dir)
    except ViewDefinitionError as exc:
        return [f"user views not loaded: {exc}"]
    for name, definition in definitions.items():
        try:
            compiled = compile_view_definition(definition)
            con.execute(f"CREATE OR REPLACE TABLE {USER_VIEW_PREFIX}{name} AS {compiled.sql}", compiled.params)
        except (ViewDefinitionError, duckdb.Error) as exc:
            warnings.append(f"view {name} skipped: {exc}")
    return warnings
