#!/usr/bin/env bash
# Start the packaged app headless on a cache, render the loaded window to a PNG and check it.
# Usage: packaging/smoke.sh [CACHE_FOLDER] [OUT_PNG]
#   CACHE_FOLDER  default: /work/demo-shared/cache if present, else a small demo generated and synced by the
#                 packaged CLI itself (always so with KFEXPLORER_SMOKE_GENERATE=1)
#   OUT_PNG       default: build/smoke/packaged.png
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APP="${KFEXPLORER_DIST:-$ROOT/dist/kfexplorer}"
OUT="${2:-$ROOT/build/smoke/packaged.png}"
WORK="$ROOT/build/smoke"
mkdir -p "$WORK" "$(dirname "$OUT")"

[ -x "$APP/kfexplorer" ] || { echo "no packaged app at $APP: run packaging/build.sh first" >&2; exit 1; }

# A private config / data / log folder: the smoke run never touches the user's settings.
export KFEXPLORER_CONFIG_DIR="$WORK/config" KFEXPLORER_DATA_DIR="$WORK/data" KFEXPLORER_LOG_DIR="$WORK/log"
export QT_QPA_PLATFORM=offscreen
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
    export XDG_RUNTIME_DIR="$WORK/xdg-runtime"
    mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
fi

# 1. The command line runs from the bundle.
"$APP/kfexplorer" --help > "$WORK/help.txt"
grep -q "gui" "$WORK/help.txt" || { echo "FAIL: 'kfexplorer --help' does not list the gui command" >&2; exit 1; }

# 2. A cache to open: the shared demo, or a small one generated and synced by the packaged CLI itself.
CACHE="${1:-}"
if [ -z "$CACHE" ]; then
    if [ -z "${KFEXPLORER_SMOKE_GENERATE:-}" ] && { [ -f /work/demo-shared/cache/kfexplorer.duckdb ] \
            || [ -d /work/demo-shared/cache/releases ]; }; then
        CACHE=/work/demo-shared/cache
    else
        "$APP/kfexplorer" generate "$WORK/release" --participants 60 --occurrences 50000 --seed 7 --force >/dev/null
        rm -rf "$WORK/cache"
        "$APP/kfexplorer" sync "$WORK/release" --cache "$WORK/cache" >/dev/null
        CACHE="$WORK/cache"
    fi
fi
"$APP/kfexplorer" status --cache "$CACHE" > "$WORK/status.txt" || { echo "FAIL: status on $CACHE" >&2; exit 1; }

# 2b. The bundled DICOM decoders: render pydicom's own sample files (outside the bundle) with the packaged CLI.
SAMPLES="$("$ROOT/.venv/bin/python" -c 'import pathlib, pydicom; print(pathlib.Path(pydicom.__file__).parent / "data" / "test_files")')"
for sample in MR_small.dcm MR_small_RLE.dcm MR_small_jp2klossless.dcm MR_small_jpeg_ls_lossless.dcm JPEG-LL.dcm \
              JPEG-lossy.dcm; do
    [ -f "$SAMPLES/$sample" ] || continue
    "$APP/kfexplorer" dicom render "$SAMPLES/$sample" --out "$WORK/${sample%.dcm}.png" >/dev/null \
        || { echo "FAIL: the packaged app cannot decode $sample" >&2; exit 1; }
    echo "decoded $sample"
done

# 3. The window opens, loads the cache and renders.
rm -f "$OUT"
start=$(date +%s.%N)
timeout 180 "$APP/kfexplorer" gui --cache "$CACHE" --screenshot "$OUT" --size 1280x800
elapsed=$(echo "$(date +%s.%N) - $start" | bc)

# 4. The PNG exists, has the requested size and is not blank (many distinct colours).
"$ROOT/.venv/bin/python" - "$OUT" <<'PY'
import sys
from PIL import Image

image = Image.open(sys.argv[1]).convert("RGB")
colours = image.getcolors(maxcolors=1 << 20) or []
print(f"screenshot {sys.argv[1]}: {image.size[0]}x{image.size[1]}, {len(colours)} colours")
if image.size != (1280, 800):
    sys.exit(f"FAIL: expected 1280x800, got {image.size}")
if len(colours) < 50:
    sys.exit("FAIL: the screenshot looks blank")
PY
# 5. The windowed launcher, with the theme from settings.json (dark), renders too.
DARK="${OUT%.png}-dark.png"
mkdir -p "$KFEXPLORER_CONFIG_DIR"
printf '{"version": 1, "theme": "dark"}\n' > "$KFEXPLORER_CONFIG_DIR/settings.json"
rm -f "$DARK"
timeout 180 "$APP/kfexplorer-gui" --cache "$CACHE" --screenshot "$DARK" --size 1280x800
rm -f "$KFEXPLORER_CONFIG_DIR/settings.json"
"$ROOT/.venv/bin/python" - "$DARK" <<'PY'
import sys
from PIL import Image, ImageStat

mean = ImageStat.Stat(Image.open(sys.argv[1]).convert("L")).mean[0]
print(f"dark screenshot {sys.argv[1]}: mean grey {mean:.0f}")
if mean > 110:
    sys.exit("FAIL: the dark theme from settings.json was not applied")
PY

echo "OK: packaged app rendered $CACHE in ${elapsed%.*}.$(echo "$elapsed" | cut -d. -f2 | cut -c1-1) s; $(du -sh "$APP" | cut -f1) on disk"
