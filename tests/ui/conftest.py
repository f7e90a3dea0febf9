"""pytest-qt setup for the UI tests: offscreen, a private XDG_RUNTIME_DIR, Qt warnings fail the test."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if not os.environ.get("XDG_RUNTIME_DIR"):
    _runtime_dir = tempfile.mkdtemp(prefix="kf-xdg-runtime-")
    os.chmod(_runtime_dir, 0o700)
    os.environ["XDG_RUNTIME_DIR"] = _runtime_dir

from PySide6.QtCore import QMessageLogContext, QtMsgType, qInstallMessageHandler  # noqa: E402

# Known-harmless messages (offscreen platform + dock widgets; fonts in a bare container).
QT_MESSAGE_ALLOWLIST: tuple[re.Pattern[str], ...] = (
    re.compile(r"This plugin does not support propagateSizeHints\(\)"),
    re.compile(r"QFont::fromString"),
)
FAILING_TYPES = (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg)


def _load_cache_fixture() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "services" / "cache_fixture.py"
    spec = importlib.util.spec_from_file_location("kf_tests_cache_fixture", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


cache_fixture = _load_cache_fixture()


@pytest.fixture(autouse=True)
def fail_on_qt_warnings() -> Iterator[list[str]]:
    """Record Qt warnings/criticals during the test; fail at teardown unless they are allowlisted."""
    recorded: list[str] = []

    def handler(msg_type: QtMsgType, _context: QMessageLogContext, message: str) -> None:
        if msg_type in FAILING_TYPES and not any(p.search(message) for p in QT_MESSAGE_ALLOWLIST):
            recorded.append(f"{msg_type.name}: {message}")
        if previous is not None:
            previous(msg_type, _context, message)

    previous = qInstallMessageHandler(handler)
    yield recorded
    qInstallMessageHandler(previous)
    if recorded:
        pytest.fail("Qt warnings during the test:\n" + "\n".join(recorded), pytrace=False)


@pytest.fixture(scope="session")
def ui_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 700-participant cache (3 pages of 256) shared read-only by the UI tests."""
    return cache_fixture.build_cache(tmp_path_factory.mktemp("ui-cache") / "cache", participants=700)


@pytest.fixture
def fresh_cache_dir(tmp_path: Path) -> Path:
    """A cache a test may replace (sync)."""
    return cache_fixture.build_cache(tmp_path / "cache", participants=300)
