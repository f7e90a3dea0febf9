"""DDL of the raw FHIR table, the clinical tables flattened from it, and the ontology tables.

`fhir_resources` holds every ingested resource once per (resource_type, id), with the Bundle `fullUrl` it came
with (so `urn:uuid:` references resolve) and the catalog id of the object it came from. The clinical tables are
derived from it (kfexplorer.fhir.flatten rebuilds them all); the ontology tables are filled by
kfexplorer.ontology.cache_tables. No table declares a key: uniqueness is kept by the code that writes them, so a
malformed release can never make a whole rebuild fail on a constraint.
"""

from __future__ import annotations

import duckdb

CLINICAL_TABLES: dict[str, str] = {
    # the raw JSON is stored zstd-compressed: ~6x smaller, ~2 s less CPU per 1 M resources ingested
    "fhir_resources": """
        resource_type VARCHAR NOT NULL,
        id VARCHAR NOT NULL,
        full_url VARCHAR,
        resource JSON USING COMPRESSION zstd,
        _source_id BIGINT
    """,
    "studies": """
        study_id VARCHAR,
        study_code VARCHAR,
        title VARCHAR,
        domain VARCHAR,
        fhir_id VARCHAR
    """,
    "participants": """
        participant_id VARCHAR,
        fhir_id VARCHAR,
        study_id VARCHAR,
        sex VARCHAR,
        race VARCHAR,
        ethnicity VARCHAR,
        birth_year INTEGER,
        is_proband BOOLEAN,
        affected_status BOOLEAN,
        family_id VARCHAR,
        family_type VARCHAR,
        vital_status VARCHAR,
        age_at_last_follow_up_days INTEGER
    """,
    "families": """
        family_id VARCHAR,
        study_id VARCHAR,
        family_type VARCHAR,
        proband_id VARCHAR,
        member_count INTEGER,
        fhir_id VARCHAR
    """,
    "family_members": """
        family_id VARCHAR,
        participant_id VARCHAR,
        relationship_to_proband VARCHAR
    """,
    "diagnoses": """
        participant_id VARCHAR,
        code VARCHAR,
        system VARCHAR,
        label VARCHAR,
        age_at_event_days INTEGER,
        source_text VARCHAR,
        derived BOOLEAN,
        verification VARCHAR,
        condition_id VARCHAR
    """,
    "phenotypes": """
        participant_id VARCHAR,
        hpo_id VARCHAR,
        label VARCHAR,
        observed BOOLEAN,
        age_at_event_days INTEGER,
        source VARCHAR,
        derived BOOLEAN,
        condition_id VARCHAR
    """,
    "biospecimens": """
        sample_id VARCHAR,
        participant_id VARCHAR,
        sample_type VARCHAR,
        tissue VARCHAR,
        age_at_collection_days INTEGER,
        parent_sample_id VARCHAR,
        fhir_id VARCHAR
    """,
    "files": """
        file_id VARCHAR,
        participant_id VARCHAR,
        data_type VARCHAR,
        format VARCHAR,
        file_name VARCHAR,
        size BIGINT,
        hash VARCHAR,
        url VARCHAR,
        fhir_id VARCHAR
    """,
    "imaging_studies": """
        study_instance_uid VARCHAR,
        participant_id VARCHAR,
        description VARCHAR,
        age_at_scan_days INTEGER,
        number_of_series INTEGER,
        fhir_id VARCHAR
    """,
    "imaging_series": """
        series_instance_uid VARCHAR,
        study_instance_uid VARCHAR,
        participant_id VARCHAR,
        modality VARCHAR,
        body_part VARCHAR,
        description VARCHAR,
        number_of_instances INTEGER
    """,
    "notes": """
        document_id VARCHAR,
        participant_id VARCHAR,
        title VARCHAR,
        path VARCHAR,
        content_type VARCHAR,
        fhir_id VARCHAR
    """,
    "ontology_terms": """
        id VARCHAR,
        label VARCHAR,
        synonyms VARCHAR[],
        ontology VARCHAR,
        version VARCHAR,
        obsolete BOOLEAN
    """,
    "ontology_ancestors": """
        id VARCHAR,
        ancestor_id VARCHAR,
        distance INTEGER
    """,
}

# The tables kfexplorer.fhir.flatten derives from fhir_resources (in the order it fills them).
FLATTENED_TABLES: tuple[str, ...] = (
    "studies", "participants", "families", "family_members", "diagnoses", "phenotypes", "biospecimens", "files",
    "imaging_studies", "imaging_series", "notes",
)


def create_clinical_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw FHIR table, the clinical tables and the ontology tables if they do not exist."""
    for table, columns in CLINICAL_TABLES.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
