"""Atomic file writes: a file is either its old content or its whole new content, never half.

Every writer in the project (model files, exported CSV, results, dataset cache, checkpoints) goes
through :func:`atomic_write`: the content goes to a uniquely named temporary file beside the target
(so two processes writing the same target never share one), which is renamed over the target only
when complete (``os.replace`` is atomic on one file system) and removed on any failure. The
temporary file is created with ``open(..., "x")``, so it gets the user's usual permissions.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def temp_name(path: Path) -> Path:
    """A fresh hidden name beside ``path`` for its temporary file."""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb", fsync: bool = False,
                 **open_kw: Any) -> Iterator[IO]:
    """Open a temporary file for writing; on a clean exit it replaces ``path``.

    ``fsync=True`` flushes the content to disk before the rename (for files a user keeps, such as
    exports; caches and logs skip it for speed).
    """
    if "w" not in mode:
        raise ValueError("atomic_write opens files for writing: mode 'w' or 'wb'")
    path = Path(path)
    tmp = temp_name(path)
    try:
        with open(tmp, mode.replace("w", "x"), **open_kw) as f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, fsync: bool = False) -> None:
    with atomic_write(path, "wb", fsync=fsync) as f:
        f.write(data)


def write_text_atomic(path: str | os.PathLike[str], text: str, fsync: bool = False, encoding: str = "utf-8") -> None:
    with atomic_write(path, "w", fsync=fsync, encoding=encoding) as f:
        f.write(text)
