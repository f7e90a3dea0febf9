"""Releases side by side: a release library folder holding one cache folder per release_id and a `current` pointer.

Layout of a release library ROOT (every folder mode 0700):

    ROOT/current                      the release_id in use, one line (replaced atomically: temp file + os.replace)
    ROOT/releases/<name>/             a plain cache folder (kfexplorer.store.cache) for one release_id
    ROOT/releases/<name>/release_entry.json   {"release_id": str, "complete": bool, "synced_at": float | null}

<name> is the release_id when it is a safe folder name (letters, digits, `.`, `_`, `-`, at most 80, not starting
with a dot), else `release-<first 16 hex digits of its sha256>`: release data is untrusted and a release_id never
makes a path outside ROOT/releases/.

A folder is a release library when it has `current` or `releases/` and no database of its own at the top; any
other folder is a plain cache folder, used exactly as before. Readers resolve a library to the current release's
cache folder (`resolve_cache_folder`). The sync engine (kfexplorer.sync.engine.sync_release) routes a sync into a
library through `sync_into_library`; `side_by_side=True` turns a plain cache folder into a library first
(`convert_to_library`: its release moves to ROOT/releases/<name>/).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kfexplorer.store.cache import (
    DATABASE_NAME,
    FILES_DIR_NAME,
    PARTIAL_DIR_NAME,
    CacheError,
    CacheMissingError,
    connect,
    database_path,
    make_private_dir,
)
from kfexplorer.store.catalog import read_release_meta

CURRENT_FILE_NAME = "current"
RELEASES_DIR_NAME = "releases"
ENTRY_FILE_NAME = "release_entry.json"
SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,79}")
# moved into the release's folder by convert_to_library; the database last, so a killed conversion leaves either
# a plain cache folder (database at the top, rerun finishes) or a library with its `current` written
CONVERTED_NAMES = (FILES_DIR_NAME, PARTIAL_DIR_NAME, DATABASE_NAME + ".wal")


class ReleaseLibraryError(CacheError):
    """A problem with a release library folder, worded for the user in one line."""


@dataclass(frozen=True)
class ReleaseEntry:
    """One release of a library: its id, cache folder, and whether a sync of it completed."""

    release_id: str
    folder: Path
    complete: bool
    current: bool
    synced_at: float | None

    def to_json(self) -> dict[str, Any]:
        return {"release_id": self.release_id, "folder": str(self.folder), "complete": self.complete,
                "current": self.current, "synced_at": self.synced_at}


def release_folder_name(release_id: str) -> str:
    """The folder name of `release_id` inside ROOT/releases/ (never a path component that escapes it)."""
    if SAFE_NAME.fullmatch(release_id):
        return release_id
    return "release-" + hashlib.sha256(release_id.encode("utf-8")).hexdigest()[:16]


def releases_dir(root: Path) -> Path:
    return Path(root) / RELEASES_DIR_NAME


def release_folder(root: Path, release_id: str) -> Path:
    return releases_dir(root) / release_folder_name(release_id)


def is_release_library(folder: Path) -> bool:
    folder = Path(folder)
    if database_path(folder).exists():
        return False
    return (folder / CURRENT_FILE_NAME).is_file() or releases_dir(folder).is_dir()


def _write_atomically(path: Path, text: str) -> None:
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return  # no directory fsync on this platform
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def current_release_id(root: Path) -> str | None:
    """The release_id ROOT/current names, or None when no release is current yet."""
    try:
        text = (Path(root) / CURRENT_FILE_NAME).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


def _read_entry(folder: Path) -> dict[str, Any] | None:
    try:
        raw = json.loads((folder / ENTRY_FILE_NAME).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return raw if isinstance(raw, dict) and isinstance(raw.get("release_id"), str) else None


def write_entry(root: Path, release_id: str, *, complete: bool) -> Path:
    """Create (mode 0700) the release's folder and record whether a sync of it completed; returns the folder."""
    folder = release_folder(root, release_id)
    make_private_dir(folder)
    entry = {"release_id": release_id, "complete": complete, "synced_at": time.time() if complete else None}
    _write_atomically(folder / ENTRY_FILE_NAME, json.dumps(entry) + "\n")
    return folder


