"""A sync from S3 killed with SIGKILL mid-download resumes: verified downloads left in DIR/partial/ are not fetched
again, and the cache converges on the release."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from s3_support import FAKE_ENV, FaultProxy, parquet_rows, source_for, upload_subset

from kfexplorer.store.cache import CacheMissingError
from kfexplorer.store.status import cache_status
from kfexplorer.sync.engine import sync_release

ROOT = Path(__file__).resolve().parents[2]

KILLED_SYNC = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from kfexplorer.sync.engine import sync_release
    from kfexplorer.sync.s3_source import S3Source

    endpoint, bucket, cache = sys.argv[1:4]
    source = S3Source(bucket, "release/", endpoint_url=endpoint, region="us-east-1")

    def progress(event):
        if event.phase == "download" and event.total and event.done >= event.total * 0.6:
            os.kill(os.getpid(), signal.SIGKILL)

    sync_release(source, Path(cache), progress=progress, concurrency=2)
""")


def test_sigkill_mid_download_resumes_without_downloading_again(
    moto_endpoint: str, fault_proxy: FaultProxy, small_release: Path, tmp_path: Path
) -> None:
    bucket, keys = upload_subset(moto_endpoint, small_release,
                                 lambda k: k.startswith(("variants/", "fhir/Patient/", "fhir/ResearchSubject/")))
    cache = tmp_path / "cache"
    env = {**os.environ, **FAKE_ENV, "PYTHONPATH": str(ROOT)}
    killed = subprocess.run([sys.executable, "-c", KILLED_SYNC, moto_endpoint, bucket, str(cache)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    verified = [p.name for p in (cache / "partial").iterdir() if not p.name.startswith("tmp-")]
    assert 0 < len(verified) < len(keys)
    # nothing was committed: the killed sync left no release data behind
    with pytest.raises(CacheMissingError):
        cache_status(cache)

    fault_proxy.clear()
    report = sync_release(source_for(fault_proxy.endpoint, bucket), cache)
    summary, details = report.to_json(), report.details_json()
    assert details["resumed"]["objects"] == len(verified)
    assert summary["transferred"]["objects"] + len(verified) == summary["planned"]["objects"] == len(keys)
    downloads = [p for m, p in fault_proxy.requests if m == "GET" and "list-type" not in p]
    # release.json is read once to plan, and fetched as an object only when it was not among the verified ones
    assert len(downloads) == summary["transferred"]["objects"] + 1
    assert cache_status(cache)["tables"]["occurrences"] == parquet_rows(small_release)["occurrences"]
    assert list((cache / "partial").iterdir()) == []
