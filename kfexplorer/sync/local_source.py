"""A release in a local folder.

Keys are POSIX paths relative to the root. The etag of a local object is f"{size}-{mtime_ns}": it changes whenever
the file is rewritten (a copy that keeps size and modification time to the nanosecond is taken as unchanged;
release.json "files" sha256 catches that case when present). Symlinks are never followed out of the root:
a symlink is listed only when it resolves to a regular file inside the root, and folders reached through a
symlink are not walked.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from kfexplorer.store.cache import UnsafePathError, check_release_path
from kfexplorer.sync.source import BytesProgress, ObjectInfo, SourceError

COPY_CHUNK_BYTES = 4 * 1024 * 1024


class LocalSource:
    """A release root folder on local disk."""

    def __init__(self, root: Path) -> None:
        self._root = Path(root)
        if not self._root.is_dir():
            raise SourceError(f"release folder {self._root} does not exist or is not a folder")
        self._root_resolved = self._root.resolve()

    @property
    def uri(self) -> str:
        return self._root_resolved.as_uri()

    @property
    def root(self) -> Path:
        return self._root

    def _inside_root(self, path: Path) -> bool:
        resolved = path.resolve()
        return resolved == self._root_resolved or self._root_resolved in resolved.parents

    def list_objects(self) -> Iterator[ObjectInfo]:
        stack: list[tuple[Path, str]] = [(self._root, "")]
        while stack:
            folder, prefix = stack.pop()
            with os.scandir(folder) as entries:
                for entry in sorted(entries, key=lambda e: e.name):
                    key = f"{prefix}{entry.name}"
                    if entry.is_dir(follow_symlinks=False):
                        stack.append((Path(entry.path), key + "/"))
                        continue
                    if entry.is_symlink():
                        target = Path(entry.path)
                        if not self._inside_root(target) or not target.is_file():
                            continue
                        stat = target.stat()
                    elif entry.is_file(follow_symlinks=False):
                        stat = entry.stat(follow_symlinks=False)
                    else:
                        continue
                    yield ObjectInfo(key=key, size=stat.st_size, etag=f"{stat.st_size}-{stat.st_mtime_ns}")

    def _path_of(self, key: str) -> Path:
        try:
            clean = check_release_path(key)
        except UnsafePathError as error:
            raise SourceError(str(error)) from error
        path = self._root.joinpath(*clean.split("/"))
        if not self._inside_root(path):
            raise SourceError(f"object {key!r} resolves outside the release folder")
        if not path.is_file():
            raise SourceError(f"object {key!r} is not in the release folder {self._root}")
        return path

    def fetch(self, key: str, dest: Path, progress: BytesProgress | None = None) -> str | None:
        path = self._path_of(key)
        digest = hashlib.sha256()
        with open(path, "rb") as reader, open(dest, "wb") as writer:
            while chunk := reader.read(COPY_CHUNK_BYTES):
                writer.write(chunk)
                digest.update(chunk)
                if progress is not None:
                    progress(len(chunk))
        return digest.hexdigest()

    def read_bytes(self, key: str) -> bytes:
        return self._path_of(key).read_bytes()
