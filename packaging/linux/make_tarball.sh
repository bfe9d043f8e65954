#!/usr/bin/env bash
# Linux tar.gz: the PyInstaller folder + .desktop file + icons + a per-user install script.
#     packaging/linux/make_tarball.sh VERSION   (after PyInstaller; build.sh calls it)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; PKG="$(dirname "$HERE")"; ROOT="$(dirname "$PKG")"
VERSION="$1"; NAME="ecgviewer-$VERSION-linux-$(uname -m)"
STAGE="$PKG/build/tarball/$NAME"
rm -rf "$PKG/build/tarball"; mkdir -p "$STAGE/share/icons/hicolor"
cp -a "$PKG/dist/ecgviewer" "$STAGE/ecgviewer"
cp "$HERE/ecgviewer.desktop" "$HERE/ecgviewer-mime.xml" "$HERE/install.sh" "$STAGE/"
for n in 32 48 64 128 256; do
  mkdir -p "$STAGE/share/icons/hicolor/${n}x${n}/apps"
  cp "$ROOT/resources/icons/ecgviewer-$n.png" "$STAGE/share/icons/hicolor/${n}x${n}/apps/ecgviewer.png"
done
cp "$ROOT/resources/LICENSES.md" "$STAGE/THIRD-PARTY-LICENSES.md"
cat > "$STAGE/README.txt" <<TXT
ECG Viewer $VERSION for Linux x86_64 (no Python needed).
Run in place:      ./ecgviewer/ecgviewer [RECORD]
Check the install: ./ecgviewer/ecgviewer --self-test
Install for you:   ./install.sh            (~/.local: menu entry, icon, .hea association)
Install for all:   sudo ./install.sh --system   (/opt/ecgviewer, /usr/local/bin/ecgviewer)
Needs the usual X11/OpenGL libraries (Debian/Ubuntu: libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
libxkbcommon-x11-0 libgl1 libegl1 libfontconfig1). Third-party licences: THIRD-PARTY-LICENSES.md.
TXT
out="$PKG/dist/$NAME.tar.gz"
tar -C "$PKG/build/tarball" -cf - "$NAME" | gzip -6 > "$out"
echo "make_tarball.sh: $out ($(du -h "$out" | cut -f1))"
