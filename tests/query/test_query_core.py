"""The Qt-free, DuckDB-free query core: the model's JSON, SQON import/export, the compiler's SQL and descriptions."""

from __future__ import annotations

import json
import re

import pytest

from kfexplorer.query.compiler import compile_cohort, describe, ontology_term_id, parse_region
from kfexplorer.query.fields import FIELDS, FIELDS_BY_KF_NAME, FieldKind, field_for_kf_name, field_spec
from kfexplorer.query.model import (
    Cohort,
    Criterion,
    Group,
    Not,
    QueryError,
    UnknownFieldError,
    all_of,
    any_of,
    cohort_from_json,
    cohort_to_json,
    criterion,
    negate,
)
from kfexplorer.query.sqon import cohort_from_sqon, cohort_to_sqon

EVIL = "x'; DROP TABLE participants; --"


def _sample_cohort() -> Cohort:
    return Cohort(all_of(
        criterion("participant.study_id", "in", "SD_A", "SD_B"),
        criterion("participant.is_proband", "in", True),
        negate(criterion("phenotype.observed", "in", "HP:0001250")),
        any_of(criterion("diagnosis", "in", "MONDO:0005070"),
               criterion("diagnosis.age_at_event_days", "between", 10, 2000)),
        criterion("consequence.gene_symbol", "in", "BRCA1", "TP53"),
        criterion("consequence.vep_impact", "in", "HIGH"),
        criterion("variant.gnomad_genomes_3_af", "<", 0.01),
        criterion("variant.clinvar_sig", "some_not_in", "Benign"),
        criterion("occurrence.gq", ">=", 20),
        criterion("variant.region", "in", "chr1:100-2000"),
    ), name="my cohort")


def test_cohort_json_round_trip_and_immutability() -> None:
    cohort = _sample_cohort()
    text = json.dumps(cohort_to_json(cohort))
    again = cohort_from_json(json.loads(text))
    assert again == cohort
    assert again.name == "my cohort"
    with pytest.raises(AttributeError):
        cohort.name = "x"  # type: ignore[misc]
    bigger = cohort.with_criterion(criterion("participant.sex", "in", "female"))
    assert len(bigger.top_level()) == len(cohort.top_level()) + 1
    assert len(bigger.without_top_level(0).top_level()) == len(cohort.top_level())
    assert cohort.top_level()[0] == criterion("participant.study_id", "in", "SD_A", "SD_B")


def test_model_rejects_bad_shapes() -> None:
    with pytest.raises(QueryError):
        Criterion("participant.sex", "like", ("a",))
    with pytest.raises(QueryError):
        criterion("participant.sex", "in")
    with pytest.raises(QueryError):
        cohort_from_json({"op": "and", "content": []})  # no format key
    with pytest.raises(QueryError):
        cohort_from_json({"kfexplorer_cohort": 1, "query": {"op": "xor", "content": []}})


def test_sqon_round_trip() -> None:
    cohort = _sample_cohort()
    sqon = cohort_to_sqon(cohort)
    assert sqon["content"][0] == {"op": "in", "content": {"field": "study_id", "value": ["SD_A", "SD_B"]}}
    assert cohort_from_sqon(json.loads(json.dumps(sqon)), name="my cohort") == cohort
    for spec in FIELDS:  # every field survives export and import
        one = Cohort(criterion(spec.name, spec.operators[0], *(["1", "2"] if spec.operators[0] == "between" else
                                                             ["1:1-2" if spec.kind is FieldKind.REGION else "v"])))
        assert cohort_from_sqon(cohort_to_sqon(one)) == one


