"""Inheritance criteria through `kfexplorer count`, against a plain-Python oracle over the raw release.

The fixture generates a small demo release and then WRITES EXTRA OCCURRENCE ROWS into its Parquet (one more part
file per touched partition, with release.json's size and sha256 updated) for edge cases the generator does not make
on purpose: a missing father, low parental GQ, a split multi-allelic site whose two alleles come from different
parents (plus its variants / consequences rows), and chrX calls in a female and in a male. The oracle reads only the
raw Parquet and the FHIR Patients (sex); it never reads `parental_origin` / `transmission_mode`.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kfexplorer.cli import main
from kfexplorer.demo.release import generate_release
from kfexplorer.query.model import Cohort, all_of, cohort_to_json, criterion
from kfexplorer.sync.engine import sync_release

AUTOSOMES = {str(n) for n in range(1, 23)}


def _ndjson(folder: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.rglob("*.ndjson")):
        for line in path.read_text().splitlines():
            if line.strip():
                yield json.loads(line)


def _patient_sex(release: Path) -> dict[str, str]:
    sex: dict[str, str] = {}
    for patient in _ndjson(release / "fhir" / "Patient"):
        pid = next((i["value"] for i in patient.get("identifier", [])
                    if str(i.get("system", "")).endswith("/participant_id")), patient["id"])
        sex[pid] = patient.get("gender", "")
    return sex


def _read(release: Path, kind: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted((release / "variants" / kind).rglob("*.parquet")):
        rows += pq.read_table(path).to_pylist()
    return rows


def _append_part(release: Path, relative_dir: str, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
    """Write `rows` as a new part file under `relative_dir` and register it in release.json."""
    folder = release / relative_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "part-90.parquet"
    existing = pq.read_table(path).to_pylist() if path.exists() else []
    pq.write_table(pa.Table.from_pylist(existing + rows, schema=schema), path)
    meta_path = release / "release.json"
    meta = json.loads(meta_path.read_text())
    data = path.read_bytes()
    meta.setdefault("files", {})[path.relative_to(release).as_posix()] = {
        "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    meta_path.write_text(json.dumps(meta, indent=1))


def _schema(release: Path, kind: str) -> pa.Schema:
    return pq.read_schema(next((release / "variants" / kind).rglob("*.parquet")))


def _without_partition_keys(schema: pa.Schema, row: dict[str, Any]) -> dict[str, Any]:
    return {name: row.get(name) for name in schema.names}


def _add_edge_cases(release: Path, sex: dict[str, str]) -> dict[str, str]:
    """Write the edge-case rows; returns a name → participant id map of who got what."""
    occurrences = _read(release, "occurrences")
    consequences = _read(release, "consequences")
    variants = {r["locus_id"]: r for r in _read(release, "variants")}
    trio_rows = [r for r in occurrences if r["mother_id"] and r["father_id"] and r["mother_zygosity"]
                 and r["father_zygosity"]]
    children: dict[str, dict[str, Any]] = {}
    for row in trio_rows:
        children.setdefault(row["participant_id"], row)
    girls = [r for p, r in sorted(children.items()) if sex.get(p) == "female"]
    boys = [r for p, r in sorted(children.items()) if sex.get(p) == "male"]
    assert len(girls) >= 2 and len(boys) >= 2, "the generated release needs trios of both sexes"
    occ_schema = _schema(release, "occurrences")
    gene_rows = [c for c in consequences if c["gene_symbol"] and c["chromosome"] in AUTOSOMES]
    site = gene_rows[0]
    base_variant = variants[site["locus_id"]]
    gene = site["gene_symbol"]
    who = {"missing_father": girls[0]["participant_id"], "low_gq": boys[0]["participant_id"],
           "split_site": girls[1]["participant_id"], "x_female": girls[0]["participant_id"],
           "x_male": boys[1]["participant_id"]}

    def call(template: dict[str, Any], chromosome: str, start: int, ref: str, alt: str, **changes: Any
             ) -> dict[str, Any]:
        row = dict(template)
        row.update(chromosome=chromosome, start=start, reference=ref, alternate=alt,
                   locus_id=f"{chromosome}-{start}-{ref}-{alt}", has_alt=True, filters=["PASS"], dp=40, gq=99,
                   ad_ref=20, ad_alt=20, mother_gq=99, mother_dp=40, father_gq=99, father_dp=40,
                   parental_origin="unknown", transmission_mode="autosomal_dominant")
        row.update(changes)
        return _without_partition_keys(occ_schema, row)

    het, wt, hom = dict(zygosity="HET", calls=[0, 1]), "WT", "HOM"
    by_partition: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)

    def add(row: dict[str, Any]) -> None:
        by_partition[(row["study_id"], row["chromosome"])].append(row)

    # missing father: HET, mother WT, father absent -> never de novo; mother affected HET elsewhere -> dominant
    g = girls[0]
    add(call(g, "2", 1_000_001, "A", "G", **het, mother_zygosity=wt, father_zygosity=None, father_id=None,
             father_gq=None, father_dp=None, father_calls=None, father_affected_status=None))
    add(call(g, "2", 1_000_003, "A", "G", **het, mother_zygosity="HET", father_zygosity=None, father_id=None,
             mother_affected_status=True, father_affected_status=None, father_calls=None))
    # low parental GQ: otherwise perfect de novo, mother GQ 15 (and one with father DP 8)
    b = boys[0]
    add(call(b, "3", 2_000_001, "C", "T", **het, mother_zygosity=wt, father_zygosity=wt, mother_gq=15))
    add(call(b, "3", 2_000_005, "C", "T", **het, mother_zygosity=wt, father_zygosity=wt, father_dp=8))
    # split multi-allelic site in a gene: allele 1 from the mother, allele 2 from the father
    s = girls[1]
    alts = [a for a in "ACGT" if a != base_variant["reference"][:1]][:2]
    ref, position, chrom = base_variant["reference"][:1], int(base_variant["start"]) + 1, base_variant["chromosome"]
    split_rows = [call(s, chrom, position, ref, alts[0], **het, mother_zygosity="HET", father_zygosity=wt),
                  call(s, chrom, position, ref, alts[1], **het, mother_zygosity=wt, father_zygosity="HET")]
    for row in split_rows:
        add(row)
    v_schema, c_schema = _schema(release, "variants"), _schema(release, "consequences")
    new_variants = [_without_partition_keys(v_schema, {**base_variant, "start": position, "end": position,
                                                       "reference": ref, "alternate": r["alternate"],
                                                       "locus_id": r["locus_id"], "gene_symbols": [gene]})
                    for r in split_rows]
    new_consequences = [_without_partition_keys(c_schema, {**site, "start": position, "locus_id": r["locus_id"]})
                        for r in split_rows]
    _append_part(release, f"variants/variants/chromosome={chrom}", new_variants, v_schema)
    _append_part(release, f"variants/consequences/chromosome={chrom}", new_consequences, c_schema)
    # chrX: a girl HOM (mother HET, father WT) is not X-linked recessive; a boy HEM with the same parents is
    add(call(girls[0], "X", 5_000_001, "G", "A", zygosity=hom, calls=[1, 1], mother_zygosity="HET",
             father_zygosity=wt))
    add(call(boys[1], "X", 5_000_003, "G", "A", zygosity="HEM", calls=[1], mother_zygosity="HET",
             father_zygosity=wt))
    for (study, chromosome), rows in by_partition.items():
        _append_part(release, f"variants/occurrences/study_id={study}/chromosome={chromosome}", rows, occ_schema)
    return who


class Oracle:
    """The modes of issue #5 evaluated in plain Python over the raw release."""

    def __init__(self, release: Path) -> None:
        self.sex = _patient_sex(release)
        self.calls = [r for r in _read(release, "occurrences") if r["has_alt"] and r["participant_id"]]
        self.genes: dict[str, set[str]] = defaultdict(set)
        self.consequences: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for c in _read(release, "consequences"):
            self.consequences[c["locus_id"]].append(c)
            if c["gene_symbol"]:
                self.genes[c["locus_id"]].add(c["gene_symbol"])
        self.variants = {v["locus_id"]: v for v in _read(release, "variants")}

    @staticmethod
    def de_novo(r: dict[str, Any], gq: int = 20, dp: int = 10) -> bool:
        return (r["zygosity"] == "HET" and r["mother_zygosity"] == "WT" and r["father_zygosity"] == "WT"
                and all(r[k] is not None and r[k] >= t for k, t in
                        (("mother_gq", gq), ("father_gq", gq), ("mother_dp", dp), ("father_dp", dp))))

    @staticmethod
    def recessive(r: dict[str, Any]) -> bool:
        return (r["zygosity"] == "HOM" and r["chromosome"] in AUTOSOMES and r["mother_zygosity"] == "HET"
                and r["father_zygosity"] == "HET")

    def x_linked(self, r: dict[str, Any]) -> bool:
        return (r["chromosome"] == "X" and self.sex.get(r["participant_id"]) == "male"
                and r["zygosity"] in ("HEM", "HOM") and r["mother_zygosity"] in ("HET", "HOM")
                and r["father_zygosity"] == "WT")

    @staticmethod
    def dominant(r: dict[str, Any]) -> bool:
        return r["zygosity"] == "HET" and r["chromosome"] in AUTOSOMES and (
            (r["mother_zygosity"] in ("HET", "HOM") and r["mother_affected_status"] is True)
            or (r["father_zygosity"] in ("HET", "HOM") and r["father_affected_status"] is True))

    def compound(self, impact: str | None = None) -> set[str]:
        found: dict[tuple[str, str], list[tuple[str, bool, bool]]] = defaultdict(list)
        for r in self.calls:
            if r["zygosity"] != "HET":
                continue
            for c in self.consequences.get(r["locus_id"], []):
                if not c["gene_symbol"] or (impact and c["vep_impact"] != impact):
                    continue
                maternal = r["mother_zygosity"] in ("HET", "HOM") and r["father_zygosity"] == "WT"
                paternal = r["father_zygosity"] in ("HET", "HOM") and r["mother_zygosity"] == "WT"
                found[(r["participant_id"], c["gene_symbol"])].append((r["locus_id"], maternal, paternal))
        return {p for (p, _g), items in found.items()
                if len({i[0] for i in items}) >= 2 and any(i[1] for i in items) and any(i[2] for i in items)}

    def single(self, test: Any) -> set[str]:
        return {r["participant_id"] for r in self.calls if test(r)}


