"""Fuzzing the readers: damaged bytes of real files give a Record or one RecordError line, nothing else.

Small real files (20 s of MIT-BIH 119) in each format are mutated byte by byte, biased towards the
header, and truncated; for ISHNE the header CRC is recomputed on half the examples so the checks
behind it are reached too. Each result that loads is cut into beats as the CLI would, which must
also end in beats or a RecordError. Bounded: a fixed number of derandomized examples per format
(reproducible in CI), a few seconds each on two cores.
"""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest

from ecgviewer.core.beats import extract_beats
from ecgviewer.core.errors import RecordError
from ecgviewer.core.formats.base import Annotations, Record
from ecgviewer.core.formats.edf import write_edf
from ecgviewer.core.formats.ishne import HEADER_SIZE, crc, write_ishne
from ecgviewer.core.record import load_record

hypothesis = pytest.importorskip("hypothesis")
wfdb = pytest.importorskip("wfdb")
st = hypothesis.strategies
HealthCheck, given, settings = hypothesis.HealthCheck, hypothesis.given, hypothesis.settings

N = 20 * 360
#: ECGVIEWER_FUZZ_SCALE=50 runs 50 times the examples, with fresh random ones (a longer hunt by hand).
SCALE = float(os.environ.get("ECGVIEWER_FUZZ_SCALE", "1"))
FUZZ = settings(max_examples=60, deadline=None, derandomize=SCALE == 1, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
#: Bytes that make header fields parse differently: digits, signs, dots, blanks, NUL, 0xFF.
TRICKY = st.sampled_from(list(b"0123456789 -+.eE\x00\xff\x7f") + [0xE9])


@pytest.fixture(scope="module")
def originals(tmp_path_factory, mitdb):
    """{format: {file name: bytes}} of 20-s copies of MIT-BIH 119."""
    d = tmp_path_factory.mktemp("fuzz-src")
    src = load_record(mitdb / "119")
    keep = src.annotations.sample < N
    rec = Record("r", d / "r", 360.0, src.signal[:N].copy(), src.channel_names, src.units)
    ann = Annotations("atr", src.annotations.sample[keep], src.annotations.symbol[keep])
    write_edf(d / "r.edf", rec, ann)
    write_edf(d / "r.bdf", rec, ann, bdf=True)
    write_ishne(d / "r.ecg", rec.signal, 360, rec.channel_names, resolution_nv=5000)
    w = wfdb.rdrecord(str(mitdb / "119"), sampto=N, physical=False)
    w.record_name = "r"
    w.file_name = ["r.dat"] * w.n_sig
    w.wrsamp(write_dir=str(d), expanded=False)
    wfdb.wrann("r", "atr", ann.sample, np.array(ann.symbol), write_dir=str(d))
    return {
        "edf": {"r.edf": (d / "r.edf").read_bytes()},
        "bdf": {"r.bdf": (d / "r.bdf").read_bytes()},
        "ishne": {"r.ecg": (d / "r.ecg").read_bytes()},
        "wfdb": {f: (d / f).read_bytes() for f in ("r.hea", "r.dat", "r.atr")},
    }


@st.composite
def damage(draw, data: bytes, header: int) -> bytes:
    """``data`` with up to 12 bytes changed (mostly in the first ``header`` bytes) and maybe cut short."""
    out = bytearray(data)
    header = min(header, len(out))
    for _ in range(draw(st.integers(0, 12))):
        where = draw(st.one_of(st.integers(0, header - 1), st.integers(0, len(out) - 1)))
        out[where] = draw(st.one_of(TRICKY, st.integers(0, 255)))
    if draw(st.booleans()):
        out = out[: draw(st.one_of(st.integers(0, header + 16), st.integers(0, len(out))))]
    return bytes(out)


def _check(path, folder, seen: list[str]) -> None:
    """Loading ``path`` (and cutting beats) gives a result or a RecordError naming a file in ``folder``."""
    try:
        rec = load_record(path)
        assert rec.signal.dtype == np.float32 and rec.signal.ndim == 2 and rec.fs > 0
        extract_beats(rec)
        seen.append("")
    except RecordError as e:
        msg = str(e)
        assert "\n" not in msg and msg.startswith(str(folder)), msg
        seen.append(msg.split(": ", 1)[1][:40])


def _varied(seen: list[str]) -> None:
    """The fuzzing reached both outcomes, and several different checks: it is not all one early exit."""
    assert "" in seen, "no damaged file loaded"
    assert len(set(seen) - {""}) >= 5, sorted(set(seen))


def _fuzz(tmp_path_factory, fmt: str, files, entry: str, max_examples: int = 60) -> None:
    """Write each example of ``files`` (a strategy of {file name: bytes}) and load ``entry`` from them."""
    folder = tmp_path_factory.mktemp(f"fuzz-{fmt}")
    seen: list[str] = []

    @settings(FUZZ, max_examples=max(1, int(max_examples * SCALE)))
    @given(files)
    def run(example: dict[str, bytes]) -> None:
        for name, data in example.items():
            (folder / name).write_bytes(data)
        _check(folder / entry, folder, seen)

    run()
    _varied(seen)


def _with_crc(broken: bytes, fix: bool) -> bytes:
    """An ISHNE file's bytes with the header CRC recomputed (when ``fix``), to reach the checks behind it."""
    if not fix or len(broken) < HEADER_SIZE:
        return broken
    end = min(len(broken), max(HEADER_SIZE, struct.unpack_from("<i", broken, 22)[0]))
    return broken[:8] + struct.pack("<H", crc(broken[10:end])) + broken[10:]


@pytest.mark.parametrize("fmt", ["edf", "bdf"])
def test_fuzz_edf_and_bdf(originals, tmp_path_factory, fmt):
    name = f"r.{fmt}"
    files = damage(originals[fmt][name], 256 * 4).map(lambda b: {name: b})  # main header + 3 signal headers
    _fuzz(tmp_path_factory, fmt, files, name)


def test_fuzz_ishne(originals, tmp_path_factory):
    files = st.tuples(damage(originals["ishne"]["r.ecg"], HEADER_SIZE), st.booleans()).map(
        lambda t: {"r.ecg": _with_crc(*t)})
    _fuzz(tmp_path_factory, "ishne", files, "r.ecg")


def test_fuzz_wfdb(originals, tmp_path_factory):
    src = originals["wfdb"]
    files = st.fixed_dictionaries({"r.hea": damage(src["r.hea"], len(src["r.hea"])), "r.dat": damage(src["r.dat"], 64),
                                   "r.atr": damage(src["r.atr"], 64)})
    _fuzz(tmp_path_factory, "wfdb", files, "r.hea", max_examples=40)  # wfdb (with pandas) reads a record in ~0.1 s
