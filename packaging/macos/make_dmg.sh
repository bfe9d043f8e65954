#!/usr/bin/env bash
# macOS disk image: "ECG Viewer.app" (built by PyInstaller's BUNDLE step in ecgviewer.spec) + a link
# to /Applications, compressed (UDZO). build.sh calls it after PyInstaller:
#     packaging/macos/make_dmg.sh VERSION
# Signing/notarisation (needed for Gatekeeper on other Macs) when the variables are set:
#     ECGVIEWER_CODESIGN_IDENTITY="Developer ID Application: ..."  (also read by the spec)
#     ECGVIEWER_NOTARY_PROFILE=<keychain profile of `xcrun notarytool store-credentials`>
# NOT RUN here (no macOS machine); see docs/packaging.md.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; PKG="$(dirname "$HERE")"
VERSION="$1"; APP="$PKG/dist/ECG Viewer.app"
[ -d "$APP" ] || { echo "make_dmg.sh: $APP missing (run PyInstaller first)" >&2; exit 1; }
"$APP/Contents/MacOS/ecgviewer" --self-test || { echo "make_dmg.sh: self-test of the .app failed" >&2; exit 1; }
if [ -n "${ECGVIEWER_CODESIGN_IDENTITY:-}" ]; then
  codesign --force --deep --options runtime --timestamp --sign "$ECGVIEWER_CODESIGN_IDENTITY" "$APP"
  codesign --verify --deep --strict "$APP"
fi
STAGE="$PKG/build/dmg"; rm -rf "$STAGE"; mkdir -p "$STAGE"
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
OUT="$PKG/dist/ecgviewer-$VERSION-macos-$(uname -m).dmg"
rm -f "$OUT"
hdiutil create -volname "ECG Viewer $VERSION" -srcfolder "$STAGE" -fs HFS+ -format UDZO -imagekey zlib-level=9 -ov "$OUT"
if [ -n "${ECGVIEWER_CODESIGN_IDENTITY:-}" ]; then
  codesign --sign "$ECGVIEWER_CODESIGN_IDENTITY" --timestamp "$OUT"
  if [ -n "${ECGVIEWER_NOTARY_PROFILE:-}" ]; then
    xcrun notarytool submit "$OUT" --keychain-profile "$ECGVIEWER_NOTARY_PROFILE" --wait
    xcrun stapler staple "$OUT"
  fi
fi
hdiutil verify "$OUT"
echo "make_dmg.sh: $OUT ($(du -h "$OUT" | cut -f1))"
