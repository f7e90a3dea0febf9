"""The demo workspace: generate the demo release (once) and sync it into its own cache folder. Qt-free."""

from __future__ import annotations

from pathlib import Path

from kfexplorer.progress import CancelToken, ProgressCallback, no_progress


def demo_folder() -> Path:
    from kfexplorer.config import data_dir

    return data_dir() / "demo"


def prepare_demo_cache(
    base: Path | None = None, *, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
) -> Path:
    """Make sure `base/release` holds the demo release and `base/cache` its synced cache; return the cache folder."""
    from kfexplorer.demo.release import generate_release
    from kfexplorer.sync.engine import sync_release

    progress = progress or no_progress
    cancel = cancel or CancelToken()
    base = Path(base) if base is not None else demo_folder()
    release, cache = base / "release", base / "cache"
    if not (release / "release.json").is_file():
        generate_release(release, force=True, progress=progress, cancel=cancel)
    cancel.raise_if_cancelled()
    sync_release(str(release), cache, progress=progress, cancel=cancel)
    return cache
