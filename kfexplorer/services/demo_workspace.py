"""The demo workspace: generate the demo release (once) and sync it into its own cache folder. Qt-free.

One implementation for both ways in: `kfexplorer demo` (which says each step on stdout) and the app's
"Open the demo" (a job with progress and cancel).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kfexplorer.demo.release import (
    DEFAULT_OCCURRENCES,
    DEFAULT_PARTICIPANTS,
    DEFAULT_SEED,
    GenerateReport,
    generate_release,
)
from kfexplorer.progress import CancelToken, ProgressCallback, no_progress
from kfexplorer.sync.engine import SyncReport, sync_release


def demo_folder() -> Path:
    from kfexplorer.config import data_dir

    return data_dir() / "demo"


@dataclass(frozen=True)
class DemoWorkspace:
    """Where the demo release and its cache are, and what preparing them did."""

    release: Path
    cache: Path
    generated: GenerateReport | None  # None: the release was there already
    synced: SyncReport


def _say_nothing(_line: str) -> None:
    pass


def prepare_demo_workspace(
    base: Path | None = None,
    *,
    cache: Path | None = None,
    participants: int = DEFAULT_PARTICIPANTS,
    occurrences: int = DEFAULT_OCCURRENCES,
    seed: int = DEFAULT_SEED,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    say: Callable[[str], None] = _say_nothing,
) -> DemoWorkspace:
    """Make sure `base/release` holds the demo release (generated with `participants`, `occurrences` and `seed`
    when it is missing) and `cache` (default `base/cache`) its synced cache; `say` is told each step in a line."""
    progress = progress or no_progress
    cancel = cancel or CancelToken()
    base = Path(base) if base is not None else demo_folder()
    release = base / "release"
    cache = Path(cache) if cache is not None else base / "cache"
    generated: GenerateReport | None = None
    if not (release / "release.json").is_file():
        say(f"generating the demo release in {release} …")
        generated = generate_release(release, participants=participants, occurrences=occurrences, seed=seed,
                                     force=True, progress=progress, cancel=cancel)
        say(f"  {generated.participants:,} participants, {generated.counts.get('occurrences', 0):,} occurrences "
            f"in {generated.seconds:.1f} s")
    cancel.raise_if_cancelled()
    say(f"syncing it into the cache {cache} …")
    synced = sync_release(str(release), cache, progress=progress, cancel=cancel)
    tally = synced.to_json()
    say(f"  {tally['transferred']['objects']:,} objects ingested, {tally['skipped']['objects']:,} unchanged, "
        f"{len(tally['quarantined'])} quarantined in {tally['seconds']:.1f} s")
    return DemoWorkspace(release, cache, generated, synced)


def prepare_demo_cache(
    base: Path | None = None, *, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
) -> Path:
    """Make sure `base/release` holds the demo release and `base/cache` its synced cache; return the cache folder."""
    return prepare_demo_workspace(base, progress=progress, cancel=cancel).cache
