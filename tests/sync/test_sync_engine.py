"""sync_release over tiny local releases: counts, no-op resync, replace / delete, quarantine, errors, cancel."""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from release_factory import ReleaseBuilder, occurrence_table, raw_counts

from kfexplorer.progress import Cancelled, CancelToken, ProgressEvent
from kfexplorer.store.cache import connect, database_path
from kfexplorer.store.status import cache_status
from kfexplorer.sync.engine import ReleaseMismatchError, SyncError, sync_release
from kfexplorer.sync.source import ObjectInfo, SourceError

REPORT_KEYS = {"planned", "transferred", "skipped", "deleted", "quarantined", "seconds", "transfer_seconds",
               "ingest_seconds", "warnings", "release_id"}


def table_counts(cache_dir: Path) -> dict[str, int]:
    tables = cache_status(cache_dir)["tables"]
    return {name: tables[name] for name in ("occurrences", "variants", "consequences")}


def test_status_counts_equal_the_raw_release(release: ReleaseBuilder, cache_dir: Path) -> None:
    report = sync_release(str(release.root), cache_dir).to_json()
    assert set(report) == REPORT_KEYS
    listed = [p for p in release.root.rglob("*") if p.is_file()]
    assert report["planned"] == {"objects": len(listed), "bytes": sum(p.stat().st_size for p in listed)}
    assert report["transferred"] == report["planned"]
    assert report["quarantined"] == []
    status = cache_status(cache_dir)
    assert status["release_id"] == json.loads((release.root / "release.json").read_text())["release_id"]
    assert table_counts(cache_dir) == raw_counts(release.root)
    assert status["tables"]["occurrences"] > 0 and status["quarantined"] == []
    # a partition column absent from the file comes from the path: consequences' chromosome per file
    con = connect(cache_dir, read_only=True)
    try:
        by_chrom = dict(con.execute("SELECT chromosome, count(*) FROM consequences GROUP BY 1").fetchall())
        occ_by_study = dict(con.execute("SELECT study_id, count(*) FROM occurrences GROUP BY 1").fetchall())
    finally:
        con.close()
    for chrom in ("1", "X"):
        path = release.root / f"variants/consequences/chromosome={chrom}/part-0.parquet"
        assert by_chrom[chrom] == pq.read_metadata(path).num_rows
    for study in ("SD_AAAA", "SD_BBBB"):
        raw = sum(pq.read_metadata(p).num_rows for p in (release.root / f"variants/occurrences/study_id={study}").rglob("*.parquet"))
        assert occ_by_study[study] == raw


