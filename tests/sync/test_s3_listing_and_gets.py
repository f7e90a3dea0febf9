"""The S3 source's fast paths. Listing: a folder bigger than one page is split into its sub-folders, listed in
parallel, and the result is exactly the flat listing. Downloads: presigned GETs sent through botocore's HTTP
session; a region redirect hands them over to botocore's own get_object, which also works on its own
(`presigned_gets=False`). Oracles: a flat boto3 listing, the raw release."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from s3_support import Fault, FaultProxy, new_bucket, parquet_rows, s3_client, source_for, upload_subset

from kfexplorer.store.status import cache_status
from kfexplorer.sync.engine import sync_release


def variant_counts(cache: Path) -> dict[str, int]:
    tables = cache_status(cache)["tables"]
    return {name: tables[name] for name in ("occurrences", "variants", "consequences")}


def object_gets(proxy: FaultProxy) -> list[str]:
    return [path for method, path in proxy.requests
            if method == "GET" and "list-type=2" not in path and not path.split("?")[0].endswith("/release.json")]


@pytest.mark.parametrize("presigned", [True, False])
def test_downloads_land_with_either_kind_of_get(
    presigned: bool, moto_endpoint: str, fault_proxy: FaultProxy, small_release: Path, tmp_path: Path
) -> None:
    bucket, keys = upload_subset(moto_endpoint, small_release, lambda k: k.startswith("variants/"))
    fault_proxy.clear()
    source = source_for(fault_proxy.endpoint, bucket, presigned_gets=presigned)
    report = sync_release(source, tmp_path / "cache").to_json()
    assert report["transferred"]["objects"] == len(keys) and report["quarantined"] == []
    assert variant_counts(tmp_path / "cache") == parquet_rows(small_release)
    gets = object_gets(fault_proxy)
    assert len(gets) == len(keys) - 1  # every object once (release.json is read, then fetched as an object)
    assert all(("X-Amz-Signature=" in path) == presigned for path in gets), gets[:3]


def test_a_region_redirect_hands_the_gets_over_to_botocore(
    moto_endpoint: str, fault_proxy: FaultProxy, small_release: Path, tmp_path: Path
) -> None:
    bucket, keys = upload_subset(moto_endpoint, small_release, lambda k: k.startswith("variants/variants/"))
    fault_proxy.clear()
    fault_proxy.add(Fault("301", path_part="X-Amz-Signature=", code="PermanentRedirect", times=1))
    source = source_for(fault_proxy.endpoint, bucket, presigned_gets=True)
    report = sync_release(source, tmp_path / "cache", concurrency=1).to_json()
    assert [action for action, _path in fault_proxy.injected] == ["301"]
    assert report["transferred"]["objects"] == len(keys) and report["quarantined"] == []
    assert variant_counts(tmp_path / "cache")["variants"] == parquet_rows(small_release)["variants"]
    later = object_gets(fault_proxy)[1:]
    assert later and not any("X-Amz-Signature=" in path for path in later)


def test_a_big_folder_is_listed_in_parallel_parts_that_add_up_to_the_flat_listing(
    moto_endpoint: str, fault_proxy: FaultProxy
) -> None:
    bucket = new_bucket(moto_endpoint)
    client = s3_client(moto_endpoint)
    # imaging/: 2,250 objects in three studies, two objects directly in it; fhir/: small (one page)
    keys = [f"release/imaging/SD_{study}/series-{i // 50:03d}/{i:05d}.dcm" for study in "ABC" for i in range(750)]
    keys += ["release/imaging/index.json", "release/imaging/zz-last.json", "release/fhir/Patient/Patient.ndjson",
             "release/release.json"]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: client.put_object(Bucket=bucket, Key=k, Body=k.encode()), keys))
    flat = {(o["Key"].removeprefix("release/"), o["Size"], o["ETag"].strip('"'))
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="release/")
            for o in page.get("Contents", [])}
    assert len(flat) == len(keys)

    fault_proxy.clear()
    listed = [(i.key, i.size, i.etag) for i in source_for(fault_proxy.endpoint, bucket).list_objects()]
    assert len(listed) == len(set(listed)) and set(listed) == flat
    listings = [path for method, path in fault_proxy.requests if method == "GET" and "list-type=2" in path]
    # top level, fhir/ (one page), imaging/ first page, its split, the rest of SD_B (its first page ended there) and
    # SD_C: never more pages than a flat listing needs plus the split
    assert len(listings) <= 1 + 1 + 1 + 1 + 2
    assert any("start-after=" in path for path in listings)
