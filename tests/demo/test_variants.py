"""The demo variant writer: contract, Mendelian consistency, planted findings, determinism, size, memory.

Oracles read the written Parquet with pyarrow (through variant_contract) and compare it with the population model;
inheritance findings are searched from zygosities, gq and dp alone, never from parental_origin/transmission_mode.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from variant_contract import VariantRelease, check_release

from kfexplorer.demo.genes import CHROMOSOMES, GENES, domain_genes, study_domain
from kfexplorer.demo.population import Participant, Population, build_population
from kfexplorer.demo.variants import plan_planted_variants, write_variants
from kfexplorer.progress import Cancelled, CancelToken, ProgressEvent

N_PARTICIPANTS = 60
N_OCCURRENCES = 50_000
MODES = ("de_novo", "autosomal_recessive", "compound_heterozygous", "x_linked_recessive", "inherited_dominant")


def _trios(population: Population, study_id: str) -> list[Participant]:
    ps = population.participants
    return [p for p in ps if p.study_id == study_id and p.is_proband and p.sequenced
            and p.mother_index is not None and p.father_index is not None
            and ps[p.mother_index].sequenced and ps[p.father_index].sequenced]


def _eligible(population: Population, study_id: str) -> dict[str, bool]:
    """Which findings a study's families can hold at all."""
    ps = population.participants
    trios = _trios(population, study_id)
    return {
        "de_novo": bool(trios), "autosomal_recessive": bool(trios), "compound_heterozygous": bool(trios),
        "x_linked_recessive": any(t.sex == "male" for t in trios),
        "inherited_dominant": any(ps[t.mother_index or 0].affected or ps[t.father_index or 0].affected
                                  for t in trios),
    }


def _population() -> tuple[Population, int]:
    """A small population in which every study can hold every planted finding."""
    for seed in range(1, 200):
        population = build_population(N_PARTICIPANTS, seed)
        if all(all(_eligible(population, s.study_id).values()) for s in population.studies):
            return population, seed
    raise AssertionError("no suitable population")


def _digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    population, seed = _population()
    root = tmp_path_factory.mktemp("release")
    events: list[ProgressEvent] = []
    counts = write_variants(root, population, N_OCCURRENCES, seed, progress=events.append)
    problems, report, release = check_release(root, population)
    return {"population": population, "seed": seed, "root": root, "counts": counts, "events": events,
            "problems": problems, "report": report, "release": release}


def test_release_honours_the_contract(generated: dict[str, Any]) -> None:
    assert generated["problems"] == []
    release: VariantRelease = generated["release"]
    occ = release.occurrences
    # every chromosome has calls (Y too: the population has sequenced males)
    assert set(occ["chromosome"]) == set(CHROMOSOMES)
    studies = {s.study_id for s in generated["population"].studies}
    assert set(occ["study_id"]) == studies
    # partition columns are stored in the files as ordinary columns
    one = next((generated["root"] / "variants" / "occurrences").rglob("*.parquet"))
    assert {"chromosome", "study_id"} <= set(pq.read_schema(one).names)


def test_counts_match_the_request_and_the_files(generated: dict[str, Any]) -> None:
    counts, release = generated["counts"], generated["release"]
    n_rows = len(release.occurrences["locus_id"])
    assert counts["occurrences"] == n_rows
    assert abs(n_rows - N_OCCURRENCES) <= 0.05 * N_OCCURRENCES
    assert counts["variants"] == len(release.variants["locus_id"])
    assert counts["consequences"] == len(release.consequences["locus_id"])
    assert counts["files"] == len(release.files)
    # only sequenced participants have occurrences, and each of them has some
    sequenced = {p.participant_id for p in generated["population"].participants if p.sequenced}
    assert set(release.occurrences["participant_id"]) == sequenced


def test_trios_are_mendelian_consistent(generated: dict[str, Any]) -> None:
    report = generated["report"]
    assert report.trio_calls_checked > 2000
    assert report.violations == []
    # the only alleles a child has without either parent are exactly the planted de novo ones (child, chromosome)
    population = generated["population"]
    planted = sorted((population.participants[p.child].participant_id, p.chromosome)
                     for p in plan_planted_variants(population, generated["seed"]) if p.mode == "de_novo")
    found = sorted((child, locus.split("-")[0]) for child, locus in report.de_novo)
    assert planted and found == planted


def _rows(release: VariantRelease) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["participant_id"], r["locus_id"]): r for r in release.occurrence_rows()}


