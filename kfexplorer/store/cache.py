"""The cache folder: its layout, opening its DuckDB database, and safe paths inside it.

Layout of a cache folder DIR (every folder created with mode 0700: the cache holds health data):

    DIR/kfexplorer.duckdb            the database (release data, catalog, quarantine)
    DIR/files/<release path>         objects kept as files: DICOM, notes, ontologies
    DIR/partial/                     downloads in progress and verified downloads waiting for their commit

DuckDB lets one process open the database read-write, or several read-only, never both at once;
`connect` turns DuckDB's lock conflict into `CacheBusyError`, one line a command can print as it is.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

import duckdb

DATABASE_NAME = "kfexplorer.duckdb"
FILES_DIR_NAME = "files"
PARTIAL_DIR_NAME = "partial"
CACHE_DIR_MODE = 0o700

DUCKDB_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


class CacheError(Exception):
    """A problem with the cache folder, worded for the user in one line."""


class CacheBusyError(CacheError):
    """Another process holds the cache database in a conflicting mode."""


class CacheMissingError(CacheError):
    """A read-only open of a cache that was never synced."""


class UnsafePathError(CacheError):
    """A release-relative path that would escape the cache folder (release data is untrusted)."""


def database_path(cache_dir: Path) -> Path:
    return Path(cache_dir) / DATABASE_NAME


def files_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / FILES_DIR_NAME


def partial_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / PARTIAL_DIR_NAME


def make_private_dir(path: Path) -> None:
    """Create `path` (and missing parents) with mode 0700 for the folders this call creates."""
    missing: list[Path] = []
    current = Path(path)
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=CACHE_DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(folder, CACHE_DIR_MODE)


def ensure_cache_layout(cache_dir: Path) -> None:
    """Create the cache folder and its sub-folders (mode 0700) if they do not exist."""
    cache_dir = Path(cache_dir)
    created = not cache_dir.exists()
    make_private_dir(cache_dir)
    if created:
        os.chmod(cache_dir, CACHE_DIR_MODE)
    make_private_dir(files_dir(cache_dir))
    make_private_dir(partial_dir(cache_dir))


def _busy_message(cache_dir: Path) -> str:
    return (
        f"the cache {cache_dir} is in use by another kfexplorer process (a sync?); try again when it finishes"
    )


def connect(cache_dir: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Open the cache database. Read-write creates the folder layout; read-only needs a synced cache.

    Raises CacheBusyError when another process holds a conflicting lock (or this process holds the file open in
    the other mode), CacheMissingError for a read-only open of a cache whose database does not exist.
    """
    cache_dir = Path(cache_dir)
    db_path = database_path(cache_dir)
    if read_only:
        if not db_path.is_file():
            raise CacheMissingError(f"the cache {cache_dir} holds no synced release; run `kfexplorer sync` first")
    else:
        ensure_cache_layout(cache_dir)
    try:
        return duckdb.connect(str(db_path), read_only=read_only, config=DUCKDB_CONFIG)
    except duckdb.IOException as error:
        text = str(error)
        if "lock" in text.lower():
            raise CacheBusyError(_busy_message(cache_dir)) from error
        if read_only and "does not exist" in text:
            raise CacheMissingError(f"the cache {cache_dir} holds no synced release; run `kfexplorer sync` first") from error
        raise
    except duckdb.ConnectionException as error:
        if "different configuration" in str(error):
            raise CacheBusyError(
                f"the cache {cache_dir} is already open in this process in another mode; close it first"
            ) from error
        raise


def check_release_path(rel_path: str) -> str:
    """Return `rel_path` normalised as a POSIX release-relative path, or raise UnsafePathError.

    Rejects empty paths, absolute paths (POSIX or Windows drive / UNC), backslashes, NUL bytes, `.` and `..`
    components and empty components.
    """
    if not isinstance(rel_path, str) or not rel_path:
        raise UnsafePathError("empty path")
    if "\x00" in rel_path or "\\" in rel_path:
        raise UnsafePathError(f"unsafe path {rel_path!r}: backslash or NUL byte")
    if rel_path.startswith("/") or (len(rel_path) >= 2 and rel_path[1] == ":"):
        raise UnsafePathError(f"unsafe path {rel_path!r}: absolute")
    parts = rel_path.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise UnsafePathError(f"unsafe path {rel_path!r}: empty, '.' or '..' component")
    return posixpath.join(*parts)


def safe_cache_path(cache_dir: Path, rel_path: str, *, under: str = FILES_DIR_NAME) -> Path:
    """Where the release object `rel_path` lives inside the cache (by default under DIR/files/).

    Raises UnsafePathError for absolute paths, `..`, and anything that resolves outside that folder (including
    through a symlink already present in the cache).
    """
    clean = check_release_path(rel_path)
    base = (Path(cache_dir) / under) if under else Path(cache_dir)
    candidate = base.joinpath(*clean.split("/"))
    base_resolved = base.resolve()
    resolved = candidate.resolve()
    if resolved != base_resolved and base_resolved not in resolved.parents:
        raise UnsafePathError(f"unsafe path {rel_path!r}: resolves outside the cache")
    return candidate


def cached_file_path(cache_dir: Path, rel_path: str) -> Path:
    """The local file of a synced object kept as a file (DICOM, note, ontology): DIR/files/<rel_path>."""
    return safe_cache_path(cache_dir, rel_path)
