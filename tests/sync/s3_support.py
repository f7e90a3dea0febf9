"""A real S3 endpoint for the sync tests: moto in server mode on 127.0.0.1, a fault-injecting HTTP proxy in front of
it, and helpers to upload a release. Only fake credentials are ever set (and the shared AWS files are pointed at
nothing), so no test can reach a real account."""

from __future__ import annotations

import http.client
import logging
import socket
import struct
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import pyarrow.parquet as pq
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from kfexplorer.sync.s3_source import RetryPolicy, S3Source

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing-not-a-real-key",
    "AWS_SECRET_ACCESS_KEY": "testing-not-a-real-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/kfexplorer-test-aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/kfexplorer-test-aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}
UNSET_ENV = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")
FAST_RETRY = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.05)


def s3_client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        config=Config(max_pool_connections=32, s3={"addressing_style": "path"}))


def new_bucket(endpoint: str) -> str:
    name = f"kf-{uuid.uuid4().hex[:16]}"
    s3_client(endpoint).create_bucket(Bucket=name)
    return name


def upload_tree(endpoint: str, bucket: str, prefix: str, root: Path) -> list[str]:
    """Upload every file under `root` as prefix + its relative POSIX path; returns the relative keys."""
    client = s3_client(endpoint)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    keys = [p.relative_to(root).as_posix() for p in files]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda pk: client.put_object(Bucket=bucket, Key=prefix + pk[1], Body=pk[0].read_bytes()),
                      zip(files, keys, strict=True)))
    return keys


def parquet_rows(root: Path) -> dict[str, int]:
    """The oracle: rows of each variant table, read from the raw release with pyarrow."""
    return {table: sum(pq.read_metadata(p).num_rows for p in (root / "variants" / table).rglob("*.parquet"))
            for table in ("occurrences", "variants", "consequences")}


def source_for(endpoint: str, bucket: str, prefix: str = "release/", **options: Any) -> S3Source:
    options.setdefault("retry", FAST_RETRY)
    return S3Source(bucket, prefix, endpoint_url=endpoint, region="us-east-1", **options)


# ---- the fault proxy ----------------------------------------------------------------------------------------------

@dataclass
class Fault:
    """Inject `action` on the next `times` requests whose method is `method` and whose path contains `path_part`.
    Actions: drop (close without answering), reset (TCP RST), 500, 503 (SlowDown), truncate (half the body, then
    close), short (half the body with a Content-Length that matches it), corrupt (the whole body with one byte
    flipped), or any other status with `code` (an S3 error response with that code)."""

    action: str
    path_part: str = ""
    method: str = "GET"
    times: int = 1
    code: str = ""


@dataclass
class FaultProxy:
    upstream_port: int
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    injected: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def add(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()
            self.requests.clear()
            self.injected.clear()

    def take(self, method: str, path: str) -> Fault | None:
        path = unquote(path)
        with self.lock:
            self.requests.append((method, path))
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and fault.path_part in path:
                    fault.times -= 1
                    self.injected.append((fault.action, path))
                    return fault
        return None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _error_xml(code: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>injected {code}</Message>'
            f"<RequestId>fault</RequestId></Error>").encode()


def _make_handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            return

        def _send(self, status: int, headers: list[tuple[str, str]], body: bytes, length: int | None = None) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            fault = proxy.take(self.command, self.path)
            if fault is not None and fault.action == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault is not None and fault.action == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
                return
            if fault is not None and fault.action not in ("truncate", "short", "corrupt"):
                status = {"500": 500, "503": 503}.get(fault.action, int(fault.action) if fault.action.isdigit() else 500)
                code = fault.code or {500: "InternalError", 503: "SlowDown"}.get(status, "InternalError")
                self._send(status, [("Content-Type", "application/xml")], _error_xml(code))
                return
            upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                status, out_headers = response.status, response.getheaders()
            finally:
                upstream.close()
            if fault is not None and fault.action == "truncate" and len(data) > 1:
                self._send(status, out_headers, data[: len(data) // 2], length=len(data))
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault is not None and fault.action == "short" and len(data) > 1:
                self._send(status, out_headers, data[: len(data) // 2])  # a short body that says it is whole
                return
            if self.command == "HEAD":
                upstream_length = dict((k.lower(), v) for k, v in out_headers).get("content-length", "0")
                self._send(status, out_headers, b"", length=int(upstream_length))
                return
            if fault is not None and fault.action == "corrupt" and data:
                middle = len(data) // 2
                data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]
            self._send(status, out_headers, data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay  # noqa: N815 - http.server's naming

    return Handler


@pytest.fixture(scope="session")
def fake_aws_env() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_ENV.items():
            patch.setenv(name, value)
        for name in UNSET_ENV:
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="session")
def moto_endpoint(fake_aws_env: None) -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _host, port = server.get_host_and_port()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def fault_proxy(moto_endpoint: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream_port=int(moto_endpoint.rsplit(":", 1)[1]))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(proxy))
    server.daemon_threads = True
    proxy.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="fault-proxy", daemon=True)
    thread.start()
    yield proxy
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def small_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kfexplorer.demo.release import generate_release

    root = tmp_path_factory.mktemp("s3release") / "release"
    generate_release(root, participants=40, occurrences=3000, seed=5)
    return root


def upload_subset(endpoint: str, root: Path, wanted: Callable[[str], bool]) -> tuple[str, list[str]]:
    """A fresh bucket holding release.json and the objects of the release that `wanted` picks, under release/."""
    bucket = new_bucket(endpoint)
    client = s3_client(endpoint)
    keys = [p.relative_to(root).as_posix() for p in sorted(root.rglob("*")) if p.is_file()]
    keys = [k for k in keys if k == "release.json" or wanted(k)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: client.put_object(Bucket=bucket, Key="release/" + k, Body=(root / k).read_bytes()),
                      keys))
    return bucket, keys


@pytest.fixture
def uploaded(moto_endpoint: str, small_release: Path) -> tuple[str, list[str]]:
    """A fresh bucket holding the small release under release/: (bucket, keys)."""
    bucket = new_bucket(moto_endpoint)
    return bucket, upload_tree(moto_endpoint, bucket, "release/", small_release)
