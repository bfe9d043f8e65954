"""WFDB records (PhysioNet: ``.hea`` header, ``.dat`` signals, ``.atr`` and other annotators), read with wfdb.

The header is checked here before wfdb reads it, so a missing, empty or truncated file gets a
message that names it instead of wfdb's exception.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from pathlib import Path

import numpy as np

from ecgviewer.core.errors import RecordError
from ecgviewer.core.formats.base import (
    TO_MV,
    Annotations,
    Record,
    check_fs,
    check_signal,
    lead_name,
    one_line,
)

#: Extensions that name a WFDB record's files; the record is the path without them.
EXTENSIONS = (".hea", ".dat", ".atr", ".qrs", ".ecg")
#: WFDB's gain (ADC units per mV) for a signal whose header gives none or 0 ('uncalibrated').
_DEFAULT_GAIN = 200.0


def record_base(path: Path) -> Path:
    """The record path without extension, whether given as ``x``, ``x.hea`` or ``x.dat``."""
    return path.with_suffix("") if path.suffix.lower() in EXTENSIONS else path


def _channels(rec) -> list[np.ndarray]:
    """Each channel's digital samples: every sample of its frames (``e_d_signal``, read unsmoothed),
    or the frame-rate matrix's columns where wfdb gave only that."""
    expanded = getattr(rec, "e_d_signal", None)
    if expanded is not None:
        return list(expanded)
    return [] if rec.d_signal is None else [rec.d_signal[:, c] for c in range(rec.d_signal.shape[1])]


