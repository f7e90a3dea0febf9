"""README command 1 without a display: `kfexplorer demo` generates, syncs, renders headless and says where."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_demo_without_display_prints_where_its_outputs_are(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["KFEXPLORER_LOG_DIR"] = str(tmp_path / "logs")
    base = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "kfexplorer", "demo", "--dir", str(base), "--participants", "40",
         "--occurrences", "4000", "--seed", "3"],
        capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    screenshot = base / "screenshot.png"
    assert f"screenshot  {screenshot}" in result.stdout and "headless" in result.stdout
    assert png_size(screenshot) == (1600, 1000)
    status = json.loads((base / "status.json").read_text())
    assert status["tables"]["participants"] == 40 and status["tables"]["occurrences"] > 0
    assert "cache holds 40 participants" in result.stdout
    assert "propagateSizeHints" not in result.stdout + result.stderr  # Qt chatter goes to the log
    # a second run reuses the release and the cache: nothing to generate, nothing to transfer
    again = subprocess.run(
        [sys.executable, "-m", "kfexplorer", "demo", "--dir", str(base), "--participants", "40",
         "--occurrences", "4000", "--seed", "3"],
        capture_output=True, text=True, timeout=600, env=env)
    assert again.returncode == 0, again.stderr
    assert "generating" not in again.stdout and "0 objects ingested" in again.stdout
