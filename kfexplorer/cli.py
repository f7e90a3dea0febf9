"""The `kfexplorer` command line.

Exit status: 0 success, 2 usage error (argparse), 1 any other failure with one clear line on stderr.
Only the `gui` and `demo` commands import the Qt layer, lazily.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kfexplorer import __version__
from kfexplorer.app_log import setup_logging
from kfexplorer.config import load_settings
from kfexplorer.progress import ProgressEvent

log = logging.getLogger("kfexplorer.cli")


class CommandError(Exception):
    """A failure to report as one line on stderr with exit status 1."""


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError("size must look like 1600x1000") from exc
    return width, height


def _default_cache() -> Path:
    return load_settings().default_cache_dir()


def _cache_folder(args: argparse.Namespace) -> Path:
    """The cache a reading command works on: --cache (or the default), a release library's current release."""
    from kfexplorer.sync.releases import resolve_cache_folder

    return resolve_cache_folder(Path(args.cache) if args.cache else _default_cache())


def _release_library(args: argparse.Namespace) -> Path:
    """The release library a `releases` / `switch` command works on: --cache (or the default)."""
    from kfexplorer.sync.releases import is_release_library

    root = Path(args.cache) if args.cache else _default_cache()
    if not is_release_library(root):
        raise CommandError(f"{root} is not a release library (sync with --side-by-side to make one)")
    return root


