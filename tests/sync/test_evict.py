"""`kfexplorer evict`: a study's or chromosome's rows leave the cache in one go, and a later sync brings them back."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from release_factory import ReleaseBuilder, occurrence_table, raw_counts

from kfexplorer.cli import main
from kfexplorer.store.cache import connect
from kfexplorer.store.status import cache_status
from kfexplorer.sync.engine import sync_release
from kfexplorer.sync.evict import evict


def raw_rows(root: Path, table: str, where: str) -> int:
    """Rows of the raw release's `table` under partition folders containing `where` (the oracle)."""
    return sum(pq.read_metadata(p).num_rows for p in (root / "variants" / table).rglob("*.parquet")
               if where in p.as_posix())


def cached_by(cache_dir: Path, sql: str) -> dict[str, int]:
    con = connect(cache_dir, read_only=True)
    try:
        return {str(k): int(v) for k, v in con.execute(sql).fetchall()}
    finally:
        con.close()


def catalog_keys(cache_dir: Path) -> set[str]:
    return set(cached_by(cache_dir, "SELECT key, source_id FROM catalog"))


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_evicting_a_study_removes_only_its_occurrences_and_a_sync_restores_them(
    release: ReleaseBuilder, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sync_release(str(release.root), cache_dir)
    before = raw_counts(release.root)
    code, out, _err = run_cli(capsys, "evict", "--cache", str(cache_dir), "--studies", "SD_AAAA", "--json")
    assert code == 0
    payload = json.loads(out)
    study_files = list((release.root / "variants/occurrences/study_id=SD_AAAA").rglob("*.parquet"))
    assert payload["evicted"] == {"objects": len(study_files), "bytes": sum(p.stat().st_size for p in study_files)}
    assert payload["rows"]["occurrences"] == raw_rows(release.root, "occurrences", "study_id=SD_AAAA")
    by_study = cached_by(cache_dir, "SELECT study_id, count(*) FROM occurrences GROUP BY 1")
    assert by_study == {"SD_BBBB": raw_rows(release.root, "occurrences", "study_id=SD_BBBB")}
    tables = cache_status(cache_dir)["tables"]
    assert tables["occurrences"] == raw_rows(release.root, "occurrences", "study_id=SD_BBBB")
    assert (tables["variants"], tables["consequences"]) == (before["variants"], before["consequences"])
    assert not any("study_id=SD_AAAA" in key for key in catalog_keys(cache_dir))
    assert any("study_id=SD_BBBB" in key for key in catalog_keys(cache_dir))
    # a full sync plans the evicted objects again, and only those
    report = sync_release(str(release.root), cache_dir).to_json()
    assert report["transferred"]["objects"] == len(study_files)
    assert cache_status(cache_dir)["tables"]["occurrences"] == before["occurrences"]
    by_study = cached_by(cache_dir, "SELECT study_id, count(*) FROM occurrences GROUP BY 1")
    assert by_study["SD_AAAA"] == raw_rows(release.root, "occurrences", "study_id=SD_AAAA")


def test_evicting_a_chromosome_alone_takes_its_variant_tables_too(release: ReleaseBuilder, cache_dir: Path) -> None:
    sync_release(str(release.root), cache_dir)
    report = evict(cache_dir, chromosomes=["chrX"]).to_json()
    assert report["chromosomes"] == ["X"]
    for table in ("occurrences", "variants", "consequences"):
        assert report["rows"][table] == raw_rows(release.root, table, "chromosome=X")
        remaining = cached_by(cache_dir, f"SELECT chromosome, count(*) FROM {table} GROUP BY 1")
        assert remaining == {"1": raw_rows(release.root, table, "chromosome=1")}
    sync_release(str(release.root), cache_dir)
    counts = cache_status(cache_dir)["tables"]
    assert {t: counts[t] for t in ("occurrences", "variants", "consequences")} == raw_counts(release.root)


def test_study_and_chromosome_together_evict_only_that_partition(release: ReleaseBuilder, cache_dir: Path) -> None:
    sync_release(str(release.root), cache_dir)
    evict(cache_dir, studies=["SD_BBBB"], chromosomes=["1"])
    by_part = cached_by(cache_dir, "SELECT study_id || '/' || chromosome, count(*) FROM occurrences GROUP BY 1")
    expected = {f"{s}/{c}": raw_rows(release.root, "occurrences", f"study_id={s}/chromosome={c}")
                for s, c in (("SD_AAAA", "1"), ("SD_AAAA", "X"), ("SD_BBBB", "X"))}
    assert by_part == expected
    assert cache_status(cache_dir)["tables"]["variants"] == raw_counts(release.root)["variants"]


def test_an_object_mixing_studies_is_kept_whole_and_named(new_release, cache_dir: Path) -> None:  # type: ignore[no-untyped-def]
    builder: ReleaseBuilder = new_release("mixed")
    mixed = pa.concat_tables([occurrence_table(6, "SD_AAAA", "1"), occurrence_table(4, "SD_BBBB", "1", 50)])
    key = builder.write_table("variants/occurrences/chromosome=1/part-0.parquet", mixed)
    builder.write_table(builder.occurrences_key("SD_AAAA", "X"), occurrence_table(5, "SD_AAAA", "X"))
    builder.write_release_json()
    sync_release(str(builder.root), cache_dir)
    report = evict(cache_dir, studies=["SD_AAAA"])
    assert report.kept_mixed == [key]
    assert report.rows["occurrences"] == 5
    assert cached_by(cache_dir, "SELECT study_id, count(*) FROM occurrences GROUP BY 1") == {"SD_AAAA": 6, "SD_BBBB": 4}


def test_evict_errors_are_one_line(release: ReleaseBuilder, cache_dir: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_cli(capsys, "evict", "--cache", str(tmp_path / "never-synced"), "--studies", "SD_AAAA")
    assert code == 1 and err.count("\n") == 1 and "holds no synced release" in err
    assert not (tmp_path / "never-synced").exists()
    sync_release(str(release.root), cache_dir)
    code, _out, err = run_cli(capsys, "evict", "--cache", str(cache_dir))
    assert code == 1 and err.count("\n") == 1 and "--studies" in err
    code, out, _err = run_cli(capsys, "evict", "--cache", str(cache_dir), "--studies", "SD_NONE")
    assert code == 0 and "evicted 0 objects" in out
    assert cache_status(cache_dir)["tables"]["occurrences"] == raw_counts(release.root)["occurrences"]
