"""The demo workspace (the one implementation behind `kfexplorer demo` and the app's "Open the demo"): generated
once, synced into its cache, each step said in a line; a second run generates nothing and transfers nothing."""

from __future__ import annotations

import json
from pathlib import Path

from kfexplorer.services.demo_workspace import prepare_demo_cache, prepare_demo_workspace
from kfexplorer.store.status import cache_status


def test_the_demo_is_generated_once_and_synced_into_its_cache(tmp_path: Path) -> None:
    lines: list[str] = []
    first = prepare_demo_workspace(tmp_path / "demo", cache=tmp_path / "elsewhere", participants=30,
                                   occurrences=2_000, seed=5, say=lines.append)
    release = json.loads((tmp_path / "demo" / "release" / "release.json").read_text(encoding="utf-8"))
    assert first.release == tmp_path / "demo" / "release" and first.cache == tmp_path / "elsewhere"
    assert first.generated is not None and first.generated.participants == 30
    assert first.synced.release_id == release["release_id"]
    assert cache_status(first.cache)["tables"]["participants"] == 30
    assert lines[0] == f"generating the demo release in {first.release} …"
    assert lines[2] == f"syncing it into the cache {first.cache} …"
    assert len(lines) == 4 and "objects ingested" in lines[3]

    again: list[str] = []
    second = prepare_demo_workspace(tmp_path / "demo", cache=tmp_path / "elsewhere", participants=99, say=again.append)
    assert second.generated is None and second.synced.transferred.objects == 0
    assert not any("generating" in line for line in again)
    # the app's entry point: the same workspace, its cache under base/cache
    assert prepare_demo_cache(tmp_path / "demo") == tmp_path / "demo" / "cache"
    assert cache_status(tmp_path / "demo" / "cache")["tables"]["participants"] == 30