def test_sqon_import_of_portal_forms() -> None:
    sqon = {"op": "and", "content": [
        {"op": "in", "content": {"fieldName": "mondo.name", "value": ["neoplasm (MONDO:0005070)"]}},
        {"op": "not-in", "content": {"field": "observed_phenotype.name", "value": "Seizure (HP:0001250)"}},
        {"op": "not in", "content": {"field": "sex", "value": ["male"]}},
        {"op": "gte", "content": {"field": "diagnosis.age_at_event_days", "value": [100]}},
        {"op": "lte", "content": {"field": "external_frequencies.gnomad_genomes_3.af", "value": [0.01]}},
        {"op": "pivot", "content": {"op": "and", "content": [
            {"op": "in", "content": {"field": "genes.symbol", "value": ["NF1"]}},
            {"op": "in", "content": {"field": "genes.consequences.vep_impact", "value": ["HIGH"]}}]}},
        {"op": "in", "content": {"field": "clinvar.clin_sig", "value": ["Pathogenic", "__missing__"]}},
        {"op": "in", "content": {"field": "studies.zygosity", "value": ["HOM"]}},
        {"op": "in", "content": {"field": "participant_id", "value": ["set_id:abc"]}},
        {"op": "some-not-in", "content": {"field": "files.data_type", "value": ["Aligned Reads"]}},
        {"op": "all", "content": {"field": "biospecimens.sample_type", "value": ["DNA", "RNA"]}},
        {"op": "between", "content": {"field": "is_proband", "value": ["true"]}},
    ]}
    with pytest.raises(QueryError, match="not take"):
        compile_cohort(cohort_from_sqon(sqon, sets={"abc": ["PT_1", "PT_2"]}))
    sqon["content"].pop()
    cohort = cohort_from_sqon(sqon, sets={"abc": ["PT_1", "PT_2"]})
    children = cohort.top_level()
    assert children[0] == criterion("diagnosis", "in", "neoplasm (MONDO:0005070)")
    assert children[1] == criterion("phenotype.observed", "not_in", "Seizure (HP:0001250)")
    assert children[2] == criterion("participant.sex", "not_in", "male")
    assert children[3] == criterion("diagnosis.age_at_event_days", ">=", 100)
    assert children[5] == all_of(criterion("consequence.gene_symbol", "in", "NF1"),
                                 criterion("consequence.vep_impact", "in", "HIGH"))
    assert children[8] == criterion("participant.id", "in", "PT_1", "PT_2")
    compiled = compile_cohort(cohort)
    assert "PT_1" in compiled.params and "HP:0001250" in compiled.params and "MONDO:0005070" in compiled.params
    with pytest.raises(QueryError, match="abc"):
        cohort_from_sqon(sqon)  # the set is not given


def test_sqon_queries_referring_to_each_other() -> None:
    queries = [
        {"op": "and", "content": [{"op": "in", "content": {"field": "sex", "value": ["female"]}}]},
        {"op": "and", "content": [{"op": "in", "content": {"field": "is_proband", "value": [True]}}]},
        {"op": "or", "content": [0, 1]},
    ]
    cohort = cohort_from_sqon(queries)
    assert cohort.root == any_of(all_of(criterion("participant.sex", "in", "female")),
                                 all_of(criterion("participant.is_proband", "in", True)))
    with pytest.raises(QueryError, match="itself"):
        cohort_from_sqon([{"op": "and", "content": [0]}])


def test_unknown_field_is_named() -> None:
    with pytest.raises(UnknownFieldError, match="genes.nonsense"):
        cohort_from_sqon({"op": "in", "content": {"field": "genes.nonsense", "value": ["x"]}})
    with pytest.raises(UnknownFieldError, match="participant.shoe_size"):
        compile_cohort(Cohort(all_of(criterion("participant.sex", "in", "f"),
                                     negate(criterion("participant.shoe_size", "in", "9")))))


def test_registry_names_are_unique_and_map_back() -> None:
    kf_names = [kf for spec in FIELDS for kf in spec.kf_names]
    assert len(kf_names) == len(set(kf_names)) == len(FIELDS_BY_KF_NAME)
    for spec in FIELDS:
        assert field_for_kf_name(spec.name) is spec
        for kf in spec.kf_names:
            assert field_for_kf_name(kf) is spec
        assert re.fullmatch(r"[a-z0-9_.]+", spec.name)
    assert field_spec("phenotype.observed").kind is FieldKind.ONTOLOGY


