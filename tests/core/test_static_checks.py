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
    result = _run(str(BIN / "mypy"), "kfexplorer", "bench")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr


def test_import_contracts():
    result = _run(str(BIN / "lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr
    assert "0 broken" in result.stdout


def test_the_core_and_cli_load_without_qt():
    """Importing every core package and the CLI (without running `gui`) loads no Qt module."""
    code = (
        "import importlib, pkgutil, sys, kfexplorer\n"
        "for m in pkgutil.walk_packages(kfexplorer.__path__, 'kfexplorer.'):\n"
        "    if not m.name.startswith(('kfexplorer.ui', 'kfexplorer.__main__')):\n"
        "        importlib.import_module(m.name)\n"
        "qt = sorted(n for n in sys.modules if n.split('.')[0] in ('PySide6', 'pyqtgraph', 'superqt', 'shiboken6'))\n"
        "print(qt)\n"
        "assert not qt, qt\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
