"""Lint, types and the layer contract run as part of the suite, so CI enforces them."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_clean():
    result = _run(str(BIN / "ruff"), "check", "kfexplorer", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_on_the_core():
    result = _run(str(BIN / "mypy"), "kfexplorer")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr


def test_import_contracts():
    result = _run(str(BIN / "lint-imports"))
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr
    assert "0 broken" in result.stdout
