"""Quick search without a cache: what a typed text is read as, and the criterion each kind adds."""

from __future__ import annotations

from kfexplorer.query.model import criterion
from kfexplorer.services.quick_search import QuickSearchHit, parsed_hits


def test_texts_read_as_region_rsid_and_hgvs() -> None:
    assert [(h.kind, h.value) for h in parsed_hits(" chr17:7,661,779-7,687,538 ")] == [
        ("region", "chr17:7661779-7687538")]
    assert [(h.kind, h.value) for h in parsed_hits("RS28934578")] == [("rsid", "rs28934578")]
    hits = parsed_hits("TP53:p.R175H")
    assert [h.kind for h in hits] == ["hgvs"]
    assert "p.Arg175His" in hits[0].label
    assert hits[0].criterion() == criterion("variant.hgvs", "in", "TP53:p.R175H")
    for text in ("", "PT_0042", "seizure", "HP:0001250", "1-100", "'; DROP TABLE participants; --"):
        assert parsed_hits(text) == [], text


def test_each_kind_adds_its_criterion() -> None:
    assert QuickSearchHit("gene", "TP53", "TP53").criterion() == criterion("consequence.gene_symbol", "in", "TP53")
    assert QuickSearchHit("hpo", "HP:0001250", "Seizure").criterion() == criterion(
        "phenotype.observed", "in", "Seizure (HP:0001250)")
    assert QuickSearchHit("mondo", "MONDO:0005027", "epilepsy").criterion() == criterion(
        "diagnosis", "in", "epilepsy (MONDO:0005027)")
    assert QuickSearchHit("rsid", "rs1", "rs1").criterion() == criterion("variant.rsnumber", "in", "rs1")
    assert QuickSearchHit("participant", "PT_1", "PT_1").criterion() is None
