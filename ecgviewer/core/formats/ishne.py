"""The ISHNE Holter output format (ISHNE 1.0; Badilini et al., Ann Noninvasive Electrocardiol 1998).

Layout, all little-endian:

====== ======== =============================================================
offset bytes    field
====== ======== =============================================================
0      8        magic ``ISHNE1.0``
8      2        CRC-16/CCITT (poly 0x1021, init 0xFFFF) of bytes 10 .. ECG block
10     4        size of the variable-length block (bytes)
14     4        samples per lead (some writers give the total over leads: accepted)
18     4        offset of the variable-length block (522)
22     4        offset of the ECG block (522 + variable block)
26     2        file version
28     40+40+20 first name, last name, ID (never shown: the record is named by its file)
128    2+2      sex, race
132    6 x 3    birth, recording and file date (day, month, year); start time (h, m, s)
156    2        number of leads (1..12)
158    2 x 12   lead specification codes (Table 1 below; -9 absent)
182    2 x 12   lead quality codes
206    2 x 12   amplitude resolution of each lead, nV per unit
230    2        pacemaker code
232    40       recorder type
272    2        sampling rate, Hz
274    80+80+88 proprietary, copyright, reserved
522    var      variable-length block (free text)
ECG    2 x n x leads  int16 samples, interleaved by lead (sample 0 of every lead, then 1...)
====== ======== =============================================================

The reader checks the magic, the header's sizes and offsets against each other and the file
size, the CRC, the lead count, rate and resolutions; every failure is one RecordError line. The
value -32768 is read as a missing sample (NaN), as WFDB does; the writer stores NaN that way.
"""

from __future__ import annotations

import binascii
import datetime as _dt
import struct
from pathlib import Path

import numpy as np

from ecgviewer.core.errors import RecordError
from ecgviewer.core.formats.base import Record, check_fs, check_signal, lead_name

MAGIC = b"ISHNE1.0"
HEADER_SIZE = 522  # magic + CRC + the 512-byte fixed header
MAX_LEADS = 12
MISSING = -32768

#: Table 1 of the ISHNE standard: lead specification codes.
LEAD_CODES = {0: "unknown", 1: "generic", 2: "X", 3: "Y", 4: "Z", 5: "I", 6: "II", 7: "III", 8: "aVR",
              9: "aVL", 10: "aVF", 11: "V1", 12: "V2", 13: "V3", 14: "V4", 15: "V5", 16: "V6", 17: "ES",
              18: "AS", 19: "AI"}
#: Lead names to codes for the writer; ISHNE has no "modified" leads: MLII is stored as II.
CODES = {**{v: k for k, v in LEAD_CODES.items() if k >= 2}, "MLII": 6, "MLI": 5, "MLIII": 7, "ML2": 6}

_FIXED = struct.Struct("<iiiih40s40s20shh3h3h3h3hh12h12h12hh40sh80s80s88s")
assert _FIXED.size == HEADER_SIZE - 10


def crc(data: bytes) -> int:
    """CRC-16/CCITT-FALSE, the ISHNE header checksum (binascii.crc_hqx with init 0xFFFF)."""
    return binascii.crc_hqx(data, 0xFFFF)


def _date(d, m, y) -> _dt.date | None:
    try:
        return _dt.date(y, m, d)
    except (ValueError, TypeError, OverflowError):
        return None


def _time(h, m, s) -> _dt.time | None:
    try:
        return _dt.time(h, m, s)
    except (ValueError, TypeError, OverflowError):
        return None