class _StderrProgress:
    """Prints progress to stderr at most a few times a second, only when stderr is a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, event: ProgressEvent) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.25 and event.done != event.total:
            return
        self._last = now
        fraction = event.fraction
        share = f" {fraction * 100:5.1f} %" if fraction is not None else ""
        sys.stderr.write(f"\r{event.phase:<12}{share} {event.message[:60]:<60}")
        if event.done == event.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, sort_keys=False) + "\n")


def _print_outcome(as_json: bool, payload: Any, summary: str) -> None:
    """What a command did: `payload` as JSON with --json, else the one-line `summary`."""
    if as_json:
        _print_json(payload)
    else:
        print(summary)


@contextmanager
def _reported_as_command_error(*errors: type[Exception], prefix: str = "") -> Iterator[None]:
    """Turn `errors` raised in the block into a CommandError (one line on stderr, exit status 1) after `prefix`."""
    try:
        yield
    except errors as exc:
        raise CommandError(f"{prefix}{exc}") from exc


# --- commands -------------------------------------------------------------------------------------------------


def cmd_generate(args: argparse.Namespace) -> int:
    from kfexplorer.demo.release import ReleaseExistsError, generate_release

    with _reported_as_command_error(ReleaseExistsError):
        report = generate_release(Path(args.dir), participants=args.participants, occurrences=args.occurrences,
                                  seed=args.seed, imaging=not args.no_imaging, force=args.force,
                                  progress=_StderrProgress(not args.json))
    _print_outcome(args.json, report.to_json(),
                   f"wrote release {report.release_id} ({report.participants:,} participants, "
                   f"{report.counts.get('occurrences', 0):,} occurrences) to {report.root} in {report.seconds:.1f} s")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from kfexplorer.sync.engine import sync_release
    from kfexplorer.sync.plan import SyncSelection

    cache = Path(args.cache) if args.cache else _default_cache()
    concurrency = args.concurrency or load_settings().download_concurrency
    with _reported_as_command_error(ValueError):
        selection = SyncSelection.parse(studies=args.studies, chromosomes=args.chromosomes, include=args.include)
    printer = _StderrProgress(not args.json)
    download_started: list[float] = []

    def progress(event: ProgressEvent) -> None:
        """Bytes, rate and ETA for the download phase; other phases as they come."""
        if event.phase == "download" and event.total:
            if not download_started:
                download_started.append(time.monotonic())
            elapsed = max(1e-6, time.monotonic() - download_started[0])
            rate = event.done / elapsed
            eta = (event.total - event.done) / rate if rate > 0 else 0.0
            event = ProgressEvent(event.phase, event.done, event.total,
                                  f"{event.done / 1e6:,.1f} of {event.total / 1e6:,.1f} MB, {rate / 1e6:,.1f} MB/s, "
                                  f"ETA {eta:,.0f} s")
        printer(event)

    report = sync_release(args.source, cache, progress=progress, dry_run=args.dry_run, concurrency=concurrency,
                          selection=selection, profile=args.profile, region=args.region,
                          endpoint_url=args.endpoint_url, side_by_side=args.side_by_side,
                          switch=not args.no_switch, remove_old=args.remove_old)
    payload = report.to_json()
    details = report.details_json()
    if args.json:
        _print_json(payload)
    else:
        planned, transferred = payload["planned"], payload["transferred"]
        print(f"{'planned' if args.dry_run else 'synced'} {payload.get('release_id', '')} into {cache}: "
              f"{planned['objects']:,} objects planned ({planned['bytes']:,} bytes), "
              f"{transferred['objects']:,} transferred, {details['resumed']['objects']:,} resumed, "
              f"{payload['skipped']['objects']:,} unchanged, {payload['deleted']['objects']:,} deleted, "
              f"{details['excluded']['objects']:,} not selected, {len(payload['quarantined'])} quarantined "
              f"in {payload['seconds']:.1f} s (transfer {payload['transfer_seconds']:.1f} s, "
              f"ingest {payload['ingest_seconds']:.1f} s)")
        if args.dry_run:
            for kind, tally in details["planned_by_kind"].items():
                print(f"  {kind:<14}{tally['objects']:>10,} objects {tally['bytes']:>18,} bytes")
        for item in payload["quarantined"]:
            print(f"  quarantined {item['path']}: {item['reason']}")
        if details.get("release_folder"):
            print(f"  release folder {details['release_folder']}; current release: {details.get('current_release')}")
        for warning in payload.get("warnings", []):
            print(f"  warning: {warning}")
    failed = details["failed"]
    if failed:
        names = ", ".join(item["path"] for item in failed[:3]) + (", …" if len(failed) > 3 else "")
        print(f"kfexplorer: error: {len(failed)} object{'s' if len(failed) != 1 else ''} did not land ({names}: "
              f"{failed[0]['reason']}); everything else was synced, run sync again", file=sys.stderr)
        return 1
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from kfexplorer.store.status import cache_status

    cache = _cache_folder(args)
    status = cache_status(cache)
    if args.json:
        _print_json(status)
        return 0
    print(f"release {status.get('release_id')}  cache {status.get('cache')}")
    for table, count in status["tables"].items():
        print(f"  {table:<20}{count:>14,}")
    if status["quarantined"]:
        print(f"quarantined ({len(status['quarantined'])}):")
        for item in status["quarantined"]:
            print(f"  {item['path']}: {item['reason']}")
    for warning in status.get("warnings", []):
        print(f"warning: {warning}")
    return 0


def cmd_evict(args: argparse.Namespace) -> int:
    from kfexplorer.sync.evict import evict

    cache = _cache_folder(args)

    def items(text: str | None) -> list[str] | None:
        return [v.strip() for v in text.split(",") if v.strip()] if text is not None else None

    report = evict(cache, studies=items(args.studies), chromosomes=items(args.chromosomes)).to_json()
    rows = ", ".join(f"{count:,} {table}" for table, count in report["rows"].items()) or "no rows"
    _print_outcome(args.json, report,
                   f"evicted {report['evicted']['objects']:,} objects ({report['evicted']['bytes']:,} bytes; {rows}) "
                   f"from {cache}; a sync that selects them brings them back")
    for key in report["kept_mixed"]:
        print(f"  kept {key}: it also holds rows of other studies or chromosomes", file=sys.stderr)
    return 0


def cmd_releases(args: argparse.Namespace) -> int:
    from kfexplorer.sync.releases import list_releases, remove_release

    root = _release_library(args)
    if args.remove:
        remove_release(root, args.remove)
    entries = [entry.to_json() for entry in list_releases(root)]
    if args.json:
        _print_json({"cache": str(root), "current": next((e["release_id"] for e in entries if e["current"]), None),
                     "releases": entries})
        return 0
    for entry in entries:
        state = "current" if entry["current"] else ("complete" if entry["complete"] else "incomplete")
        print(f"{'*' if entry['current'] else ' '} {entry['release_id']:<30} {state:<11} {entry['folder']}")
    return 0


def cmd_switch(args: argparse.Namespace) -> int:
    from kfexplorer.sync.releases import current_release_id, remove_release, switch_release

    root = _release_library(args)
    previous = current_release_id(root)
    switch_release(root, args.release_id)
    print(f"current release of {root}: {args.release_id}")
    if args.remove_old and previous is not None and previous != args.release_id:
        remove_release(root, previous)
        print(f"removed release {previous}")
    return 0


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform in ("darwin", "win32")


def _run_gui(cache: Path | None, screenshot: Path | None, size: tuple[int, int] | None) -> int:
    if screenshot is not None and not _has_display():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if not _has_display() and screenshot is None:
        raise CommandError("no display found (DISPLAY is not set); use --screenshot FILE to render headless")
    from kfexplorer.ui.app import run_gui

    return run_gui(cache, screenshot=screenshot, size=size)


def cmd_count(args: argparse.Namespace) -> int:
    from kfexplorer.query.model import QueryError
    from kfexplorer.services.cohort_count import count_cohort_in_cache, read_cohort_file

    cache = _cache_folder(args)
    with _reported_as_command_error(QueryError, prefix=f"cohort {args.cohort}: "):
        cohort = read_cohort_file(Path(args.cohort))
        result = count_cohort_in_cache(cache, cohort, attrition=args.attrition)
    from kfexplorer.export.sidecar import read_sidecar, reproduction_warnings

    sidecar = read_sidecar(Path(args.cohort))  # an export's FILE.cohort.json: does the count reproduce it?
    for warning in reproduction_warnings(sidecar, result.release_id, result.participants_sha256) if sidecar else ():
        print(f"kfexplorer: warning: {warning}", file=sys.stderr)
    if args.json:
        _print_json(result.to_json())
        return 0
    print(f"{result.count:,} participants: {result.description}")
    for step in result.attrition or ():
        print(f"  {step.count:>10,}  {step.criterion}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from kfexplorer.export.cohort_export import export_cohort_in_cache
    from kfexplorer.export.cohort_import import read_cohort_or_list
    from kfexplorer.export.cohort_rows import ExportError
    from kfexplorer.query.model import Cohort, QueryError

    cache = _cache_folder(args)
    with _reported_as_command_error(QueryError, prefix=f"cohort {args.cohort}: "):
        cohort = read_cohort_or_list(Path(args.cohort)) if args.cohort else Cohort()
    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    with _reported_as_command_error(ExportError, QueryError):
        result = export_cohort_in_cache(cache, cohort, args.what, Path(args.out), file_format=args.format,
                                        columns=columns, safe=False if args.no_safe else None,
                                        progress=_StderrProgress(not args.json))
    _print_outcome(args.json, result.to_json(),
                   f"wrote {result.rows:,} {args.what} rows of {result.participants:,} participants to {result.path} "
                   f"({result.bytes:,} bytes, {result.file_format}) and the sidecar {result.sidecar}")
    return 0


def cmd_gui(args: argparse.Namespace) -> int:

    cache = _cache_folder(args)
    screenshot = Path(args.screenshot) if args.screenshot else None
    return _run_gui(cache, screenshot, args.size)


def cmd_demo(args: argparse.Namespace) -> int:
    from kfexplorer.services.demo_workspace import demo_folder, prepare_demo_workspace
    from kfexplorer.store.status import cache_status

    base = Path(args.dir) if args.dir else demo_folder()
    workspace = prepare_demo_workspace(base, cache=Path(args.cache) if args.cache else None,
                                       participants=args.participants, occurrences=args.occurrences, seed=args.seed,
                                       progress=_StderrProgress(True), say=lambda line: print(line, flush=True))
    release, cache = workspace.release, workspace.cache
    status = cache_status(cache)
    (base / "status.json").write_text(json.dumps(status, indent=2) + "\n", encoding="utf-8")
    tables = status["tables"]
    print(f"  cache holds {tables.get('participants', 0):,} participants, {tables.get('occurrences', 0):,} "
          f"occurrences, {tables.get('variants', 0):,} variants, {tables.get('imaging_series', 0):,} imaging series")
    if _has_display() and not args.screenshot:
        print("opening kfexplorer …", flush=True)
        return _run_gui(cache, None, None)
    screenshot = Path(args.screenshot) if args.screenshot else base / "screenshot.png"
    code = _run_gui(cache, screenshot, args.size or (1600, 1000))
    print("no display: ran headless." if not _has_display() else "rendered the window.")
    print(f"outputs:\n  release     {release}\n  cache       {cache}\n  status      {base / 'status.json'}\n"
          f"  screenshot  {screenshot}")
    return code


def cmd_dicom_render(args: argparse.Namespace) -> int:
    from kfexplorer.imaging.display import DisplayError
    from kfexplorer.imaging.render_file import render_path, write_png

    if (args.window is None) != (args.level is None):
        raise CommandError("--window and --level go together")
    window = (args.level, args.window) if args.window is not None else None
    try:
        image = render_path(Path(args.path), preset=args.preset, window=window, frame=args.frame)
    except DisplayError as exc:
        raise CommandError(str(exc)) from None
    write_png(image, Path(args.out))
    print(f"wrote {args.out} ({image.shape[1]}×{image.shape[0]}, {'RGB' if image.ndim == 3 else '8-bit grey'})")
    return 0


def cmd_dicom_deidentify(args: argparse.Namespace) -> int:
    from kfexplorer.config import data_dir
    from kfexplorer.imaging.deidentify import deidentify_series, read_or_create_salt
    from kfexplorer.imaging.display import DisplayError
    from kfexplorer.imaging.render_file import participant_key_for, series_files

    series = Path(args.series_dir)
    files = series_files(series) if series.is_dir() else [series]
    if not files:
        raise CommandError(f"{series} holds no DICOM files")
    salt_path = data_dir() / "deidentify_salt.bin"
    key = args.participant_key or participant_key_for(series, read_or_create_salt(salt_path))
    try:
        written = deidentify_series(files, Path(args.out), key, salt_path, allow_burned_in=args.allow_burned_in)
    except DisplayError as exc:
        raise CommandError(str(exc)) from None
    print(f"wrote {len(written)} de-identified files to {args.out} (participant key {key})")
    return 0


def cmd_nlp_extract(args: argparse.Namespace) -> int:
    from kfexplorer.nlp.file_extraction import extract_files, format_listing

    rows = extract_files(args.files)
    if args.json:
        _print_json(rows)
    else:
        print(format_listing(args.files, rows))
    return 0


# --- parser ---------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kfexplorer", description="Offline cohort explorer for Kids First-style "
                                     "releases. With no command, opens the app on the default cache.")
    parser.add_argument("--version", action="version", version=f"kfexplorer {__version__}")
    sub = parser.add_subparsers(dest="command")

    gen = sub.add_parser("generate", help="write a deterministic demo release into DIR")
    gen.add_argument("dir")
    gen.add_argument("--participants", type=_positive_int, default=1000)
    gen.add_argument("--occurrences", type=_positive_int, default=5_000_000)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--no-imaging", action="store_true", help="skip DICOM imaging")
    gen.add_argument("--force", action="store_true", help="replace DIR when it is not empty")
    gen.add_argument("--json", action="store_true")
    gen.set_defaults(func=cmd_generate)

    syn = sub.add_parser("sync", help="sync a release (folder, file:// or s3://bucket/prefix) into a cache")
    syn.add_argument("source")
    syn.add_argument("--cache")
    syn.add_argument("--dry-run", action="store_true", help="print the plan with sizes, change nothing")
    syn.add_argument("--concurrency", type=_positive_int, help="parallel downloads (default: the settings' value, 8)")
    syn.add_argument("--profile", help="AWS profile (shared config / credentials files, SSO)")
    syn.add_argument("--region", help="AWS region of the bucket")
    syn.add_argument("--endpoint-url", help="S3-compatible endpoint, e.g. http://127.0.0.1:9000")
    syn.add_argument("--studies", help="comma-separated study ids, e.g. SD_A,SD_B (occurrences and imaging)")
    syn.add_argument("--chromosomes", help="comma-separated chromosomes, e.g. 1,2,X (variant tables)")
    syn.add_argument("--include", help="comma-separated parts: variants,fhir,imaging,notes (default: all)")
    syn.add_argument("--side-by-side", action="store_true", help="make --cache a release library: each release_id "
                     "syncs into its own folder beside the others (a library stays one; see `releases`)")
    syn.add_argument("--no-switch", action="store_true", help="in a release library, keep the current release "
                     "after the sync completes (switch later with `switch`)")
    syn.add_argument("--remove-old", action="store_true", help="in a release library, delete the previously "
                     "current release after switching")
    syn.add_argument("--json", action="store_true")
    syn.set_defaults(func=cmd_sync)

    rel = sub.add_parser("releases", help="list the releases of a release library (--cache) and the current one")
    rel.add_argument("--cache")
    rel.add_argument("--remove", metavar="RELEASE_ID", help="delete this release (not the current one)")
    rel.add_argument("--json", action="store_true")
    rel.set_defaults(func=cmd_releases)

    swi = sub.add_parser("switch", help="make a completed release of a release library (--cache) the current one")
    swi.add_argument("release_id")
    swi.add_argument("--cache")
    swi.add_argument("--remove-old", action="store_true", help="delete the previously current release")
    swi.set_defaults(func=cmd_switch)

    sta = sub.add_parser("status", help="what the cache holds")
    sta.add_argument("--cache")
    sta.add_argument("--json", action="store_true")
    sta.set_defaults(func=cmd_status)

    cnt = sub.add_parser("count", help="count the participants of a cohort (our cohort JSON or a SQON)")
    cnt.add_argument("--cache")
    cnt.add_argument("--cohort", required=True, help="cohort file: kfexplorer cohort JSON or a Kids First SQON")
    cnt.add_argument("--attrition", action="store_true", help="also the count after each top-level criterion")
    cnt.add_argument("--json", action="store_true")
    cnt.set_defaults(func=cmd_count)

    exp = sub.add_parser("export", help="export a cohort's rows (CSV, TSV, Parquet), file manifest or FHIR Group, "
                         "with a FILE.cohort.json sidecar that `count --cohort` reproduces")
    exp.add_argument("--cache")
    exp.add_argument("--cohort", help="cohort file (our JSON, a SQON, a sidecar) or a list of participant ids "
                     "(default: every participant)")
    exp.add_argument("--what", required=True, choices=("participants", "diagnoses", "phenotypes", "biospecimens",
                                                       "files", "variants", "occurrences", "manifest", "fhir-group"))
    exp.add_argument("--out", required=True, help="the file to write (its folder must exist)")
    exp.add_argument("--format", choices=("csv", "tsv", "parquet"),
                     help="default: from the file name (.tsv, .parquet), else csv; fhir-group writes JSON")
    exp.add_argument("--columns", help="comma-separated columns (default: all; participants start with "
                     "participant_id)")
    exp.add_argument("--no-safe", action="store_true", help="do not neutralise text cells starting with = + - @ "
                     "(spreadsheet safety, on by default for CSV and TSV)")
    exp.add_argument("--json", action="store_true")
    exp.set_defaults(func=cmd_export)

    evi = sub.add_parser("evict", help="remove the occurrences of some studies or chromosomes from a cache")
    evi.add_argument("--cache")
    evi.add_argument("--studies", help="comma-separated study ids, e.g. SD_A,SD_B")
    evi.add_argument("--chromosomes", help="comma-separated chromosomes, e.g. 1,X (alone: variants and consequences "
                     "of those chromosomes too)")
    evi.add_argument("--json", action="store_true")
    evi.set_defaults(func=cmd_evict)

    gui = sub.add_parser("gui", help="open the app")
    gui.add_argument("--cache")
    gui.add_argument("--screenshot", help="render the loaded window to this PNG and exit")
    gui.add_argument("--size", type=_size, help="window size for --screenshot, e.g. 1600x1000")
    gui.set_defaults(func=cmd_gui)

    demo = sub.add_parser("demo", help="generate the demo release (when missing), sync it and open the app")
    demo.add_argument("--dir", help="folder for the demo release, cache and outputs (default: user data folder)")
    demo.add_argument("--cache", help="cache folder (default: DIR/cache)")
    demo.add_argument("--participants", type=_positive_int, default=1000)
    demo.add_argument("--occurrences", type=_positive_int, default=5_000_000)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--screenshot", help="render the window to this PNG and exit (always so without a display)")
    demo.add_argument("--size", type=_size)
    demo.set_defaults(func=cmd_demo)

    dcm = sub.add_parser("dicom", help="DICOM tools: render a file or series to PNG, de-identify a series")
    dcm_sub = dcm.add_subparsers(dest="dicom_command", required=True)
    ren = dcm_sub.add_parser("render", help="render one file, or the middle slice of a series folder, to PNG")
    ren.add_argument("path", help="a DICOM file or a series folder")
    ren.add_argument("--out", required=True, help="PNG file to write")
    ren_window = ren.add_mutually_exclusive_group()
    ren_window.add_argument("--preset", choices=["brain", "subdural", "bone", "lung", "abdomen", "soft_tissue"])
    ren_window.add_argument("--window", type=float, help="window width (with --level)")
    ren.add_argument("--level", type=float, help="window centre (with --window)")
    ren.add_argument("--frame", type=int, default=0, help="frame of a multi-frame file (from 0)")
    ren.set_defaults(func=cmd_dicom_render)
    dei = dcm_sub.add_parser("deidentify", help="write a de-identified copy of a series (PS3.15 basic profile)")
    dei.add_argument("series_dir", help="a series folder (or one file)")
    dei.add_argument("--out", required=True, help="folder to write into")
    dei.add_argument("--participant-key", help="pseudonym for PatientID / PatientName (default: derived)")
    dei.add_argument("--allow-burned-in", action="store_true",
                     help="export files marked Burned In Annotation = YES (their pixels are not cleaned)")
    dei.set_defaults(func=cmd_dicom_deidentify)

    nlp = sub.add_parser("nlp", help="clinical-note NLP: HPO phenotype mentions with context, offline")
    nlp_sub = nlp.add_subparsers(dest="nlp_command", required=True)
    nlx = nlp_sub.add_parser("extract", help="print every HPO mention of text files with its context flags")
    nlx.add_argument("files", nargs="+", metavar="FILE", help="text files (UTF-8)")
    nlx.add_argument("--json", action="store_true", help="a JSON list of objects, one per mention")
    nlx.set_defaults(func=cmd_nlp_extract)
    return parser


def _known_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [CommandError, OSError, ValueError]
    from kfexplorer.store.cache import CacheBusyError, CacheMissingError, UnsafePathError
    from kfexplorer.sync.engine import SyncError
    from kfexplorer.sync.releases import ReleaseLibraryError
    from kfexplorer.sync.source import SourceError

    errors += [CacheBusyError, CacheMissingError, UnsafePathError, SyncError, SourceError, ReleaseLibraryError]
    return tuple(errors)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging()
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        args = parser.parse_args(["gui", *(argv or [])])
        func = args.func
    log.info("command %s", args.command)
    try:
        return func(args)
    except KeyboardInterrupt:
        print("kfexplorer: interrupted", file=sys.stderr)
        return 1
    except _known_errors() as exc:
        log.warning("command %s failed: %s", args.command, type(exc).__name__)
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"kfexplorer: error: {message}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - last resort: one line, details in the log
        log.exception("command %s crashed", args.command)
        print(f"kfexplorer: error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
              file=sys.stderr)
        return 1


def gui_main() -> int:
    return main(["gui"])


if __name__ == "__main__":
    raise SystemExit(main())