def test_cache_folders_are_private(release: ReleaseBuilder, cache_dir: Path) -> None:
    sync_release(str(release.root), cache_dir)
    for folder in (cache_dir, cache_dir / "files", cache_dir / "partial"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_second_sync_with_nothing_changed_does_no_work(release: ReleaseBuilder, cache_dir: Path) -> None:
    sync_release(release.root.as_uri(), cache_dir)
    db = database_path(cache_dir)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    events: list[ProgressEvent] = []
    report = sync_release(str(release.root), cache_dir, progress=events.append).to_json()
    assert report["planned"] == {"objects": 0, "bytes": 0}
    assert report["transferred"] == {"objects": 0, "bytes": 0}
    listed = [p for p in release.root.rglob("*") if p.is_file()]
    assert report["skipped"]["objects"] == len(listed)
    assert not [e for e in events if e.phase == "ingest"]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert table_counts(cache_dir) == raw_counts(release.root)


def test_changing_one_parquet_replaces_exactly_its_rows(release: ReleaseBuilder, cache_dir: Path) -> None:
    sync_release(str(release.root), cache_dir)
    key = release.occurrences_key("SD_AAAA", "X")
    release.write_table(key, occurrence_table(3, "SD_AAAA", "X", offset=500))
    report = sync_release(str(release.root), cache_dir).to_json()
    assert report["transferred"]["objects"] == 1
    assert table_counts(cache_dir) == raw_counts(release.root)
    con = connect(cache_dir, read_only=True)
    try:
        starts = sorted(r[0] for r in con.execute(
            "SELECT start FROM occurrences WHERE study_id = 'SD_AAAA' AND chromosome = 'X'").fetchall())
        other = con.execute("SELECT count(*) FROM occurrences WHERE study_id = 'SD_BBBB'").fetchall()[0][0]
    finally:
        con.close()
    assert starts == sorted(pq.read_table(release.path(key)).column("start").to_pylist())
    raw_other = sum(pq.read_metadata(p).num_rows for p in (release.root / "variants/occurrences/study_id=SD_BBBB").rglob("*.parquet"))
    assert other == raw_other


def test_deleting_one_parquet_removes_its_rows(release: ReleaseBuilder, cache_dir: Path) -> None:
    sync_release(str(release.root), cache_dir)
    gone = release.path("variants/variants/chromosome=X/part-0.parquet")
    gone_size = gone.stat().st_size
    gone.unlink()
    report = sync_release(str(release.root), cache_dir).to_json()
    assert report["deleted"] == {"objects": 1, "bytes": gone_size}
    assert report["transferred"]["objects"] == 0
    assert table_counts(cache_dir) == raw_counts(release.root)


def test_corrupt_parquet_is_quarantined_and_the_rest_lands(release: ReleaseBuilder, cache_dir: Path) -> None:
    bad = release.write_bytes("variants/occurrences/study_id=SD_CCCC/chromosome=2/part-0.parquet", b"PAR1 garbage" * 50)
    missing_column = release.write_table("variants/variants/chromosome=2/part-0.parquet",
                                          occurrence_table(4, "SD_CCCC", "2").drop(["reference"]))
    report = sync_release(str(release.root), cache_dir).to_json()
    assert {q["path"] for q in report["quarantined"]} == {bad, missing_column}
    status = cache_status(cache_dir)
    reasons = {q["path"]: q["reason"] for q in status["quarantined"]}
    assert "Parquet" in reasons[bad]
    assert "reference" in reasons[missing_column]
    assert table_counts(cache_dir) == {**raw_counts(release.root), "variants": raw_counts(release.root)["variants"] - 4}
    # an unchanged bad object is not fetched again, and its quarantine entry stays
    again = sync_release(str(release.root), cache_dir).to_json()
    assert again["transferred"]["objects"] == 0
    assert len(cache_status(cache_dir)["quarantined"]) == 2
    # once fixed, it lands and leaves the quarantine
    release.write_table(bad.replace("part-0", "part-0"), occurrence_table(6, "SD_CCCC", "2"))
    sync_release(str(release.root), cache_dir)
    assert [q["path"] for q in cache_status(cache_dir)["quarantined"]] == [missing_column]
    assert table_counts(cache_dir)["occurrences"] == raw_counts(release.root)["occurrences"]


def test_sha256_mismatch_is_quarantined(release: ReleaseBuilder, cache_dir: Path) -> None:
    key = "variants/consequences/chromosome=X/part-0.parquet"
    release.write_release_json(with_sha256=True, overrides={key: {"sha256": "0" * 64}})
    report = sync_release(str(release.root), cache_dir).to_json()
    assert [q["path"] for q in report["quarantined"]] == [key]
    assert "sha256" in report["quarantined"][0]["reason"]
    expected = raw_counts(release.root)
    expected["consequences"] -= pq.read_metadata(release.path(key)).num_rows
    assert table_counts(cache_dir) == expected
    assert [q["path"] for q in cache_status(cache_dir)["quarantined"]] == [key]
    # bytes that failed verification are never taken as verified: the next sync fetches them again (a corrupted
    # transfer heals by itself); the source still disagrees with release.json, so the object stays quarantined
    again = sync_release(str(release.root), cache_dir).to_json()
    assert again["planned"]["objects"] == 1 and [q["path"] for q in again["quarantined"]] == [key]
    assert table_counts(cache_dir) == expected
    # the release fixes its checksum: the object is fetched again and lands
    release.write_release_json(with_sha256=True)
    report = sync_release(str(release.root), cache_dir).to_json()
    assert report["transferred"]["objects"] >= 1 and report["quarantined"] == []
    assert table_counts(cache_dir) == raw_counts(release.root)
    assert cache_status(cache_dir)["quarantined"] == []


class EvilSource:
    """A source whose listing holds keys that try to escape the cache."""

    def __init__(self, inner_root: Path) -> None:
        self.root = inner_root
        self.fetched: list[str] = []

    @property
    def uri(self) -> str:
        return "evil://"

    def list_objects(self) -> Iterator[ObjectInfo]:
        yield ObjectInfo("release.json", (self.root / "release.json").stat().st_size, "r1")
        for key in ("../escape.txt", "notes/../../escape.txt", "/etc/escape.txt", "notes/PT_1/ok.txt"):
            yield ObjectInfo(key, 5, "e1")

    def fetch(self, key: str, dest: Path, progress: object = None) -> None:
        self.fetched.append(key)
        dest.write_bytes((self.root / "release.json").read_bytes() if key == "release.json" else b"hello")

    def read_bytes(self, key: str) -> bytes:
        if key != "release.json":
            raise SourceError(key)
        return (self.root / key).read_bytes()


def test_path_escape_keys_are_rejected(release: ReleaseBuilder, tmp_path: Path) -> None:
    cache_dir = tmp_path / "deep" / "cache"
    source = EvilSource(release.root)
    report = sync_release(source, cache_dir).to_json()
    rejected = {q["path"] for q in report["quarantined"]}
    assert rejected == {"../escape.txt", "notes/../../escape.txt", "/etc/escape.txt"}
    assert set(source.fetched) == {"release.json", "notes/PT_1/ok.txt"}
    assert not list(tmp_path.rglob("escape.txt"))
    assert (cache_dir / "files" / "notes" / "PT_1" / "ok.txt").read_bytes() == b"hello"
    # rejected keys are remembered: nothing is planned the second time
    again = sync_release(source, cache_dir).to_json()
    assert again["planned"]["objects"] == 0 and again["quarantined"] == []
    assert len(cache_status(cache_dir)["quarantined"]) == 3


def test_notes_are_kept_as_files_and_follow_the_release(new_release, cache_dir: Path) -> None:  # type: ignore[no-untyped-def]
    rel: ReleaseBuilder = new_release("notes_release")
    rel.write_bytes("notes/PT_0001/DOC1.txt", b"first note")
    rel.write_bytes("notes/PT_0001/DOC1.labels.json", b"[]")
    rel.write_bytes("README.md", b"ignored")
    rel.write_release_json()
    sync_release(str(rel.root), cache_dir)
    note = cache_dir / "files" / "notes" / "PT_0001" / "DOC1.txt"
    assert note.read_bytes() == b"first note"
    assert (cache_dir / "files" / "notes" / "PT_0001" / "DOC1.labels.json").is_file()
    assert not (cache_dir / "files" / "README.md").exists()
    rel.write_bytes("notes/PT_0001/DOC1.txt", b"second, longer note")
    sync_release(str(rel.root), cache_dir)
    assert note.read_bytes() == b"second, longer note"
    rel.path("notes/PT_0001/DOC1.txt").unlink()
    report = sync_release(str(rel.root), cache_dir).to_json()
    assert report["deleted"]["objects"] == 1 and not note.exists()
    # a cached file lost from the cache is fetched again
    labels = cache_dir / "files" / "notes" / "PT_0001" / "DOC1.labels.json"
    labels.unlink()
    report = sync_release(str(rel.root), cache_dir).to_json()
    assert report["transferred"]["objects"] == 1 and labels.read_bytes() == b"[]"
    assert list((cache_dir / "partial").iterdir()) == []


def test_release_json_is_required(tmp_path: Path) -> None:
    folder = tmp_path / "not_a_release"
    folder.mkdir()
    with pytest.raises(SyncError, match="release.json"):
        sync_release(str(folder), tmp_path / "cache")
    (folder / "release.json").write_text(json.dumps({"schema_version": 1}))
    with pytest.raises(SyncError, match="release_id"):
        sync_release(str(folder), tmp_path / "cache")


def test_another_release_needs_a_new_cache_folder(release: ReleaseBuilder, cache_dir: Path, new_release) -> None:  # type: ignore[no-untyped-def]
    sync_release(str(release.root), cache_dir)
    other: ReleaseBuilder = new_release("other")
    other.release_id = "2027-01-01"
    other.standard()
    with pytest.raises(ReleaseMismatchError, match="new cache folder"):
        sync_release(str(other.root), cache_dir)
    assert cache_status(cache_dir)["release_id"] == release.release_id


def test_s3_options_do_not_apply_to_folders(release: ReleaseBuilder, cache_dir: Path) -> None:
    with pytest.raises(SourceError, match="s3:// sources only"):
        sync_release(str(release.root), cache_dir, endpoint_url="http://127.0.0.1:9")
    assert not database_path(cache_dir).exists()


def test_dry_run_plans_without_writing(release: ReleaseBuilder, cache_dir: Path) -> None:
    report = sync_release(str(release.root), cache_dir, dry_run=True).to_json()
    assert report["planned"]["objects"] == len([p for p in release.root.rglob("*") if p.is_file()])
    assert report["transferred"]["objects"] == 0
    assert not database_path(cache_dir).exists()


def test_cancelled_sync_keeps_the_previous_state(release: ReleaseBuilder, cache_dir: Path) -> None:
    sync_release(str(release.root), cache_dir)
    before = table_counts(cache_dir)
    for study in ("SD_AAAA", "SD_BBBB"):
        release.write_table(release.occurrences_key(study, "1"), occurrence_table(2, study, "1"))
    token = CancelToken()
    phases: list[str] = []

    def progress(event: ProgressEvent) -> None:
        phases.append(event.phase)
        if event.phase == "ingest":
            token.cancel()

    with pytest.raises(Cancelled):
        sync_release(str(release.root), cache_dir, progress=progress, cancel=token)
    assert {"list", "download", "ingest"} <= set(phases)
    assert table_counts(cache_dir) == before
    assert list((cache_dir / "partial").iterdir()) == []
    sync_release(str(release.root), cache_dir)
    assert table_counts(cache_dir) == raw_counts(release.root)


def test_fhir_and_dicom_objects_land_and_leave(new_release, cache_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from pydicom.data import get_testdata_file

    rel: ReleaseBuilder = new_release("mixed")
    patients = [{"resourceType": "Patient", "id": f"p{i}", "gender": "female"} for i in range(3)]
    rel.write_bytes("fhir/Patient/p.ndjson", ("\n".join(json.dumps(p) for p in patients) + "\n{bad json\n").encode())
    dicom = "imaging/SD_A/PT_0001/1.2/1.3/1.4.dcm"
    rel.write_bytes(dicom, Path(get_testdata_file("CT_small.dcm")).read_bytes())
    rel.write_bytes("imaging/SD_A/PT_0001/1.2/1.3/junk.dcm", b"not dicom")
    rel.write_release_json()
    report = sync_release(str(rel.root), cache_dir).to_json()
    assert {q["path"] for q in report["quarantined"]} == {"fhir/Patient/p.ndjson:4", "imaging/SD_A/PT_0001/1.2/1.3/junk.dcm"}
    status = cache_status(cache_dir)
    assert status["tables"]["fhir_resources"] == len(patients)
    assert status["tables"]["imaging_instances"] == 1
    assert (cache_dir / "files" / dicom).read_bytes() == rel.path(dicom).read_bytes()
    assert not (cache_dir / "files" / "imaging/SD_A/PT_0001/1.2/1.3/junk.dcm").exists()
    rel.path("fhir/Patient/p.ndjson").unlink()
    rel.path(dicom).unlink()
    sync_release(str(rel.root), cache_dir)
    status = cache_status(cache_dir)
    assert status["tables"]["fhir_resources"] == 0 and status["tables"]["imaging_instances"] == 0
    assert not (cache_dir / "files" / dicom).exists()
    assert [q["path"] for q in status["quarantined"]] == ["imaging/SD_A/PT_0001/1.2/1.3/junk.dcm"]
