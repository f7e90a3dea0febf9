"""The foundation's acceptance path through the real command line:
generate 200 participants → the release honours the contract → sync → status reports the release's true counts
(read from the raw files) → a second sync does nothing → the same seed writes the same bytes."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from variant_contract import check_release

from kfexplorer.demo.population import build_population

FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
KF_PARTICIPANT = "https://kidsfirstdrc.org/participant_id"
HPO_SYSTEM = "http://purl.obolibrary.org/obo/hp.owl"
PARTICIPANTS, OCCURRENCES, SEED = 200, 60_000, 11


def kfexplorer(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "kfexplorer", *args], capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("e2e") / "release"
    out = kfexplorer("generate", str(root), "--participants", str(PARTICIPANTS), "--occurrences", str(OCCURRENCES),
                     "--seed", str(SEED), "--json")
    assert json.loads(out.stdout)["participants"] == PARTICIPANTS
    return root


def raw_resources(root: Path) -> list[dict]:
    resources = []
    for path in sorted((root / "fhir").rglob("*.ndjson")):
        for line in path.read_text().splitlines():
            resource = json.loads(line)
            assert resource["resourceType"] == path.parent.name  # one folder per resource type
            resources.append(resource)
    return resources


def test_release_json_lists_every_file_with_its_size_and_sha256(release: Path) -> None:
    meta = json.loads((release / "release.json").read_text())
    assert meta["release_id"] and meta["schema_version"] == 1
    assert {s["domain"] for s in meta["studies"]} == {"cancer", "birth-defect"} and len(meta["studies"]) >= 3
    assert meta["versions"]["hpo"] and meta["versions"]["mondo"]
    on_disk = {p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file()} - {"release.json"}
    assert set(meta["files"]) == on_disk
    for rel, info in meta["files"].items():
        data = (release / rel).read_bytes()
        assert len(data) == info["size"] and hashlib.sha256(data).hexdigest() == info["sha256"], rel


def test_variants_honour_the_contract(release: Path) -> None:
    problems, report, _tables = check_release(release, build_population(PARTICIPANTS, SEED))
    assert problems == []


def test_fhir_honours_the_contract(release: Path) -> None:
    resources = raw_resources(release)
    keys = [(r["resourceType"], r["id"]) for r in resources]
    assert len(keys) == len(set(keys))
    assert all(FHIR_ID.match(r["id"]) for r in resources)
    patients = [r for r in resources if r["resourceType"] == "Patient"]
    assert len(patients) == PARTICIPANTS
    kf_ids = [i["value"] for p in patients for i in p["identifier"] if i["system"] == KF_PARTICIPANT]
    assert len(kf_ids) == len(set(kf_ids)) == PARTICIPANTS and all(v.startswith("PT_") for v in kf_ids)
    known = set(keys)
    for r in resources:  # every Type/id reference resolves inside the release
        for ref in re.findall(r'"reference":\s*"([A-Za-z]+)/([A-Za-z0-9\-.]+)"', json.dumps(r)):
            assert ref in known, (r["resourceType"], r["id"], ref)
    hpo = [c for c in resources if c["resourceType"] == "Condition"
           and any(cd.get("system") == HPO_SYSTEM for cd in c["code"]["coding"])]
    statuses = Counter(c["verificationStatus"]["coding"][0]["code"] for c in hpo)
    assert statuses["confirmed"] > 0 and statuses["refuted"] > 0
    # a share of participants has DICOM with matching ImagingStudy resources
    imaging = [r for r in resources if r["resourceType"] == "ImagingStudy"]
    uids = {i["value"].removeprefix("urn:oid:") for s in imaging for i in s["identifier"]}
    on_disk = {p.parent.parent.name for p in (release / "imaging").rglob("*.dcm")}
    assert imaging and uids == on_disk
    labels = list((release / "notes").rglob("*.labels.json"))
    assert labels and all((p.parent / p.name.replace(".labels.json", ".txt")).exists() for p in labels)


def test_sync_then_status_reports_the_true_counts(release: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    sync = json.loads(kfexplorer("sync", str(release), "--cache", str(cache), "--json").stdout)
    assert sync["quarantined"] == [] and sync["transferred"]["objects"] == sync["planned"]["objects"] > 0
    assert (cache.stat().st_mode & 0o777) == 0o700
    status = json.loads(kfexplorer("status", "--cache", str(cache), "--json").stdout)
    assert status["release_id"] == json.loads((release / "release.json").read_text())["release_id"]
    tables = status["tables"]

    def parquet_rows(table: str) -> int:
        return sum(pq.ParquetFile(p).metadata.num_rows for p in (release / "variants" / table).rglob("*.parquet"))

    resources = raw_resources(release)
    by_type = Counter(r["resourceType"] for r in resources)
    conditions = [r for r in resources if r["resourceType"] == "Condition"]
    is_hpo = [any(cd.get("system") == HPO_SYSTEM for cd in c["code"]["coding"]) for c in conditions]
    imaging = [r for r in resources if r["resourceType"] == "ImagingStudy"]
    expected = {
        "occurrences": parquet_rows("occurrences"),
        "variants": parquet_rows("variants"),
        "consequences": parquet_rows("consequences"),
        "participants": by_type["Patient"],
        "studies": by_type["ResearchStudy"],
        "families": by_type["Group"],
        "biospecimens": by_type["Specimen"],
        "phenotypes": sum(is_hpo),
        "imaging_studies": len(imaging),
        "imaging_series": sum(len(s["series"]) for s in imaging),
        "imaging_instances": len(list((release / "imaging").rglob("*.dcm"))),
        "notes": len(list((release / "notes").rglob("*.txt"))),
        "files": by_type["DocumentReference"] - len(list((release / "notes").rglob("*.txt"))),
        "fhir_resources": len(resources),
    }
    # phenotypes also holds the ones the notes assert (issue #9, source 'nlp'): the curated rows equal FHIR's
    curated = expected.pop("phenotypes")
    assert {k: tables[k] for k in expected} == expected
    con = duckdb.connect(str(cache / "kfexplorer.duckdb"), read_only=True)
    try:
        by_source = dict(con.execute("SELECT source, count(*) FROM phenotypes GROUP BY source").fetchall())
    finally:
        con.close()
    assert by_source["fhir"] == curated and tables["phenotypes"] == curated + by_source.get("nlp", 0)
    assert by_source.get("nlp", 0) > 0  # the demo's notes assert phenotypes the FHIR does not carry
    assert status["quarantined"] == [] and status["warnings"] == []
    # the same release named by a file:// URL is the same source: nothing to transfer
    again = json.loads(kfexplorer("sync", release.as_uri(), "--cache", str(cache), "--json").stdout)
    assert again["transferred"] == {"objects": 0, "bytes": 0} and again["skipped"]["objects"] == sync["planned"]["objects"]


def test_same_seed_same_bytes(release: Path, tmp_path: Path) -> None:
    twin = tmp_path / "twin"
    kfexplorer("generate", str(twin), "--participants", str(PARTICIPANTS), "--occurrences", str(OCCURRENCES),
               "--seed", str(SEED))
    # release.json holds the sha256 of every other file (checked above), so equal bytes here mean equal releases
    assert (twin / "release.json").read_bytes() == (release / "release.json").read_bytes()
    other = tmp_path / "other"
    kfexplorer("generate", str(other), "--participants", "30", "--occurrences", "3000", "--seed", str(SEED + 1),
               "--no-imaging")
    assert not (other / "imaging").exists()
    assert json.loads((other / "release.json").read_text())["release_id"] != \
        json.loads((release / "release.json").read_text())["release_id"]


def test_errors_are_one_clear_line_with_the_documented_exit_status(release: Path, tmp_path: Path) -> None:
    usage = kfexplorer("generate", str(tmp_path / "x"), "--participants", "-3", check=False)
    assert usage.returncode == 2
    missing = kfexplorer("status", "--cache", str(tmp_path / "never-synced"), check=False)
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
    assert missing.stderr.startswith("kfexplorer: error:")
    exists = kfexplorer("generate", str(release), "--participants", "20", check=False)
    assert exists.returncode == 1 and "--force" in exists.stderr and len(exists.stderr.strip().splitlines()) == 1
    no_release = tmp_path / "empty"
    no_release.mkdir()
    bad_sync = kfexplorer("sync", str(no_release), "--cache", str(tmp_path / "c"), check=False)
    assert bad_sync.returncode == 1 and "release.json" in bad_sync.stderr
    assert len(bad_sync.stderr.strip().splitlines()) == 1
    s3 = kfexplorer("sync", "s3://no-such-bucket-kf/prefix", "--cache", str(tmp_path / "c"),
                    "--endpoint-url", "http://127.0.0.1:9", check=False)  # nothing listens on port 9
    assert s3.returncode == 1 and s3.stderr.startswith("kfexplorer: error:")
    assert len(s3.stderr.strip().splitlines()) == 1
