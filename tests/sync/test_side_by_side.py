"""Releases side by side in a release library: the old release stays readable until the new one completes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from release_factory import ReleaseBuilder, occurrence_table, raw_counts

from kfexplorer.cli import main
from kfexplorer.progress import ProgressEvent
from kfexplorer.store.cache import CacheBusyError, CacheMissingError, connect, database_path
from kfexplorer.store.status import cache_status
from kfexplorer.sync.engine import CRASH_HOOK_ENV, sync_release
from kfexplorer.sync.releases import (
    CURRENT_FILE_NAME,
    ReleaseLibraryError,
    current_release_id,
    is_release_library,
    list_releases,
    release_folder,
    remove_release,
    resolve_cache_folder,
    switch_release,
)

SYNC_SCRIPT = "import sys; from pathlib import Path; from kfexplorer.sync.engine import sync_release; " \
              "sync_release(sys.argv[1], Path(sys.argv[2]), side_by_side=True)"


def variant_counts(cache_dir: Path) -> dict[str, int]:
    tables = cache_status(cache_dir)["tables"]
    return {name: tables[name] for name in ("occurrences", "variants", "consequences")}


@pytest.fixture
def second(new_release: Callable[[str], ReleaseBuilder]) -> ReleaseBuilder:
    other = new_release("second")
    other.release_id = "2027-01-01"
    other.standard()
    other.write_table(other.occurrences_key("SD_CCCC", "1"), occurrence_table(31, "SD_CCCC", "1", 500))
    other.write_release_json()
    return other


def test_a_new_release_syncs_beside_the_old_one_which_stays_readable(
        release: ReleaseBuilder, second: ReleaseBuilder, tmp_path: Path) -> None:
    root = tmp_path / "library"
    sync_release(str(release.root), root, side_by_side=True)
    assert is_release_library(root) and current_release_id(root) == release.release_id
    old_counts = raw_counts(release.root)
    assert variant_counts(resolve_cache_folder(root)) == old_counts
    seen_during: list[tuple[str, dict[str, int]]] = []

    def progress(event: ProgressEvent) -> None:
        if event.phase == "ingest" and not seen_during:  # the new release's database is open read-write now
            folder = resolve_cache_folder(root)
            seen_during.append((cache_status(folder)["release_id"], variant_counts(folder)))

    report = sync_release(str(second.root), root, progress=progress)  # a library needs no flag any more
    assert seen_during == [(release.release_id, old_counts)]
    assert report.failed == [] and report.current_release == second.release_id
    assert current_release_id(root) == second.release_id
    new_folder = release_folder(root, second.release_id)
    assert Path(report.release_folder) == new_folder == resolve_cache_folder(root)
    assert variant_counts(new_folder) == raw_counts(second.root) != old_counts
    # the old release is still there, whole, until removed on request
    old_folder = release_folder(root, release.release_id)
    assert cache_status(old_folder)["release_id"] == release.release_id
    assert variant_counts(old_folder) == old_counts
    assert [(e.release_id, e.complete, e.current) for e in list_releases(root)] == [
        (release.release_id, True, False), (second.release_id, True, True)]


def test_a_killed_new_sync_leaves_the_old_release_current_and_the_rerun_switches(
        release: ReleaseBuilder, second: ReleaseBuilder, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    sync_release(str(release.root), root)  # a plain cache folder: converted by the first side-by-side sync
    old_counts = variant_counts(root)
    env = {**os.environ, CRASH_HOOK_ENV: "ingest"}
    done = subprocess.run([sys.executable, "-c", SYNC_SCRIPT, str(second.root), str(root)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert not database_path(root).exists() and current_release_id(root) == release.release_id
    assert variant_counts(resolve_cache_folder(root)) == old_counts == raw_counts(release.root)
    assert [(e.release_id, e.complete, e.current) for e in list_releases(root)] == [
        (release.release_id, True, True), (second.release_id, False, False)]
    with pytest.raises(ReleaseLibraryError, match="not completed"):
        switch_release(root, second.release_id)
    report = sync_release(str(second.root), root, remove_old=True)
    assert report.failed == [] and current_release_id(root) == second.release_id
    assert variant_counts(resolve_cache_folder(root)) == raw_counts(second.root)
    assert not release_folder(root, release.release_id).exists()
    assert [e.release_id for e in list_releases(root)] == [second.release_id]


def test_no_switch_then_switch_and_remove(release: ReleaseBuilder, second: ReleaseBuilder, tmp_path: Path) -> None:
    root = tmp_path / "library"
    sync_release(str(release.root), root, side_by_side=True)
    report = sync_release(str(second.root), root, switch=False)
    assert report.current_release == release.release_id == current_release_id(root)
    with pytest.raises(ReleaseLibraryError, match="no release"):
        switch_release(root, "1999-01-01")
    switch_release(root, second.release_id)
    assert (root / CURRENT_FILE_NAME).read_text().strip() == second.release_id
    assert cache_status(resolve_cache_folder(root))["release_id"] == second.release_id
    with pytest.raises(ReleaseLibraryError, match="current release"):
        remove_release(root, second.release_id)
    old_folder = release_folder(root, release.release_id)
    holder = connect(old_folder, read_only=True)  # the app reading the old release: removal waits
    try:
        with pytest.raises(CacheBusyError):
            remove_release(root, release.release_id)
    finally:
        holder.close()
    assert variant_counts(old_folder) == raw_counts(release.root)
    remove_release(root, release.release_id)
    assert not old_folder.exists()
    # a plain cache folder still refuses another release, as before
    plain = tmp_path / "plain"
    sync_release(str(release.root), plain)
    with pytest.raises(Exception, match="new cache folder"):
        sync_release(str(second.root), plain)
    assert not is_release_library(plain)


def test_an_unsafe_release_id_stays_inside_the_library(new_release: Callable[[str], ReleaseBuilder],
                                                       tmp_path: Path) -> None:
    evil = new_release("evil")
    evil.release_id = "../../escaped"
    evil.standard()
    root = tmp_path / "library"
    sync_release(str(evil.root), root, side_by_side=True)
    folder = release_folder(root, evil.release_id)
    assert folder.parent == root / "releases" and folder.name.startswith("release-")
    assert not (tmp_path / "escaped").exists()
    assert cache_status(resolve_cache_folder(root))["release_id"] == evil.release_id
    with pytest.raises(CacheMissingError):
        resolve_cache_folder(_empty_library(tmp_path / "empty"))


def _empty_library(path: Path) -> Path:
    (path / "releases").mkdir(parents=True)
    return path


def test_cli_releases_switch_and_status(release: ReleaseBuilder, second: ReleaseBuilder, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "library"
    assert main(["sync", str(release.root), "--cache", str(root), "--side-by-side", "--json"]) == 0
    assert main(["sync", str(second.root), "--cache", str(root), "--no-switch", "--json"]) == 0
    capsys.readouterr()
    assert main(["releases", "--cache", str(root), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["current"] == release.release_id
    assert [(r["release_id"], r["complete"]) for r in listed["releases"]] == [
        (release.release_id, True), (second.release_id, True)]
    assert main(["status", "--cache", str(root), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["release_id"] == release.release_id
    assert status["tables"]["occurrences"] == raw_counts(release.root)["occurrences"]
    assert main(["switch", second.release_id, "--cache", str(root), "--remove-old"]) == 0
    capsys.readouterr()
    assert main(["status", "--cache", str(root), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["release_id"] == second.release_id
    assert status["tables"]["occurrences"] == raw_counts(second.root)["occurrences"]
    assert main(["releases", "--cache", str(root), "--json"]) == 0
    assert [r["release_id"] for r in json.loads(capsys.readouterr().out)["releases"]] == [second.release_id]
    assert main(["switch", "nope", "--cache", str(root)]) == 1
    assert "no release nope" in capsys.readouterr().err


def test_a_conversion_killed_after_moving_the_files_resumes(release: ReleaseBuilder, tmp_path: Path) -> None:
    release.write_bytes("notes/PT_0001/D1.txt", b"a note")
    release.write_release_json()
    root = tmp_path / "cache"
    sync_release(str(release.root), root)
    target = release_folder(root, release.release_id)
    target.mkdir(parents=True)
    (root / "files").rename(target / "files")  # what a conversion killed right after its first move leaves
    assert not is_release_library(root) and cache_status(root)["release_id"] == release.release_id
    report = sync_release(str(release.root), root, side_by_side=True)
    assert report.transferred.objects == 0 and current_release_id(root) == release.release_id
    assert (resolve_cache_folder(root) / "files" / "notes" / "PT_0001" / "D1.txt").read_bytes() == b"a note"
    assert variant_counts(resolve_cache_folder(root)) == raw_counts(release.root)
    assert sorted(p.name for p in root.iterdir()) == [CURRENT_FILE_NAME, "releases"]
