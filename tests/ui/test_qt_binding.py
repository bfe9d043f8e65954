"""The Qt binding must not leak references on Signal.emit (PySide6 6.12.0 does, then aborts)."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
from PySide6.QtCore import QObject, Signal
class O(QObject):
    s = Signal(object)
o = O()
before = sys.getrefcount(True)
for _ in range(1000):
    o.s.emit(1)
print(before - sys.getrefcount(True))
"""


def test_signal_emit_keeps_refcounts():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert abs(int(out.stdout.strip())) < 10, f"Signal.emit leaked {out.stdout.strip()} references to True"
