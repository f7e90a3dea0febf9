"""Tiny releases built by code for the sync and store tests; oracles read these raw files with pyarrow and json."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

OCCURRENCE_SCHEMA = pa.schema([
    ("chromosome", pa.string()),
    ("start", pa.int64()),
    ("reference", pa.string()),
    ("alternate", pa.string()),
    ("locus_id", pa.string()),
    ("study_id", pa.string()),
    ("participant_id", pa.string()),
    ("sample_id", pa.string()),
    ("family_id", pa.string()),
    ("is_proband", pa.bool_()),
    ("affected_status", pa.bool_()),
    ("zygosity", pa.string()),
    ("calls", pa.list_(pa.int32())),
    ("dp", pa.int32()),
    ("gq", pa.int32()),
    ("filters", pa.list_(pa.string())),
    ("has_alt", pa.bool_()),
    ("an_extra_column", pa.string()),
])


def occurrence_table(n: int, study_id: str, chromosome: str, offset: int = 0) -> pa.Table:
    zyg = ["HET", "HOM", "WT"]
    calls = {"HET": [0, 1], "HOM": [1, 1], "WT": [0, 0]}
    rows: dict[str, list[Any]] = {name: [] for name in OCCURRENCE_SCHEMA.names}
    for i in range(offset, offset + n):
        z = zyg[i % 3]
        start = 1000 + i
        rows["chromosome"].append(chromosome)
        rows["start"].append(start)
        rows["reference"].append("A")
        rows["alternate"].append("G")
        rows["locus_id"].append(f"{chromosome}-{start}-A-G")
        rows["study_id"].append(study_id)
        rows["participant_id"].append(f"PT_{i % 7:04d}")
        rows["sample_id"].append(f"BS_{i % 7:04d}")
        rows["family_id"].append(f"FM_{i % 7 // 3}" if i % 7 < 6 else None)
        rows["is_proband"].append(i % 7 % 3 == 0)
        rows["affected_status"].append(i % 2 == 0)
        rows["zygosity"].append(z)
        rows["calls"].append(calls[z])
        rows["dp"].append(30 + i % 10)
        rows["gq"].append(50 + i % 40)
        rows["filters"].append(["PASS"])
        rows["has_alt"].append(z != "WT")
        rows["an_extra_column"].append("ignored")
    return pa.table(rows, schema=OCCURRENCE_SCHEMA)


def variant_table(n: int, chromosome: str) -> pa.Table:
    return pa.table({
        "chromosome": [chromosome] * n,
        "start": [1000 + i for i in range(n)],
        "end": [1000 + i for i in range(n)],
        "reference": ["A"] * n,
        "alternate": ["G"] * n,
        "locus_id": [f"{chromosome}-{1000 + i}-A-G" for i in range(n)],
        "gene_symbols": [["GENE1"]] * n,
        "max_impact": ["HIGH"] * n,
        "gnomad_genomes_3_af": [0.001 * i for i in range(n)],
        "cadd_phred": pa.array([float(i) for i in range(n)], pa.float32()),
    })


def consequence_table(n: int, chromosome: str) -> pa.Table:
    # no chromosome / start columns: they are derived from the partition path and the locus_id
    return pa.table({
        "locus_id": [f"{chromosome}-{1000 + i}-A-G" for i in range(n)],
        "gene_symbol": ["GENE1"] * n,
        "consequences": [["missense_variant"]] * n,
        "vep_impact": ["HIGH"] * n,
        "canonical": [True] * n,
        "protein_position": pa.array(list(range(n)), pa.int64()),
    })


class ReleaseBuilder:
    """Writes a release folder: parquet partitions, release.json (optionally with sha256 of every file)."""

    def __init__(self, root: Path, release_id: str = "2026-01-01") -> None:
        self.root = root
        self.release_id = release_id
        root.mkdir(parents=True, exist_ok=True)
        self.extra: dict[str, Any] = {}

    def path(self, key: str) -> Path:
        return self.root / key

    def occurrences_key(self, study_id: str, chromosome: str, part: int = 0) -> str:
        return f"variants/occurrences/study_id={study_id}/chromosome={chromosome}/part-{part}.parquet"

    def write_table(self, key: str, table: pa.Table) -> str:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        return key

    def write_bytes(self, key: str, data: bytes) -> str:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return key

    def write_release_json(self, with_sha256: bool = False, overrides: dict[str, dict[str, Any]] | None = None) -> None:
        release: dict[str, Any] = {"release_id": self.release_id, "schema_version": 1, "title": "tiny test release"}
        if with_sha256:
            files: dict[str, dict[str, Any]] = {}
            for path in sorted(self.root.rglob("*")):
                if path.is_file() and path.name != "release.json":
                    key = path.relative_to(self.root).as_posix()
                    files[key] = {"size": path.stat().st_size, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
            files.update(overrides or {})
            release["files"] = files
        release.update(self.extra)
        (self.root / "release.json").write_text(json.dumps(release))

    def standard(self) -> ReleaseBuilder:
        """Two studies × two chromosomes of occurrences, variants and consequences for two chromosomes."""
        for s, study in enumerate(("SD_AAAA", "SD_BBBB")):
            for c, chrom in enumerate(("1", "X")):
                self.write_table(self.occurrences_key(study, chrom), occurrence_table(20 + 5 * s + c, study, chrom, 100 * s))
        for chrom in ("1", "X"):
            self.write_table(f"variants/variants/chromosome={chrom}/part-0.parquet", variant_table(12, chrom))
            self.write_table(f"variants/consequences/chromosome={chrom}/part-0.parquet", consequence_table(15, chrom))
        self.write_release_json()
        return self


def raw_counts(root: Path) -> dict[str, int]:
    """Rows per variant table, read from the raw release with pyarrow (the oracle)."""
    counts = {"occurrences": 0, "variants": 0, "consequences": 0}
    for table in counts:
        for path in (root / "variants" / table).rglob("*.parquet"):
            try:
                counts[table] += pq.read_metadata(path).num_rows
            except Exception:  # a corrupt file holds no rows that can land
                continue
    return counts
