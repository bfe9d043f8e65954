"""Draw the ecgviewer icon with QPainter and write resources/icons/ (PNG sizes, .ico, .icns).

Run once after changing the drawing; the outputs are committed (small), the build only reads them::

    QT_QPA_PLATFORM=offscreen python packaging/make_icons.py

The .ico and .icns containers are written here byte by byte with PNG payloads (both formats allow
PNG entries: ICO since Windows Vista, ICNS types ic07-ic10 since macOS 10.7), so no image tool and
no Qt image plugin is needed.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPainterPath, QPen  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "resources" / "icons"
PNG_SIZES = (16, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 32, 48, 64, 128, 256)
ICNS_TYPES = {b"icp4": 16, b"icp5": 32, b"icp6": 64, b"ic07": 128, b"ic08": 256, b"ic09": 512}


def draw(size: int) -> QImage:
    """Rounded dark-red tile, ECG paper grid, one white PQRST trace, an amber flag dot."""
    img = QImage(size, size, QImage.Format.Format_ARGB32)
    img.fill(Qt.GlobalColor.transparent)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = size / 256.0
    tile = QRectF(8 * s, 8 * s, 240 * s, 240 * s)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#8e1b2b"))
    p.drawRoundedRect(tile, 44 * s, 44 * s)
    if size >= 48:  # the paper grid is noise at small sizes
        p.setPen(QPen(QColor(255, 255, 255, 40), max(1.0, 2 * s)))
        for i in range(1, 6):
            x = 8 * s + i * 40 * s
            p.drawLine(QPointF(x, 20 * s), QPointF(x, 236 * s))
            p.drawLine(QPointF(20 * s, x), QPointF(236 * s, x))
    pts = [(20, 150), (70, 150), (84, 136), (98, 150), (112, 150), (122, 166), (138, 52), (154, 196),
           (166, 150), (186, 150), (204, 124), (222, 150), (236, 150)]
    path = QPainterPath(QPointF(pts[0][0] * s, pts[0][1] * s))
    for x, y in pts[1:]:
        path.lineTo(QPointF(x * s, y * s))
    pen = QPen(QColor("white"), max(1.5, 14 * s))
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawPath(path)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#ffb000"))
    p.drawEllipse(QPointF(196 * s, 60 * s), 26 * s, 26 * s)
    p.end()
    return img


def png_bytes(img: QImage) -> bytes:
    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    if not img.save(buf, "PNG"):
        raise RuntimeError("PNG encoding failed")
    return bytes(ba.data())


def ico(pngs: dict[int, bytes]) -> bytes:
    """ICONDIR + ICONDIRENTRYs + PNG payloads (width/height byte 0 means 256)."""
    sizes = sorted(pngs)
    head = struct.pack("<HHH", 0, 1, len(sizes))
    offset = 6 + 16 * len(sizes)
    entries, data = b"", b""
    for n in sizes:
        d = pngs[n]
        entries += struct.pack("<BBBBHHII", n % 256, n % 256, 0, 0, 1, 32, len(d), offset + len(data))
        data += d
    return head + entries + data


def icns(pngs: dict[bytes, bytes]) -> bytes:
    """'icns' + big-endian total length, then (type, length incl. 8-byte header, PNG) chunks."""
    body = b"".join(t + struct.pack(">I", 8 + len(d)) + d for t, d in pngs.items())
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 - QPainter on QImage needs it for fonts
    OUT.mkdir(parents=True, exist_ok=True)
    pngs = {n: png_bytes(draw(n)) for n in PNG_SIZES}
    for n in (32, 48, 64, 128, 256):  # the ones .desktop/hicolor and the window icon use
        (OUT / f"ecgviewer-{n}.png").write_bytes(pngs[n])
    (OUT / "ecgviewer.png").write_bytes(pngs[256])
    (OUT / "ecgviewer.ico").write_bytes(ico({n: pngs[n] for n in ICO_SIZES}))
    (OUT / "ecgviewer.icns").write_bytes(icns({t: pngs[n] for t, n in ICNS_TYPES.items()}))
    for f in sorted(OUT.iterdir()):
        print(f"{f.relative_to(OUT.parents[1])}: {f.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
