#!/usr/bin/env bash
# One command to build the packaged app and its installers (Linux, macOS):
#     packaging/build.sh                # PyInstaller folder + installers for this OS
#     packaging/build.sh --no-installer # the folder only
# Linux: packaging/dist/ecgviewer/, packaging/dist/ecgviewer-VERSION-linux-x86_64.tar.gz, packaging/dist/ecgviewer_VERSION_amd64.deb
# macOS: packaging/dist/ECG Viewer.app, packaging/dist/ecgviewer-VERSION-macos.dmg
# Uses $PYTHON (default: .venv/bin/python of the repo), which needs the app installed and
# `pip install -e .[packaging]`. Refuses to build without the bundled model unless
# ECGVIEWER_ALLOW_NO_MODEL=1. See docs/packaging.md.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON="${PYTHON:-python3}"
INSTALLER=1
[ "${1:-}" = "--no-installer" ] && INSTALLER=0
cd "$ROOT"
VERSION="$("$PYTHON" -c 'import ecgviewer; print(ecgviewer.__version__)')"
"$PYTHON" -c 'import PyInstaller' 2>/dev/null || { echo "build.sh: PyInstaller missing: $PYTHON -m pip install -e '.[packaging]'" >&2; exit 1; }
"$PYTHON" -c 'import onnxruntime' 2>/dev/null || { echo "build.sh: ONNX Runtime missing (the app scores with it): $PYTHON -m pip install -e ." >&2; exit 1; }

start=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$HERE/dist" --workpath "$HERE/build" "$HERE/ecgviewer.spec"
echo "build.sh: PyInstaller done in $(( $(date +%s) - start )) s"

case "$(uname -s)" in
  Linux)
    [ $INSTALLER = 1 ] && "$HERE/linux/make_tarball.sh" "$VERSION" && "$HERE/linux/make_deb.sh" "$VERSION" ;;
  Darwin)
    [ $INSTALLER = 1 ] && "$HERE/macos/make_dmg.sh" "$VERSION" ;;
  *) echo "build.sh: use packaging/build.ps1 on Windows" >&2; exit 1 ;;
esac

echo "build.sh: sizes"
du -sh "$HERE/dist/ecgviewer" 2>/dev/null || true
ls -l "$HERE"/dist/*.tar.gz "$HERE"/dist/*.deb "$HERE"/dist/*.dmg 2>/dev/null || true
echo "build.sh: done in $(( $(date +%s) - start )) s"
