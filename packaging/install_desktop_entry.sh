#!/usr/bin/env bash
# Install the desktop entry and icon of a packaged kfexplorer for the current user (Linux, freedesktop).
# Usage: install_desktop_entry.sh [APP_FOLDER]   (default: the folder this script is in, i.e. dist/kfexplorer)
set -euo pipefail
APP="$(cd "${1:-$(dirname "${BASH_SOURCE[0]}")}" && pwd)"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
mkdir -p "$DATA/applications" "$DATA/icons/hicolor/scalable/apps" "$DATA/icons/hicolor/256x256/apps"
cp "$APP/share/icons/hicolor/scalable/apps/kfexplorer.svg" "$DATA/icons/hicolor/scalable/apps/"
cp "$APP/share/icons/hicolor/256x256/apps/kfexplorer.png" "$DATA/icons/hicolor/256x256/apps/"
sed -e "s|^Exec=kfexplorer-gui|Exec=\"$APP/kfexplorer-gui\"|" -e "s|^TryExec=.*|TryExec=$APP/kfexplorer-gui|" \
    "$APP/share/applications/kfexplorer.desktop" > "$DATA/applications/kfexplorer.desktop"
command -v update-desktop-database >/dev/null && update-desktop-database "$DATA/applications" || true
echo "installed $DATA/applications/kfexplorer.desktop"
