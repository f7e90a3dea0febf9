"""Quick search (the toolbar's Ctrl+K box), Qt-free: what a typed text can mean, and the criterion each hit adds.

A text is read as, in this order: a region (`chr17:7,660,000-7,690,000`), an rsID (`rs28934578`), an HGVS
expression (kfexplorer.query.hgvs); then looked up in the cache: participant ids (prefix), gene symbols of
`consequences` (prefix), HPO / MONDO terms of `ontology_terms` (id, or label containing the text). Values are bound
parameters only. Run `search_cache` in a worker (it queries DuckDB).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import duckdb

from kfexplorer.query.compiler import describe, parse_region
from kfexplorer.query.hgvs import HGVS_FIELD, hgvs_criterion
from kfexplorer.query.model import Node, QueryError, criterion

PARTICIPANT, GENE, HPO, MONDO, REGION, RSID, HGVS = ("participant", "gene", "hpo", "mondo", "region", "rsid",
                                                      "hgvs")
KIND_WORDS: dict[str, str] = {
    PARTICIPANT: "Participant", GENE: "Gene", HPO: "HPO term", MONDO: "MONDO diagnosis", REGION: "Region",
    RSID: "rsID", HGVS: "HGVS",
}
RSID_PATTERN = re.compile(r"^rs[0-9]+$", re.IGNORECASE)
MIN_LOOKUP_LENGTH = 2


@dataclass(frozen=True)
class QuickSearchHit:
    """One thing the text can mean: `kind` (one of KIND_WORDS), `value` (the id / symbol / expression) and
    `label` (what the list shows, without the kind)."""

    kind: str
    value: str
    label: str

    @property
    def kind_words(self) -> str:
        return KIND_WORDS[self.kind]

    def criterion(self) -> Node | None:
        """The criterion choosing this hit adds to the cohort; None for a participant (it opens instead)."""
        if self.kind == GENE:
            return criterion("consequence.gene_symbol", "in", self.value)
        if self.kind == HPO:
            return criterion("phenotype.observed", "in", f"{self.label} ({self.value})")
        if self.kind == MONDO:
            return criterion("diagnosis", "in", f"{self.label} ({self.value})")
        if self.kind == REGION:
            return criterion("variant.region", "in", self.value)
        if self.kind == RSID:
            return criterion("variant.rsnumber", "in", self.value)
        if self.kind == HGVS:
            hgvs_criterion(self.value)  # QueryError when it does not read
            return criterion(HGVS_FIELD, "in", self.value)
        return None


def parsed_hits(text: str) -> list[QuickSearchHit]:
    """Hits read from the text alone (region, rsID, HGVS), without the cache."""
    needle = text.strip()
    hits: list[QuickSearchHit] = []
    if not needle:
        return hits
    try:
        chromosome, start, end = parse_region(needle)
    except QueryError:
        pass
    else:
        if ":" in needle:  # "1-100" alone is more likely an id than a region
            value = f"chr{chromosome}:{start}-{end}"
            hits.append(QuickSearchHit(REGION, value, f"{value} ({end - start + 1:,} bp)"))
    if RSID_PATTERN.match(needle):
        hits.append(QuickSearchHit(RSID, needle.lower(), needle.lower()))
    try:
        node = hgvs_criterion(needle)
    except QueryError:
        pass
    else:  # shown with what it means in the release's terms ("Gene is TP53 and HGVSp is p.Arg175His")
        meaning = describe(node).removeprefix("carries a variant where ").strip("()")
        hits.append(QuickSearchHit(HGVS, needle, f"{needle} = {meaning}"))
    return hits


def _lookup(con: Any, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    try:
        return list(con.execute(sql, params).fetchall())
    except duckdb.CatalogException:  # a cache without the table (no variants synced): nothing of that kind
        return []


def search_cache(con: Any, text: str, limit: int = 8) -> list[QuickSearchHit]:
    """Every hit for `text`: parsed ones first, then participants, genes, HPO and MONDO terms (each at most
    `limit`, exact matches first)."""
    needle = text.strip()
    hits = parsed_hits(needle)
    if len(needle) < MIN_LOOKUP_LENGTH or any(hit.kind in (REGION, HGVS) for hit in hits):
        return hits
    upper = needle.upper()
    for (participant_id,) in _lookup(
            con, "SELECT participant_id FROM participants WHERE starts_with(upper(participant_id), ?) "
                 "ORDER BY upper(participant_id) = ? DESC, participant_id LIMIT ?", [upper, upper, limit]):
        hits.append(QuickSearchHit(PARTICIPANT, str(participant_id), str(participant_id)))
    for (symbol,) in _lookup(
            con, "SELECT DISTINCT gene_symbol FROM consequences WHERE starts_with(upper(gene_symbol), ?) "
                 "ORDER BY upper(gene_symbol) = ? DESC, length(gene_symbol), gene_symbol LIMIT ?",
            [upper, upper, limit]):
        hits.append(QuickSearchHit(GENE, str(symbol), str(symbol)))
    lower = needle.lower()
    for ontology, kind in (("hpo", HPO), ("mondo", MONDO)):  # each its own share of the list
        for term_id, label in _lookup(
                con, "SELECT id, label FROM ontology_terms WHERE (lower(id) = ? OR contains(lower(label), ?)) "
                     "AND NOT COALESCE(obsolete, FALSE) AND lower(ontology) = ? "
                     "ORDER BY lower(id) = ? DESC, starts_with(lower(label), ?) DESC, length(label), label LIMIT ?",
                [lower, lower, ontology, lower, lower, limit]):
            hits.append(QuickSearchHit(kind, str(term_id), str(label or term_id)))
    return hits