def list_releases(root: Path) -> list[ReleaseEntry]:
    """The releases of a library, sorted by release_id (reads only small files: works while a sync runs)."""
    current = current_release_id(root)
    entries: list[ReleaseEntry] = []
    folder_root = releases_dir(root)
    if not folder_root.is_dir():
        return entries
    for folder in sorted(folder_root.iterdir()):
        entry = _read_entry(folder) if folder.is_dir() else None
        if entry is None:
            continue
        release_id = entry["release_id"]
        if release_folder(root, release_id) != folder:
            continue  # a folder whose entry does not match its name is not ours to report
        entries.append(ReleaseEntry(release_id, folder, bool(entry.get("complete")), release_id == current,
                                    entry.get("synced_at") if isinstance(entry.get("synced_at"), float) else None))
    return sorted(entries, key=lambda e: e.release_id)


def _entry_of(root: Path, release_id: str) -> ReleaseEntry:
    for entry in list_releases(root):
        if entry.release_id == release_id:
            return entry
    raise ReleaseLibraryError(f"the release library {root} has no release {release_id}")


def switch_release(root: Path, release_id: str) -> None:
    """Make `release_id` the current release of the library; it must have completed a sync."""
    entry = _entry_of(root, release_id)
    if not entry.complete:
        raise ReleaseLibraryError(f"release {release_id} in {root} has not completed a sync yet; sync it first")
    _write_atomically(Path(root) / CURRENT_FILE_NAME, release_id + "\n")


def remove_release(root: Path, release_id: str) -> None:
    """Delete a release that is not current; refuses while another process has its database open."""
    entry = _entry_of(root, release_id)
    if entry.current:
        raise ReleaseLibraryError(f"release {release_id} is the current release of {root}; switch first")
    if database_path(entry.folder).exists():
        connect(entry.folder, read_only=False).close()  # CacheBusyError while the app or a sync has it open
    # drop the entry first: a removal killed midway leaves a folder list_releases ignores, not a broken release
    (entry.folder / ENTRY_FILE_NAME).unlink(missing_ok=True)
    shutil.rmtree(entry.folder)


def library_of(cache_folder: Path) -> Path | None:
    """The release library whose release `cache_folder` is (ROOT for ROOT/releases/<name>/ with its entry), or None
    for a plain cache folder."""
    folder = Path(cache_folder)
    if folder.parent.name != RELEASES_DIR_NAME or not is_release_library(folder.parent.parent):
        return None
    entry = _read_entry(folder)
    if entry is None or release_folder(folder.parent.parent, entry["release_id"]) != folder:
        return None
    return folder.parent.parent


def resolve_cache_folder(folder: Path) -> Path:
    """The cache folder to read: a plain cache folder as given, a library's current release's folder."""
    folder = Path(folder)
    if not is_release_library(folder):
        return folder
    current = current_release_id(folder)
    if current is None:
        raise CacheMissingError(f"the release library {folder} has no current release yet; run `kfexplorer sync` "
                                "(or `kfexplorer switch`) first")
    return release_folder(folder, current)


def convert_to_library(folder: Path) -> None:
    """Turn a plain cache folder holding a release into a library whose current release is that one.

    Idempotent and safe to rerun after a kill: files/ and partial/ move first, then `current` is written, then the
    database moves (a folder with its database at the top is still a plain cache folder).
    """
    folder = Path(folder)
    if not database_path(folder).exists():
        make_private_dir(releases_dir(folder))
        return
    con = connect(folder, read_only=False)  # CacheBusyError while anyone has it open
    try:
        meta = read_release_meta(con)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    if meta is None or not meta.get("release_id"):
        raise ReleaseLibraryError(f"the cache {folder} holds no synced release; remove it or choose another --cache")
    release_id = str(meta["release_id"])
    target = write_entry(folder, release_id, complete=True)
    for name in CONVERTED_NAMES:
        top, moved = folder / name, target / name
        if not top.exists():
            continue
        if moved.is_dir():
            if top.is_dir() and not any(top.iterdir()):
                top.rmdir()  # recreated empty by the open above after a killed conversion: keep what moved
                continue
            shutil.rmtree(moved)
        os.replace(top, moved)
    _write_atomically(folder / CURRENT_FILE_NAME, release_id + "\n")
    os.replace(database_path(folder), database_path(target))