def _physical(rec, chans: list[np.ndarray]) -> tuple[np.ndarray, list[str]]:
    """Digital samples to float32 mV, with the WFDB 'invalid' value turned into NaN, and what was done
    to them that the user should know (comments).

    A channel with several samples per frame (a multi-frequency record) is averaged to the frame
    rate here, after its missing samples are NaN, so a missing sample is never averaged in as the
    most negative value (wfdb's own smoothing does that): a frame is the mean of its valid samples,
    NaN when it has none. ``chans``: :func:`_channels`, each with samples (:func:`read` checks)."""
    gain = np.asarray(rec.adc_gain, dtype=np.float64)
    base = np.asarray(rec.baseline, dtype=np.float64)
    if np.any(gain == 0):
        gain = np.where(gain == 0, _DEFAULT_GAIN, gain)  # WFDB default gain when the header gives 0
    if not np.all(np.isfinite(gain)) or not np.all(np.isfinite(base)):
        raise ValueError("gain or baseline is not a finite number")
    spf = [int(k) for k in (rec.samps_per_frame or [1] * len(chans))]
    n = min(len(col) // k for col, k in zip(chans, spf))
    out = np.empty((n, len(chans)), dtype=np.float32)
    notes = []
    for c, (col, k) in enumerate(zip(chans, spf)):
        col = np.asarray(col)[: n * k]
        phys = (col.astype(np.float32) - np.float32(base[c])) / np.float32(gain[c])
        invalid = _invalid_value(rec.fmt[c] if rec.fmt else "16")
        if invalid is not None:
            phys[col == invalid] = np.nan
        if k > 1:
            frames = phys.reshape(n, k)
            valid = np.isfinite(frames)
            total = np.where(valid, frames, 0.0).sum(axis=1, dtype=np.float64)
            count = valid.sum(axis=1)
            phys = np.where(count > 0, total / np.maximum(count, 1), np.nan).astype(np.float32)
            name = rec.sig_name[c] if rec.sig_name else f"ch{c + 1}"
            notes.append(f"channel {name}: recorded at {k} samples a frame ({k * float(rec.fs):g} Hz), "
                         f"averaged to the frame rate ({float(rec.fs):g} Hz)")
        out[:, c] = phys
    return out, notes


def _invalid_value(fmt: str) -> int | None:
    # WFDB marks missing samples with the most negative value the format can hold.
    bits = {"8": 8, "16": 16, "61": 16, "80": 8, "160": 16, "212": 12, "310": 10, "311": 10, "24": 24, "32": 32,
            "508": 8, "516": 16, "524": 24}
    b = bits.get(str(fmt))
    return None if b is None else -(2 ** (b - 1))


def _read_wfdb(base: Path):
    import wfdb  # wfdb pulls pandas and matplotlib: import it only when a record is read

    try:
        # frames unsmoothed: _physical averages them itself, with missing samples left out
        rec = wfdb.rdrecord(str(base), physical=False, m2s=True, smooth_frames=False, return_res=32)
    except FileNotFoundError as e:
        missing = Path(getattr(e, "filename", "") or "").name or "a signal file"
        raise RecordError(base.with_suffix(".hea"), f"cannot read record: missing file {missing}") from None
    except Exception as e:  # noqa: BLE001 - wfdb raises many types on a broken file; all mean "cannot read"
        raise RecordError(base.with_suffix(".hea"), f"cannot read record: {one_line(e)}") from None
    return rec


def _check_header(base: Path) -> list[int]:
    """Check the header before wfdb reads it (wfdb misreads or crashes on what is refused here);
    returns the channels whose gain is 0, WFDB's 'uncalibrated', which wfdb reads at gain 200."""
    hea = base.with_suffix(".hea")
    if not hea.is_file():
        raise RecordError(hea, "header file (.hea) not found")
    try:
        first = hea.read_text(encoding="latin-1").splitlines()
    except OSError as e:
        raise RecordError(hea, f"cannot read header: {e.strerror}") from None
    lines = [ln for ln in first if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise RecordError(hea, "header is empty")
    fields = lines[0].split()
    if len(fields) < 2 or not re.match(r"^\d+$", fields[1]):
        raise RecordError(hea, "header does not parse: the record line needs a name and a channel count")
    if int(fields[1]) == 0:
        raise RecordError(hea, "record has no signal channels")
    if len(fields) > 2:
        _check_fs_field(hea, fields[2])
    if len(fields) > 3 and not fields[3].isdigit():
        raise RecordError(hea, f"header does not parse: sample count {fields[3]!r} is not a whole number")
    # The .dat files named in the header must exist and be long enough.
    n_samples = int(fields[3]) if len(fields) > 3 else None
    if n_samples == 0:
        raise RecordError(hea, "record has no samples (the header gives 0)")
    files: dict[str, list[str]] = {}
    if "/" in fields[0]:
        return []  # multi-segment record: wfdb checks each segment
    n_sig = int(fields[1])
    signal_lines = lines[1 : 1 + n_sig]
    if not signal_lines:
        raise RecordError(hea, f"header lists no signals: its record line gives {n_sig}, no signal lines follow")
    if len(signal_lines) < n_sig:
        raise RecordError(hea, f"header lists {len(signal_lines)} of the {n_sig} signals its record line gives")
    uncalibrated = []
    for i, ln in enumerate(signal_lines):
        parts = ln.split()
        if len(parts) < 2:
            raise RecordError(hea, f"header does not parse: bad signal line {ln.strip()!r}")
        if len(parts) > 2 and _gain(hea, i, parts) == 0:
            uncalibrated.append(i)
        if parts[0] != "~" and (Path(parts[0]).name != parts[0] or parts[0] in (".", "..")):
            raise RecordError(hea, f"header names signal file {parts[0]!r} outside the record's folder")
        fmt = re.split(r"[x:+]", parts[1])[0]
        if fmt not in _WFDB_FORMATS:
            raise RecordError(hea, f"unsupported signal format {fmt!r} (signal {parts[-1]!r})")
        files.setdefault(parts[0], []).append(fmt)
    for fname, fmts in files.items():
        if fname == "~":
            continue
        dat = base.parent / fname
        if not dat.is_file():
            raise RecordError(dat, "signal file (.dat) not found")
        if dat.stat().st_size == 0:
            raise RecordError(dat, "record has no samples (the signal file is empty)")
        if n_samples:
            need = _bytes_needed(fmts, n_samples)
            if need is not None and dat.stat().st_size < need:
                raise RecordError(
                    dat, f"signal file is truncated: {dat.stat().st_size} bytes, header implies {need}"
                )
    return uncalibrated


def _check_fs_field(hea: Path, text: str) -> None:
    """The record line's ``fs[/counter_freq[(base_counter)]]``: a number, and a positive one."""
    if not _FS_FIELD.match(text.removeprefix("-")):
        raise RecordError(hea, f"header does not parse: sampling frequency {text!r} is not a number")
    if text.startswith("-") or float(text.split("/")[0]) == 0:
        raise RecordError(hea, f"sampling frequency {text!r} in the header must be positive")


def _gain(hea: Path, i: int, parts: list[str]) -> float:
    """Signal ``i``'s ADC gain (``gain[(baseline)][/units]``, the line's third field); a RecordError
    naming the field when it is no number (wfdb would read ``abc`` as the units, at gain 200)."""
    text = parts[2]
    name = " ".join(parts[8:])
    which = f"signal {i + 1}" + (f" ({name})" if name else "")
    m = _GAIN_FIELD.match(text)
    if m is None or not _NUMBER.match(m["gain"]) or not math.isfinite(float(m["gain"])):
        raise RecordError(hea, f"header does not parse: gain field {text!r} of {which} is not a number")
    if m["baseline"] is not None and not re.match(r"^-?\d+$", m["baseline"]):
        raise RecordError(hea, f"header does not parse: baseline in gain field {text!r} of {which} "
                               "is not a whole number")
    return float(m["gain"])


#: A header's sampling frequency field: ``fs[/counter_freq[(base_counter)]]``.
_FS_FIELD = re.compile(r"^\d+(\.\d*)?(/\d+(\.\d*)?(\(-?\d+(\.\d*)?\))?)?$")
#: A signal line's gain field: ``gain[(baseline)][/units]``.
_GAIN_FIELD = re.compile(r"^(?P<gain>[^(/]*)(\((?P<baseline>[^)]*)\))?(/(?P<units>.*))?$")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
#: Signal formats wfdb reads (its DAT_FMTS: plain, packed and FLAC-compressed).
_WFDB_FORMATS = frozenset(["8", "16", "32", "61", "80", "160", "212", "310", "311", "24", "508", "516", "524"])


def _bytes_needed(fmts: list[str], n: int) -> int | None:
    bits = {"8": 8, "16": 16, "61": 16, "80": 8, "160": 16, "212": 12, "24": 24, "32": 32}
    try:
        total_bits = sum(bits[f] for f in fmts) * n
    except KeyError:
        return None  # compressed or rare formats: let wfdb decide
    return total_bits // 8


def annotation_path(base: Path, annotator: str) -> Path:
    """The WFDB annotation file of ``annotator`` for the record at ``base`` (any format)."""
    return base.with_name(f"{base.name}.{annotator}")


def _invalid_annotations(f: Path) -> RecordError:
    return RecordError(f, "cannot read annotations: not a valid WFDB annotation file")


def read_annotations(base: Path, annotator: str = "atr") -> Annotations | None:
    """Annotations of ``annotator`` for a record, or None when there is no such file.

    Works beside any format's record (``119.edf`` with ``119.atr``): the file is keyed on the stem.
    An empty (0-byte) file gives no annotations; one that is no WFDB annotation file (odd size,
    codes WFDB does not define, samples before the start: what random bytes give) is a RecordError.
    """
    f = annotation_path(base, annotator)
    if not f.is_file():
        return None
    size = f.stat().st_size
    if size == 0:
        return Annotations(annotator, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=str))
    if size % 2:
        raise _invalid_annotations(f)  # the format is 16-bit words, aux strings padded to an even length
    import wfdb

    try:
        ann = wfdb.rdann(str(base), annotator)
        sample = np.asarray(ann.sample, dtype=np.int64)
        symbol = np.asarray(ann.symbol if ann.symbol is not None else [], dtype=object).astype(str)
        aux = tuple(ann.aux_note) if ann.aux_note is not None else ()
    except Exception:  # noqa: BLE001 - wfdb raises many types on a broken file, none fit to show
        raise _invalid_annotations(f) from None
    if len(symbol) != len(sample) or (sample < 0).any() or np.isin(symbol, ("nan", "None")).any():
        raise _invalid_annotations(f)  # wfdb names an undefined code "nan"
    order = np.argsort(sample, kind="stable")
    return Annotations(annotator, sample[order], symbol[order], tuple(aux[i] for i in order) if aux else ())


def read(path: Path) -> Record:
    """Read the WFDB record at ``path`` (with or without extension); no annotations."""
    base = record_base(path)
    hea = base.with_suffix(".hea")
    uncalibrated = _check_header(base)
    rec = _read_wfdb(base)
    chans = _channels(rec)
    if rec.n_sig == 0 or not chans:
        raise RecordError(hea, "record has no signal channels")
    if any(c.size == 0 for c in chans):
        raise RecordError(hea, "record has no samples")
    try:
        signal, notes = _physical(rec, chans)
    except ValueError as e:
        raise RecordError(hea, f"cannot convert samples: {e}") from None
    units = [u or "mV" for u in (rec.units or ["mV"] * rec.n_sig)]
    for c, u in enumerate(units):
        factor = TO_MV.get(u.strip().lower())
        if factor is not None and factor != 1.0:
            signal[:, c] *= np.float32(factor)
    if not rec.fs:
        raise RecordError(hea, "header gives no sampling frequency")
    fs = check_fs(hea, rec.fs)
    start: _dt.datetime | _dt.time | None = None
    if rec.base_date is not None and rec.base_time is not None:
        start = _dt.datetime.combine(rec.base_date, rec.base_time)
    elif rec.base_time is not None:
        start = rec.base_time
    # the project's lead spelling, as the EDF and ISHNE readers give it ("ECG II" -> "II"), so the
    # same recording is scored on the same lead whatever its format
    names = [lead_name(str(n)) or str(n) for n in (rec.sig_name or [f"ch{i + 1}" for i in range(rec.n_sig)])]
    units = ["mV" if TO_MV.get(u.strip().lower()) else u for u in units]
    check_signal(hea, signal, names, units)
    said = [f"{names[c]} is uncalibrated, header gain 0: mV values assume WFDB's default gain of "
            f"{_DEFAULT_GAIN:g} adu/mV" for c in uncalibrated if c < len(names)]
    return Record(name=base.name, path=base, fs=fs, signal=signal, channel_names=names, units=units,
                  start=start, comments=list(rec.comments or []) + notes, format="WFDB", source=hea, notes=said)
