"""Occurrences that disagree with the participants flattened from FHIR give one warning per field, never fail."""

from __future__ import annotations

import duckdb

from kfexplorer.store.cache import DUCKDB_CONFIG
from kfexplorer.sync.engine import occurrence_fhir_disagreements


def test_one_warning_per_disagreeing_field_with_participant_counts() -> None:
    con = duckdb.connect(":memory:", config=DUCKDB_CONFIG)
    con.execute("CREATE TABLE participants (participant_id VARCHAR, study_id VARCHAR, family_id VARCHAR, "
                "is_proband BOOLEAN, affected_status BOOLEAN)")
    con.execute("CREATE TABLE occurrences (participant_id VARCHAR, study_id VARCHAR, family_id VARCHAR, "
                "is_proband BOOLEAN, affected_status BOOLEAN)")
    con.execute("INSERT INTO participants VALUES ('P1','S','F1',true,true), ('P2','S','F1',false,false), "
                "('P3','S',NULL,true,false)")
    # P1 agrees; P2 disagrees on is_proband (twice, one participant); P3 on family_id and affected_status
    con.execute("INSERT INTO occurrences VALUES ('P1','S','F1',true,true), ('P2','S','F1',true,false), "
                "('P2','S','F1',true,false), ('P3','S','F9',true,true), ('P4','S','F4',true,true)")
    warnings = occurrence_fhir_disagreements(con)
    assert warnings == [
        "occurrences disagree with FHIR on family_id for 1 participant",
        "occurrences disagree with FHIR on is_proband for 1 participant",
        "occurrences disagree with FHIR on affected_status for 1 participant",
    ]
    con.execute("UPDATE occurrences SET is_proband = false WHERE participant_id = 'P2'")
    con.execute("UPDATE occurrences SET family_id = NULL, affected_status = false WHERE participant_id = 'P3'")
    assert occurrence_fhir_disagreements(con) == []


def test_no_participants_table_means_no_warning() -> None:
    con = duckdb.connect(":memory:", config=DUCKDB_CONFIG)
    con.execute("CREATE TABLE occurrences (participant_id VARCHAR, is_proband BOOLEAN)")
    assert occurrence_fhir_disagreements(con) == []
