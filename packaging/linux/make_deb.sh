#!/usr/bin/env bash
# Debian/Ubuntu package: /opt/ecgviewer + /usr/bin/ecgviewer symlink + menu entry + icons + .hea MIME type.
#     packaging/linux/make_deb.sh VERSION   (after PyInstaller; build.sh calls it)
# DEB_COMPRESS=xz (default, smallest) | gzip (faster) | zstd.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; PKG="$(dirname "$HERE")"; ROOT="$(dirname "$PKG")"
VERSION="$1"; ARCH="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
D="$PKG/build/deb/ecgviewer_${VERSION}_$ARCH"
rm -rf "$PKG/build/deb"; mkdir -p "$D/DEBIAN" "$D/opt" "$D/usr/bin" "$D/usr/share/applications" \
  "$D/usr/share/mime/packages" "$D/usr/share/doc/ecgviewer"
cp -a "$PKG/dist/ecgviewer" "$D/opt/ecgviewer"
ln -s /opt/ecgviewer/ecgviewer "$D/usr/bin/ecgviewer"
cp "$HERE/ecgviewer.desktop" "$D/usr/share/applications/ecgviewer.desktop"
cp "$HERE/ecgviewer-mime.xml" "$D/usr/share/mime/packages/ecgviewer.xml"
for n in 32 48 64 128 256; do
  mkdir -p "$D/usr/share/icons/hicolor/${n}x${n}/apps"
  cp "$ROOT/resources/icons/ecgviewer-$n.png" "$D/usr/share/icons/hicolor/${n}x${n}/apps/ecgviewer.png"
done
cp "$ROOT/resources/LICENSES.md" "$D/usr/share/doc/ecgviewer/THIRD-PARTY-LICENSES.md"
cat > "$D/usr/share/doc/ecgviewer/copyright" <<TXT
ecgviewer $VERSION: MIT licence. Bundled third-party components and their licences:
/usr/share/doc/ecgviewer/THIRD-PARTY-LICENSES.md. Sample records: MIT-BIH Arrhythmia Database, ODC-By 1.0.
TXT
SIZE_KB=$(du -sk --exclude=DEBIAN "$D" | cut -f1)
cat > "$D/DEBIAN/control" <<TXT
Package: ecgviewer
Version: $VERSION
Architecture: $ARCH
Maintainer: ecgviewer maintainers <ecgviewer@example.org>
Installed-Size: $SIZE_KB
Section: science
Priority: optional
Depends: libc6 (>= 2.28), libgl1, libegl1, libfontconfig1, libfreetype6, libdbus-1-3, libx11-6, libx11-xcb1, libxcb1, libxcb-cursor0, libxcb-icccm4, libxcb-image0, libxcb-keysyms1, libxcb-randr0, libxcb-render-util0, libxcb-shape0, libxcb-xfixes0, libxcb-xkb1, libxkbcommon0, libxkbcommon-x11-0
Description: ECG viewer that flags anomalous heartbeats
 Opens WFDB ECG records (.hea/.dat), shows them on ECG paper and flags beats
 that the bundled SI-BeatGAN V2 model cannot reconstruct. Self-contained
 (Python, Qt and a CPU build of PyTorch are bundled in /opt/ecgviewer); never
 uses the network. Check an install with: ecgviewer --self-test
TXT
cat > "$D/DEBIAN/postinst" <<'SH'
#!/bin/sh
set -e
command -v update-mime-database >/dev/null && update-mime-database /usr/share/mime || true
command -v update-desktop-database >/dev/null && update-desktop-database -q /usr/share/applications || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t /usr/share/icons/hicolor || true
exit 0
SH
cp "$D/DEBIAN/postinst" "$D/DEBIAN/postrm"
chmod 0755 "$D/DEBIAN/postinst" "$D/DEBIAN/postrm"
out="$PKG/dist/ecgviewer_${VERSION}_$ARCH.deb"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESS:-xz}" --build "$D" "$out" >/dev/null
echo "make_deb.sh: $out ($(du -h "$out" | cut -f1))"