@pytest.fixture(scope="module")
def trio_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Oracle, dict[str, str]]:
    root = tmp_path_factory.mktemp("inheritance")
    release, cache = root / "release", root / "cache"
    generate_release(release, participants=60, occurrences=5_000, seed=11, imaging=False, force=True)
    who = _add_edge_cases(release, _patient_sex(release))
    sync_release(str(release), cache)
    return cache, Oracle(release), who


def _count(cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], cohort: Cohort) -> set[str] | int:
    path = tmp_path / "cohort.json"
    path.write_text(json.dumps(cohort_to_json(cohort)))
    code = main(["count", "--cache", str(cache), "--cohort", str(path), "--json"])
    out = capsys.readouterr()
    if code != 0:
        return code
    payload = json.loads(out.out)
    return payload  # type: ignore[no-any-return]


def _sha(ids: set[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


def _check(cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], cohort: Cohort, expected: set[str]
           ) -> dict[str, Any]:
    payload = _count(cache, tmp_path, capsys, cohort)
    assert isinstance(payload, dict), payload
    assert payload["count"] == len(expected)
    assert payload["participants_sha256"] == _sha(expected)
    return payload


def _mode(*values: str) -> Cohort:
    return Cohort(all_of(criterion("inheritance", "in", *values)))


def test_de_novo(trio_cache: tuple[Path, Oracle, dict[str, str]], tmp_path: Path,
                 capsys: pytest.CaptureFixture[str]) -> None:
    cache, oracle, who = trio_cache
    expected = oracle.single(oracle.de_novo)
    assert expected, "the demo plants de novo calls"
    payload = _check(cache, tmp_path, capsys, _mode("de_novo"), expected)
    assert "Inheritance" in payload["description"]
    # a lower threshold admits the low-GQ / low-DP calls
    relaxed = oracle.single(lambda r: oracle.de_novo(r, gq=10, dp=5))
    assert who["low_gq"] in relaxed
    _check(cache, tmp_path, capsys, _mode("de_novo", "min_parent_gq=10", "min_parent_dp=5"), relaxed)


def test_autosomal_recessive(trio_cache: tuple[Path, Oracle, dict[str, str]], tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    cache, oracle, _who = trio_cache
    expected = oracle.single(oracle.recessive)
    assert expected
    _check(cache, tmp_path, capsys, _mode("autosomal_recessive"), expected)


def test_compound_heterozygous(trio_cache: tuple[Path, Oracle, dict[str, str]], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    cache, oracle, who = trio_cache
    expected = oracle.compound()
    assert who["split_site"] in expected
    _check(cache, tmp_path, capsys, _mode("compound_heterozygous"), expected)
    # the other variant criteria of the group define the qualifying calls
    for impact in ("HIGH", "MODERATE"):
        narrowed = oracle.compound(impact)
        assert narrowed < expected
        cohort = Cohort(all_of(criterion("consequence.vep_impact", "in", impact),
                               criterion("inheritance", "in", "compound_heterozygous")))
        _check(cache, tmp_path, capsys, cohort, narrowed)


def test_x_linked_recessive(trio_cache: tuple[Path, Oracle, dict[str, str]], tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    cache, oracle, who = trio_cache
    expected = oracle.single(oracle.x_linked)
    assert who["x_male"] in expected
    x_female_calls = [r for r in oracle.calls if r["participant_id"] == who["x_female"] and r["chromosome"] == "X"
                      and r["zygosity"] == "HOM"]
    assert x_female_calls and who["x_female"] not in expected
    _check(cache, tmp_path, capsys, _mode("x_linked_recessive"), expected)


def test_autosomal_dominant(trio_cache: tuple[Path, Oracle, dict[str, str]], tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    cache, oracle, who = trio_cache
    expected = oracle.single(oracle.dominant)
    assert who["missing_father"] in expected
    _check(cache, tmp_path, capsys, _mode("autosomal_dominant"), expected)


def test_modes_combine_with_other_criteria(trio_cache: tuple[Path, Oracle, dict[str, str]], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    cache, oracle, _who = trio_cache
    # several modes = any of them; a variant criterion narrows the single-call modes to the same call
    both = oracle.single(oracle.de_novo) | oracle.compound()
    _check(cache, tmp_path, capsys, _mode("de_novo", "compound_heterozygous"), both)
    pass_only = oracle.single(lambda r: oracle.recessive(r) and "PASS" in (r["filters"] or []) and r["gq"] >= 50)
    cohort = Cohort(all_of(criterion("inheritance", "in", "autosomal_recessive"),
                           criterion("occurrence.filter_pass", "in", True), criterion("occurrence.gq", ">=", 50)))
    _check(cache, tmp_path, capsys, cohort, pass_only)
    # a value that is no mode matches no call (as an absent categorical value); a malformed setting is an error
    payload = _check(cache, tmp_path, capsys, _mode("sporadic"), set())
    assert "sporadic" in payload["description"] and "sporadic" not in payload["sql"]
    assert _count(cache, tmp_path, capsys, _mode("de_novo", "min_parent_gq=high")) == 1
    # not_in: carriers of a call that is not de novo (per call, as every variant criterion)
    not_de_novo = oracle.single(lambda r: not oracle.de_novo(r))
    _check(cache, tmp_path, capsys, Cohort(all_of(criterion("inheritance", "not_in", "de_novo"))), not_de_novo)
