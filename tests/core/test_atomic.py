"""Atomic writes: a failed write leaves the old file and no temporary file behind."""

from __future__ import annotations

import os
import stat

import pytest

from ecgviewer.core.atomic import atomic_write, write_bytes_atomic, write_text_atomic


def test_replaces_the_whole_file(tmp_path):
    p = tmp_path / "a.json"
    p.write_text("old content that is longer")
    write_text_atomic(p, "new")
    assert p.read_text() == "new"
    assert os.listdir(tmp_path) == ["a.json"]


def test_failure_keeps_the_old_file_and_cleans_up(tmp_path):
    p = tmp_path / "a.bin"
    write_bytes_atomic(p, b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(p) as f:
            f.write(b"half")
            raise RuntimeError("disk full")
    assert p.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["a.bin"]


def test_permissions_follow_the_umask_not_0600(tmp_path):
    p = tmp_path / "export.csv"
    old = os.umask(0o022)
    try:
        write_text_atomic(p, "x", fsync=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE(p.stat().st_mode) == 0o644


def test_two_writers_never_share_a_temporary_file(tmp_path):
    p = tmp_path / "cache.npz"
    with atomic_write(p) as a, atomic_write(p) as b:
        a.write(b"first")
        b.write(b"second")
        assert a.name != b.name
    assert p.read_bytes() in (b"first", b"second")
    assert os.listdir(tmp_path) == ["cache.npz"]


def test_refuses_read_modes(tmp_path):
    with pytest.raises(ValueError):
        with atomic_write(tmp_path / "x", "rb"):
            pass
