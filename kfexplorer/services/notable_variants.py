"""A participant's notable variants (Qt-free): carried calls that are HIGH impact or ClinVar pathogenic / likely
pathogenic, with gene, HGVSp and zygosity — what the imaging viewer shows beside the images."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

PATHOGENIC_SIGNIFICANCE = ("Pathogenic", "Likely_pathogenic", "Pathogenic/Likely_pathogenic")
NOTABLE_LIMIT = 200

NOTABLE_SQL = """
SELECT v.locus_id, v.hgvsg, v.max_impact, v.clinvar_sig, o.zygosity,
       c.gene_symbol, c.hgvsp, c.hgvsc, c.vep_impact
FROM occurrences o
JOIN variants v ON v.locus_id = o.locus_id
LEFT JOIN (
    SELECT locus_id, gene_symbol, hgvsp, hgvsc, vep_impact,
           row_number() OVER (PARTITION BY locus_id
                              ORDER BY coalesce(mane_select, FALSE) DESC, coalesce(canonical, FALSE) DESC,
                                       CASE vep_impact WHEN 'HIGH' THEN 0 WHEN 'MODERATE' THEN 1
                                                       WHEN 'LOW' THEN 2 ELSE 3 END, ensembl_transcript_id) AS rank
    FROM consequences
) c ON c.locus_id = v.locus_id AND c.rank = 1
WHERE o.participant_id = ? AND coalesce(o.has_alt, FALSE)
  AND (v.max_impact = 'HIGH' OR list_has_any(coalesce(v.clinvar_sig, []::VARCHAR[]), ?::VARCHAR[]))
ORDER BY CASE WHEN list_has_any(coalesce(v.clinvar_sig, []::VARCHAR[]), ?::VARCHAR[]) THEN 0 ELSE 1 END,
         c.gene_symbol NULLS LAST, v.locus_id
LIMIT ?
"""


@dataclass(frozen=True)
class NotableVariant:
    locus_id: str
    gene: str | None
    hgvsp: str | None
    hgvsc: str | None
    hgvsg: str | None
    zygosity: str | None
    impact: str | None
    clinvar: tuple[str, ...]

    @property
    def is_pathogenic(self) -> bool:
        return any(sig in PATHOGENIC_SIGNIFICANCE for sig in self.clinvar)


def _has_tables(cursor: duckdb.DuckDBPyConnection) -> bool:
    rows = cursor.execute(
        "SELECT count(DISTINCT table_name) FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_name IN ('occurrences', 'variants', 'consequences')").fetchall()
    return int(rows[0][0]) == 3


def notable_variants(cursor: duckdb.DuckDBPyConnection, participant_id: str,
                     limit: int = NOTABLE_LIMIT) -> list[NotableVariant]:
    """The participant's carried HIGH-impact or ClinVar P/LP variants, pathogenic first (empty without variant
    tables)."""
    if not _has_tables(cursor):
        return []
    significance = list(PATHOGENIC_SIGNIFICANCE)
    rows = cursor.execute(NOTABLE_SQL, [participant_id, significance, significance, int(limit)]).fetchall()
    return [NotableVariant(locus_id=str(r[0]), hgvsg=r[1], impact=r[8] or r[2], clinvar=tuple(r[3] or ()),
                           zygosity=r[4], gene=r[5], hgvsp=r[6], hgvsc=r[7]) for r in rows]
