"""Quick search (the toolbar's Ctrl+K box), Qt-free: what a typed text can mean, and the criterion each hit adds.

A text is read as, in this order: a region (`chr17:7,660,000-7,690,000`), an rsID (`rs28934578`), an HGVS
expression (kfexplorer.query.hgvs); then looked up in the cache: participant ids (prefix), gene symbols of
`consequences` (prefix), HPO / MONDO terms of `ontology_terms` (id, or label containing the text). Values are bound
parameters only. Run `search_cache` in a worker (it queries DuckDB).

Each gene and ontology hit carries its participant count, as the criterion it adds would count them: carriers of a
call in the gene; participants with the observed phenotype / the diagnosis or a descendant. The looked-up hits are
ranked: exact id / symbol matches first, then the hits that occur in the cache (participants, and genes / terms
with participants), then the rest; within each rank, participants, genes, HPO terms, MONDO diagnoses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import duckdb

from kfexplorer.query.compiler import describe, parse_region
from kfexplorer.query.fields import PARTICIPANT_SOURCES, field_spec
from kfexplorer.query.hgvs import HGVS_FIELD, hgvs_criterion
from kfexplorer.query.model import Node, QueryError, criterion
from kfexplorer.query.preaggregates import CARRIER_TABLES
from kfexplorer.store.preaggregates import preaggregates_ready

PARTICIPANT, GENE, HPO, MONDO, REGION, RSID, HGVS = ("participant", "gene", "hpo", "mondo", "region", "rsid",
                                                      "hgvs")
KIND_WORDS: dict[str, str] = {
    PARTICIPANT: "Participant", GENE: "Gene", HPO: "HPO term", MONDO: "MONDO diagnosis", REGION: "Region",
    RSID: "rsID", HGVS: "HGVS",
}
RSID_PATTERN = re.compile(r"^rs[0-9]+$", re.IGNORECASE)
MIN_LOOKUP_LENGTH = 2
LOOKUP_ORDER = (PARTICIPANT, GENE, HPO, MONDO)  # the order of looked-up kinds within one rank
# The registry field whose rows count an ontology hit's participants (the field its criterion uses).
ONTOLOGY_FIELDS: dict[str, str] = {HPO: "phenotype.observed", MONDO: "diagnosis"}
GENE_FIELD = "consequence.gene_symbol"


@dataclass(frozen=True)
class QuickSearchHit:
    """One thing the text can mean: `kind` (one of KIND_WORDS), `value` (the id / symbol / expression) and
    `label` (what the list shows, without the kind)."""

    kind: str
    value: str
    label: str
    participants: int | None = None  # genes and ontology terms: the participants its criterion selects

    @property
    def kind_words(self) -> str:
        return KIND_WORDS[self.kind]

    @property
    def participants_words(self) -> str:
        """"62 participants", "1 participant", "no participants"; "" when not counted."""
        if self.participants is None:
            return ""
        if self.participants == 0:
            return "no participants"
        return f"{self.participants:,} participant{'' if self.participants == 1 else 's'}"

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


def _placeholders(count: int) -> str:
    return ", ".join("?" for _ in range(count))


def _gene_hits(con: Any, upper: str, limit: int) -> list[QuickSearchHit]:
    """Gene symbols starting with `upper`, with their carriers: exact match first, then carried genes, shortest."""
    symbols = [str(row[0]) for row in _lookup(
        con, "SELECT DISTINCT gene_symbol FROM consequences WHERE starts_with(upper(gene_symbol), ?)", [upper])]
    if not symbols:
        return []
    marks = _placeholders(len(symbols))
    if preaggregates_ready(con):  # the distinct (gene, carrier) pairs: a GROUP BY, no scan of the calls
        sql = (f"SELECT value, count(*) FROM {CARRIER_TABLES[GENE_FIELD]} WHERE value IN ({marks}) GROUP BY value")
    else:
        sql = ("SELECT c.gene_symbol, count(DISTINCT o.participant_id) FROM occurrences o "
               "JOIN consequences c ON c.locus_id = o.locus_id "
               f"WHERE COALESCE(o.has_alt, FALSE) AND o.participant_id IS NOT NULL AND c.gene_symbol IN ({marks}) "
               "GROUP BY c.gene_symbol")
    carriers = {str(symbol): int(count) for symbol, count in _lookup(con, sql, symbols)}
    symbols.sort(key=lambda s: (s.upper() != upper, carriers.get(s, 0) == 0, len(s), s))
    return [QuickSearchHit(GENE, symbol, symbol, carriers.get(symbol, 0)) for symbol in symbols[:limit]]


def _term_hits(con: Any, kind: str, lower: str, limit: int) -> list[QuickSearchHit]:
    """Terms of one ontology whose id is `lower` or whose label contains it, each with the participants its
    criterion selects (the term or a descendant, the field's own row condition), in one grouped query: exact id
    first, then terms with participants, then labels starting with the text, shortest."""
    spec = field_spec(ONTOLOGY_FIELDS[kind])
    source = PARTICIPANT_SOURCES[spec.source]
    condition = f" AND ({spec.condition})" if spec.condition else ""
    sql = f"""
        WITH candidates AS (
            SELECT id, label FROM ontology_terms
            WHERE (lower(id) = ? OR contains(lower(label), ?)) AND NOT COALESCE(obsolete, FALSE)
              AND lower(ontology) = ?),
        covered AS (
            SELECT id AS hit_id, id AS term_id FROM candidates
            UNION SELECT oa.ancestor_id, oa.id FROM ontology_ancestors oa
            WHERE oa.ancestor_id IN (SELECT id FROM candidates)),
        field_rows AS (
            SELECT {source.participant_column} AS participant_id, {spec.column} AS term_id FROM {source.from_sql}
            WHERE {source.participant_column} IS NOT NULL{condition}),
        counted AS (
            SELECT cv.hit_id, count(DISTINCT r.participant_id) AS participants
            FROM covered cv JOIN field_rows r ON r.term_id = cv.term_id GROUP BY cv.hit_id)
        SELECT ca.id, ca.label, COALESCE(n.participants, 0)
        FROM candidates ca LEFT JOIN counted n ON n.hit_id = ca.id
        ORDER BY lower(ca.id) = ? DESC, COALESCE(n.participants, 0) > 0 DESC, starts_with(lower(ca.label), ?) DESC,
                 length(ca.label), ca.label
        LIMIT ?
    """
    rows = _lookup(con, sql, [lower, lower, kind, lower, lower, limit])
    return [QuickSearchHit(kind, str(term_id), str(label or term_id), int(count)) for term_id, label, count in rows]


def _rank(hit: QuickSearchHit, needle: str) -> tuple[int, int, int]:
    """Exact id / symbol matches first; then hits that occur in the cache; then by kind."""
    exact = hit.value.lower() == needle.lower()
    occurs = hit.participants is None or hit.participants > 0  # a participant hit is a participant
    return (0 if exact else 1, 0 if occurs else 1, LOOKUP_ORDER.index(hit.kind))


def search_cache(con: Any, text: str, limit: int = 8) -> list[QuickSearchHit]:
    """Every hit for `text`: parsed ones first, then the looked-up participants, genes, HPO and MONDO terms (each
    kind at most `limit`), ranked as the module says."""
    needle = text.strip()
    hits = parsed_hits(needle)
    if len(needle) < MIN_LOOKUP_LENGTH or any(hit.kind in (REGION, HGVS) for hit in hits):
        return hits
    upper = needle.upper()
    found: list[QuickSearchHit] = []
    for (participant_id,) in _lookup(
            con, "SELECT participant_id FROM participants WHERE starts_with(upper(participant_id), ?) "
                 "ORDER BY upper(participant_id) = ? DESC, participant_id LIMIT ?", [upper, upper, limit]):
        found.append(QuickSearchHit(PARTICIPANT, str(participant_id), str(participant_id)))
    found += _gene_hits(con, upper, limit)
    lower = needle.lower()
    for kind in (HPO, MONDO):  # each its own share of the list
        found += _term_hits(con, kind, lower, limit)
    found.sort(key=lambda hit: _rank(hit, needle))  # stable: each kind keeps its own order within a rank
    return hits + found