def _findings(generated: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """Findings per study and mode, searched from zygosities / gq / dp and the population only."""
    population: Population = generated["population"]
    release: VariantRelease = generated["release"]
    ps = population.participants
    calls = _rows(release)
    var = release.variants
    af = dict(zip(var["locus_id"], var["gnomad_genomes_3_af"], strict=True))
    impact = dict(zip(var["locus_id"], var["max_impact"], strict=True))
    genes = dict(zip(var["locus_id"], var["gene_symbols"], strict=True))
    chrom = dict(zip(var["locus_id"], var["chromosome"], strict=True))
    by_person: dict[str, list[str]] = defaultdict(list)
    for (pid, locus), row in calls.items():
        if row["has_alt"]:
            by_person[pid].append(locus)

    def zyg(p: Participant, locus: str) -> tuple[str, int, int]:
        row = calls.get((p.participant_id, locus))
        if row is None:
            return "WT", -1, -1  # no row: WT, quality unknown from the parent's own rows
        return row["zygosity"], row["gq"], row["dp"]

    def rare_damaging(locus: str) -> bool:
        return (af[locus] is None or af[locus] < 0.01) and impact[locus] in ("HIGH", "MODERATE")

    found: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for study in population.studies:
        domain = {g.symbol for g in domain_genes(study_domain(study.study_code, study.domain))}
        for child in _trios(population, study.study_id):
            mother, father = ps[child.mother_index or 0], ps[child.father_index or 0]
            het_from: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
            for locus in by_person[child.participant_id]:
                c = calls[(child.participant_id, locus)]
                m, f = zyg(mother, locus)[0], zyg(father, locus)[0]
                in_domain = bool(set(genes[locus]) & domain)
                if c["zygosity"] == "HET" and m == "WT" and f == "WT" and chrom[locus] not in ("X", "Y", "M"):
                    # confident parental WT calls, read from the child's row (the parents' own quality)
                    if min(c["mother_gq"], c["father_gq"]) >= 20 and min(c["mother_dp"], c["father_dp"]) >= 10:
                        found[study.study_id]["de_novo"].append(locus)
                if not rare_damaging(locus) or not in_domain:
                    continue
                if c["zygosity"] == "HOM" and m == "HET" and f == "HET":
                    found[study.study_id]["autosomal_recessive"].append(locus)
                if c["zygosity"] == "HEM" and chrom[locus] == "X" and child.sex == "male" and m == "HET" \
                        and f == "WT":
                    found[study.study_id]["x_linked_recessive"].append(locus)
                if c["zygosity"] == "HET" and chrom[locus] not in ("X", "Y", "M"):
                    if (m, f) == ("HET", "WT"):
                        het_from[genes[locus][0]]["mother"].append(locus)
                    if (m, f) == ("WT", "HET"):
                        het_from[genes[locus][0]]["father"].append(locus)
                    for parent, other in ((mother, f), (father, m)):
                        if parent.affected and zyg(parent, locus)[0] == "HET" and other == "WT":
                            found[study.study_id]["inherited_dominant"].append(locus)
            for gene, sides in het_from.items():
                if sides["mother"] and sides["father"]:
                    found[study.study_id]["compound_heterozygous"].append(gene)
    return found


def test_each_planted_finding_is_detectable_in_each_study(generated: dict[str, Any]) -> None:
    found = _findings(generated)
    population: Population = generated["population"]
    for study in population.studies:
        for mode, possible in _eligible(population, study.study_id).items():
            if possible:
                assert found[study.study_id][mode], f"{mode} not found in {study.study_code}"
    # parents' WT calls are visible as rows too (has_alt false), e.g. at de novo sites
    occ = generated["release"].occurrences
    wt = [i for i, z in enumerate(occ["zygosity"]) if z == "WT"]
    assert wt and not any(occ["has_alt"][i] for i in wt)
    assert any(not occ["is_proband"][i] for i in wt)


def test_domain_genes_carry_the_planted_findings(generated: dict[str, Any]) -> None:
    """De novo HIGH/MODERATE variants of a study sit in that study's domain genes, with real coordinates."""
    found = _findings(generated)
    release: VariantRelease = generated["release"]
    var = release.variants
    genes = dict(zip(var["locus_id"], var["gene_symbols"], strict=True))
    start = dict(zip(var["locus_id"], var["start"], strict=True))
    catalog = {g.symbol: g for g in GENES}
    for study in generated["population"].studies:
        domain = {g.symbol for g in domain_genes(study_domain(study.study_code, study.domain))}
        loci = found[study.study_id]["de_novo"]
        assert any(set(genes[locus]) & domain for locus in loci)
    # every genic variant lies inside its gene (GRCh38 catalog coordinates)
    for locus, symbols in genes.items():
        for symbol in symbols:
            assert catalog[symbol].start <= start[locus] <= catalog[symbol].end
    assert {"TP53", "NOTCH1", "IRF6", "DMD", "MT-ND1"} <= set(catalog)
    assert 300 <= len(GENES) <= 600


def test_annotations_look_like_a_real_release(generated: dict[str, Any]) -> None:
    release: VariantRelease = generated["release"]
    var, cons, occ = release.variants, release.consequences, release.occurrences
    n = len(var["locus_id"])
    af = var["gnomad_genomes_3_af"]
    # rare-heavy: in a cohort of 60 about half the distinct variants are rare (more in larger cohorts)
    assert sum(1 for a in af if a is None or a < 0.001) > 0.4 * n
    assert any(a is not None and a >= 0.05 for a in af)  # and some common
    assert 0 < sum(1 for c in var["clinvar_id"] if c is not None) < n / 5
    assert any(s and "Pathogenic" in s for s in var["clinvar_sig"])
    assert 0.05 * n < sum(1 for r in var["rsnumber"] if r) < n
    assert any(not g for g in var["gene_symbols"])  # intergenic variants
    assert {"HIGH", "MODERATE", "LOW", "MODIFIER"} <= set(var["max_impact"])
    assert {"SNV", "insertion", "deletion"} <= set(var["variant_class"])
    terms = {t for ts in cons["consequences"] for t in ts}
    assert {"missense_variant", "stop_gained", "frameshift_variant", "synonymous_variant",
            "intron_variant"} <= terms
    assert any(cons["mane_select"]) and any(c is False for c in cons["canonical"])
    # multi-allelic sites are split: same position, two alternates, each its own locus
    sites: dict[tuple[str, int], set[str]] = defaultdict(set)
    for c, s, a in zip(var["chromosome"], var["start"], var["alternate"], strict=True):
        sites[(c, s)].add(a)
    assert any(len(alts) >= 2 for alts in sites.values())
    # quality: mostly PASS, some filtered, HEM calls on X
    filters = [tuple(f) for f in occ["filters"]]
    assert filters.count(("PASS",)) > 0.85 * len(filters)
    assert {("LowQual",), ("GQ20",)} <= set(filters)
    assert "HEM" in occ["zygosity"] and "UNK" in occ["zygosity"]


def test_same_seed_same_bytes_other_seed_other_bytes(generated: dict[str, Any], tmp_path: Path) -> None:
    population, seed = generated["population"], generated["seed"]
    again = tmp_path / "again"
    write_variants(again, population, N_OCCURRENCES, seed)
    first = _digests(generated["root"])
    assert first and _digests(again) == first
    other = tmp_path / "other"
    write_variants(other, population, N_OCCURRENCES, seed + 1)
    other_digests = _digests(other)
    shared = set(first) & set(other_digests)
    assert shared and all(first[k] != other_digests[k] for k in shared if "occurrences" in k)


def test_progress_and_cancel(generated: dict[str, Any], tmp_path: Path) -> None:
    events: list[ProgressEvent] = generated["events"]
    assert events and all(e.phase == "variants" for e in events)
    done = [e.done for e in events]
    assert done == sorted(done)
    assert events[-1].done == events[-1].total == generated["counts"]["occurrences"]
    token = CancelToken()

    def cancel_soon(event: ProgressEvent) -> None:
        if event.done > 0:
            token.cancel()

    with pytest.raises(Cancelled):
        write_variants(tmp_path / "cancelled", generated["population"], N_OCCURRENCES, 1, cancel_soon, token)


def test_checker_catches_a_broken_release(generated: dict[str, Any], tmp_path: Path) -> None:
    """The contract checker itself: flipping has_alt in one file must be reported."""
    import shutil

    root = tmp_path / "broken"
    shutil.copytree(generated["root"], root)
    path = next(p for p in sorted((root / "variants" / "occurrences").rglob("*.parquet"))
                if "chromosome=1/" in p.as_posix())
    table = pq.read_table(path)
    flipped = pa.array([not v for v in table.column("has_alt").to_pylist()])
    pq.write_table(table.set_column(table.schema.get_field_index("has_alt"), "has_alt", flipped), path)
    problems, _, _ = check_release(root, generated["population"])
    assert any("has_alt" in p for p in problems)


_MEMORY_PROBE = textwrap.dedent("""
    import json, resource, sys, tempfile
    from pathlib import Path
    from kfexplorer.demo.population import build_population
    from kfexplorer.demo.variants import write_variants
    n = int(sys.argv[1])
    with tempfile.TemporaryDirectory() as folder:
        counts = write_variants(Path(folder), build_population(300, 5), n, 5)
    print(json.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "occurrences": counts["occurrences"]}))
""")


@pytest.mark.slow
def test_memory_stays_flat_as_occurrences_grow() -> None:
    peaks = {}
    for n in (200_000, 1_600_000):
        out = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(n)], capture_output=True, text=True,
                             check=True, timeout=120)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert abs(result["occurrences"] - n) <= 0.05 * n
        peaks[n] = result["rss_mb"]
    assert peaks[1_600_000] - peaks[200_000] < 60, peaks
