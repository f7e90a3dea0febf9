#!/usr/bin/env bash
# Build the one-folder packaged app into dist/kfexplorer/ (launchers: kfexplorer, kfexplorer-gui).
# Usage: packaging/build.sh   (from anywhere; uses the project's .venv, installs PyInstaller there if missing)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
cd "$ROOT"

if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
    echo "installing PyInstaller into $($PY -c 'import sys; print(sys.prefix)')"
    "$PY" -m pip install --quiet "pyinstaller>=6.10"
fi

# The raster icon (launcher + desktop entry) comes from the SVG app icon.
QT_QPA_PLATFORM=offscreen "$PY" packaging/render_icon.py icons/app.svg packaging/kfexplorer.png 256

start=$(date +%s)
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --workpath build/pyinstaller --distpath dist packaging/kfexplorer.spec
end=$(date +%s)

APP="dist/kfexplorer"
# Freedesktop layout for the desktop entry and its icon (see packaging/install_desktop_entry.sh).
mkdir -p "$APP/share/applications" "$APP/share/icons/hicolor/scalable/apps" "$APP/share/icons/hicolor/256x256/apps"
cp packaging/kfexplorer.desktop "$APP/share/applications/kfexplorer.desktop"
cp icons/app.svg "$APP/share/icons/hicolor/scalable/apps/kfexplorer.svg"
cp packaging/kfexplorer.png "$APP/share/icons/hicolor/256x256/apps/kfexplorer.png"
cp packaging/install_desktop_entry.sh "$APP/"

echo "built $APP in $((end - start)) s, $(du -sh "$APP" | cut -f1) on disk"
echo "run:   $APP/kfexplorer gui --cache <cache folder>      (or $APP/kfexplorer-gui)"
echo "check: packaging/smoke.sh"
