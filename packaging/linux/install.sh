#!/bin/sh
# Install ECG Viewer from the unpacked tar.gz: per user (default) or system-wide (--system, as root).
#     ./install.sh [--system] [--uninstall]
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
if [ "${1:-}" = "--system" ]; then
  OPT=/opt/ecgviewer; BIN=/usr/local/bin; SHARE=/usr/local/share; shift
else
  OPT="$HOME/.local/opt/ecgviewer"; BIN="$HOME/.local/bin"; SHARE="${XDG_DATA_HOME:-$HOME/.local/share}"
fi
if [ "${1:-}" = "--uninstall" ]; then
  rm -rf "$OPT"; rm -f "$BIN/ecgviewer" "$SHARE/applications/ecgviewer.desktop" "$SHARE/mime/packages/ecgviewer.xml"
  find "$SHARE/icons/hicolor" -name ecgviewer.png -delete 2>/dev/null || true
  echo "ECG Viewer removed"; exit 0
fi
mkdir -p "$OPT" "$BIN" "$SHARE/applications" "$SHARE/mime/packages"
rm -rf "$OPT"; cp -a "$HERE/ecgviewer" "$OPT"
ln -sf "$OPT/ecgviewer" "$BIN/ecgviewer"
sed "s|^Exec=ecgviewer|Exec=$OPT/ecgviewer|; s|^TryExec=ecgviewer|TryExec=$OPT/ecgviewer|" \
  "$HERE/ecgviewer.desktop" > "$SHARE/applications/ecgviewer.desktop"
cp "$HERE/ecgviewer-mime.xml" "$SHARE/mime/packages/ecgviewer.xml"
cp -r "$HERE/share/icons" "$SHARE/"
command -v update-mime-database >/dev/null && update-mime-database "$SHARE/mime" || true
command -v update-desktop-database >/dev/null && update-desktop-database "$SHARE/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$SHARE/icons/hicolor" 2>/dev/null || true
echo "ECG Viewer installed in $OPT ($BIN/ecgviewer). Check: $BIN/ecgviewer --self-test"
