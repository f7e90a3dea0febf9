"""HGVS expressions as criteria: parsing, and counts on a synced release against the raw Parquet (pyarrow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from kfexplorer.demo.release import generate_release
from kfexplorer.query.hgvs import hgvs_criterion, looks_like_hgvs, normalize_protein_change
from kfexplorer.query.model import Cohort, QueryError, all_of, criterion
from kfexplorer.services.cohort_count import count_cohort_in_cache
from kfexplorer.sync.engine import sync_release

THREE = {"A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu", "G": "Gly",
         "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe", "P": "Pro", "S": "Ser",
         "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val"}
ONE = {v: k for k, v in THREE.items()}


def rows(folder: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(folder.rglob("*.parquet")):
        found.extend(pq.read_table(path).to_pylist())
    return found


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("hgvs")
    release, cache = base / "release", base / "cache"
    generate_release(release, participants=40, occurrences=5_000, seed=11, imaging=False, force=True)
    sync_release(str(release), cache)
    return release, cache


def carriers(release: Path, loci: set[str]) -> set[str]:
    return {o["participant_id"] for o in rows(release / "variants" / "occurrences")
            if o["has_alt"] and o["locus_id"] in loci}


def test_parsing_forms() -> None:
    assert hgvs_criterion("chr17:g.7675088C>T") == criterion("variant.hgvsg", "in", "chr17:g.7675088C>T")
    assert hgvs_criterion("17:g.7675088C>T") == criterion("variant.hgvsg", "in", "chr17:g.7675088C>T")
    assert hgvs_criterion("NC_000017.11:g.7675088C>T") == criterion("variant.hgvsg", "in", "chr17:g.7675088C>T")
    assert hgvs_criterion("NC_000023.11:g.5A>G") == criterion("variant.hgvsg", "in", "chrX:g.5A>G")
    assert hgvs_criterion("TP53:p.R175H") == all_of(criterion("consequence.gene_symbol", "in", "TP53"),
                                                   criterion("consequence.hgvsp", "in", "p.Arg175His"))
    assert hgvs_criterion("tp53:p.(Arg175His)") == hgvs_criterion("TP53:p.Arg175His")
    assert hgvs_criterion("ENST00000269305.9:c.524G>A") == all_of(
        criterion("consequence.transcript_id", "in", "ENST00000269305"),
        criterion("consequence.hgvsc", "in", "c.524G>A"))
    assert hgvs_criterion("NM_000546.6:c.524G>A") == criterion("consequence.hgvsc", "in", "c.524G>A")
    assert hgvs_criterion("p.R196*") == criterion("consequence.hgvsp", "in", "p.Arg196Ter")
    assert normalize_protein_change("R212Gfs*21") == "p.Arg212GlyfsTer21"
    assert normalize_protein_change("Phe833=") == "p.Phe833="
    for bad in ("", "TP53", "chr17:7675088-7675100", "TP53:p.Zzz12Q", "rs123", "x:c.abc", "'; DROP TABLE x;--"):
        assert not looks_like_hgvs(bad)
        with pytest.raises(QueryError):
            hgvs_criterion(bad)


def test_genomic_hgvs_counts_match_raw_parquet(synced: tuple[Path, Path]) -> None:
    release, cache = synced
    variants = rows(release / "variants" / "variants")
    carried = {o["locus_id"] for o in rows(release / "variants" / "occurrences") if o["has_alt"]}
    chosen = next(v for v in variants if v["hgvsg"] and v["locus_id"] in carried)
    expected = carriers(release, {chosen["locus_id"]})
    chromosome, change = chosen["hgvsg"].split(":", 1)
    number = chromosome.removeprefix("chr")
    accession = {"X": "NC_000023", "Y": "NC_000024"}.get(number, f"NC_0000{int(number):02d}" if number.isdigit()
                                                          else "")
    for text in (chosen["hgvsg"], f"{number}:{change}", f"{accession}.11:{change}"):
        result = count_cohort_in_cache(cache, Cohort(hgvs_criterion(text)))
        assert set(result.participant_ids) == expected, text
    assert expected


def test_protein_and_coding_hgvs_match_the_same_consequence_row(synced: tuple[Path, Path]) -> None:
    release, cache = synced
    consequences = rows(release / "variants" / "consequences")
    carried = {o["locus_id"] for o in rows(release / "variants" / "occurrences") if o["has_alt"]}
    missense = [c for c in consequences if c["locus_id"] in carried and c["hgvsp"] and c["gene_symbol"]
                and len(c["hgvsp"]) > 8 and c["hgvsp"][2:5] in ONE and c["hgvsp"][-3:] in ONE
                and c["hgvsp"][5:-3].isdigit()]
    chosen = missense[0]
    gene, hgvsp = chosen["gene_symbol"], chosen["hgvsp"]
    same_row = {c["locus_id"] for c in consequences if c["gene_symbol"] == gene and c["hgvsp"] == hgvsp}
    expected = carriers(release, same_row)
    one_letter = f"{gene}:p.{ONE[hgvsp[2:5]]}{hgvsp[5:-3]}{ONE[hgvsp[-3:]]}"
    for text in (f"{gene}:{hgvsp}", one_letter):
        assert set(count_cohort_in_cache(cache, Cohort(hgvs_criterion(text))).participant_ids) == expected, text
    # another gene with the same protein change: only rows of that gene count (none, or that gene's carriers)
    other_gene = next(c["gene_symbol"] for c in consequences if c["gene_symbol"] and c["gene_symbol"] != gene)
    other_rows = {c["locus_id"] for c in consequences if c["gene_symbol"] == other_gene and c["hgvsp"] == hgvsp}
    assert set(count_cohort_in_cache(cache, Cohort(hgvs_criterion(f"{other_gene}:{hgvsp}"))).participant_ids) == \
        carriers(release, other_rows)

    coding = next(c for c in consequences if c["locus_id"] in carried and c["hgvsc"] and c["ensembl_transcript_id"])
    transcript, hgvsc = coding["ensembl_transcript_id"], coding["hgvsc"]
    on_transcript = {c["locus_id"] for c in consequences
                     if c["ensembl_transcript_id"] == transcript and c["hgvsc"] == hgvsc}
    result = count_cohort_in_cache(cache, Cohort(hgvs_criterion(f"{transcript}.3:{hgvsc}")))
    assert set(result.participant_ids) == carriers(release, on_transcript) != set()
    anywhere = {c["locus_id"] for c in consequences if c["hgvsc"] == hgvsc}
    result = count_cohort_in_cache(cache, Cohort(hgvs_criterion(f"NM_000546.6:{hgvsc}")))
    assert set(result.participant_ids) == carriers(release, anywhere)

    # the field variant.hgvs holds expressions: `in` any of them; with `not_in` on the same call as a gene
    both = criterion("variant.hgvs", "in", f"{gene}:{hgvsp}", f"{transcript}:{hgvsc}")
    result = count_cohort_in_cache(cache, Cohort(both))
    assert set(result.participant_ids) == carriers(release, same_row | on_transcript)
    assert "HGVS is" in result.description and "?" in result.sql and hgvsp not in result.sql
    result = count_cohort_in_cache(cache, Cohort(all_of(criterion("consequence.gene_symbol", "in", gene),
                                                        criterion("variant.hgvs", "not_in", f"{gene}:{hgvsp}"))))
    assert set(result.participant_ids) == carriers(release, {c["locus_id"] for c in consequences
                                                             if c["gene_symbol"] == gene and c["hgvsp"] != hgvsp})
    nothing = count_cohort_in_cache(cache, Cohort(criterion("variant.hgvs", "in", "x'; DROP TABLE variants; --")))
    assert nothing.count == 0 and "DROP" not in nothing.sql  # unreadable: compared as typed, inert