def test_compiled_sql_never_contains_values() -> None:
    values_by_kind = {
        FieldKind.NUMERIC: [EVIL], FieldKind.BOOLEAN: [EVIL], FieldKind.REGION: [EVIL],
    }
    nodes = []
    for spec in FIELDS:
        if spec.kind in values_by_kind:
            continue
        for op in spec.operators:
            nodes.append(criterion(spec.name, op, EVIL, "O'Brien\"; --"))
    cohort = Cohort(any_of(*nodes))
    compiled = compile_cohort(cohort)
    assert EVIL not in compiled.sql and "O'Brien" not in compiled.sql and "DROP" not in compiled.sql
    assert sum(1 for p in compiled.params if str(p).lower() == EVIL.lower()) >= len(nodes)
    assert compiled.sql.count("?") == len(compiled.params)
    # the description shows the values as text (it is never executed)
    assert EVIL in compiled.description
    for kind_values in values_by_kind.values():
        for spec in (s for s in FIELDS if s.kind in values_by_kind):
            with pytest.raises(QueryError):
                compile_cohort(Cohort(criterion(spec.name, "in", *kind_values)))


def test_placeholders_match_params_for_every_operator() -> None:
    compiled = compile_cohort(_sample_cohort())
    assert compiled.sql.count("?") == len(compiled.params)
    assert compiled.params[:3] == ("SD_A", "SD_B", True)
    assert "1" in compiled.params and 100 in compiled.params and 2000 in compiled.params


def test_variant_fields_form_one_occurrence_expression() -> None:
    compiled = compile_cohort(_sample_cohort())
    # one carriers sub-query holding every variant criterion, joined once to consequences
    assert compiled.sql.count("FROM occurrences o") == 1
    assert compiled.sql.count("LEFT JOIN consequences c") == 1
    assert "o.has_alt" in compiled.sql
    or_mixed = compile_cohort(Cohort(any_of(criterion("participant.sex", "in", "f"),
                                            criterion("consequence.gene_symbol", "in", "NF1"))))
    assert " OR p.participant_id IN (SELECT o.participant_id" in or_mixed.sql


def test_descriptions_read_right() -> None:
    labels = {"HP:0001250": "Seizure"}
    assert describe(criterion("participant.sex", "in", "female", "male")) == "Sex is female or male"
    assert describe(criterion("phenotype.observed", "in", "HP:0001250"), labels) == (
        "Phenotype (observed) is Seizure (HP:0001250) or a descendant")
    assert describe(criterion("diagnosis.age_at_event_days", "between", 10, 200)) == (
        "Age at diagnosis is between 10 and 200 days")
    assert describe(criterion("variant.gnomad_genomes_3_af", "<", 0.01, "__missing__")) == (
        "carries a variant where gnomAD genomes 3 AF < 0.01 or missing")
    assert describe(negate(criterion("participant.is_proband", "in", True))) == "not (Proband is true)"
    text = describe(all_of(criterion("participant.sex", "in", "female"),
                           criterion("consequence.gene_symbol", "in", "NF1"),
                           criterion("consequence.vep_impact", "in", "HIGH")))
    assert text == "Sex is female and carries a variant where (Gene is NF1 and Impact is HIGH)"
    assert describe(Group("and", ())) == "all participants"
    assert describe(any_of(criterion("participant.sex", "in", "a"), Not(criterion("participant.sex", "in", "b")))) \
        == "Sex is a or not (Sex is b)"


def test_value_parsing_helpers() -> None:
    assert ontology_term_id("Seizure (HP:0001250)") == "HP:0001250"
    assert ontology_term_id("MONDO:0005070") == "MONDO:0005070"
    assert ontology_term_id("Seizure") is None
    assert parse_region("chr7:1,000-2,000") == ("7", 1000, 2000)
    assert parse_region("X:5") == ("X", 5, 5)
    with pytest.raises(QueryError):
        parse_region("7:20-10")