def read(path: Path) -> Record:
    """Read an ISHNE 1.0 Holter file (``.ecg``); no annotations (a ``<name>.atr`` beside it is read by load_record)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(HEADER_SIZE)
    except OSError as e:
        raise RecordError(path, f"cannot read file: {e.strerror or e}") from None
    if len(head) < HEADER_SIZE:
        raise RecordError(path, f"file is too short for an ISHNE header: {size} bytes, the header alone is {HEADER_SIZE}")
    if head[:8] != MAGIC:
        raise RecordError(path, f"not an ISHNE 1.0 file: magic {head[:8]!r}, expected {MAGIC!r}")
    (stored_crc,) = struct.unpack_from("<H", head, 8)
    f_ = _FIXED.unpack_from(head, 10)
    var_size, n_per_lead, var_off, ecg_off = f_[0:4]
    n_leads = f_[22]
    specs, quals, res = f_[23:35], f_[35:47], f_[47:59]
    fs = f_[61]
    if var_size < 0 or var_off != HEADER_SIZE or ecg_off != HEADER_SIZE + var_size:
        raise RecordError(path, f"header sizes disagree: variable block {var_size} bytes at offset {var_off}, "
                                f"ECG block at {ecg_off} (expected {HEADER_SIZE} and {HEADER_SIZE} + {max(var_size, 0)})")
    if ecg_off > size:
        raise RecordError(path, f"file is truncated: {size} bytes, the header alone needs {ecg_off}")
    with open(path, "rb") as f:
        f.seek(10)
        header_bytes = f.read(ecg_off - 10)
    if crc(header_bytes) != stored_crc:
        raise RecordError(path, f"header checksum does not match (CRC {crc(header_bytes):04X}, file says "
                                f"{stored_crc:04X}): the header is damaged")
    if not 1 <= n_leads <= MAX_LEADS:
        raise RecordError(path, f"header gives {n_leads} leads; ISHNE allows 1 to {MAX_LEADS}")
    fs = check_fs(path, fs)
    res = list(res[:n_leads])
    bad = [i for i, r in enumerate(res) if r <= 0]
    if bad:
        raise RecordError(path, f"lead {bad[0] + 1}: amplitude resolution {res[bad[0]]} nV is not positive")
    data_bytes = size - ecg_off
    have = data_bytes // (2 * n_leads)
    if n_per_lead <= 0:
        raise RecordError(path, f"record has no samples (the header gives {n_per_lead})")
    if n_per_lead > have:
        if n_leads > 1 and data_bytes == 2 * n_per_lead:
            n_per_lead //= n_leads  # the writer gave the total over leads
        else:
            raise RecordError(path, f"file is truncated: {data_bytes} bytes of samples, the header implies "
                                    f"{2 * n_leads * n_per_lead}")
    raw = np.fromfile(path, dtype="<i2", count=n_per_lead * n_leads, offset=ecg_off).reshape(n_per_lead, n_leads)
    signal = raw.astype(np.float32) * (np.asarray(res, dtype=np.float32) * np.float32(1e-6))
    signal[raw == MISSING] = np.nan
    names = []
    for i, code in enumerate(specs[:n_leads]):
        label = LEAD_CODES.get(code)
        names.append(lead_name(label) if label and code >= 2 else f"lead{i + 1}")
    units = ["mV"] * n_leads
    check_signal(path, signal, names, units)
    day, time = _date(*f_[13:16]), _time(*f_[19:22])
    start = _dt.datetime.combine(day, time) if day and time else time
    comments = [f"ISHNE file {path.name}"]
    comments += [f"lead {names[i]}: quality code {q}" for i, q in enumerate(quals[:n_leads]) if q not in (0, 1, -9)]
    return Record(name=path.stem, path=path.with_suffix(""), fs=fs, signal=signal, channel_names=names, units=units,
                  start=start, comments=comments, format="ISHNE", source=path)


def _text(s: str, n: int) -> bytes:
    return s.encode("latin-1", "replace")[:n].ljust(n, b"\0")


def write_ishne(path: Path, signal_mv: np.ndarray, fs: float, lead_names: list[str], resolution_nv: int = 1000,
                start: _dt.datetime | None = None, var_block: bytes = b"") -> None:
    """Write an ISHNE 1.0 file: the tests' fixtures and a way to hand a record to ISHNE software.

    Samples are ``round(mV * 1e6 / resolution_nv)`` in int16 (NaN -> -32768); 1000 nV gives
    +-32.7 mV at 1 µV steps. Lead names without an ISHNE code are written as code 0 (unknown).
    """
    x = np.asarray(signal_mv, dtype=np.float64)
    n, n_leads = x.shape
    if not 1 <= n_leads <= MAX_LEADS:
        raise ValueError(f"ISHNE holds 1 to {MAX_LEADS} leads, not {n_leads}")
    if not float(fs).is_integer() or not 0 < fs < 32768:
        raise ValueError(f"ISHNE stores the sampling rate as a whole number of Hz, not {fs}")
    digital = np.round(np.where(np.isfinite(x), x, 0.0) * (1e6 / resolution_nv))
    digital = np.clip(digital, MISSING + 1, 32767).astype("<i2")
    digital[~np.isfinite(x)] = MISSING
    pad = [-9] * (MAX_LEADS - n_leads)
    specs = [CODES.get(lead_name(nm), 0) for nm in lead_names] + pad
    quals = [1] * n_leads + pad
    res = [int(resolution_nv)] * n_leads + [0] * (MAX_LEADS - n_leads)
    when = start or _dt.datetime(2000, 1, 1)
    today = _dt.date.today()
    fixed = _FIXED.pack(len(var_block), n, HEADER_SIZE, HEADER_SIZE + len(var_block), 1,
                        b"", b"", _text(path.stem, 20), 0, 0, -9, -9, -9,
                        when.day, when.month, when.year, today.day, today.month, today.year,
                        when.hour, when.minute, when.second, n_leads, *specs, *quals, *res, -9,
                        _text("digital", 40), int(fs), b"", b"", b"")
    header = fixed + var_block
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<H", crc(header)) + header)
        f.write(digital.tobytes())
