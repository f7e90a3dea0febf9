"""LocalSource: POSIX keys, size-mtime etags, symlinks never followed out of the root; open_source URIs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kfexplorer.sync.local_source import LocalSource
from kfexplorer.sync.source import SourceError, open_source


def test_listing_keys_sizes_and_etags(tmp_path: Path) -> None:
    root = tmp_path / "rel"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "x.txt").write_bytes(b"12345")
    (root / "release.json").write_bytes(b"{}")
    outside = tmp_path / "secret.txt"
    outside.write_bytes(b"secret")
    (root / "leak.txt").symlink_to(outside)
    (root / "leakdir").symlink_to(tmp_path)
    (root / "inside.txt").symlink_to(root / "a" / "b" / "x.txt")
    source = LocalSource(root)
    listed = {o.key: o for o in source.list_objects()}
    assert set(listed) == {"a/b/x.txt", "release.json", "inside.txt"}
    stat = (root / "a" / "b" / "x.txt").stat()
    assert listed["a/b/x.txt"].size == 5 and listed["a/b/x.txt"].etag == f"5-{stat.st_mtime_ns}"
    dest = tmp_path / "copy"
    seen: list[int] = []
    source.fetch("a/b/x.txt", dest, seen.append)
    assert dest.read_bytes() == b"12345" and sum(seen) == 5
    for key in ("leak.txt", "../secret.txt", "leakdir/secret.txt", "/etc/passwd"):
        with pytest.raises(SourceError):
            source.read_bytes(key)
    os.utime(root / "a" / "b" / "x.txt", ns=(10, 10))
    assert next(o for o in source.list_objects() if o.key == "a/b/x.txt").etag == "5-10"


def test_open_source_accepts_paths_and_file_uris(tmp_path: Path) -> None:
    assert open_source(str(tmp_path)).uri == tmp_path.resolve().as_uri()
    assert open_source(tmp_path.as_uri()).uri == tmp_path.resolve().as_uri()
    s3 = open_source("s3://bucket/x", region="us-east-1")  # no request is made until it is used
    assert s3.uri == "s3://bucket/x/"
    with pytest.raises(SourceError, match="expected s3://bucket/prefix"):
        open_source("s3:///no-bucket")
    with pytest.raises(SourceError):
        open_source(str(tmp_path / "missing"))
