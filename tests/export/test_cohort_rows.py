"""Which calls a cohort's variant criteria select (CACHE.md "What the variants of a cohort means")."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
from export_release import RawRelease

from kfexplorer.export.cohort_export import export_cohort_in_cache
from kfexplorer.export.cohort_rows import variant_criteria
from kfexplorer.query.model import Cohort, Group, all_of, any_of, criterion, negate

SEX = criterion("participant.sex", "in", "female")
GENE_IMPACT = criterion("consequence.vep_impact", "in", "HIGH")
HOM = criterion("occurrence.zygosity", "in", "HOM")


def test_variant_criteria_are_what_every_member_must_satisfy() -> None:
    assert variant_criteria(all_of(SEX, GENE_IMPACT)) == GENE_IMPACT
    assert variant_criteria(all_of(SEX, all_of(GENE_IMPACT, HOM))) == all_of(GENE_IMPACT, HOM)
    assert variant_criteria(all_of(SEX, GENE_IMPACT, HOM)) == Group("and", (GENE_IMPACT, HOM))
    assert variant_criteria(any_of(GENE_IMPACT, HOM)) == any_of(GENE_IMPACT, HOM)  # one variant expression
    assert variant_criteria(any_of(SEX, GENE_IMPACT)) is None  # a girl without the call is a member too
    assert variant_criteria(all_of(SEX, negate(GENE_IMPACT))) == negate(GENE_IMPACT)  # per call: not HIGH
    assert variant_criteria(all_of(HOM, negate(all_of(SEX, GENE_IMPACT)))) == HOM  # a mixed `not` selects no calls
    assert variant_criteria(all_of(SEX)) is None


def test_call_level_criteria_filter_the_calls_themselves(raw_release: RawRelease, tmp_path: Path) -> None:
    out = tmp_path / "hom.parquet"
    export_cohort_in_cache(raw_release.cache, Cohort(all_of(SEX, HOM)), "occurrences", out)
    females = {p for p, sex in raw_release.sex.items() if sex == "female"}
    expected = Counter((r["participant_id"], r["locus_id"]) for r in raw_release.occurrences
                       if r["has_alt"] and r["participant_id"] in females and r["zygosity"] == "HOM")
    rows = pq.read_table(out).to_pylist()
    assert expected and Counter((r["participant_id"], r["locus_id"]) for r in rows) == expected
    # Beside participant criteria under `or`, the variant expression does not filter the calls.
    out = tmp_path / "either.parquet"
    export_cohort_in_cache(raw_release.cache, Cohort(any_of(SEX, HOM)), "occurrences", out)
    hom_carriers = {r["participant_id"] for r in raw_release.occurrences if r["has_alt"] and r["zygosity"] == "HOM"}
    members = females | hom_carriers
    expected = Counter((r["participant_id"], r["locus_id"]) for r in raw_release.occurrences
                       if r["has_alt"] and r["participant_id"] in members)
    assert Counter((r["participant_id"], r["locus_id"]) for r in pq.read_table(out).to_pylist()) == expected
